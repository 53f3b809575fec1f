"""State of the simulated Jushuitan (聚水潭) company: apps and tokens, master data, stock and
documents. Every business row carries `modified` (the time-window queries select on it) and
`ts` (a global row version, docs/protocols/jushuitan.md §2.5), both indexed."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from core.fields import EncryptedTextField


class ApiApp(models.Model):
    """An open-platform app (自研应用) allowed to call the sandbox for one company."""

    app_key = models.CharField(
        verbose_name=_("app key"),
        max_length=64,
        unique=True,
        help_text=_("e.g. sandbox-demo-app-key"),
    )
    app_secret = EncryptedTextField(
        verbose_name=_("app secret"),
        help_text=_("Stored encrypted, e.g. sandbox-demo-app-secret"),
    )
    co_id = models.PositiveBigIntegerField(
        verbose_name=_("company id"),
        default=10174711,
        help_text=_("The company (co_id) the app is authorised for, e.g. 10174711"),
    )
    self_developed = models.BooleanField(
        verbose_name=_("self-developed"),
        default=True,
        help_text=_("Only self-developed apps may call getInitToken and refresh, e.g. True"),
    )

    class Meta:
        ordering = ("app_key",)
        verbose_name = _("sandbox Jushuitan app")
        verbose_name_plural = _("sandbox Jushuitan apps")

    def __str__(self) -> str:
        return self.app_key


class ApiToken(models.Model):
    """An issued access/refresh token pair."""

    app = models.ForeignKey(
        ApiApp,
        verbose_name=_("app"),
        on_delete=models.CASCADE,
        related_name="tokens",
    )
    access_token = models.CharField(
        verbose_name=_("access token"),
        max_length=64,
        unique=True,
        help_text=_("32 hex characters, e.g. d7b01bf0842a4742a9450e21ffd95f60"),
    )
    refresh_token = models.CharField(
        verbose_name=_("refresh token"),
        max_length=64,
        unique=True,
        help_text=_("32 hex characters"),
    )
    expires_at = models.DateTimeField(
        verbose_name=_("expires at"),
        db_index=True,
        help_text=_("After this the token answers code 100, e.g. 2026-04-01 08:00"),
    )
    refreshed = models.BooleanField(
        verbose_name=_("refreshed"),
        default=False,
        help_text=_("Replaced by a refresh: its refresh token no longer works"),
    )
    created_at = models.DateTimeField(
        verbose_name=_("created at"),
        auto_now_add=True,
    )

    class Meta:
        ordering = ("-created_at",)
        verbose_name = _("sandbox Jushuitan token")
        verbose_name_plural = _("sandbox Jushuitan tokens")

    def __str__(self) -> str:
        return f"{self.app_id}:{self.access_token[:6]}…"


class ApiSettings(models.Model):
    """How strict the simulated API is (one row). Tests and benchmarks change it per run."""

    token_ttl_seconds = models.PositiveIntegerField(
        verbose_name=_("token lifetime (seconds)"),
        default=2592000,
        help_text=_("expires_in of new tokens; the real API gives 30 days, e.g. 2592000"),
    )
    token_grace_seconds = models.PositiveIntegerField(
        verbose_name=_("old token grace (seconds)"),
        default=300,
        help_text=_("How long a refreshed-away access token keeps working, e.g. 300"),
    )
    timestamp_skew_seconds = models.PositiveIntegerField(
        verbose_name=_("allowed clock skew (seconds)"),
        default=600,
        help_text=_("Requests whose timestamp differs more answer code 180, e.g. 600"),
    )
    rate_limit_enabled = models.BooleanField(
        verbose_name=_("rate limit enabled"),
        default=True,
        help_text=_("Answer 199/200 above the limits below, e.g. True"),
    )
    per_second = models.PositiveIntegerField(
        verbose_name=_("calls per second"),
        default=5,
        help_text=_("Per app and token, e.g. 5"),
    )
    per_minute = models.PositiveIntegerField(
        verbose_name=_("calls per minute"),
        default=100,
        help_text=_("Per app and token, e.g. 100"),
    )
    clamp_page_size = models.BooleanField(
        verbose_name=_("clamp page size"),
        default=False,
        help_text=_("Clamp an oversize page_size instead of answering code 140, e.g. False"),
    )
    window_begin_inclusive = models.BooleanField(
        verbose_name=_("modified_begin is inclusive"),
        default=False,
        help_text=_(
            "Off (the strict reading, since nothing public says): a row modified at the very "
            "second of modified_begin is left out; on returns it, e.g. False"
        ),
    )
    platform_order_upload = models.BooleanField(
        verbose_name=_("accept platform shops' orders on upload"),
        default=False,
        help_text=_(
            "The real order upload takes only self-run mall, offline cross-border, offline-store "
            "and B2B shops; on lets the demo stand in for a platform's order download, e.g. False"
        ),
    )
    denied_paths = models.JSONField(
        verbose_name=_("APIs without permission"),
        default=list,
        blank=True,
        help_text=_(
            "Paths answered with code 190 (the app's API package lacks them), e.g. "
            '["/open/webapi/wmsapi/purchasein/createbatch"]'
        ),
    )
    allow_negative_stock = models.BooleanField(
        verbose_name=_("allow negative stock"),
        default=False,
        help_text=_("Reject stock-reducing documents beyond the stock on hand when off"),
    )

    class Meta:
        ordering = ("pk",)
        verbose_name = _("sandbox Jushuitan settings")
        verbose_name_plural = _("sandbox Jushuitan settings")

    def __str__(self) -> str:
        return str(_("Sandbox Jushuitan settings"))

    @classmethod
    def load(cls) -> "ApiSettings":
        return cls.objects.order_by("pk").first() or cls.objects.create()


class Counter(models.Model):
    """Sequences: o_id, as_id, io_id, supplier_id and the global row version ts."""

    name = models.CharField(
        verbose_name=_("name"),
        max_length=20,
        unique=True,
        help_text=_("e.g. ts"),
    )
    value = models.BigIntegerField(
        verbose_name=_("value"),
        default=0,
        help_text=_("Last number handed out, e.g. 1000123"),
    )

    class Meta:
        ordering = ("name",)
        verbose_name = _("sandbox counter")
        verbose_name_plural = _("sandbox counters")

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


class Versioned(models.Model):
    """modified (Beijing wall time, aware) and ts (row version), bumped by every write."""

    modified = models.DateTimeField(
        verbose_name=_("modified"),
        db_index=True,
        help_text=_("Last change, e.g. 2026-03-01 10:00:00"),
    )
    ts = models.BigIntegerField(
        verbose_name=_("row version"),
        db_index=True,
        default=0,
        help_text=_("Global increasing version, e.g. 1000123"),
    )

    class Meta:
        abstract = True


class Shop(Versioned):
    """A shop (店铺) of the company."""

    shop_id = models.PositiveBigIntegerField(
        verbose_name=_("shop id"),
        primary_key=True,
        help_text=_("e.g. 10001"),
    )
    shop_name = models.CharField(
        verbose_name=_("shop name"),
        max_length=100,
        help_text=_("e.g. Amazon US 旗舰店"),
    )
    shop_site = models.CharField(
        verbose_name=_("platform"),
        max_length=50,
        help_text=_("e.g. amazon"),
    )
    currency = models.CharField(
        verbose_name=_("currency"),
        max_length=3,
        help_text=_("ISO code, e.g. USD"),
    )

    class Meta:
        ordering = ("shop_id",)
        verbose_name = _("sandbox shop")
        verbose_name_plural = _("sandbox shops")

    def __str__(self) -> str:
        return f"{self.shop_id} {self.shop_name}"


class Partner(Versioned):
    """A branch / partner warehouse (分仓, wms_co_id)."""

    wms_co_id = models.PositiveBigIntegerField(
        verbose_name=_("warehouse company id"),
        primary_key=True,
        help_text=_("e.g. 20001"),
    )
    name = models.CharField(
        verbose_name=_("name"),
        max_length=100,
        help_text=_("e.g. 深圳跨境仓"),
    )
    is_main = models.BooleanField(
        verbose_name=_("main warehouse"),
        default=False,
        help_text=_("e.g. True for the first one"),
    )

    class Meta:
        ordering = ("wms_co_id",)
        verbose_name = _("sandbox warehouse")
        verbose_name_plural = _("sandbox warehouses")

    def __str__(self) -> str:
        return f"{self.wms_co_id} {self.name}"


class Supplier(Versioned):
    """A supplier (供应商); uploads match on supplier_code, then name."""

    supplier_id = models.PositiveBigIntegerField(
        verbose_name=_("supplier id"),
        primary_key=True,
        help_text=_("Internal id, e.g. 30001"),
    )
    supplier_code = models.CharField(
        verbose_name=_("supplier code"),
        max_length=50,
        unique=True,
        help_text=_("e.g. SUP001"),
    )
    name = models.CharField(
        verbose_name=_("name"),
        max_length=200,
        help_text=_("e.g. 深圳市华强电子有限公司"),
    )
    enabled = models.BooleanField(
        verbose_name=_("enabled"),
        default=True,
        help_text=_("e.g. True"),
    )
    extra = models.JSONField(
        verbose_name=_("other fields"),
        default=dict,
        blank=True,
        help_text=_('As uploaded, e.g. {"phone": "0755-1234"}'),
    )

    class Meta:
        ordering = ("supplier_id",)
        verbose_name = _("sandbox supplier")
        verbose_name_plural = _("sandbox suppliers")

    def __str__(self) -> str:
        return f"{self.supplier_code} {self.name}"


class Sku(Versioned):
    """An item SKU (商品资料)."""

    sku_id = models.CharField(
        verbose_name=_("SKU"),
        max_length=40,
        primary_key=True,
        help_text=_("e.g. SKU-PB-1001"),
    )
    i_id = models.CharField(
        verbose_name=_("style"),
        max_length=40,
        blank=True,
        help_text=_("e.g. PB-1001"),
    )
    name = models.CharField(
        verbose_name=_("name"),
        max_length=200,
        help_text=_("e.g. 20000mAh 充电宝"),
    )
    fields = models.JSONField(
        verbose_name=_("other fields"),
        default=dict,
        blank=True,
        help_text=_('As uploaded, e.g. {"brand": "VoltPeak", "weight": 0.48}'),
    )
    created = models.DateTimeField(
        verbose_name=_("created"),
        help_text=_("e.g. 2026-03-01 10:00:00"),
    )

    class Meta:
        ordering = ("sku_id",)
        verbose_name = _("sandbox SKU")
        verbose_name_plural = _("sandbox SKUs")

    def __str__(self) -> str:
        return self.sku_id


class Stock(Versioned):
    """Stock of one SKU in one warehouse company, per sub-warehouse (1 main, 2 returns,
    3 incoming, 4 defective, 6+ custom) plus the order lock."""

    wms_co_id = models.PositiveBigIntegerField(
        verbose_name=_("warehouse company id"),
        help_text=_("e.g. 20001"),
    )
    sku_id = models.CharField(
        verbose_name=_("SKU"),
        max_length=40,
        help_text=_("e.g. SKU-PB-1001"),
    )
    qty = models.IntegerField(
        verbose_name=_("on hand (main)"),
        default=0,
        help_text=_("Sub-warehouse 1, e.g. 500"),
    )
    order_lock = models.IntegerField(
        verbose_name=_("held by orders"),
        default=0,
        help_text=_("Paid, unshipped orders, e.g. 3"),
    )
    return_qty = models.IntegerField(
        verbose_name=_("sales-return warehouse"),
        default=0,
        help_text=_("Sub-warehouse 2, e.g. 1"),
    )
    in_qty = models.IntegerField(
        verbose_name=_("incoming warehouse"),
        default=0,
        help_text=_("Sub-warehouse 3, e.g. 0"),
    )
    defective_qty = models.IntegerField(
        verbose_name=_("defective warehouse"),
        default=0,
        help_text=_("Sub-warehouse 4, e.g. 0"),
    )
    customize_qty_1 = models.IntegerField(
        verbose_name=_("custom warehouses"),
        default=0,
        help_text=_("Sub-warehouses 6 and above, e.g. 0"),
    )
    allocate_qty = models.IntegerField(
        verbose_name=_("transfer in transit"),
        default=0,
        help_text=_("Transferred out, not yet received, e.g. 0"),
    )

    class Meta:
        ordering = ("wms_co_id", "sku_id")
        verbose_name = _("sandbox stock")
        verbose_name_plural = _("sandbox stock")
        constraints = [
            models.UniqueConstraint(fields=("wms_co_id", "sku_id"), name="sbjst_stock_unique"),
        ]
        indexes = [models.Index(fields=("modified", "sku_id"), name="sbjst_stock_modified")]

    def __str__(self) -> str:
        return f"{self.wms_co_id}/{self.sku_id}: {self.qty}"


class Order(Versioned):
    """An order (订单) with its lines, payments and status history."""

    o_id = models.BigIntegerField(
        verbose_name=_("internal order no."),
        primary_key=True,
        help_text=_("ERP sequence, e.g. 5000123"),
    )
    shop_id = models.PositiveBigIntegerField(
        verbose_name=_("shop id"),
        help_text=_("e.g. 10001"),
    )
    so_id = models.CharField(
        verbose_name=_("platform order no."),
        max_length=50,
        db_index=True,
        help_text=_("e.g. 113-1234567-1234567"),
    )
    status = models.CharField(
        verbose_name=_("status"),
        max_length=20,
        db_index=True,
        help_text=_("e.g. WaitConfirm, Sent"),
    )
    wms_co_id = models.PositiveBigIntegerField(
        verbose_name=_("shipping warehouse"),
        default=0,
        help_text=_("e.g. 20001"),
    )
    order_date = models.DateTimeField(
        verbose_name=_("order date"),
        help_text=_("e.g. 2026-03-01 10:00:00"),
    )
    send_date = models.DateTimeField(
        verbose_name=_("ship date"),
        null=True,
        blank=True,
        help_text=_("Set when shipped, e.g. 2026-03-02 15:00:00"),
    )
    data = models.JSONField(
        verbose_name=_("order fields"),
        default=dict,
        help_text=_("Every other field as the API returns it, items[] and pays[] included"),
    )
    history = models.JSONField(
        verbose_name=_("status history"),
        default=list,
        blank=True,
        help_text=_('e.g. [{"status": "WaitConfirm", "at": "2026-03-01 10:00:00"}]'),
    )

    class Meta:
        ordering = ("o_id",)
        verbose_name = _("sandbox order")
        verbose_name_plural = _("sandbox orders")
        constraints = [
            models.UniqueConstraint(fields=("shop_id", "so_id"), name="sbjst_order_unique"),
        ]
        indexes = [
            models.Index(fields=("modified", "o_id"), name="sbjst_order_modified"),
            models.Index(fields=("order_date", "o_id"), name="sbjst_order_date"),
            models.Index(fields=("send_date", "o_id"), name="sbjst_order_send"),
        ]

    def __str__(self) -> str:
        return f"{self.o_id} {self.so_id} {self.status}"


class AfterSale(Versioned):
    """An after-sale / return (售后单)."""

    as_id = models.BigIntegerField(
        verbose_name=_("after-sale no."),
        primary_key=True,
        help_text=_("ERP sequence, e.g. 7000123"),
    )
    shop_id = models.PositiveBigIntegerField(
        verbose_name=_("shop id"),
        help_text=_("e.g. 10001"),
    )
    outer_as_id = models.CharField(
        verbose_name=_("platform refund no."),
        max_length=50,
        help_text=_("e.g. RMA-113-1234567"),
    )
    so_id = models.CharField(
        verbose_name=_("platform order no."),
        max_length=50,
        db_index=True,
        help_text=_("e.g. 113-1234567-1234567"),
    )
    status = models.CharField(
        verbose_name=_("status"),
        max_length=20,
        help_text=_("WaitConfirm, Confirmed, Cancelled, e.g. Confirmed"),
    )
    data = models.JSONField(
        verbose_name=_("after-sale fields"),
        default=dict,
        help_text=_("Every other field as the API returns it, items[] included"),
    )

    class Meta:
        ordering = ("as_id",)
        verbose_name = _("sandbox after-sale")
        verbose_name_plural = _("sandbox after-sales")
        constraints = [
            models.UniqueConstraint(fields=("shop_id", "outer_as_id"), name="sbjst_as_unique"),
        ]
        indexes = [models.Index(fields=("modified", "as_id"), name="sbjst_as_modified")]

    def __str__(self) -> str:
        return f"{self.as_id} {self.outer_as_id} {self.status}"


class DocumentKind(models.TextChoices):
    SALES_OUT = "sales_out", _("Sales out (销售出库)")
    RETURN_IN = "return_in", _("After-sale goods received (售后退仓)")
    PURCHASE_IN = "purchase_in", _("Purchase in (采购入库)")
    PURCHASE_OUT = "purchase_out", _("Purchase out (采购退货)")
    ALLOCATE = "allocate", _("Transfer (调拨)")
    COUNT = "count", _("Stock count (盘点)")
    OTHER_INOUT = "other_inout", _("Other in/out (其它出入库)")


class StockDocument(Versioned):
    """A warehouse document that moves stock, keyed by io_id; `key` is the caller's
    external no. the upload is idempotent on (empty when none)."""

    io_id = models.BigIntegerField(
        verbose_name=_("document no."),
        primary_key=True,
        help_text=_("ERP sequence, e.g. 9000123"),
    )
    kind = models.CharField(
        verbose_name=_("kind"),
        max_length=20,
        choices=DocumentKind.choices,
        help_text=_("e.g. purchase_in"),
    )
    key = models.CharField(
        verbose_name=_("idempotency key"),
        max_length=80,
        blank=True,
        help_text=_("External no. (+ leg), e.g. CGRK000123"),
    )
    so_id = models.CharField(
        verbose_name=_("external no."),
        max_length=80,
        blank=True,
        db_index=True,
        help_text=_("so_id / external_id as the API shows it, e.g. CGRK000123"),
    )
    status = models.CharField(
        verbose_name=_("status"),
        max_length=20,
        help_text=_("e.g. Confirmed"),
    )
    wms_co_id = models.PositiveBigIntegerField(
        verbose_name=_("warehouse company id"),
        default=0,
        help_text=_("e.g. 20001"),
    )
    io_date = models.DateTimeField(
        verbose_name=_("document date"),
        help_text=_("e.g. 2026-03-01 10:00:00"),
    )
    data = models.JSONField(
        verbose_name=_("document fields"),
        default=dict,
        help_text=_("Every other field as the API returns it, items[] included"),
    )

    class Meta:
        ordering = ("io_id",)
        verbose_name = _("sandbox warehouse document")
        verbose_name_plural = _("sandbox warehouse documents")
        constraints = [
            models.UniqueConstraint(
                fields=("kind", "key"),
                condition=~models.Q(key=""),
                name="sbjst_doc_key_unique",
            ),
        ]
        indexes = [
            models.Index(fields=("kind", "modified", "io_id"), name="sbjst_doc_modified"),
            models.Index(fields=("kind", "io_date", "io_id"), name="sbjst_doc_date"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.io_id} {self.so_id}"
