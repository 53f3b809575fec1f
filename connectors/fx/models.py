"""Exchange-rate sources (S3): where the portal reads the RMB central parity and its backup."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from core.models import TimeStampedModel
from core.netguard import RemoteUrlValidator


class FxSourceKind(models.TextChoices):
    CFETS = "cfets", _("CFETS / PBOC central parity (chinamoney ccpr.json + CcprHisNew)")
    ECB = "ecb", _("ECB euro reference rates (eurofxref XML / CSV), cross rates to CNY")


class FxSource(TimeStampedModel):
    """One exchange-rate feed (汇率来源). Lookups try enabled sources by ascending priority:
    the CFETS central parity (人民币汇率中间价) first, a reference source as the backup."""

    name = models.CharField(
        verbose_name=_("name"),
        max_length=100,
        unique=True,
        help_text=_("e.g. 'CFETS central parity'"),
    )
    kind = models.CharField(
        verbose_name=_("format"),
        max_length=20,
        choices=FxSourceKind.choices,
        help_text=_("Which wire format this source speaks, e.g. cfets"),
    )
    base_url = models.URLField(
        verbose_name=_("base URL"),
        max_length=500,
        help_text=_(
            "Site root the client appends the known paths to, e.g. https://www.chinamoney.com.cn"
        ),
        validators=[RemoteUrlValidator()],
    )
    priority = models.PositiveSmallIntegerField(
        verbose_name=_("priority"),
        default=10,
        help_text=_("Lower is tried first: the primary source e.g. 10, the backup e.g. 20"),
    )
    enabled = models.BooleanField(
        verbose_name=_("enabled"),
        default=True,
        help_text=_("Disabled sources are never called, e.g. while a feed changes its format"),
    )
    timeout_seconds = models.PositiveSmallIntegerField(
        verbose_name=_("timeout (seconds)"),
        default=15,
        help_text=_("Connect and read timeout of one request, e.g. 15"),
    )
    verify_tls = models.BooleanField(
        verbose_name=_("verify TLS certificates"),
        default=True,
    )
    official = models.BooleanField(
        verbose_name=_("official fixing"),
        default=True,
        help_text=_(
            "Whether its rates are the official PBOC central parity; a reference source "
            "(e.g. the ECB) is labelled as a fallback wherever it is used"
        ),
    )

    class Meta:
        ordering = ("priority", "name")
        verbose_name = _("exchange-rate source")
        verbose_name_plural = _("exchange-rate sources")

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"
