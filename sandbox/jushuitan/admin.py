"""The simulated Jushuitan's state in the admin, read-only (it changes only through its API),
except the settings row that tests and operators tune."""

from django.contrib import admin

from .models import (
    AfterSale,
    ApiApp,
    ApiSettings,
    ApiToken,
    Order,
    Partner,
    Shop,
    Sku,
    Stock,
    StockDocument,
    Supplier,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ApiSettings)
class ApiSettingsAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "token_ttl_seconds",
        "rate_limit_enabled",
        "per_second",
        "per_minute",
        "clamp_page_size",
        "allow_negative_stock",
    )


@admin.register(ApiApp)
class ApiAppAdmin(ReadOnlyAdmin):
    list_display = ("app_key", "co_id", "self_developed")
    search_fields = ("app_key",)


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    list_display = ("app", "expires_at", "refreshed", "created_at")
    list_filter = ("refreshed",)
    exclude = ("access_token", "refresh_token")


@admin.register(Shop)
class ShopAdmin(ReadOnlyAdmin):
    list_display = ("shop_id", "shop_name", "shop_site", "currency", "modified")
    search_fields = ("shop_name",)


@admin.register(Partner)
class PartnerAdmin(ReadOnlyAdmin):
    list_display = ("wms_co_id", "name", "is_main", "modified")


@admin.register(Supplier)
class SupplierAdmin(ReadOnlyAdmin):
    list_display = ("supplier_id", "supplier_code", "name", "enabled", "modified")
    search_fields = ("supplier_code", "name")


@admin.register(Sku)
class SkuAdmin(ReadOnlyAdmin):
    list_display = ("sku_id", "name", "modified", "ts")
    search_fields = ("sku_id", "name")


@admin.register(Stock)
class StockAdmin(ReadOnlyAdmin):
    list_display = (
        "wms_co_id",
        "sku_id",
        "qty",
        "order_lock",
        "return_qty",
        "in_qty",
        "defective_qty",
        "modified",
    )
    list_filter = ("wms_co_id",)
    search_fields = ("sku_id",)


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ("o_id", "so_id", "shop_id", "status", "order_date", "send_date", "modified")
    list_filter = ("status", "shop_id")
    search_fields = ("so_id",)
    date_hierarchy = "modified"


@admin.register(AfterSale)
class AfterSaleAdmin(ReadOnlyAdmin):
    list_display = ("as_id", "outer_as_id", "so_id", "shop_id", "status", "modified")
    list_filter = ("status",)
    search_fields = ("so_id", "outer_as_id")


@admin.register(StockDocument)
class StockDocumentAdmin(ReadOnlyAdmin):
    list_display = ("io_id", "kind", "so_id", "status", "wms_co_id", "io_date", "modified")
    list_filter = ("kind", "status")
    search_fields = ("so_id",)
    date_hierarchy = "modified"
