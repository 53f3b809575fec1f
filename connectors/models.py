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
