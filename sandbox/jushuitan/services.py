"""Writes of the simulated Jushuitan: tokens, sequences, stock moves, seeding.

Only `core` and `sandbox` code is imported: the portal talks to the sandbox over HTTP.
"""

from __future__ import annotations

import os
import secrets
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from sandbox import demo_catalogue as catalogue

from .models import (
    ApiApp,
    ApiSettings,
    ApiToken,
    Counter,
    Partner,
    Shop,
    Sku,
    Stock,
    Supplier,
)

BEIJING = ZoneInfo("Asia/Shanghai")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

# The sandbox's demo app (README "Jushuitan sandbox"); override with the environment.
DEMO_APP_KEY = os.environ.get("PORTAL_SANDBOX_JUSHUITAN_APP_KEY", "sbx-jst-demo-app-key")
DEMO_APP_SECRET = os.environ.get("PORTAL_SANDBOX_JUSHUITAN_APP_SECRET", "sbx-jst-demo-app-secret")
DEMO_CO_ID = 10174711

_FIRST = {
    "ts": 1_000_000,
    "o_id": 5_000_000,
    "as_id": 7_000_000,
    "io_id": 9_000_000,
    "supplier_id": 30_000,
}

# Shop sites (shop_site) as the real shop rows name them: Chinese site names
# (docs/protocols/jushuitan.md §3.12; the sample row shows "商家自有商城"). The platform names
# below are the sandbox's own [U].
SITE_NAMES = {"amazon": "亚马逊", "ebay": "易贝", "shopee": "虾皮", "own": "商家自有商城"}
# Order upload takes only these sites (docs/protocols/jushuitan.md §3.2,
# "仅支持创建到商家自有商城站点、跨境线下平台、线下店铺站点、B2B站点").
UPLOADABLE_SITES = frozenset({"商家自有商城", "跨境线下平台", "线下店铺", "B2B"})

# Sub-warehouse number → Stock column (docs/protocols/jushuitan.md §3 conventions).
SUB_WAREHOUSE_FIELD = {1: "qty", 2: "return_qty", 3: "in_qty", 4: "defective_qty"}


class ApiError(Exception):
    """An error answer: the envelope's code and (Chinese) msg."""

    def __init__(self, code: int, msg: str) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg


def fmt(moment: datetime | None) -> str:
    return moment.astimezone(BEIJING).strftime(TIME_FORMAT) if moment else ""


def parse(text: object) -> datetime:
    """A request time `YYYY-MM-DD HH:mm:ss` (Beijing) → aware; ApiError 140 when invalid."""
    raw = str(text or "").strip()
    for pattern in (TIME_FORMAT, TIME_FORMAT + ".%f", "%Y-%m-%d"):
        try:
            return datetime.strptime(raw, pattern).replace(tzinfo=BEIJING)
        except ValueError:
            continue
    raise ApiError(140, f"参数不符合规范: 时间格式错误 {raw!r}，应为 yyyy-MM-dd HH:mm:ss")


def next_number(name: str, count: int = 1) -> int:
    """Hand out `count` numbers of a sequence; returns the first. Call inside a transaction."""
    Counter.objects.get_or_create(name=name, defaults={"value": _FIRST.get(name, 1)})
    Counter.objects.filter(name=name).update(value=F("value") + count)
    return Counter.objects.get(name=name).value - count + 1


def stamp() -> tuple[datetime, int]:
    """(modified, ts) for a write: now (second precision, as the API shows it) and a version."""
    return timezone.now().replace(microsecond=0), next_number("ts")


# --- tokens ---------------------------------------------------------------------------------
def issue_token(*, app: ApiApp) -> ApiToken:
    ttl = ApiSettings.load().token_ttl_seconds
    return ApiToken.objects.create(
        app=app,
        access_token=secrets.token_hex(16),
        refresh_token=secrets.token_hex(16),
        expires_at=timezone.now() + timedelta(seconds=ttl),
    )


def refresh_token(*, app: ApiApp, refresh_token: str) -> ApiToken:
    """A new pair for a live refresh token; the old access token keeps a short grace."""
    with transaction.atomic():
        old = (
            ApiToken.objects.select_for_update()
            .filter(app=app, refresh_token=refresh_token, refreshed=False)
            .first()
        )
        if old is None or old.expires_at <= timezone.now():
            raise ApiError(100, "refresh_token无效或已过期")
        grace = timezone.now() + timedelta(seconds=ApiSettings.load().token_grace_seconds)
        old.refreshed = True
        old.expires_at = min(old.expires_at, grace)
        old.save(update_fields=["refreshed", "expires_at"])
        return issue_token(app=app)


def token_payload(token: ApiToken) -> dict:
    seconds = int((token.expires_at - timezone.now()).total_seconds())
    return {
        "access_token": token.access_token,
        "expires_in": max(seconds, 0),
        "refresh_token": token.refresh_token,
        "scope": "all",
    }


# --- stock ----------------------------------------------------------------------------------
def main_wms_co_id() -> int:
    main = Partner.objects.filter(is_main=True).order_by("wms_co_id").first()
    return main.wms_co_id if main else 0


def resolve_wms(wms_co_id: object) -> int:
    value = int(wms_co_id or 0)
    if value == 0:
        return main_wms_co_id()
    if not Partner.objects.filter(wms_co_id=value).exists():
        raise ApiError(140, f"参数不符合规范: 仓库 wms_co_id={value} 不存在")
    return value


def stock_field(sub_warehouse: object) -> str:
    number = int(sub_warehouse or 1)
    return SUB_WAREHOUSE_FIELD.get(number, "customize_qty_1")


def move_stock(
    *, wms_co_id: int, sku_id: str, field: str, delta: int, check: bool = True, lock: int = 0
) -> Stock:
    """Add `delta` to one stock column (and `lock` to order_lock). With `check`, refuse to go
    below zero unless the settings allow negative stock."""
    modified, ts = stamp()
    stock, _created = Stock.objects.select_for_update().get_or_create(
        wms_co_id=wms_co_id, sku_id=sku_id, defaults={"modified": modified, "ts": ts}
    )
    new_value = getattr(stock, field) + delta
    if check and delta < 0 and new_value < 0 and not ApiSettings.load().allow_negative_stock:
        raise ApiError(
            160,
            f"库存不足: {sku_id} 在仓库 {wms_co_id} 现有 {getattr(stock, field)}，需要 {-delta}",
        )
    setattr(stock, field, new_value)
    stock.order_lock = max(stock.order_lock + lock, 0)
    stock.modified, stock.ts = modified, ts
    stock.save()
    return stock


# --- seeding --------------------------------------------------------------------------------
def seed_demo() -> dict[str, int]:
    """Create the demo app, shops, warehouses, suppliers, SKUs and opening stock from
    sandbox/demo_catalogue.py. Idempotent: existing rows (and moved stock) are kept."""
    created = dict.fromkeys(("apps", "shops", "warehouses", "suppliers", "skus", "stock"), 0)
    with transaction.atomic():
        api_settings = ApiSettings.load()
        if not api_settings.platform_order_upload:
            # The demo's storefront stands in for the platforms' order download: it uploads
            # orders of its Amazon / eBay / Shopee shops (README "Jushuitan sandbox").
            api_settings.platform_order_upload = True
            api_settings.save(update_fields=["platform_order_upload"])
        _app, new = ApiApp.objects.get_or_create(
            app_key=DEMO_APP_KEY, defaults={"app_secret": DEMO_APP_SECRET, "co_id": DEMO_CO_ID}
        )
        created["apps"] += new
        for shop in catalogue.SHOPS:
            modified, ts = stamp()
            site = SITE_NAMES.get(shop["platform"], shop["platform"])
            obj, new = Shop.objects.get_or_create(
                shop_id=shop["shop_id"],
                defaults={
                    "shop_name": shop["shop_name"],
                    "shop_site": site,
                    "currency": shop["currency"],
                    "modified": modified,
                    "ts": ts,
                },
            )
            if not new and obj.shop_site == shop["platform"]:  # seeded before sites were named
                Shop.objects.filter(pk=obj.pk).update(shop_site=site, modified=modified, ts=ts)
            created["shops"] += new
        for index, warehouse in enumerate(catalogue.WAREHOUSES):
            modified, ts = stamp()
            _obj, new = Partner.objects.get_or_create(
                wms_co_id=warehouse["wms_co_id"],
                defaults={
                    "name": warehouse["name"],
                    "is_main": index == 0,
                    "modified": modified,
                    "ts": ts,
                },
            )
            created["warehouses"] += new
        for supplier in catalogue.SUPPLIERS:
            if Supplier.objects.filter(supplier_code=supplier["supplier_code"]).exists():
                continue
            modified, ts = stamp()
            Supplier.objects.create(
                supplier_id=next_number("supplier_id"),
                supplier_code=supplier["supplier_code"],
                name=supplier["name"],
                modified=modified,
                ts=ts,
            )
            created["suppliers"] += 1
        skus = [
            {
                "sku_id": m["number"],
                "name": m["name"],
                "fields": {
                    "brand": m["brand"],
                    "weight": str(m["gross_weight"]),
                    "unit": m["unit"],
                    "sale_price": str(m["sale_price"]),
                    "cost_price": str(m["unit_cost"]),
                    "other_1": m["hs_code"],
                    "other_2": m["english_name"],
                    "labels": ["带电"] if m["has_battery"] else [],
                    "supplier_name": m["supplier_code"],
                    "item_type": "成品",
                    "enabled": 1,
                },
            }
            for m in catalogue.MATERIALS
        ] + [
            {
                "sku_id": s["sku_id"],
                "name": s["name"],
                "fields": {
                    "sale_price": str(s["sale_price"]),
                    "other_2": s["english_name"],
                    "item_type": "成品",
                    "enabled": 1,
                },
            }
            for s in catalogue.JUSHUITAN_ONLY_SKUS
        ]
        for sku in skus:
            modified, ts = stamp()
            _obj, new = Sku.objects.get_or_create(
                sku_id=sku["sku_id"],
                defaults={
                    "i_id": sku["sku_id"].removeprefix("SKU-"),
                    "name": sku["name"],
                    "fields": sku["fields"],
                    "modified": modified,
                    "created": modified,
                    "ts": ts,
                },
            )
            created["skus"] += new
        # Jushuitan-only SKUs (gifts) are stocked in the main warehouse too.
        opening = catalogue.OPENING_STOCK | {
            (catalogue.WAREHOUSES[0]["wms_co_id"], s["sku_id"]): 1000
            for s in catalogue.JUSHUITAN_ONLY_SKUS
        }
        for (wms_co_id, sku_id), qty in opening.items():
            modified, ts = stamp()
            _obj, new = Stock.objects.get_or_create(
                wms_co_id=wms_co_id,
                sku_id=sku_id,
                defaults={"qty": qty, "modified": modified, "ts": ts},
            )
            created["stock"] += new
    return created
