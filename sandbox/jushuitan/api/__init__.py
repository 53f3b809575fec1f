"""Endpoint handlers of the simulated Jushuitan open API: `handler(biz) -> data`.

Each handler validates its biz like the real API (page size, window span, list lengths,
required fields → code 140/130) and raises services.ApiError; writes run in a transaction
and are idempotent on the key the API documents (docs/protocols/jushuitan.md §4).

The handlers live per business object (common: what they share; master_data; stock;
documents: warehouse documents; orders; after_sales); this package keeps the dispatch table.
"""

from collections.abc import Callable

from .after_sales import (
    aftersale_confirm,
    aftersale_confirm_goods,
    aftersale_received_query,
    aftersale_upload,
    refunds_query,
)
from .documents import (
    allocate_in_upload,
    allocate_kc_upload,
    allocate_query,
    count_query,
    other_inout_query,
    other_inout_upload,
    purchase_in_create,
    purchase_in_query,
    purchase_out_create,
    purchase_out_query,
    sales_out_query,
)
from .master_data import (
    partners_query,
    shops_query,
    skus_query,
    skus_upload,
    suppliers_query,
    suppliers_upload,
)
from .orders import orders_query, orders_sent_upload, orders_upload, ship_partially
from .stock import inventory_query, inventory_upload

__all__ = ["HANDLERS", "WRITES", "ship_partially"]


HANDLERS: dict[str, Callable] = {
    "/open/shops/query": shops_query,
    "/open/wms/partner/query": partners_query,
    "/open/supplier/query": suppliers_query,
    "/open/supplier/upload": suppliers_upload,
    "/open/sku/query": skus_query,
    "/open/jushuitan/itemsku/upload": skus_upload,
    "/open/inventory/query": inventory_query,
    "/open/jushuitan/inventoryv2/upload": inventory_upload,
    "/open/inventory/count/query": count_query,
    "/open/orders/single/query": orders_query,
    "/open/jushuitan/orders/upload": orders_upload,
    "/open/order/sent/upload": orders_sent_upload,
    "/open/orders/out/simple/query": sales_out_query,
    "/open/refund/single/query": refunds_query,
    "/open/aftersale/upload": aftersale_upload,
    "/open/webapi/aftersaleapi/open/confirm": aftersale_confirm,
    "/open/webapi/aftersaleapi/confirmgoods": aftersale_confirm_goods,
    "/open/aftersale/received/query": aftersale_received_query,
    "/open/purchasein/query": purchase_in_query,
    "/open/webapi/wmsapi/purchasein/createbatch": purchase_in_create,
    "/open/purchaseout/query": purchase_out_query,
    "/open/webapi/wmsapi/purchaseout/createbatch": purchase_out_create,
    "/open/allocate/query": allocate_query,
    "/open/jushuitan/allocate/in/upload": allocate_in_upload,
    "/open/allocate/kc/upload": allocate_kc_upload,
    "/open/other/inout/query": other_inout_query,
    "/open/jushuitan/otherinout/upload": other_inout_upload,
}

WRITES = frozenset(p for p in HANDLERS if "upload" in p or "create" in p or "confirm" in p)
