"""FX differences (F6.1): the difference lines, the vouchers posting them, and the documents
booked at a fallback rate (issue 19 point 3)."""

from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _

from core.models import TimeStampedModel

from ..choices import FxDocumentKind, VoucherMode, VoucherStatus


class FxVoucher(TimeStampedModel):
    """汇兑损益凭证: one Kingdee GL_VOUCHER posting FX differences, keyed by a deterministic
    key (also written to the voucher) so it is posted exactly once."""

    integration = models.ForeignKey(
        "connectors.Integration",
        verbose_name=_("integration"),
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("e.g. demo"),
    )
    key = models.CharField(
        verbose_name=_("voucher key"),
        max_length=120,
        unique=True,
        help_text=_("Deterministic, e.g. FX-100-USD-20260115-1"),
    )
    mode = models.CharField(
        verbose_name=_("grouping"),
        max_length=10,
        choices=VoucherMode.choices,
        help_text=_("e.g. daily"),
    )
    org_number = models.CharField(
        verbose_name=_("organisation"),
        max_length=50,
        help_text=_("Kingdee organisation FNumber, e.g. 100"),
    )
    currency = models.CharField(
        verbose_name=_("currency"),
        max_length=3,
        help_text=_("ISO code of the documents, e.g. USD"),
    )
    voucher_date = models.DateField(
        verbose_name=_("voucher date"),
        help_text=_("Business date booked, e.g. 2026-01-15"),
    )
    status = models.CharField(
        verbose_name=_("status"),
        max_length=10,
        choices=VoucherStatus.choices,
        default=VoucherStatus.PENDING,
        help_text=_("e.g. posted"),
    )
    total_gain_loss = models.DecimalField(
        verbose_name=_("net gain (+) / loss (−), CNY"),
        max_digits=18,
        decimal_places=2,
        default=Decimal("0"),
        help_text=_("Sum of its lines, e.g. -12.34"),
    )
    payload = models.JSONField(
        verbose_name=_("voucher payload"),
        default=dict,
        blank=True,
        help_text=_('The GL_VOUCHER model sent, e.g. {"FDate": "2026-01-15", ...}'),
    )
    kingdee_id = models.CharField(
        verbose_name=_("Kingdee voucher id"),
        max_length=50,
        blank=True,
        help_text=_("FVOUCHERID, e.g. 100234"),
    )
    kingdee_number = models.CharField(
        verbose_name=_("Kingdee voucher no."),
        max_length=100,
        blank=True,
        help_text=_("e.g. JZ000012"),
    )
    error = models.TextField(
        verbose_name=_("last error"),
        blank=True,
        help_text=_("What Kingdee said, e.g. 科目不存在"),
    )
    posted_at = models.DateTimeField(
        verbose_name=_("posted at"),
        null=True,
        blank=True,
        help_text=_("e.g. 2026-01-16 01:00"),
    )

    class Meta:
        ordering = ("-voucher_date", "key")
        verbose_name = _("FX difference voucher")
        verbose_name_plural = _("FX difference vouchers")

    def __str__(self) -> str:
        return f"{self.key} ({self.get_status_display()})"


class FxDifference(TimeStampedModel):
    """汇兑差异: for one line of a foreign-currency document, the CNY booked in Kingdee at the
    finance rate (财务汇率) against the CNY at the business rate shown in Jushuitan (业务汇率).
    `difference` = business CNY − finance CNY; `gain_loss` is the effect on profit (sales:
    the difference; returns and purchases: its opposite)."""

    integration = models.ForeignKey(
        "connectors.Integration",
        verbose_name=_("integration"),
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("e.g. demo"),
    )
    kind = models.CharField(
        verbose_name=_("document kind"),
        max_length=12,
        choices=FxDocumentKind.choices,
        help_text=_("e.g. sale"),
    )
    document = models.ForeignKey(
        "flows.SyncDocument",
        verbose_name=_("synced document"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("The portal document (sales); blank for purchases read from Kingdee"),
    )
    partner_number = models.CharField(
        verbose_name=_("customer / supplier"),
        max_length=100,
        blank=True,
        help_text=_("Kingdee number of the bill's customer or supplier, e.g. 10001"),
    )
    kingdee_form = models.CharField(
        verbose_name=_("Kingdee form"),
        max_length=40,
        help_text=_("e.g. SAL_OUTSTOCK"),
    )
    kingdee_bill_no = models.CharField(
        verbose_name=_("Kingdee bill no."),
        max_length=100,
        db_index=True,
        help_text=_("e.g. JSTXS1024"),
    )
    line_no = models.PositiveIntegerField(
        verbose_name=_("line"),
        help_text=_("1-based line of the bill, e.g. 1"),
    )
    platform_order_no = models.CharField(
        verbose_name=_("platform order no."),
        max_length=100,
        blank=True,
        db_index=True,
        help_text=_("e.g. 112-0000001-0000001"),
    )
    org_number = models.CharField(
        verbose_name=_("organisation"),
        max_length=50,
        help_text=_("e.g. 100"),
    )
    material_number = models.CharField(
        verbose_name=_("material"),
        max_length=80,
        blank=True,
        help_text=_("e.g. SKU-PB-1001"),
    )
    business_date = models.DateField(
        verbose_name=_("business date"),
        help_text=_("The bill's date, e.g. 2026-01-15"),
    )
    currency = models.CharField(
        verbose_name=_("currency"),
        max_length=3,
        help_text=_("e.g. USD"),
    )
    amount = models.DecimalField(
        verbose_name=_("amount (currency)"),
        max_digits=18,
        decimal_places=2,
        help_text=_("The line amount in the document currency, e.g. 58.24"),
    )
    finance_rate = models.DecimalField(
        verbose_name=_("finance rate"),
        max_digits=20,
        decimal_places=10,
        help_text=_("CNY per unit booked on the Kingdee bill (FExchangeRate), e.g. 7.1225"),
    )
    business_rate = models.DecimalField(
        verbose_name=_("business rate"),
        max_digits=20,
        decimal_places=10,
        help_text=_("CNY per unit shown in Jushuitan, e.g. 7.18"),
    )
    business_rate_date = models.DateField(
        verbose_name=_("business rate date"),
        null=True,
        blank=True,
        help_text=_("The date whose business rate was used, e.g. 2026-01-01"),
    )
    finance_cny = models.DecimalField(
        verbose_name=_("CNY at finance rate"),
        max_digits=18,
        decimal_places=2,
        help_text=_("amount × finance rate, to the cent, e.g. 414.81"),
    )
    business_cny = models.DecimalField(
        verbose_name=_("CNY at business rate"),
        max_digits=18,
        decimal_places=2,
        help_text=_("amount × business rate, to the cent, e.g. 418.16"),
    )
    difference = models.DecimalField(
        verbose_name=_("difference (business − finance)"),
        max_digits=18,
        decimal_places=2,
        help_text=_("e.g. 3.35"),
    )
    gain_loss = models.DecimalField(
        verbose_name=_("gain (+) / loss (−)"),
        max_digits=18,
        decimal_places=2,
        help_text=_("Effect on profit, e.g. 3.35"),
    )
    voucher = models.ForeignKey(
        FxVoucher,
        verbose_name=_("voucher"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="lines",
        help_text=_("The GL voucher that posted it; blank = not posted yet"),
    )

    class Meta:
        ordering = ("-business_date", "kingdee_bill_no", "line_no")
        verbose_name = _("FX difference")
        verbose_name_plural = _("FX differences")
        constraints = [
            models.UniqueConstraint(
                fields=("integration", "kingdee_form", "kingdee_bill_no", "line_no"),
                name="finance_fxdiff_one_per_line",
            )
        ]
        indexes = [models.Index(fields=("integration", "voucher", "business_date"))]

    def __str__(self) -> str:
        return f"{self.kingdee_bill_no}#{self.line_no} {self.currency} {self.gain_loss}"


class FallbackRateStatus(models.TextChoices):
    OPEN = "open", _("To confirm or re-rate")
    CONFIRMED = "confirmed", _("Confirmed by finance")
    RERATED = "rerated", _("Re-rated at the official rate")


class FallbackRateBooking(TimeStampedModel):
    """Documents booked at a fallback (reference) rate for one currency and rate date (issue
    19 point 3): a finance ticket asks to confirm the rate or re-rate them before close."""

    integration = models.ForeignKey(
        "connectors.Integration",
        verbose_name=_("integration"),
        on_delete=models.CASCADE,
        related_name="+",
    )
    currency = models.CharField(verbose_name=_("currency"), max_length=3)
    rate_date = models.DateField(verbose_name=_("rate date"))
    source = models.CharField(verbose_name=_("fallback source"), max_length=20)
    rate = models.DecimalField(
        verbose_name=_("CNY per unit booked"), max_digits=24, decimal_places=12
    )
    documents = models.ManyToManyField(
        "flows.SyncDocument", verbose_name=_("documents"), related_name="+", blank=True
    )
    status = models.CharField(
        verbose_name=_("status"),
        max_length=10,
        choices=FallbackRateStatus.choices,
        default=FallbackRateStatus.OPEN,
    )
    official_rate = models.DecimalField(
        verbose_name=_("CNY per unit, official"),
        max_digits=24,
        decimal_places=12,
        null=True,
        blank=True,
    )
    outcome = models.JSONField(verbose_name=_("re-rate outcome"), default=dict, blank=True)
    resolved_by = models.CharField(verbose_name=_("resolved by"), max_length=150, blank=True)

    class Meta:
        ordering = ("-rate_date", "currency")
        verbose_name = _("fallback-rate booking")
        verbose_name_plural = _("fallback-rate bookings")
        constraints = [
            models.UniqueConstraint(
                fields=("integration", "currency", "rate_date"),
                name="finance_fallback_rate_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.currency} {self.rate_date} ({self.source})"

    @property
    def trace_key(self) -> str:
        return f"fx-fallback:{self.integration_id}:{self.currency}:{self.rate_date.isoformat()}"
