"""Exchange rates (F2.2, F2.3, F6.1): the rate table and the log of fetches from the sources."""

from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from core.models import TimeStampedModel

from ..choices import (
    OFFICIAL_FIXING_CURRENCIES,
    CurrencyRateSource,
    RateDateRule,
    RateSource,
    RateType,
)


class ExchangeRate(TimeStampedModel):
    """One published rate (汇率) of a currency on a date, as quoted: CNY per `quote_unit`
    units (100 for JPY at CFETS), or units per 1 CNY when `inverse` (CFETS indirect pairs).
    Conversions compute from the quote exactly and round once (mappings.rates.to_cny)."""

    currency = models.CharField(
        verbose_name=_("currency"),
        max_length=3,
        help_text=_("ISO 4217 code, e.g. USD"),
    )
    rate_date = models.DateField(
        verbose_name=_("rate date"),
        help_text=_("The date the rate was published for, e.g. 2026-09-30"),
    )
    rate_type = models.CharField(
        verbose_name=_("rate type"),
        max_length=20,
        choices=RateType.choices,
        default=RateType.PBOC_PARITY,
        help_text=_("e.g. pboc_parity"),
    )
    rate = models.DecimalField(
        verbose_name=_("rate"),
        max_digits=20,
        decimal_places=10,
        validators=[MinValueValidator(Decimal("0.0000000001"))],
        help_text=_("As published, e.g. 7.1225 (USD/CNY) or 4.7812 (100JPY/CNY)"),
    )
    quote_unit = models.PositiveIntegerField(
        verbose_name=_("quote unit"),
        default=1,
        validators=[MinValueValidator(1)],
        help_text=_("Units of the currency the rate is for, e.g. 1 (100 for JPY)"),
    )
    inverse = models.BooleanField(
        verbose_name=_("indirect quote"),
        default=False,
        help_text=_("Quoted as units of the currency per 1 CNY (e.g. CNY/MYR 0.6321)"),
    )
    source = models.CharField(
        verbose_name=_("source"),
        max_length=20,
        choices=RateSource.choices,
        default=RateSource.MANUAL,
        help_text=_("Where the rate came from, e.g. cfets"),
    )
    fetched_at = models.DateTimeField(
        verbose_name=_("fetched at"),
        null=True,
        blank=True,
        help_text=_("When the portal read it from the source, e.g. 2026-09-30 09:31"),
    )
    manual_override = models.BooleanField(
        verbose_name=_("manual override"),
        default=False,
        help_text=_("Set by a person: later fetches never overwrite it"),
    )
    note = models.CharField(
        verbose_name=_("note"),
        max_length=200,
        blank=True,
        help_text=_("e.g. 'Agreed with the accountant for the October close'"),
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ("-rate_date", "currency", "rate_type")
        verbose_name = _("exchange rate")
        verbose_name_plural = _("exchange rates")
        constraints = [
            models.UniqueConstraint(
                fields=("currency", "rate_date", "rate_type"), name="mappings_rate_unique"
            ),
        ]
        indexes = [models.Index(fields=("currency", "rate_type", "rate_date"))]

    def __str__(self) -> str:
        if self.inverse:
            quote = f"CNY/{self.currency} {self.rate}"
        else:
            unit = self.quote_unit if self.quote_unit != 1 else ""
            quote = f"{unit}{self.currency}/CNY {self.rate}"
        return f"{quote} @ {self.rate_date} ({self.get_rate_type_display()})"


class RateFetch(models.Model):
    """One read of an exchange-rate source for a date range: a successful read tells which
    dates are settled (a date in the range without a rate had none published)."""

    source = models.ForeignKey(
        "fx.FxSource",
        verbose_name=_("source"),
        on_delete=models.CASCADE,
        related_name="+",
    )
    requested_from = models.DateField(
        verbose_name=_("from"),
        help_text=_("First date asked for, e.g. 2026-09-16"),
    )
    requested_to = models.DateField(
        verbose_name=_("to"),
        help_text=_("Last date asked for, e.g. 2026-09-30"),
    )
    settled_to = models.DateField(
        verbose_name=_("settled up to"),
        null=True,
        blank=True,
        help_text=_("Last date whose publication was final when read, e.g. 2026-09-29"),
    )
    fetched_at = models.DateTimeField(
        verbose_name=_("fetched at"),
        auto_now_add=True,
        db_index=True,
    )
    ok = models.BooleanField(
        verbose_name=_("succeeded"),
        default=False,
    )
    records = models.PositiveIntegerField(
        verbose_name=_("rates read"),
        default=0,
    )
    error = models.TextField(
        verbose_name=_("error"),
        blank=True,
        help_text=_("What went wrong, e.g. 'the source answered HTTP 502'"),
    )

    class Meta:
        ordering = ("-fetched_at",)
        verbose_name = _("exchange-rate fetch")
        verbose_name_plural = _("exchange-rate fetches")

    def __str__(self) -> str:
        state = _("ok") if self.ok else _("failed")
        return f"{self.source_id} {self.requested_from}..{self.requested_to} {state}"


class FxPolicy(TimeStampedModel):
    """The FX policy of one integration (issue 19 point 3): which date's rate converts a
    document, and whether a reference rate may be booked when the official source fails
    (then a finance ticket asks to confirm or re-rate it before period close)."""

    integration = models.OneToOneField(
        "connectors.Integration",
        verbose_name=_("integration"),
        on_delete=models.CASCADE,
        related_name="fx_policy",
    )
    rate_date_rule = models.CharField(
        verbose_name=_("rate date"),
        max_length=20,
        choices=RateDateRule.choices,
        default=RateDateRule.SHIP_DATE,
        help_text=_(
            "VAT rules allow the same day's or the first of the month's parity, chosen in "
            "advance and kept for at least a year, e.g. ship_date"
        ),
    )
    period_months = models.PositiveSmallIntegerField(
        verbose_name=_("fixed period (months)"),
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(12)],
        help_text=_("Fixed period only: length of the period, e.g. 3 for a quarter"),
    )
    period_anchor = models.DateField(
        verbose_name=_("first period starts"),
        null=True,
        blank=True,
        help_text=_("Fixed period only: the first day of the first period, e.g. 2026-01-01"),
    )
    allow_fallback = models.BooleanField(
        verbose_name=_("book a reference rate when the official source fails"),
        default=True,
        help_text=_(
            "On: the ECB cross rate is booked and a finance ticket asks to confirm or re-rate "
            "it. Off: the document waits for the official rate."
        ),
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("FX policy")
        verbose_name_plural = _("FX policies")

    def __str__(self) -> str:
        return f"{self.integration}: {self.get_rate_date_rule_display()}"

    def clean(self) -> None:
        if self.rate_date_rule == RateDateRule.FIXED_PERIOD and self.period_anchor is None:
            raise ValidationError(
                {"period_anchor": _("A fixed period needs the first day of its first period.")}
            )

    def rate_date(self, business_date: date) -> date:
        """The date whose rate converts a document of `business_date`."""
        if self.rate_date_rule == RateDateRule.FIRST_OF_MONTH:
            return business_date.replace(day=1)
        if self.rate_date_rule == RateDateRule.FIXED_PERIOD and self.period_anchor:
            anchor = self.period_anchor.replace(day=1)
            months = (business_date.year - anchor.year) * 12 + business_date.month - anchor.month
            start = months - months % self.period_months
            year, month = divmod(anchor.month - 1 + start, 12)
            return date(anchor.year + year, month + 1, 1)
        return business_date


class FxCurrencySource(TimeStampedModel):
    """The declared rate source of one currency under a policy. A currency without an
    official fixing (e.g. VND, PHP, IDR) must have one: no rate is ever guessed."""

    policy = models.ForeignKey(
        FxPolicy,
        verbose_name=_("FX policy"),
        on_delete=models.CASCADE,
        related_name="currency_sources",
    )
    currency = models.CharField(
        verbose_name=_("currency"),
        max_length=3,
        help_text=_("ISO 4217 code, e.g. PHP"),
    )
    source = models.CharField(
        verbose_name=_("rate source"),
        max_length=20,
        choices=CurrencyRateSource.choices,
        default=CurrencyRateSource.OFFICIAL,
        help_text=_("e.g. reference"),
    )
    reference_source = models.ForeignKey(
        "fx.FxSource",
        verbose_name=_("reference source"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Reference only: the feed the rate is read from, e.g. the ECB"),
    )
    basis = models.CharField(
        verbose_name=_("declared basis"),
        max_length=200,
        help_text=_(
            "Why this source, as agreed with the accountant, e.g. 'No CFETS fixing for PHP; "
            "ECB cross rate as the spot approximation (CAS 19)'"
        ),
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ("policy", "currency")
        verbose_name = _("currency rate source")
        verbose_name_plural = _("currency rate sources")
        constraints = [
            models.UniqueConstraint(
                fields=("policy", "currency"), name="mappings_fx_currency_source_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.currency}: {self.get_source_display()}"

    def clean(self) -> None:
        self.currency = (self.currency or "").strip().upper()
        if len(self.currency) != 3 or not self.currency.isalpha():
            raise ValidationError({"currency": _("Expected an ISO 4217 code, e.g. PHP.")})
        if self.source == CurrencyRateSource.REFERENCE and self.reference_source_id is None:
            raise ValidationError(
                {"reference_source": _("A reference source needs the feed it is read from.")}
            )
        if (
            self.source == CurrencyRateSource.OFFICIAL
            and self.currency not in OFFICIAL_FIXING_CURRENCIES
        ):
            raise ValidationError(
                {
                    "source": _(
                        "CFETS fixes no central parity for %(currency)s: declare a reference "
                        "source or manual rates."
                    )
                    % {"currency": self.currency}
                }
            )
