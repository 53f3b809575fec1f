"""Fault injection profiles shared by every simulator (set per run: env, admin or endpoint)."""

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

_RATE = (MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1")))


class SandboxSystem(models.TextChoices):
    KINGDEE = "kingdee", _("Kingdee K3Cloud")
    JUSHUITAN = "jushuitan", _("Jushuitan")
    ROBOTS = "robots", _("Group robots")
    FX = "fx", _("FX sources")


class FaultProfile(models.Model):
    """How badly one simulated system behaves. Rates are fractions of calls (0 to 1)."""

    system = models.CharField(
        verbose_name=_("system"),
        max_length=20,
        choices=SandboxSystem.choices,
        unique=True,
    )
    error_rate = models.DecimalField(
        verbose_name=_("server error rate"),
        max_digits=4,
        decimal_places=3,
        default=Decimal("0"),
        validators=_RATE,
        help_text=_("Answered with a server error before doing anything, e.g. 0.2"),
    )
    busy_rate = models.DecimalField(
        verbose_name=_("'server busy' rate"),
        max_digits=4,
        decimal_places=3,
        default=Decimal("0"),
        validators=_RATE,
        help_text=_("Answered with the system's own busy / try-later error, e.g. 0.05"),
    )
    timeout_after_commit_rate = models.DecimalField(
        verbose_name=_("timeout-after-commit rate"),
        max_digits=4,
        decimal_places=3,
        default=Decimal("0"),
        validators=_RATE,
        help_text=_("Writes that commit and then stall past the client's timeout, e.g. 0.1"),
    )
    stall_seconds = models.DecimalField(
        verbose_name=_("stall (seconds)"),
        max_digits=6,
        decimal_places=2,
        default=Decimal("35"),
        help_text=_("How long a timed-out answer stalls; above the client timeout, e.g. 35"),
    )
    session_expiry_rate = models.DecimalField(
        verbose_name=_("session / token expiry rate"),
        max_digits=4,
        decimal_places=3,
        default=Decimal("0"),
        validators=_RATE,
        help_text=_("Calls whose session or token is treated as expired, e.g. 0.05"),
    )
    rate_limit_rate = models.DecimalField(
        verbose_name=_("rate-limit answer rate"),
        max_digits=4,
        decimal_places=3,
        default=Decimal("0"),
        validators=_RATE,
        help_text=_("Calls answered with the rate-limit error although under the limit, e.g. 0.05"),
    )
    latency_ms = models.PositiveIntegerField(
        verbose_name=_("added latency (ms)"),
        default=0,
    )
    latency_jitter_ms = models.PositiveIntegerField(
        verbose_name=_("latency jitter (ms)"),
        default=0,
        help_text=_("Random extra latency between 0 and this, e.g. 200"),
    )
    updated_at = models.DateTimeField(
        verbose_name=_("updated at"),
        auto_now=True,
    )

    class Meta:
        ordering = ("system",)
        verbose_name = _("sandbox fault profile")
        verbose_name_plural = _("sandbox fault profiles")

    def __str__(self) -> str:
        return self.get_system_display()
