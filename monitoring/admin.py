"""Admin of monitoring."""

from . import alert_admin  # noqa: F401  (registers the alerting models)
