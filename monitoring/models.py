"""Models of monitoring. Alerting (O2) lives in alert_models; this module exposes them."""

from .alert_models import Alert, AlertContact, AlertDelivery, AlertRule

__all__ = ["Alert", "AlertContact", "AlertDelivery", "AlertRule"]
