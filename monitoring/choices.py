"""Choices of the alerting part of monitoring: severities and alert / delivery states."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class AlertSeverity(models.TextChoices):
    INFO = "info", _("Info")
    WARNING = "warning", _("Warning")
    ERROR = "error", _("Error")
    CRITICAL = "critical", _("Critical")


SEVERITY_RANK = {
    AlertSeverity.INFO: 10,
    AlertSeverity.WARNING: 20,
    AlertSeverity.ERROR: 30,
    AlertSeverity.CRITICAL: 40,
}


class AlertStatus(models.TextChoices):
    PENDING = "pending", _("Below threshold (waiting)")  # counted towards N in M minutes
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    AGGREGATED = "aggregated", _("Sent in a digest")
    FAILED = "failed", _("Failed")
    BELOW_THRESHOLD = "below_threshold", _("Not sent: threshold not reached")


# States an alert leaves no more.
ALERT_TERMINAL = frozenset(
    {AlertStatus.SENT, AlertStatus.AGGREGATED, AlertStatus.FAILED, AlertStatus.BELOW_THRESHOLD}
)
# States a repeat of the same alert is folded into (deduplication).
ALERT_DEDUPABLE = frozenset(
    {
        AlertStatus.PENDING,
        AlertStatus.QUEUED,
        AlertStatus.SENDING,
        AlertStatus.SENT,
        AlertStatus.AGGREGATED,
    }
)


class DeliveryKind(models.TextChoices):
    SINGLE = "single", _("Single alert")
    DIGEST = "digest", _("Digest of several alerts")


class DeliveryStatus(models.TextChoices):
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


def alert_error_classes() -> list[str]:
    """Every error class an alert can carry: the engine's (flows ErrorClass), the finance
    ones and the robots' own configuration error. An alert rule naming anything else never
    matches (the go-live checklist R1 says so)."""
    from finance.reconciliation import ALERT_CLASS
    from flows.choices import ErrorClass

    from .alerts import CONFIG_ERROR_CLASS

    return sorted({*ErrorClass.values, "fx_voucher", ALERT_CLASS, CONFIG_ERROR_CLASS})


def alert_error_class_choices() -> list[tuple[str, str]]:
    """(value, label) of every error class, for the alert rule form (issue 24 point 6)."""
    from flows.choices import ErrorClass

    labels = {
        **dict(ErrorClass.choices),
        "fx_voucher": _("FX difference voucher failed"),
        "reconciliation": _("Inventory accuracy below target"),
        "RobotConfigurationError": _("Robot channel misconfigured"),
    }
    return [(value, f"{labels.get(value, value)} ({value})") for value in alert_error_classes()]
