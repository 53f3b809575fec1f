"""Finance settings per integration (财务设置): how FX differences are booked, how
inventory accuracy is measured and the enterprise type of the export refund."""

from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _

from core.models import TimeStampedModel

from ..choices import EnterpriseType, FxTreatment, VoucherMode


class FinanceSettings(TimeStampedModel):
    """财务设置: how one integration books FX differences and measures inventory accuracy.
    Missing, the defaults below apply."""

    integration = models.OneToOneField(
        "connectors.Integration",
        verbose_name=_("integration"),
        on_delete=models.CASCADE,
        related_name="finance_settings",
        help_text=_("e.g. demo"),
    )
    fx_treatment = models.CharField(
        verbose_name=_("FX differences"),
        max_length=10,
        choices=FxTreatment.choices,
        default=FxTreatment.POST,
        help_text=_(
            "post = vouchers to FX gain/loss against receivables / payables (the brief); "
            "report = no voucher, the differences are listed for Kingdee's own period-end "
            "revaluation (期末调汇). e.g. report"
        ),
    )
    audit_vouchers = models.BooleanField(
        verbose_name=_("submit and audit FX vouchers"),
        default=False,
        help_text=_(
            "Off: vouchers are saved only, for finance to review and audit in Kingdee. On: "
            "submitted and audited at once"
        ),
    )
    receivable_dimension = models.CharField(
        verbose_name=_("customer dimension of the receivable account"),
        max_length=20,
        blank=True,
        help_text=_(
            "The FDetailID flex slot of the customer dimension when the receivable account "
            "requires one (the slot is per install), e.g. FFLEX6; blank = none"
        ),
    )
    payable_dimension = models.CharField(
        verbose_name=_("supplier dimension of the payable account"),
        max_length=20,
        blank=True,
        help_text=_(
            "The FDetailID flex slot of the supplier dimension when the payable account "
            "requires one, e.g. FFLEX4; blank = none"
        ),
    )
    voucher_mode = models.CharField(
        verbose_name=_("FX voucher grouping"),
        max_length=10,
        choices=VoucherMode.choices,
        default=VoucherMode.DAILY,
        help_text=_("daily = one voucher per day, org and currency; e.g. daily"),
    )
    account_book = models.CharField(
        verbose_name=_("Kingdee account book"),
        max_length=50,
        default="001",
        help_text=_("BD_AccountBook FNumber the vouchers go to, e.g. 001"),
    )
    voucher_group = models.CharField(
        verbose_name=_("voucher word"),
        max_length=50,
        default="PRE001",
        help_text=_("FVOUCHERGROUPID (凭证字), e.g. PRE001 (记)"),
    )
    receivable_account = models.CharField(
        verbose_name=_("receivable account"),
        max_length=50,
        default="1122",
        help_text=_("Counterpart of sales FX differences (应收账款), e.g. 1122"),
    )
    payable_account = models.CharField(
        verbose_name=_("payable account"),
        max_length=50,
        default="2202",
        help_text=_("Counterpart of purchase FX differences (应付账款), e.g. 2202"),
    )
    business_rate_field = models.CharField(
        verbose_name=_("business rate field in Jushuitan"),
        max_length=50,
        blank=True,
        help_text=_(
            "Order field holding the business rate, if the tenant's Jushuitan carries one "
            "(none is documented); blank = the business rates entered under Exchange rates, "
            "e.g. exchange_rate"
        ),
    )
    accuracy_target = models.DecimalField(
        verbose_name=_("inventory accuracy target (%)"),
        max_digits=6,
        decimal_places=3,
        default=Decimal("99.5"),
        help_text=_("K1: alert when a reconciliation run falls below, e.g. 99.5"),
    )
    quantity_tolerance = models.DecimalField(
        verbose_name=_("quantity tolerance"),
        max_digits=12,
        decimal_places=3,
        default=Decimal("0"),
        help_text=_("A line matches when the quantities differ by at most this, e.g. 0"),
    )
    sub_warehouses = models.CharField(
        verbose_name=_("Jushuitan sub-warehouses compared"),
        max_length=50,
        default="1",
        help_text=_("Comma-separated wh_id (1 main, 2 returns, 3 incoming, 4 defective), e.g. 1"),
    )
    unit_cost_field = models.CharField(
        verbose_name=_("Kingdee unit cost field"),
        max_length=80,
        default="F_PAEZ_UnitCost",
        help_text=_(
            "BD_MATERIAL field holding the unit cost (CNY) differences are valued at, "
            "e.g. F_PAEZ_UnitCost"
        ),
    )

    enterprise_type = models.CharField(
        verbose_name=_("enterprise type (export refund)"),
        max_length=12,
        choices=EnterpriseType.choices,
        default=EnterpriseType.TRADING,
        help_text=_(
            "K2 refund estimate: trading company (外贸企业) = purchase VAT invoice amount "
            "excluding tax × refund rate; manufacturer (生产企业, 免抵退) = FOB × the USD "
            "rate of the export date × refund rate. The tax office decides; e.g. trading"
        ),
    )

    class Meta:
        ordering = ("integration",)
        verbose_name = _("finance settings")
        verbose_name_plural = _("finance settings")

    def __str__(self) -> str:
        return str(self.integration)

    @classmethod
    def for_integration(cls, integration) -> "FinanceSettings":
        """The stored row, or an unsaved one with the defaults."""
        found = cls.objects.filter(integration=integration).first()
        return found or cls(integration=integration)

    @property
    def sub_warehouse_ids(self) -> list[int]:
        return [int(x) for x in self.sub_warehouses.replace(" ", "").split(",") if x.isdigit()]
