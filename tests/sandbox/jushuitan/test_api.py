"""The Jushuitan sandbox answers raw HTTP like the real open API: checks in the documented
order with the real codes, token lifecycle, rate limit, stock effects, seeding, demo traffic."""

import json
import time
from datetime import timedelta

import pytest
import requests
from django.core.management import call_command
from django.utils import timezone

from connectors.jushuitan.signing import sign
from sandbox.jushuitan import demo
from sandbox.jushuitan.models import AfterSale, ApiToken, Order, Shop, Stock, StockDocument
from sandbox.jushuitan.services import DEMO_APP_KEY, DEMO_APP_SECRET, seed_demo

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def base(live_server, jushuitan_sandbox):
    return f"{live_server.url}/sandbox/jushuitan"


def _post(base, path, form, *, secret=DEMO_APP_SECRET, signed=True):
    form = {"app_key": DEMO_APP_KEY, "timestamp": str(int(time.time())), "charset": "utf-8", **form}
    if signed:
        form["sign"] = sign(form, secret)
    return requests.post(base + path, data=form, timeout=10).json()


def _token(base):
    body = _post(
        base, "/openWeb/auth/getInitToken", {"grant_type": "authorization_code", "code": "abc123"}
    )
    assert body["code"] == 0, body
    return body["data"]


def _call(base, token, path, biz, **over):
    return _post(
        base,
        path,
        {"access_token": token, "version": "2", "biz": json.dumps(biz, ensure_ascii=False), **over},
    )


def test_g4_init_token_and_refresh_with_grace(base, jushuitan_sandbox):
    """GIVEN the demo app WHEN it asks getInitToken THEN a 32-hex pair valid 30 days; a
    refresh returns a new pair, the old access token works for the grace period only."""
    first = _token(base)
    assert len(first["access_token"]) == 32 and first["expires_in"] > 2591000
    assert first["scope"] == "all"
    refreshed = _post(
        base,
        "/openWeb/auth/refreshToken",
        {"grant_type": "refresh_token", "refresh_token": first["refresh_token"], "scope": "all"},
    )
    assert refreshed["code"] == 0 and refreshed["data"]["access_token"] != first["access_token"]
    assert _call(base, first["access_token"], "/open/shops/query", {})["code"] == 0
    ApiToken.objects.filter(access_token=first["access_token"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    expired = _call(base, first["access_token"], "/open/shops/query", {})
    assert (expired["code"], expired["data"]) == (100, None)
    again = _post(
        base,
        "/openWeb/auth/refreshToken",
        {"grant_type": "refresh_token", "refresh_token": first["refresh_token"], "scope": "all"},
    )
    assert again["code"] == 100  # a used refresh token does not work twice


def test_checks_answer_the_real_codes_in_order(base):
    """GIVEN malformed requests THEN 130 missing parameter, 140 bad version / biz / page size
    / window, 180 stale timestamp, 120 bad sign, 100 bad token, 190 unknown API."""
    token = _token(base)["access_token"]
    assert _post(base, "/open/shops/query", {"version": "2", "biz": "{}"})["code"] == 130
    assert _call(base, token, "/open/shops/query", {}, version="1")["code"] == 140
    stale = _call(base, token, "/open/shops/query", {}, timestamp=str(int(time.time()) - 3600))
    assert stale["code"] == 180
    bad = _post(
        base,
        "/open/shops/query",
        {"access_token": token, "version": "2", "biz": "{}"},
        secret="wrong",
    )
    assert bad == {"code": 120, "msg": "验证失败!无效签名", "data": None}
    assert _call(base, "0" * 32, "/open/shops/query", {})["code"] == 100
    assert _call(base, token, "/open/nope", {})["code"] == 190
    raw = {"access_token": token, "version": "2", "biz": "{not json"}
    assert _post(base, "/open/shops/query", raw)["code"] == 140
    assert _call(base, token, "/open/sku/query", {"page_size": 51, "sku_ids": "A"})["code"] == 140
    window = {"modified_begin": "2026-01-01 00:00:00", "modified_end": "2026-01-02 00:00:01"}
    assert _call(base, token, "/open/supplier/query", window)["code"] == 140  # suppliers: 1 day
    assert _call(base, token, "/open/orders/single/query", {})["code"] == 140  # no condition
    assert _call(base, token, "/open/jushuitan/orders/upload", {"so_id": "x"})["code"] == 140
    answer = requests.post(f"{base}/open/shops/query", json={}, timeout=5).json()
    assert answer["code"] == 130


def test_rate_limit_answers_199_per_second(base, jushuitan_sandbox):
    """GIVEN the sandbox limit on at 3/s WHEN 8 calls arrive at once THEN some answer 199."""
    jushuitan_sandbox.rate_limit_enabled = True
    jushuitan_sandbox.per_second = 3
    jushuitan_sandbox.save()
    token = _token(base)["access_token"]
    codes = [_call(base, token, "/open/shops/query", {})["code"] for _ in range(8)]
    assert codes.count(0) >= 3 and 199 in codes


def test_oversize_page_is_clamped_when_configured(base, jushuitan_sandbox):
    jushuitan_sandbox.clamp_page_size = True
    jushuitan_sandbox.save()
    token = _token(base)["access_token"]
    body = _call(base, token, "/open/shops/query", {"page_size": 500})
    assert body["code"] == 0 and body["data"]["page_size"] == 100


def test_seed_is_idempotent_and_keeps_moved_stock(jushuitan_sandbox):
    """GIVEN a seeded sandbox with moved stock WHEN seeded again (command) THEN nothing is
    duplicated or reset."""
    Stock.objects.filter(wms_co_id=20001, sku_id="SKU-PB-1001").update(qty=123)
    assert seed_demo()["shops"] == 0
    call_command("sandbox_jushuitan_seed")
    assert Shop.objects.count() == 5
    assert Stock.objects.get(wms_co_id=20001, sku_id="SKU-PB-1001").qty == 123


def test_paid_orders_lock_stock_and_shipping_moves_it(base):
    """GIVEN a paid order WHEN uploaded THEN order_lock rises; WHEN shipped THEN stock falls,
    the lock is released and a sales-out document exists; shipping twice changes nothing."""
    token = _token(base)["access_token"]
    order = {
        "shop_id": 10003,
        "so_id": "SP-1",
        "shop_status": "WAIT_SELLER_SEND_GOODS",
        "pay_amount": "30",
        "items": [{"sku_id": "SKU-PB-1001", "qty": 3, "price": "10"}],
        "pay": {"outer_pay_id": "P1", "amount": "30"},
    }
    up = _call(base, token, "/open/jushuitan/orders/upload", [order])["data"]["datas"][0]
    assert up["issuccess"]
    stock = Stock.objects.get(wms_co_id=20001, sku_id="SKU-PB-1001")
    assert (stock.qty, stock.order_lock) == (500, 3)
    ship = {"items": [{"o_id": up["o_id"], "l_id": "YT123", "lc_id": "YUN"}]}
    assert _call(base, token, "/open/order/sent/upload", ship)["data"][0]["issuccess"]
    assert _call(base, token, "/open/order/sent/upload", ship)["data"][0]["issuccess"]
    stock.refresh_from_db()
    assert (stock.qty, stock.order_lock) == (497, 0)
    assert StockDocument.objects.filter(kind="sales_out", so_id="SP-1").count() == 1
    unknown = dict(order, so_id="SP-2", items=[{"sku_id": "NOPE", "qty": 1, "price": "1"}])
    row = _call(base, token, "/open/jushuitan/orders/upload", [unknown])["data"]["datas"][0]
    assert not row["issuccess"] and "NOPE" in row["msg"]


def test_demo_traffic_is_realistic_and_repeatable(base):
    """GIVEN the storefront generator WHEN it runs 12 orders with seed 7 THEN orders in the
    shops' currencies are uploaded and shipped with FBA numbers for Amazon, with commission,
    tariff and some returns; the same seed again adds no order (idempotent so_ids)."""
    stats = demo.run(
        base_url=base, app_key=DEMO_APP_KEY, app_secret=DEMO_APP_SECRET, rate=50, seed=7, orders=12
    )
    assert stats["orders"] == 12 and stats["shipped"] == 12 and stats["errors"] == 0
    orders = list(Order.objects.all())
    assert {o.status for o in orders} == {"Sent"}
    for order in orders:
        shop = Shop.objects.get(shop_id=order.shop_id)
        assert order.data["currency"] == shop.currency
        assert float(order.data["cb_finances"]["platform_commission"]) > 0
        if shop.shop_site == "amazon":
            assert order.data["l_id"].startswith("FBA")
    assert AfterSale.objects.filter(status="Confirmed").count() == stats["returns"]
    demo.run(
        base_url=base, app_key=DEMO_APP_KEY, app_secret=DEMO_APP_SECRET, rate=50, seed=7, orders=12
    )
    assert Order.objects.count() == 12
    seeds = {
        demo.build_order(__import__("random").Random(3), timezone.now())["so_id"] for _ in range(2)
    }
    assert len(seeds) == 1
