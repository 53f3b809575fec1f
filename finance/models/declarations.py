"""Export refund (K2): customs declarations and their items, purchase VAT invoices, FX
receipts, and the Kingdee sources they can be read from."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from core.models import TimeStampedModel

from ..choices import CustomsMode, DeclarationSource, KingdeeSourceKind


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
        from ..kingdee_sources import fields_problems

        if problems := fields_problems(kind=self.kind, fields=self.fields):
            from django.core.exceptions import ValidationError

            raise ValidationError({"fields": problems})
