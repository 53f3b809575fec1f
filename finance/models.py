"""Finance models: per-integration settings, FX difference lines and their vouchers (F6.1),
reconciliation runs and their lines (K1)."""

from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _

from core.models import TimeStampedModel

from .choices import (
    CustomsMode,
    DeclarationSource,
    EnterpriseType,
    FxDocumentKind,
    FxTreatment,
    KingdeeSourceKind,
    PendingKind,
    RunStatus,
    RunTrigger,
    VoucherMode,
    VoucherStatus,
)


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


class ReconciliationRun(TimeStampedModel):
    """库存对账: one comparison of on-hand stock per material × warehouse between Kingdee
    (STK_Inventory) and Jushuitan (K1). Accuracy = matching lines / compared lines."""

    integration = models.ForeignKey(
        "connectors.Integration",
        verbose_name=_("integration"),
        on_delete=models.CASCADE,
        related_name="+",
        help_text=_("e.g. demo"),
    )
    trigger = models.CharField(
        verbose_name=_("trigger"),
        max_length=10,
        choices=RunTrigger.choices,
        default=RunTrigger.MANUAL,
        help_text=_("e.g. schedule"),
    )
    status = models.CharField(
        verbose_name=_("status"),
        max_length=10,
        choices=RunStatus.choices,
        default=RunStatus.RUNNING,
        help_text=_("e.g. done"),
    )
    finished_at = models.DateTimeField(
        verbose_name=_("finished at"),
        null=True,
        blank=True,
        help_text=_("e.g. 2026-01-16 02:00"),
    )
    compared = models.PositiveIntegerField(
        verbose_name=_("lines compared"),
        default=0,
        help_text=_("e.g. 120"),
    )
    matched = models.PositiveIntegerField(
        verbose_name=_("lines matching"),
        default=0,
        help_text=_("e.g. 119"),
    )
    accuracy = models.DecimalField(
        verbose_name=_("accuracy (%)"),
        max_digits=7,
        decimal_places=3,
        null=True,
        blank=True,
        help_text=_("matching / compared × 100, rounded down, e.g. 99.166"),
    )
    target = models.DecimalField(
        verbose_name=_("target (%)"),
        max_digits=6,
        decimal_places=3,
        default=Decimal("99.5"),
        help_text=_("e.g. 99.5"),
    )
    below_target = models.BooleanField(
        verbose_name=_("below target"),
        default=False,
        help_text=_("True when an alert was raised"),
    )
    notes = models.TextField(
        verbose_name=_("notes"),
        blank=True,
        help_text=_("What could not be compared, e.g. warehouse 20009 has no mapping"),
    )
    cut_off = models.DateTimeField(
        verbose_name=_("cut-off"),
        null=True,
        blank=True,
        help_text=_(
            "Both systems are compared as of this moment; documents after it are left out "
            "of both sides, e.g. 2026-01-16 02:00:00"
        ),
    )
    matched_after_pending = models.PositiveIntegerField(
        verbose_name=_("lines matching after pending documents"),
        default=0,
        help_text=_("Lines whose difference the pending documents fully explain, e.g. 120"),
    )
    accuracy_after_pending = models.DecimalField(
        verbose_name=_("accuracy after pending documents (%)"),
        max_digits=7,
        decimal_places=3,
        null=True,
        blank=True,
        help_text=_("Lines with no unexplained difference / compared × 100, e.g. 99.583"),
    )
    pending_documents = models.PositiveIntegerField(
        verbose_name=_("pending documents"),
        default=0,
        help_text=_("Documents in one system but not yet in the other at the cut-off, e.g. 4"),
    )
    overdue_documents = models.PositiveIntegerField(
        verbose_name=_("pending documents over their bound"),
        default=0,
        help_text=_("Pending longer than their flow's bound (an alert), e.g. 1"),
    )
    difference_value = models.DecimalField(
        verbose_name=_("value of differences (CNY)"),
        max_digits=18,
        decimal_places=2,
        default=Decimal("0"),
        help_text=_("Σ |difference| × Kingdee unit cost, e.g. 1240.00"),
    )
    unexplained_value = models.DecimalField(
        verbose_name=_("value of unexplained differences (CNY)"),
        max_digits=18,
        decimal_places=2,
        default=Decimal("0"),
        help_text=_("Σ |unexplained| × Kingdee unit cost, e.g. 850.00"),
    )

    class Meta:
        ordering = ("-created_at",)
        verbose_name = _("reconciliation run")
        verbose_name_plural = _("reconciliation runs")
        indexes = [models.Index(fields=("integration", "created_at"))]

    def __str__(self) -> str:
        return f"{self.integration} {self.created_at:%Y-%m-%d %H:%M} {self.accuracy}%"

    @property
    def mismatches(self) -> int:
        return self.compared - self.matched


class ReconciliationLine(models.Model):
    """One material × warehouse of a run: both quantities and whether they match."""

    run = models.ForeignKey(
        ReconciliationRun,
        verbose_name=_("run"),
        on_delete=models.CASCADE,
        related_name="lines",
    )
    material_number = models.CharField(
        verbose_name=_("material"),
        max_length=80,
        blank=True,
        help_text=_("Kingdee material FNumber, e.g. SKU-PB-1001"),
    )
    sku_id = models.CharField(
        verbose_name=_("SKU"),
        max_length=80,
        blank=True,
        help_text=_("Jushuitan sku_id, e.g. SKU-PB-1001"),
    )
    stock_number = models.CharField(
        verbose_name=_("Kingdee warehouse"),
        max_length=80,
        help_text=_("BD_STOCK FNumber, e.g. 20001"),
    )
    wms_co_id = models.CharField(
        verbose_name=_("Jushuitan warehouse"),
        max_length=32,
        blank=True,
        help_text=_("e.g. 20001"),
    )
    wh_id = models.PositiveSmallIntegerField(
        verbose_name=_("sub-warehouse"),
        default=1,
        help_text=_("e.g. 1"),
    )
    kingdee_qty = models.DecimalField(
        verbose_name=_("Kingdee quantity"),
        max_digits=18,
        decimal_places=3,
        default=Decimal("0"),
        help_text=_("e.g. 500"),
    )
    jushuitan_qty = models.DecimalField(
        verbose_name=_("Jushuitan quantity"),
        max_digits=18,
        decimal_places=3,
        default=Decimal("0"),
        help_text=_("e.g. 497"),
    )
    difference = models.DecimalField(
        verbose_name=_("difference (Jushuitan − Kingdee)"),
        max_digits=18,
        decimal_places=3,
        default=Decimal("0"),
        help_text=_("e.g. -3"),
    )
    matched = models.BooleanField(
        verbose_name=_("matches"),
        default=True,
        db_index=True,
    )
    note = models.CharField(
        verbose_name=_("note"),
        max_length=200,
        blank=True,
        help_text=_("e.g. SKU has no Kingdee material (M4)"),
    )
    pending_qty = models.DecimalField(
        verbose_name=_("explained by pending documents"),
        max_digits=18,
        decimal_places=3,
        default=Decimal("0"),
        help_text=_("The part of the difference the pending documents account for, e.g. -3"),
    )
    unexplained_qty = models.DecimalField(
        verbose_name=_("unexplained"),
        max_digits=18,
        decimal_places=3,
        default=Decimal("0"),
        help_text=_("difference − explained, e.g. 0"),
    )
    matched_after_pending = models.BooleanField(
        verbose_name=_("matches after pending documents"),
        default=True,
    )
    unit_cost = models.DecimalField(
        verbose_name=_("Kingdee unit cost (CNY)"),
        max_digits=18,
        decimal_places=6,
        null=True,
        blank=True,
        help_text=_("Blank when Kingdee holds none, e.g. 62.00"),
    )
    difference_value = models.DecimalField(
        verbose_name=_("difference value (CNY)"),
        max_digits=18,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("difference × unit cost, to the cent, e.g. -186.00"),
    )
    unexplained_value = models.DecimalField(
        verbose_name=_("unexplained value (CNY)"),
        max_digits=18,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("unexplained × unit cost, to the cent, e.g. 0.00"),
    )

    class Meta:
        ordering = ("run", "matched", "stock_number", "material_number", "sku_id")
        verbose_name = _("reconciliation line")
        verbose_name_plural = _("reconciliation lines")

    def __str__(self) -> str:
        return f"{self.material_number or self.sku_id}@{self.stock_number}: {self.difference}"


class ReconcilingItem(models.Model):
    """对账调节项: a portal document that is in one system but not yet in the other at a run's
    cut-off, with the quantity it accounts for on one reconciliation line."""

    line = models.ForeignKey(
        ReconciliationLine,
        verbose_name=_("line"),
        on_delete=models.CASCADE,
        related_name="items",
    )
    document = models.ForeignKey(
        "flows.SyncDocument",
        verbose_name=_("document"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    flow_code = models.CharField(
        verbose_name=_("flow"),
        max_length=30,
        help_text=_("e.g. sales_outbound"),
    )
    reference = models.CharField(
        verbose_name=_("reference"),
        max_length=200,
        blank=True,
        help_text=_("Platform order no. or bill no., e.g. DEMO-GIFT-0001"),
    )
    kind = models.CharField(
        verbose_name=_("why pending"),
        max_length=12,
        choices=PendingKind.choices,
        help_text=_("e.g. blocked"),
    )
    state = models.CharField(
        verbose_name=_("document state"),
        max_length=20,
        help_text=_("e.g. blocked"),
    )
    quantity = models.DecimalField(
        verbose_name=_("quantity (Jushuitan − Kingdee)"),
        max_digits=18,
        decimal_places=3,
        help_text=_("What the document accounts for on the line, e.g. -2"),
    )
    pending_since = models.DateTimeField(
        verbose_name=_("pending since"),
        null=True,
        blank=True,
    )
    overdue = models.BooleanField(
        verbose_name=_("over its flow's bound"),
        default=False,
    )
    ticket = models.ForeignKey(
        "monitoring.ExceptionTicket",
        verbose_name=_("open ticket"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    error = models.CharField(
        verbose_name=_("error"),
        max_length=300,
        blank=True,
        help_text=_("The document's last error, e.g. SKU SKU-GIFT-9001 has no Kingdee material"),
    )

    class Meta:
        ordering = ("line", "pending_since", "id")
        verbose_name = _("reconciling document")
        verbose_name_plural = _("reconciling documents")

    def __str__(self) -> str:
        return f"{self.reference} {self.kind} {self.quantity}"


class CustomsDeclaration(TimeStampedModel):
    """出口报关单: one export declaration, imported from the customs broker's or the single
    window's file (K2). Its items are what an export refund is filed on."""

    integration = models.ForeignKey(
        "connectors.Integration",
        verbose_name=_("integration"),
        on_delete=models.CASCADE,
        related_name="+",
        help_text=_("e.g. demo"),
    )
    declaration_no = models.CharField(
        verbose_name=_("declaration no."),
        max_length=18,
        help_text=_("报关单号 (海关编号), 18 digits, e.g. 531620260000012345"),
    )
    mode = models.CharField(
        verbose_name=_("supervision mode"),
        max_length=4,
        choices=CustomsMode.choices,
        help_text=_("监管方式, e.g. 9810"),
    )
    export_date = models.DateField(
        verbose_name=_("export date"),
        help_text=_("出口日期, e.g. 2026-01-10"),
    )
    destination_country = models.CharField(
        verbose_name=_("destination country"),
        max_length=2,
        help_text=_("运抵国, ISO 3166 alpha-2, e.g. US"),
    )
    reference_no = models.CharField(
        verbose_name=_("booking / order no."),
        max_length=100,
        blank=True,
        help_text=_(
            "9810: the overseas-warehouse booking (订仓单) no.; 9710: the B2B platform order "
            "no., e.g. FBA17ABCDE"
        ),
    )
    overseas_warehouse = models.CharField(
        verbose_name=_("overseas warehouse (Jushuitan)"),
        max_length=32,
        blank=True,
        help_text=_(
            "9810: the Jushuitan wms_co_id the goods were sent to; its sales are allocated to "
            "the items (blank = sales from any warehouse), e.g. 20002"
        ),
    )
    shop_ids = models.CharField(
        verbose_name=_("shops selling these goods"),
        max_length=200,
        blank=True,
        help_text=_(
            "9810: comma-separated Jushuitan shop ids whose sales draw on this declaration "
            "(blank = every shop), e.g. 10001"
        ),
    )
    export_invoice_no = models.CharField(
        verbose_name=_("export invoice no."),
        max_length=100,
        blank=True,
        help_text=_("出口发票号, e.g. INV-2026-0001"),
    )
    refund_filed_on = models.DateField(
        verbose_name=_("refund filed on"),
        null=True,
        blank=True,
        help_text=_("When the refund declaration was filed; later returns need a correction"),
    )
    source = models.CharField(
        verbose_name=_("source"),
        max_length=10,
        choices=DeclarationSource.choices,
        default=DeclarationSource.IMPORT,
    )

    class Meta:
        ordering = ("-export_date", "declaration_no")
        verbose_name = _("customs declaration")
        verbose_name_plural = _("customs declarations")
        constraints = [
            models.UniqueConstraint(
                fields=("integration", "declaration_no"), name="finance_declaration_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.declaration_no} ({self.mode})"

    @property
    def shop_id_list(self) -> list[str]:
        return [x.strip() for x in self.shop_ids.split(",") if x.strip()]


class DeclarationItem(models.Model):
    """报关单商品项: one item (项号) of a declaration, in legal units, with its FOB value."""

    declaration = models.ForeignKey(
        CustomsDeclaration,
        verbose_name=_("declaration"),
        on_delete=models.CASCADE,
        related_name="items",
    )
    item_no = models.PositiveSmallIntegerField(
        verbose_name=_("item no."),
        help_text=_("项号, e.g. 1"),
    )
    sku_id = models.CharField(
        verbose_name=_("SKU"),
        max_length=80,
        help_text=_("Jushuitan sku_id the item carries, e.g. SKU-PB-1001"),
    )
    hs_code = models.CharField(
        verbose_name=_("HS code"),
        max_length=10,
        blank=True,
        help_text=_("商品编码, 10 digits, e.g. 8507600090"),
    )
    goods_name = models.CharField(
        verbose_name=_("goods name"),
        max_length=200,
        blank=True,
        help_text=_("申报品名, e.g. 移动电源"),
    )
    quantity = models.DecimalField(
        verbose_name=_("quantity (pieces)"),
        max_digits=18,
        decimal_places=3,
        help_text=_("成交数量 in the SKU's unit, e.g. 100"),
    )
    legal_unit = models.CharField(
        verbose_name=_("first legal unit"),
        max_length=20,
        blank=True,
        help_text=_("法定第一计量单位, e.g. 个"),
    )
    legal_qty = models.DecimalField(
        verbose_name=_("first legal quantity"),
        max_digits=18,
        decimal_places=3,
        null=True,
        blank=True,
        help_text=_("e.g. 100"),
    )
    second_unit = models.CharField(
        verbose_name=_("second legal unit"),
        max_length=20,
        blank=True,
        help_text=_("法定第二计量单位, when the HS code has one, e.g. 千克"),
    )
    second_qty = models.DecimalField(
        verbose_name=_("second legal quantity"),
        max_digits=18,
        decimal_places=3,
        null=True,
        blank=True,
        help_text=_("e.g. 42"),
    )
    fob_usd = models.DecimalField(
        verbose_name=_("FOB value (USD)"),
        max_digits=18,
        decimal_places=2,
        help_text=_("美元离岸价, e.g. 1850.00"),
    )
    hwc_yt = models.BooleanField(
        verbose_name=_("HWC-YT (overseas-warehouse pre-refund)"),
        default=False,
        help_text=_("海外仓预退: unsold goods declared for the pre-refund (9810 only)"),
    )

    class Meta:
        ordering = ("declaration", "item_no")
        verbose_name = _("declaration item")
        verbose_name_plural = _("declaration items")
        constraints = [
            models.UniqueConstraint(
                fields=("declaration", "item_no"), name="finance_declaration_item_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.declaration.declaration_no}#{self.item_no} {self.sku_id}"


class PurchaseInvoice(models.Model):
    """进项专票: a purchase VAT special invoice (or its part) backing a declaration item."""

    item = models.ForeignKey(
        DeclarationItem,
        verbose_name=_("declaration item"),
        on_delete=models.CASCADE,
        related_name="purchase_invoices",
    )
    invoice_no = models.CharField(
        verbose_name=_("invoice no."),
        max_length=40,
        help_text=_("全电发票号码 or 代码+号码, e.g. 24442000000012345678"),
    )
    invoice_date = models.DateField(
        verbose_name=_("invoice date"),
        null=True,
        blank=True,
    )
    amount = models.DecimalField(
        verbose_name=_("amount excl. tax (CNY)"),
        max_digits=18,
        decimal_places=2,
        help_text=_("计税金额, e.g. 6200.00"),
    )
    tax = models.DecimalField(
        verbose_name=_("tax (CNY)"),
        max_digits=18,
        decimal_places=2,
        help_text=_("税额, e.g. 806.00"),
    )

    class Meta:
        ordering = ("item", "invoice_no")
        verbose_name = _("purchase VAT invoice")
        verbose_name_plural = _("purchase VAT invoices")
        constraints = [
            models.UniqueConstraint(fields=("item", "invoice_no"), name="finance_invoice_unique")
        ]

    def __str__(self) -> str:
        return self.invoice_no


class FxReceipt(models.Model):
    """收汇: proof that the export proceeds of a declaration were received."""

    declaration = models.ForeignKey(
        CustomsDeclaration,
        verbose_name=_("declaration"),
        on_delete=models.CASCADE,
        related_name="fx_receipts",
    )
    receipt_no = models.CharField(
        verbose_name=_("receipt no."),
        max_length=60,
        help_text=_("Bank slip or platform payout id, e.g. PAYOUT-2026-0001"),
    )
    received_on = models.DateField(
        verbose_name=_("received on"),
    )
    currency = models.CharField(
        verbose_name=_("currency"),
        max_length=3,
        help_text=_("e.g. USD"),
    )
    amount = models.DecimalField(
        verbose_name=_("amount"),
        max_digits=18,
        decimal_places=2,
        help_text=_("e.g. 1850.00"),
    )

    class Meta:
        ordering = ("declaration", "received_on")
        verbose_name = _("FX receipt")
        verbose_name_plural = _("FX receipts")
        constraints = [
            models.UniqueConstraint(
                fields=("declaration", "receipt_no"), name="finance_fx_receipt_unique"
            )
        ]

    def __str__(self) -> str:
        return self.receipt_no


class KingdeeSource(TimeStampedModel):
    """K2: the Kingdee form where the tenant keeps its customs declarations, purchase VAT
    invoices or FX receipts, and the field key of each attribute (finance.kingdee_sources
    reads it with ExecuteBillQuery into the same rows and checks as the workbook import)."""

    integration = models.ForeignKey(
        "connectors.Integration",
        verbose_name=_("integration"),
        on_delete=models.CASCADE,
        related_name="kingdee_sources",
        help_text=_("e.g. demo"),
    )
    kind = models.CharField(
        verbose_name=_("holds"),
        max_length=12,
        choices=KingdeeSourceKind.choices,
    )
    enabled = models.BooleanField(
        verbose_name=_("enabled"),
        default=True,
        help_text=_("Read by the hourly pull and checked by the Kingdee preflight"),
    )
    form_id = models.CharField(
        verbose_name=_("Kingdee form id"),
        max_length=80,
        help_text=_(
            "The form (FormId), e.g. PAEZ_CustomsDecl (a form built in BOS), IV_PURCHASEIC, "
            "AR_RECEIVEBILL"
        ),
    )
    fields = models.JSONField(
        verbose_name=_("field keys"),
        default=dict,
        help_text=_(
            'Column of the import template → Kingdee field key, e.g. {"declaration_no": '
            '"F_PAEZ_DeclarationNo", "item_no": "F_PAEZ_ItemNo"}; the columns are those of '
            "the declarations import (material_number instead of sku_id reads the material "
            "and maps it to its SKU)"
        ),
    )
    entry_key = models.CharField(
        verbose_name=_("entry key"),
        max_length=80,
        blank=True,
        help_text=_(
            "The entry (单据体) holding one row per item, when item fields are on entry rows, "
            "so the paging is ordered by the entry id, e.g. FEntity; blank = header only"
        ),
    )
    filter_string = models.CharField(
        verbose_name=_("filter"),
        max_length=500,
        blank=True,
        default="FDocumentStatus = 'C'",
        help_text=_("ExecuteBillQuery FilterString, e.g. FDocumentStatus = 'C' (audited)"),
    )
    last_pulled_at = models.DateTimeField(
        verbose_name=_("last pulled at"),
        null=True,
        blank=True,
    )
    last_result = models.TextField(
        verbose_name=_("last result"),
        blank=True,
    )

    class Meta:
        ordering = ("integration", "kind")
        verbose_name = _("Kingdee source (export refund)")
        verbose_name_plural = _("Kingdee sources (export refund)")
        constraints = [
            models.UniqueConstraint(
                fields=("integration", "kind"), name="finance_kingdee_source_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.integration} {self.get_kind_display()}: {self.form_id}"

    def clean(self) -> None:
        from .kingdee_sources import fields_problems

        if problems := fields_problems(kind=self.kind, fields=self.fields):
            from django.core.exceptions import ValidationError

            raise ValidationError({"fields": problems})


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
