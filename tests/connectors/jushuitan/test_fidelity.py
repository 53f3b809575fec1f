"""Issue 18: the Jushuitan client and sandbox against the public record (docs/protocols/
jushuitan.md): strict write results, the createbatch answer shape, row-version walks, the
140/150 codes, after-sale confirm vs goods receipt, shop rows, comma-string ids, order upload
shop types. Everything runs over real HTTP against the sandbox."""

import pytest

from connectors.errors import AuthError, BusinessError, TransientError
from connectors.jushuitan import services
from connectors.jushuitan.choices import AppKind, TokenState
from connectors.jushuitan.client import JushuitanClient, _row_results, client_for, success_flag
from connectors.observe import remote_call
from sandbox.jushuitan.models import ApiApp, ApiSettings, Order, Stock

pytestmark = pytest.mark.django_db(transaction=True)


def _order(so_id, *, shop_id=10001, sku="SKU-CBL-1201", qty=1, price="8.99"):
    return {
        "shop_id": shop_id,
        "so_id": so_id,
        "shop_status": "WAIT_SELLER_SEND_GOODS",
        "currency": "USD",
        "pay_amount": str(round(float(price) * qty, 2)),
        "finance_data": {"platform_commission": "1.20", "product_tax": "0.50"},
        "items": [{"sku_id": sku, "qty": qty, "price": price, "outer_oi_id": f"{so_id}-1"}],
        "pay": {"outer_pay_id": f"P{so_id}", "amount": str(round(float(price) * qty, 2))},
    }


@pytest.fixture
def calls():
    seen: list[dict] = []

    def receiver(sender, **call):
        seen.append(call)

    remote_call.connect(receiver, weak=False, dispatch_uid="test-fidelity-calls")
    yield seen
    remote_call.disconnect(dispatch_uid="test-fidelity-calls")


# --- point 4: write results ------------------------------------------------------------------


def test_flag_is_parsed_as_bool_or_string_and_no_flag_no_id_is_unknown():
    """Issue 18 point 4: GIVEN upload rows with is_success / issuccess as bool, "true",
    "false", 1, 0 or missing WHEN read THEN "false" and 0 are failures, and a row with neither
    a flag nor an id is an unknown outcome, never a success."""
    assert [success_flag(v) for v in (True, "true", "1", 1, False, "false", "0", 0)] == [
        True,
        True,
        True,
        True,
        False,
        False,
        False,
        False,
    ]
    assert success_flag(None) is None and success_flag("maybe") is None
    rows = _row_results(
        [
            {"external_id": "A", "io_id": 1, "is_success": "false", "msg": "库存不足"},
            {"external_id": "B", "io_id": 2, "issuccess": "true"},
            {"external_id": "C", "io_id": 3},
            {"external_id": "D"},
        ],
        "external_id",
        "io_id",
    )
    assert [(r.key, r.ok, r.unknown) for r in rows] == [
        ("A", False, False),
        ("B", True, False),
        ("C", True, False),
        ("D", False, True),
    ]
    assert rows[0].message == "库存不足"


def test_createbatch_answers_one_object_and_the_client_sends_one_per_call(
    jushuitan_connection, calls
):
    """Issue 18 point 4: GIVEN purchase-ins written through createbatch WHEN the sandbox
    answers the public SDK's shape (one object {external_id, io_id, is_success: "true"/"false",
    msg} plus request_id) THEN the client sends one document per call and reads each answer by
    external_id; a refused document ("false") is a failure; two documents in one call leave the
    first one's outcome unknown."""
    client = client_for(jushuitan_connection)
    good = {
        "external_id": "CB-OK",
        "is_confirm": False,
        "wms_co_id": 20001,
        "items": [{"sku_id": "SKU-CBL-1201", "qty": 1, "price": "6.50"}],
    }
    bad = {**good, "external_id": "CB-BAD", "items": [{"sku_id": "NO-SUCH-SKU", "qty": 1}]}
    ok, refused = client.create_purchase_ins([good, bad])
    writes = [c for c in calls if c["operation"].endswith("purchasein/createbatch")]
    assert len(writes) == 2  # one document per call
    answer = writes[0]["response"]
    assert set(answer["data"]) == {"external_id", "io_id", "is_success", "msg"}
    assert answer["data"]["is_success"] == "true" and answer.get("request_id")
    assert ok.ok and ok.remote_id and not ok.unknown
    assert not refused.ok and not refused.unknown and "NO-SUCH-SKU" in refused.message
    first, second = client.create_purchase_ins(
        [{**good, "external_id": "CB-2A"}, {**good, "external_id": "CB-2B"}], batch=2
    )
    assert first.unknown and not first.ok  # the answer names only the last document
    assert second.ok and second.remote_id


def test_lookup_by_external_id_finds_unconfirmed_purchase_ins(jushuitan_connection):
    """Issue 18 point 5: GIVEN an unconfirmed (WaitConfirm) purchase-in WHEN looked up by its
    external id THEN it is found (statuss covers every status; without it the query answers
    Confirmed only)."""
    client = client_for(jushuitan_connection)
    [row] = client.create_purchase_ins(
        [
            {
                "external_id": "WC-LOOKUP",
                "is_confirm": False,
                "wms_co_id": 20001,
                "items": [{"sku_id": "SKU-CBL-1201", "qty": 2, "price": "6.50"}],
            }
        ]
    )
    plain = client.call(
        "/open/purchasein/query", {"so_ids": ["WC-LOOKUP"], "page_index": 1, "page_size": 50}
    )
    assert plain["datas"] == []  # the documented default: Confirmed only
    [found] = client.documents_by_external_ids("purchase_in", ["WC-LOOKUP"])
    assert found["status"] == "WaitConfirm" and str(found["io_id"]) == row.remote_id


# --- point 3: incremental pulls ----------------------------------------------------------------


def test_row_version_walk_sends_only_cursor_and_paging(jushuitan_connection, calls):
    """Issue 18 point 3: GIVEN orders and sales-outs WHEN read by row version THEN each call
    carries only start_ts, is_get_total and paging (no status, no finance flag)."""
    client = client_for(jushuitan_connection)
    client.upload_orders([_order("TSO-1")])
    first_ts = min(Order.objects.values_list("ts", flat=True))
    list(client.orders_since(first_ts))
    list(client.sales_outs_since(first_ts))
    import json

    for call in calls:
        if call["operation"] in ("/open/orders/single/query", "/open/orders/out/simple/query"):
            biz = json.loads(call["request"]["biz"])
            assert set(biz) == {"start_ts", "is_get_total", "page_index", "page_size"}


def test_row_version_walk_falls_back_to_page_stepping_when_ts_is_not_ascending(
    jushuitan_connection, monkeypatch
):
    """Issue 18 point 3: GIVEN a server whose cursor pages are not in ascending ts WHEN the
    client walks by row version THEN it notices, keeps start_ts fixed and steps page_index, and
    every order comes exactly once, in ascending ts (no row is skipped)."""
    from sandbox.jushuitan.api import orders

    client = client_for(jushuitan_connection)
    client.upload_orders([_order(f"DESC-{n}") for n in range(30)])
    first_ts = min(Order.objects.values_list("ts", flat=True))
    original = orders._paged

    def descending(qs, biz, **kw):
        data = original(qs, biz, **kw)
        if biz.get("start_ts") not in (None, ""):
            data[kw["list_key"]].reverse()  # each page in descending ts
        return data

    monkeypatch.setattr(orders, "_paged", descending)
    walker = JushuitanClient(jushuitan_connection)
    rows = list(
        walker.iter_ts(
            "/open/orders/single/query",
            start_ts=first_ts,
            page_size=7,
            list_key="orders",
            key_fields=("o_id",),
        )
    )
    assert walker.ts_fallbacks == 1
    assert sorted(r["so_id"] for r in rows) == sorted(f"DESC-{n}" for n in range(30))
    assert [r["ts"] for r in rows] == sorted(r["ts"] for r in rows)


# --- point 6: error codes ----------------------------------------------------------------------


def test_140_naming_the_timestamp_is_retried_like_180(jushuitan_connection, monkeypatch, calls):
    """Issue 18 point 6: GIVEN the server answers a stale timestamp with code 140 and a message
    naming the timestamp WHEN a call is made THEN the client retries once with a fresh
    timestamp (like 180) and then raises a transient error, not a business rejection; a 140
    about another parameter stays a business error."""
    from sandbox.jushuitan import views

    def stale(request, required):
        raise views.ApiError(140, "参数不符合规范: timestamp 已过期")

    monkeypatch.setattr(views, "_check_common", stale)
    with pytest.raises(TransientError) as caught:
        client_for(jushuitan_connection).call("/open/shops/query", {"page_index": 1})
    assert caught.value.code == 140
    assert len([c for c in calls if c["operation"] == "/open/shops/query"]) == 2

    def bad_page(request, required):
        raise views.ApiError(140, "参数不符合规范: page_size 最大 100")

    monkeypatch.setattr(views, "_check_common", bad_page)
    with pytest.raises(BusinessError):
        client_for(jushuitan_connection).call("/open/shops/query", {"page_index": 1})


def test_150_from_refresh_token_opens_a_reauthorise_ticket(jushuitan_connection, monkeypatch):
    """Issue 18 point 6: GIVEN an ISV app (the sandbox answers refreshToken with 150) WHEN the
    token is refreshed THEN an authentication error (no timed retry) is raised and recorded,
    and the operators get one ticket telling them the merchant must authorise again; a later
    successful token closes it."""
    from monitoring.models import ExceptionTicket

    connection = jushuitan_connection
    ApiApp.objects.filter(app_key=connection.app_key).update(self_developed=False)
    connection.app_kind = AppKind.ISV
    connection.save()
    for _attempt in range(2):
        with pytest.raises(AuthError) as caught:
            services.token_refresh(connection=connection)
    assert caught.value.code == 150 and not isinstance(caught.value, TransientError)
    connection.refresh_from_db()
    assert connection.token_state == TokenState.REFRESH_FAILED
    ticket = ExceptionTicket.objects.get(trace_key=services.reauthorise_trace_key(connection))
    assert ticket.status == "open" and ticket.role == "operator" and ticket.occurrences == 2
    assert "authorise the app again" in ticket.message or "重新授权" in ticket.message

    ApiApp.objects.filter(app_key=connection.app_key).update(self_developed=True)
    connection.app_kind = AppKind.SELF_DEVELOPED
    connection.save()
    services.token_refresh(connection=connection)
    ticket.refresh_from_db()
    assert ticket.status != "open"


# --- point 2 and 7: sandbox realism -------------------------------------------------------------


def test_confirm_moves_no_stock_and_goods_arrive_in_batches(jushuitan_connection):
    """Issue 18 point 2: GIVEN a shipped order and its after-sale WHEN the after-sale is
    confirmed THEN the answer is {success[], fail[], success_count, fail_count} and no stock
    moves; WHEN the goods arrive in two batches (confirmgoods, idempotent on return_id) THEN
    /open/aftersale/received/query lists two receipts and the returns warehouse rose by both."""
    client = client_for(jushuitan_connection)
    [o] = client.upload_orders([_order("RCV-1", qty=3)])
    client.upload_shipments([{"o_id": int(o.remote_id), "l_id": "YT-RCV-1", "lc_id": "YUN"}])
    [sale] = client.upload_after_sales(
        [
            {
                "shop_id": 10001,
                "outer_as_id": "RMA-RCV-1",
                "so_id": "RCV-1",
                "type": "普通退货",
                "items": [{"outer_oi_id": "RCV-1-1", "sku_id": "SKU-CBL-1201", "qty": 3}],
            }
        ]
    )
    before = Stock.objects.get(wms_co_id=20001, sku_id="SKU-CBL-1201").return_qty
    confirmed = client.call(
        "/open/webapi/aftersaleapi/open/confirm", {"as_ids": [int(sale.remote_id)]}, write=True
    )
    assert set(confirmed) == {"success", "fail", "success_count", "fail_count"}
    assert confirmed["success_count"] == 1 and confirmed["fail_count"] == 0
    assert Stock.objects.get(wms_co_id=20001, sku_id="SKU-CBL-1201").return_qty == before
    for batch, qty in ((1, 2), (2, 1), (2, 1)):  # the last repeats batch 2's return_id
        answer = client.call(
            "/open/webapi/aftersaleapi/confirmgoods",
            [
                {
                    "as_id": int(sale.remote_id),
                    "return_id": f"RCV-1-{batch}",
                    "items": [{"sku_id": "SKU-CBL-1201", "qty": qty}],
                }
            ],
            write=True,
        )
        assert answer["success_count"] == 1, answer
    assert Stock.objects.get(wms_co_id=20001, sku_id="SKU-CBL-1201").return_qty == before + 3
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    rows = list(client.received_returns(start=now - timedelta(hours=1), end=now))
    assert [sum(i["qty"] for i in r["items"]) for r in rows] == [2, 1]
    assert {r["as_id"] for r in rows} == {int(sale.remote_id)}
    assert {r["status"] for r in rows} == {"Confirmed"}
    over = client.call(
        "/open/webapi/aftersaleapi/confirmgoods",
        [{"as_id": int(sale.remote_id), "items": [{"sku_id": "SKU-CBL-1201", "qty": 1}]}],
        write=True,
    )
    assert over["fail_count"] == 1 and over["success"] == []


def test_shop_rows_comma_ids_and_upload_shop_types(jushuitan_connection, jushuitan_sandbox):
    """Issue 18 point 7: GIVEN the sandbox WHEN shops are read THEN rows carry no currency
    and a Chinese shop_site; a comma-string id parameter sent as an array is refused (code
    140); finance uploaded as finance_data reads back as cb_finances; and with the demo's
    stand-in switched off an order for a platform shop is refused while a self-run mall's is
    taken."""
    from sandbox.jushuitan.models import Shop

    client = client_for(jushuitan_connection)
    shops = list(client.shops())
    assert shops and all("currency" not in s for s in shops)
    assert {s["shop_site"] for s in shops} <= {"亚马逊", "易贝", "虾皮", "商家自有商城"}
    with pytest.raises(BusinessError) as refused:
        client.call("/open/sku/query", {"sku_ids": ["SKU-CBL-1201"], "page_index": 1})
    assert refused.value.code == 140 and "逗号" in refused.value.remote_message
    assert client.skus_by_ids(["SKU-CBL-1201"])[0]["sku_id"] == "SKU-CBL-1201"

    [placed] = client.upload_orders([_order("FIN-1")])
    [row] = client.orders_by_o_ids([int(placed.remote_id)], is_get_cbfinance=True)
    assert row["cb_finances"]["platform_commission"] == "1.20"

    jushuitan_sandbox.platform_order_upload = False
    jushuitan_sandbox.save()
    try:
        [platform] = client.upload_orders([_order("PLAT-1", shop_id=10001)])
        assert not platform.ok and "商家自有商城" in platform.message
        Shop.objects.create(
            shop_id=19999,
            shop_name="自营商城",
            shop_site="商家自有商城",
            currency="CNY",
            modified=Shop.objects.first().modified,
        )
        [own] = client.upload_orders([_order("OWN-1", shop_id=19999)])
        assert own.ok
    finally:
        ApiSettings.objects.update(platform_order_upload=True)
