"""Cross-border tax templates (M6, G3, 跨境税率模板) by destination country and HS code."""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from core.models import TimeStampedModel

_PERCENT = (MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100")))
HS_PREFIX_LENGTHS = (10, 8, 6)


class TaxTemplate(TimeStampedModel):
    """The tax entry template for goods of an HS-code prefix sold to a country. The most
    specific prefix wins (10 → 8 → 6 digits) among rows effective on the document's date."""

    integration = models.ForeignKey(
        "connectors.Integration",
        verbose_name=_("integration"),
        on_delete=models.CASCADE,
        related_name="+",
        help_text=_("e.g. main"),
    )
    country = models.CharField(
        verbose_name=_("destination country"),
        max_length=2,
        validators=[RegexValidator(r"^[A-Z]{2}$", _("Use the ISO 3166 two-letter code, e.g. US"))],
        help_text=_("ISO 3166 alpha-2, e.g. US"),
    )
    hs_prefix = models.CharField(
        verbose_name=_("HS code prefix"),
        max_length=10,
        validators=[
            RegexValidator(
                r"^(\d{6}|\d{8}|\d{10})$", _("An HS prefix has 6, 8 or 10 digits, e.g. 850760")
            )
        ],
        help_text=_("6, 8 or 10 digits (海关编码), e.g. 85076000"),
    )
    name = models.CharField(
        verbose_name=_("name"),
        max_length=200,
        blank=True,
        help_text=_("e.g. US lithium batteries"),
    )
    kingdee_tax_number = models.CharField(
        verbose_name=_("Kingdee tax template number"),
        max_length=80,
        help_text=_("The tax rate / tax template FNumber in Kingdee, e.g. SL13_CB_US"),
    )
    vat_rate = models.DecimalField(
        verbose_name=_("VAT rate (%)"),
        max_digits=6,
        decimal_places=3,
        default=Decimal("0"),
        validators=_PERCENT,
        help_text=_("Percentage written to FEntryTaxRate, e.g. 13 or 0"),
    )
    duty_rate = models.DecimalField(
        verbose_name=_("import duty rate (%)"),
        max_digits=6,
        decimal_places=3,
        default=Decimal("0"),
        validators=_PERCENT,
        help_text=_("Destination duty percentage, e.g. 3.4"),
    )
    refund_rate = models.DecimalField(
        verbose_name=_("export refund rate (%)"),
        max_digits=6,
        decimal_places=3,
        default=Decimal("0"),
        validators=_PERCENT,
        help_text=_("退税率 percentage, e.g. 13"),
    )
    effective_from = models.DateField(
        verbose_name=_("effective from"),
        help_text=_("First business date the template applies to, e.g. 2026-01-01"),
    )
    effective_to = models.DateField(
        verbose_name=_("effective to"),
        null=True,
        blank=True,
        help_text=_("Last business date it applies to; blank = open-ended, e.g. 2026-12-31"),
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ("integration", "country", "hs_prefix", "-effective_from")
        verbose_name = _("tax template")
        verbose_name_plural = _("tax templates")
        constraints = [
            models.UniqueConstraint(
                fields=("integration", "country", "hs_prefix", "effective_from"),
                name="mappings_taxtemplate_unique_start",
            ),
            models.CheckConstraint(
                condition=models.Q(effective_to__isnull=True)
                | models.Q(effective_to__gte=models.F("effective_from")),
                name="mappings_taxtemplate_period_ordered",
            ),
        ]
        indexes = [models.Index(fields=("integration", "country", "hs_prefix"))]

    def __str__(self) -> str:
        return f"{self.country} {self.hs_prefix} → {self.kingdee_tax_number}"

    def clean(self) -> None:
        super().clean()
        if self.effective_to and self.effective_from and self.effective_to < self.effective_from:
            raise ValidationError(
                {"effective_to": _("The end date must not be before the start date.")}
            )
