"""Deployment checks (`manage.py check --deploy`) of the portal's own settings."""

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def sandbox_off_in_production(app_configs, **kwargs):
    """The simulators answer anyone (demo credentials, fault switches, the robot inbox) and
    allow loopback targets: never in production (docs/security.md)."""
    if getattr(settings, "SANDBOX_ENABLED", False):
        return [
            Warning(
                "PORTAL_SANDBOX_ENABLED is on: /sandbox/ serves simulated Kingdee, Jushuitan, "
                "robots and FX sources with public demo credentials, anonymous fault switches "
                "and the robot inbox, and loopback targets are allowed.",
                hint="Set PORTAL_SANDBOX_ENABLED=false in production (docs/security.md).",
                id="portal.W001",
            )
        ]
    return []
