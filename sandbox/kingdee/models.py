"""State of the simulated K3Cloud server: sessions, base data, bills, stock ledger, numbering.

Columns hold what queries select and filter on (bill no., status, dates, org, material,
warehouse, quantity) so that ExecuteBillQuery over 100k+ bills is an indexed SQL query;
everything else of a saved model stays in JSON (`fields`: lower-case keys for queries,
`model`: the keys as sent, for View). Custom header fields (`F_PAEZ_PlatformOrderNo`, any
`F_<dev>_<Name>`) are also written to KdBillCustomField, indexed by (form, key, value).
"""

from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _


class DocumentStatus(models.TextChoices):
    DRAFT = "Z", _("Draft (暂存)")
    CREATED = "A", _("Created (创建)")
    SUBMITTED = "B", _("Submitted (审核中)")
    AUDITED = "C", _("Audited (已审核)")
    REAUDIT = "D", _("Unaudited (重新审核)")


EDITABLE_STATUSES = (DocumentStatus.DRAFT, DocumentStatus.CREATED, DocumentStatus.REAUDIT)


class KdSession(models.Model):
    """A server session (kdservice-sessionid) opened by a login or a signed request."""

    session_id = models.CharField(
        verbose_name=_("session id"),
        max_length=64,
        unique=True,
        help_text=_("The kdservice-sessionid cookie, e.g. 2c6dfa6c-039b-4b65-b52f-898d3c7c522a"),
    )
    acct_id = models.CharField(
        verbose_name=_("account set id"),
        max_length=64,
        help_text=_("The data centre the session belongs to, e.g. 66a1b2c3d4e5f6"),
    )
    username = models.CharField(
        verbose_name=_("user name"),
        max_length=100,
        help_text=_("e.g. api_user"),
    )
    opened_by = models.CharField(
        verbose_name=_("opened by"),
        max_length=40,
        help_text=_("How the session was opened, e.g. signature or LoginByAppSecret"),
    )
    created_at = models.DateTimeField(
        verbose_name=_("created at"),
        auto_now_add=True,
    )
    last_seen_at = models.DateTimeField(
        verbose_name=_("last seen at"),
        db_index=True,
        help_text=_("Sessions idle longer than the configured timeout are gone."),
    )

    class Meta:
        ordering = ("-last_seen_at",)
        verbose_name = _("simulated Kingdee session")
        verbose_name_plural = _("simulated Kingdee sessions")

    def __str__(self) -> str:
        return f"{self.username}@{self.acct_id} {self.session_id[:8]}"


class KdBaseData(models.Model):
    """A base-data record (物料 material, 客户 customer, 供应商 supplier, 仓库 warehouse)."""

    form_id = models.CharField(
        verbose_name=_("form id"),
        max_length=40,
        help_text=_("e.g. BD_MATERIAL"),
    )
    number = models.CharField(
        verbose_name=_("number"),
        max_length=80,
        help_text=_("FNumber, e.g. SKU-PB-1001"),
    )
    name = models.CharField(
        verbose_name=_("name"),
        max_length=255,
        blank=True,
        help_text=_("FName, e.g. 20000mAh 充电宝"),
    )
    org_number = models.CharField(
        verbose_name=_("use organisation"),
        max_length=40,
        help_text=_("FUseOrgId.FNumber, e.g. 100"),
    )
    document_status = models.CharField(
        verbose_name=_("document status"),
        max_length=1,
        choices=DocumentStatus.choices,
        default=DocumentStatus.CREATED,
        help_text=_("Base data must be audited (C) before bills may use it."),
    )
    forbid_status = models.CharField(
        verbose_name=_("forbid status"),
        max_length=1,
        default="A",
        help_text=_("A enabled, B forbidden"),
    )
    fields = models.JSONField(
        verbose_name=_("fields (query keys)"),
        default=dict,
        help_text=_('Lower-case flattened keys, e.g. {"fgrossweight": 0.48}'),
    )
    model = models.JSONField(
        verbose_name=_("model as saved"),
        default=dict,
        help_text=_('The Save model with its keys as sent, e.g. {"FNumber": "SKU-PB-1001"}'),
    )
    created_at = models.DateTimeField(
        verbose_name=_("created at"),
        auto_now_add=True,
    )
    modified_at = models.DateTimeField(
        verbose_name=_("modified at"),
        auto_now=True,
        db_index=True,
    )
    approved_at = models.DateTimeField(
        verbose_name=_("approved at"),
        null=True,
        blank=True,
    )

    class Meta:
        ordering = ("form_id", "number")
        verbose_name = _("simulated Kingdee base data")
        verbose_name_plural = _("simulated Kingdee base data")
        constraints = [
            models.UniqueConstraint(
                fields=("form_id", "org_number", "number"), name="sbkd_basedata_unique_number"
            ),
        ]
        indexes = [models.Index(fields=("form_id", "number"), name="sbkd_basedata_number")]

    def __str__(self) -> str:
        return f"{self.form_id} {self.number} {self.name}"


class KdBill(models.Model):
    """A business document (单据) of one form, e.g. a 销售出库单 SAL_OUTSTOCK."""

    form_id = models.CharField(
        verbose_name=_("form id"),
        max_length=40,
        help_text=_("e.g. SAL_OUTSTOCK"),
    )
    bill_no = models.CharField(
        verbose_name=_("bill no."),
        max_length=80,
        help_text=_("FBillNo, e.g. XSCKD000123"),
    )
    document_status = models.CharField(
        verbose_name=_("document status"),
        max_length=1,
        choices=DocumentStatus.choices,
        default=DocumentStatus.CREATED,
    )
    bill_date = models.DateTimeField(
        verbose_name=_("date"),
        null=True,
        blank=True,
        help_text=_("FDate, e.g. 2026-05-01 00:00"),
    )
    org_number = models.CharField(
        verbose_name=_("organisation"),
        max_length=40,
        blank=True,
        help_text=_("The stock (or cost / book) organisation number, e.g. 100"),
    )
    fields = models.JSONField(
        verbose_name=_("header fields (query keys)"),
        default=dict,
        help_text=_('Lower-case header keys, sub-heads flattened, e.g. {"fnote": "x"}'),
    )
    model = models.JSONField(
        verbose_name=_("model as saved"),
        default=dict,
        help_text=_("The Save model with its keys as sent (entries included)."),
    )
    created_at = models.DateTimeField(
        verbose_name=_("created at"),
        auto_now_add=True,
    )
    modified_at = models.DateTimeField(
        verbose_name=_("modified at"),
        auto_now=True,
    )
    approved_at = models.DateTimeField(
        verbose_name=_("approved at"),
        null=True,
        blank=True,
    )

    class Meta:
        ordering = ("form_id", "id")
        verbose_name = _("simulated Kingdee bill")
        verbose_name_plural = _("simulated Kingdee bills")
        constraints = [
            models.UniqueConstraint(fields=("form_id", "bill_no"), name="sbkd_bill_unique_no"),
        ]
        indexes = [
            models.Index(fields=("form_id", "document_status", "id"), name="sbkd_bill_status"),
            models.Index(fields=("form_id", "bill_date"), name="sbkd_bill_date"),
            models.Index(fields=("form_id", "modified_at"), name="sbkd_bill_modified"),
            models.Index(fields=("form_id", "approved_at"), name="sbkd_bill_approved"),
        ]

    def __str__(self) -> str:
        return f"{self.form_id} {self.bill_no} ({self.document_status})"


class KdBillEntry(models.Model):
    """One row of a bill's entry (单据体), with what the stock ledger needs as columns."""

    bill = models.ForeignKey(
        KdBill,
        verbose_name=_("bill"),
        on_delete=models.CASCADE,
        related_name="entries",
    )
    seq = models.PositiveIntegerField(
        verbose_name=_("row no."),
        help_text=_("FSeq, from 1"),
    )
    material_number = models.CharField(
        verbose_name=_("material"),
        max_length=80,
        blank=True,
        db_index=True,
        help_text=_("FMaterialId.FNumber, e.g. SKU-PB-1001"),
    )
    stock_number = models.CharField(
        verbose_name=_("warehouse"),
        max_length=80,
        blank=True,
        help_text=_("FStockId.FNumber (FSrcStockId on transfers), e.g. 20001"),
    )
    dest_stock_number = models.CharField(
        verbose_name=_("destination warehouse"),
        max_length=80,
        blank=True,
        help_text=_("FDestStockId.FNumber on transfers, e.g. 20002"),
    )
    qty = models.DecimalField(
        verbose_name=_("quantity"),
        max_digits=23,
        decimal_places=10,
        default=Decimal("0"),
        help_text=_("The form's quantity key (FRealQty, FQty...), e.g. 2"),
    )
    applied_qty = models.DecimalField(
        verbose_name=_("stock change applied"),
        max_digits=23,
        decimal_places=10,
        default=Decimal("0"),
        help_text=_("Signed change the audit made to the source warehouse, e.g. -2"),
    )
    cost_amount = models.DecimalField(
        verbose_name=_("inventory value change"),
        max_digits=23,
        decimal_places=2,
        default=Decimal("0"),
        help_text=_("Signed change the audit made to the inventory value (CNY), e.g. -96.00"),
    )
    fields = models.JSONField(
        verbose_name=_("row fields (query keys)"),
        default=dict,
        help_text=_('Lower-case keys, e.g. {"ftaxprice": 29.99}'),
    )

    class Meta:
        ordering = ("bill", "seq")
        verbose_name = _("simulated Kingdee bill row")
        verbose_name_plural = _("simulated Kingdee bill rows")

    def __str__(self) -> str:
        return f"{self.bill.bill_no}#{self.seq} {self.material_number} × {self.qty}"


class KdBillCustomField(models.Model):
    """A custom header field of a bill (F_<dev>_<Name>), indexed so queries can filter on it."""

    bill = models.ForeignKey(
        KdBill,
        verbose_name=_("bill"),
        on_delete=models.CASCADE,
        related_name="custom_fields",
    )
    form_id = models.CharField(
        verbose_name=_("form id"),
        max_length=40,
        help_text=_("e.g. SAL_OUTSTOCK"),
    )
    key = models.CharField(
        verbose_name=_("field key (lower case)"),
        max_length=80,
        help_text=_("e.g. f_paez_platformorderno"),
    )
    value = models.CharField(
        verbose_name=_("value"),
        max_length=255,
        blank=True,
        help_text=_("e.g. 112-3456789-0123456"),
    )

    class Meta:
        ordering = ("bill", "key")
        verbose_name = _("simulated Kingdee custom field")
        verbose_name_plural = _("simulated Kingdee custom fields")
        indexes = [
            models.Index(fields=("form_id", "key", "value"), name="sbkd_custom_lookup"),
        ]

    def __str__(self) -> str:
        return f"{self.key}={self.value}"


class KdStockBalance(models.Model):
    """即时库存: on-hand quantity of one material in one warehouse of one organisation."""

    org_number = models.CharField(
        verbose_name=_("stock organisation"),
        max_length=40,
        help_text=_("e.g. 100"),
    )
    stock_number = models.CharField(
        verbose_name=_("warehouse"),
        max_length=80,
        help_text=_("e.g. 20001"),
    )
    material_number = models.CharField(
        verbose_name=_("material"),
        max_length=80,
        db_index=True,
        help_text=_("e.g. SKU-PB-1001"),
    )
    base_qty = models.DecimalField(
        verbose_name=_("on-hand (base unit)"),
        max_digits=23,
        decimal_places=10,
        default=Decimal("0"),
        help_text=_("FBaseQty, e.g. 500"),
    )
    lock_qty = models.DecimalField(
        verbose_name=_("reserved (base unit)"),
        max_digits=23,
        decimal_places=10,
        default=Decimal("0"),
        help_text=_("FBaseLockQty, e.g. 0"),
    )
    cost_qty = models.DecimalField(
        verbose_name=_("costed quantity"),
        max_digits=23,
        decimal_places=10,
        default=Decimal("0"),
        help_text=_("The quantity inventory accounting (存货核算) values, e.g. 500"),
    )
    amount = models.DecimalField(
        verbose_name=_("inventory value"),
        max_digits=23,
        decimal_places=2,
        default=Decimal("0"),
        help_text=_("Inventory value in CNY (存货金额), e.g. 24000.00"),
    )
    updated_at = models.DateTimeField(
        verbose_name=_("updated at"),
        auto_now=True,
    )

    class Meta:
        ordering = ("org_number", "stock_number", "material_number")
        verbose_name = _("simulated Kingdee stock balance")
        verbose_name_plural = _("simulated Kingdee stock balances")
        constraints = [
            models.UniqueConstraint(
                fields=("org_number", "stock_number", "material_number"),
                name="sbkd_stock_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.material_number} @ {self.stock_number}: {self.base_qty.normalize()}"


class KdNumberSequence(models.Model):
    """The last number issued per bill-number prefix (编码规则), e.g. XSCKD -> 123."""

    prefix = models.CharField(
        verbose_name=_("prefix"),
        max_length=20,
        unique=True,
        help_text=_("e.g. XSCKD"),
    )
    last_value = models.PositiveBigIntegerField(
        verbose_name=_("last value"),
        default=0,
        help_text=_("e.g. 123 (the last bill was XSCKD000123)"),
    )

    class Meta:
        ordering = ("prefix",)
        verbose_name = _("simulated Kingdee numbering rule")
        verbose_name_plural = _("simulated Kingdee numbering rules")

    def __str__(self) -> str:
        return f"{self.prefix}: {self.last_value}"


class KdCustomField(models.Model):
    """A custom field created in BOS (扩展字段) on one form of the simulated tenant.

    The real server answers MsgCode 9 (元数据中标识为X的字段不存在) for a key its metadata does
    not have, custom `F_<dev>_<Name>` keys included; the simulated one knows only the custom
    fields declared here (the demo declares the ones it uses, sandbox.demo_catalogue)."""

    class Level(models.TextChoices):
        HEADER = "header", _("Header (单据头)")
        ENTRY = "entry", _("Entry row (单据体)")

    form_id = models.CharField(
        verbose_name=_("form id"),
        max_length=40,
        help_text=_("e.g. SAL_OUTSTOCK"),
    )
    key = models.CharField(
        verbose_name=_("field key"),
        max_length=80,
        help_text=_("As created in BOS, e.g. F_PAEZ_PlatformOrderNo"),
    )
    level = models.CharField(
        verbose_name=_("level"),
        max_length=10,
        choices=Level.choices,
        default=Level.HEADER,
    )
    field_type = models.CharField(
        verbose_name=_("field type"),
        max_length=20,
        default="text",
        help_text=_("text, decimal, date, integer, boolean or base data, e.g. text"),
    )
    length = models.PositiveIntegerField(
        verbose_name=_("length"),
        default=255,
        help_text=_("Text length, e.g. 100"),
    )

    class Meta:
        ordering = ("form_id", "level", "key")
        verbose_name = _("simulated Kingdee BOS field")
        verbose_name_plural = _("simulated Kingdee BOS fields")
        constraints = [
            models.UniqueConstraint(fields=("form_id", "key"), name="sbkd_customfield_unique_key"),
        ]

    def __str__(self) -> str:
        return f"{self.form_id}.{self.key} ({self.level})"
