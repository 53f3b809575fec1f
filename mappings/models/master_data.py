"""Master-data mappings between Jushuitan and Kingdee (M1–M5) and the codes each side has."""

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F
from django.db.models.functions import Upper
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from core.models import TimeStampedModel

from ..choices import CodeKind, MappingSource, MasterKind, System


class IntegrationMapping(TimeStampedModel):
    """Common parts: the Integration a row belongs to, where it came from and a note."""

    integration = models.ForeignKey(
        "connectors.Integration",
        verbose_name=_("integration"),
        on_delete=models.CASCADE,
        related_name="+",
        help_text=_("The Kingdee + Jushuitan pair this row belongs to, e.g. main"),
    )
    source = models.CharField(
        verbose_name=_("source"),
        max_length=20,
        choices=MappingSource.choices,
        default=MappingSource.EXPLICIT,
        db_index=True,
        help_text=_("Explicit rows were entered by a person; the others by initialisation"),
    )
    note = models.CharField(
        verbose_name=_("note"),
        max_length=200,
        blank=True,
        help_text=_("Why this row exists, e.g. 'Kingdee code differs: created before go-live'"),
    )

    class Meta:
        abstract = True


class ShopCustomerMapping(IntegrationMapping):
    """M1 shop ↔ customer (店铺 ↔ 客户). By the brief's rule the Kingdee customer code equals
    the Jushuitan shop id; a row here records an exception or a rule pair made explicit."""

    shop_id = models.CharField(
        verbose_name=_("Jushuitan shop id"),
        max_length=64,
        help_text=_("shop_id in Jushuitan, e.g. 10005"),
    )
    shop_name = models.CharField(
        verbose_name=_("shop name"),
        max_length=200,
        blank=True,
        help_text=_("For people only, e.g. Amazon DE Shop"),
    )
    customer_number = models.CharField(
        verbose_name=_("Kingdee customer number"),
        max_length=80,
        help_text=_("BD_Customer FNumber, e.g. CUST-AMZ-DE"),
    )
    sale_org_number = models.CharField(
        verbose_name=_("sales organisation"),
        max_length=50,
        blank=True,
        help_text=_(
            "Kingdee sales org for this shop's documents; blank = the connection's org, e.g. 100"
        ),
    )
    settle_currency = models.CharField(
        verbose_name=_("settlement currency"),
        max_length=3,
        blank=True,
        help_text=_("ISO code of the shop's currency, e.g. EUR"),
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ("integration", "shop_id")
        verbose_name = _("shop ↔ customer mapping")
        verbose_name_plural = _("shop ↔ customer mappings")
        constraints = [
            models.UniqueConstraint(
                fields=("integration", "shop_id"), name="mappings_shop_unique_per_integration"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.shop_id} → {self.customer_number}"


class WarehouseMapping(IntegrationMapping):
    """M2 warehouse ↔ warehouse (仓库). A Jushuitan location is (wms_co_id, sub-warehouse);
    sub-warehouse 0 means every sub-warehouse of that wms_co_id."""

    wms_co_id = models.CharField(
        verbose_name=_("Jushuitan warehouse (wms_co_id)"),
        max_length=32,
        help_text=_("wms_co_id of the warehouse or partner warehouse, e.g. 20001"),
    )
    wh_id = models.PositiveSmallIntegerField(
        verbose_name=_("sub-warehouse"),
        default=0,
        help_text=_("0 = all; 1 main, 2 sales return, 3 incoming, 4 defective, 6+ custom, e.g. 0"),
    )
    warehouse_name = models.CharField(
        verbose_name=_("warehouse name"),
        max_length=200,
        blank=True,
        help_text=_("For people only, e.g. 深圳跨境仓"),
    )
    stock_number = models.CharField(
        verbose_name=_("Kingdee warehouse number"),
        max_length=80,
        help_text=_("BD_STOCK FNumber, e.g. 20001"),
    )
    stock_org_number = models.CharField(
        verbose_name=_("stock organisation"),
        max_length=50,
        blank=True,
        help_text=_("Kingdee stock org; blank = the connection's org, e.g. 100"),
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ("integration", "wms_co_id", "wh_id")
        verbose_name = _("warehouse mapping")
        verbose_name_plural = _("warehouse mappings")
        constraints = [
            models.UniqueConstraint(
                fields=("integration", "wms_co_id", "wh_id"),
                name="mappings_warehouse_unique_per_integration",
            ),
        ]

    def __str__(self) -> str:
        sub = f"/{self.wh_id}" if self.wh_id else ""
        return f"{self.wms_co_id}{sub} → {self.stock_number}"


class SupplierMapping(IntegrationMapping):
    """M3 supplier ↔ supplier (供应商): Kingdee FNumber ↔ Jushuitan supplier_code (and the
    integer supplier_id that Jushuitan purchase uploads need)."""

    jst_supplier_code = models.CharField(
        verbose_name=_("Jushuitan supplier code"),
        max_length=80,
        help_text=_("supplier_code in Jushuitan, e.g. SUP001"),
    )
    jst_supplier_id = models.PositiveBigIntegerField(
        verbose_name=_("Jushuitan supplier id"),
        null=True,
        blank=True,
        help_text=_("Numeric supplier_id from Jushuitan, e.g. 30001"),
    )
    supplier_number = models.CharField(
        verbose_name=_("Kingdee supplier number"),
        max_length=80,
        help_text=_("BD_Supplier FNumber, e.g. SUP001"),
    )
    supplier_name = models.CharField(
        verbose_name=_("supplier name"),
        max_length=200,
        blank=True,
        help_text=_("For people only, e.g. 深圳市华强电子有限公司"),
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ("integration", "jst_supplier_code")
        verbose_name = _("supplier mapping")
        verbose_name_plural = _("supplier mappings")
        constraints = [
            models.UniqueConstraint(
                fields=("integration", "jst_supplier_code"),
                name="mappings_jst_supplier_unique_per_integration",
            ),
            models.UniqueConstraint(
                fields=("integration", "supplier_number"),
                name="mappings_kd_supplier_unique_per_integration",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.jst_supplier_code} ↔ {self.supplier_number}"


class MaterialMapping(IntegrationMapping):
    """M4 SKU ↔ material (商品 ↔ 物料). By the brief's rule the material code equals the SKU;
    a row here is an exception (M5, 编码映射) or a rule pair made explicit."""

    sku_id = models.CharField(
        verbose_name=_("Jushuitan SKU"),
        max_length=40,
        help_text=_("sku_id in Jushuitan (at most 40 characters), e.g. SKU-PB-1001"),
    )
    material_number = models.CharField(
        verbose_name=_("Kingdee material number"),
        max_length=80,
        help_text=_("BD_MATERIAL FNumber, e.g. 1.01.001-PB"),
    )
    material_name = models.CharField(
        verbose_name=_("name"),
        max_length=200,
        blank=True,
        help_text=_("For people only, e.g. 20000mAh 充电宝"),
    )
    unit_factor = models.DecimalField(
        verbose_name=_("unit factor"),
        max_digits=14,
        decimal_places=6,
        default=Decimal("1"),
        validators=[MinValueValidator(Decimal("0.000001"))],
        help_text=_("Kingdee base units per Jushuitan unit, e.g. 1 (12 for a dozen)"),
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ("integration", "sku_id")
        verbose_name = _("SKU ↔ material mapping")
        verbose_name_plural = _("SKU ↔ material mappings")
        constraints = [
            models.UniqueConstraint(
                fields=("integration", "sku_id"), name="mappings_sku_unique_per_integration"
            ),
            models.UniqueConstraint(
                fields=("integration", "material_number"),
                name="mappings_material_unique_per_integration",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sku_id} ↔ {self.material_number}"


class CodeMapping(IntegrationMapping):
    """M5 code-mapping table (编码映射表) for reference codes with no table of their own:
    currencies (ISO → Kingdee currency number, e.g. USD → PRE007), expense items, units."""

    kind = models.CharField(
        verbose_name=_("kind"),
        max_length=20,
        choices=CodeKind.choices,
        help_text=_("What the code is, e.g. currency"),
    )
    jushuitan_code = models.CharField(
        verbose_name=_("Jushuitan / portal code"),
        max_length=80,
        help_text=_("The code as Jushuitan or the portal writes it, e.g. USD"),
    )
    kingdee_code = models.CharField(
        verbose_name=_("Kingdee code"),
        max_length=80,
        help_text=_("The Kingdee FNumber it converts to, e.g. PRE007"),
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ("integration", "kind", "jushuitan_code")
        verbose_name = _("code mapping")
        verbose_name_plural = _("code mappings")
        constraints = [
            models.UniqueConstraint(
                fields=("integration", "kind", "jushuitan_code"),
                name="mappings_code_unique_per_integration",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.jushuitan_code} → {self.kingdee_code}"


class KnownCode(models.Model):
    """Snapshot of the codes one system has: master data (filled by "Initialise from
    systems" and master-data syncs) and the customer's code tables (currencies, accounts, tax
    rates, shops, warehouses; "Pull code tables"). The 1:1 rule only maps to a code known to
    exist on the other side, once anything of that kind is known; import dry runs refuse codes
    the target system's snapshot lacks (issue 24 point 6)."""

    integration = models.ForeignKey(
        "connectors.Integration",
        verbose_name=_("integration"),
        on_delete=models.CASCADE,
        related_name="+",
    )
    system = models.CharField(
        verbose_name=_("system"),
        max_length=20,
        choices=System.choices,
        help_text=_("Which side has this code, e.g. kingdee"),
    )
    kind = models.CharField(
        verbose_name=_("kind"),
        max_length=20,
        choices=MasterKind.choices,
        help_text=_("e.g. customer"),
    )
    code = models.CharField(
        verbose_name=_("code"),
        max_length=80,
        help_text=_("The code in that system, e.g. CUST-AMZ-DE"),
    )
    name = models.CharField(
        verbose_name=_("name"),
        max_length=200,
        blank=True,
        help_text=_("e.g. Amazon DE Shop"),
    )
    extra = models.JSONField(
        verbose_name=_("details"),
        default=dict,
        blank=True,
        help_text=_('Other fields the system listed, e.g. {"currency": "EUR"}'),
    )
    seen_at = models.DateTimeField(
        verbose_name=_("last seen"),
        help_text=_("When a listing last showed this code, e.g. 2026-11-28 09:30"),
    )

    class Meta:
        ordering = ("integration", "system", "kind", "code")
        verbose_name = _("known code")
        verbose_name_plural = _("known codes (snapshot of both systems)")
        constraints = [
            models.UniqueConstraint(
                fields=("integration", "system", "kind", "code"),
                name="mappings_knowncode_unique",
            ),
        ]
        indexes = [
            # the M4 look-alike check (a SKU differing only in letter case), per material
            models.Index(
                F("integration"),
                F("system"),
                F("kind"),
                Upper("code"),
                name="mappings_knowncode_upper",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_system_display()} {self.get_kind_display()} {self.code}"
