"""The Integration: one Kingdee account set paired with one Jushuitan company."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from core.models import TimeStampedModel


class Integration(TimeStampedModel):
    """Flows, watermarks, mappings and documents belong to an Integration, so a seller
    with two ERPs or two OMS companies runs them side by side."""

    name = models.CharField(
        verbose_name=_("name"),
        max_length=100,
        unique=True,
        help_text=_("e.g. 'Cross-border main'"),
    )
    code = models.SlugField(
        verbose_name=_("code"),
        max_length=50,
        unique=True,
        help_text=_("Short stable identifier used in keys and URLs, e.g. main"),
    )
    kingdee = models.ForeignKey(
        "kingdee.KingdeeConnection",
        verbose_name=_("Kingdee connection"),
        on_delete=models.PROTECT,
        related_name="integrations",
    )
    jushuitan = models.ForeignKey(
        "jushuitan.JushuitanConnection",
        verbose_name=_("Jushuitan connection"),
        on_delete=models.PROTECT,
        related_name="integrations",
    )
    enabled = models.BooleanField(
        verbose_name=_("enabled"),
        default=True,
    )

    class Meta:
        ordering = ("name",)
        verbose_name = _("integration")
        verbose_name_plural = _("integrations")

    def __str__(self) -> str:
        return self.name


class PreflightRun(TimeStampedModel):
    """One preflight of an Integration (G-checklist, `manage.py preflight`, the connection
    buttons): every check the registered providers ran against the live tenant, with the
    remote system's own message and the fix for each one that failed."""

    integration = models.ForeignKey(
        Integration,
        verbose_name=_("integration"),
        on_delete=models.CASCADE,
        related_name="preflight_runs",
    )
    systems = models.CharField(
        verbose_name=_("systems checked"),
        max_length=100,
        blank=True,
        help_text=_("Comma-separated systems, e.g. kingdee,jushuitan; empty means all"),
    )
    ok = models.BooleanField(
        verbose_name=_("passed"),
        default=False,
    )
    results = models.JSONField(
        verbose_name=_("results"),
        default=list,
        blank=True,
    )
    requested_by = models.CharField(
        verbose_name=_("requested by"),
        max_length=150,
        blank=True,
    )
    finished_at = models.DateTimeField(
        verbose_name=_("finished at"),
        null=True,
        blank=True,
    )

    class Meta:
        ordering = ("-created_at",)
        verbose_name = _("preflight run")
        verbose_name_plural = _("preflight runs")

    def __str__(self) -> str:
        return f"{self.integration} · {self.created_at:%Y-%m-%d %H:%M}"
