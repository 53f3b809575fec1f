"""Issue 18 (F2 / F4 on a real tenant's first day): the sales-out source keyed by io_id, a
split shipment as several bills traced to one order, a source switch that books nothing twice,
and a lost purchase-in answer found although the document is not confirmed yet."""

from decimal import Decimal

import pytest

from flows.choices import DocumentState as S
from flows.choices import FlowCode
from flows.models import Flow, SyncDocument, Watermark
from sandbox import faults

pytestmark = pytest.mark.django_db(transaction=True)


def _flow(integration, code=FlowCode.SALES_OUTBOUND, **settings) -> Flow:
    flow = Flow.objects.get(integration=integration, code=code)
    flow.settings = {**(flow.settings or {}), **settings}
    flow.save()
    return flow


def test_split_shipment_becomes_two_bills_traced_to_one_order(
    demo_integration, storefront, kingdee_bills, run_flow_until
):
    """Issue 18 point 1: GIVEN an order shipped in two parcels (the ERP's split shipment, then
    the rest through /open/order/sent/upload) WHEN F2 runs on its default source THEN there
    are two outbound documents keyed by the sales-out io_ids and two audited SAL_OUTSTOCK bills
    carrying the same platform order no.; their trade amounts add up to the order's payable."""
    from connectors.jushuitan.client import JushuitanClient
    from sandbox.jushuitan.api import ship_partially
    from sandbox.jushuitan.models import StockDocument

    client = JushuitanClient(demo_integration.jushuitan)
    order = storefront.order(
        so_id="SPLIT-0001",
        shop_id=10001,
        currency="USD",
        lines=[("SKU-PB-1001", 2, "29.99"), ("SKU-CBL-1201", 1, "8.99")],
        freight="5.99",
        coupon="2.00",
    )
    [uploaded] = client.upload_orders([order])
    assert uploaded.ok, uploaded.message
    o_id = int(uploaded.remote_id)
    first = ship_partially(o_id=o_id, quantities={"SKU-PB-1001": 1}, l_id="FBA-SPLIT-1")
    [rest] = client.upload_shipments([{"o_id": o_id, "l_id": "FBA-SPLIT-2", "lc_id": "AMZFBA"}])
    assert rest.ok, rest.message
    io_ids = sorted(
        StockDocument.objects.filter(kind="sales_out", so_id="SPLIT-0001").values_list(
            "io_id", flat=True
        )
    )
    assert len(io_ids) == 2 and first["io_id"] in io_ids

    flow = _flow(demo_integration)
    run_flow_until(
        flow,
        lambda: SyncDocument.objects.filter(flow=flow, state=S.SYNCED).count() == 2,
        timeout=90,
    )
    docs = SyncDocument.objects.filter(flow=flow).order_by("source_key")
    assert [d.source_key for d in docs] == [f"io:{i}" for i in io_ids]
    assert {d.platform_order_no for d in docs} == {"SPLIT-0001"}
    assert {d.source_payload["o_id"] for d in docs} == {o_id}
    bills = kingdee_bills("SAL_OUTSTOCK", ["SPLIT-0001"])["SPLIT-0001"]
    assert len(bills) == 2 and {b["_status"] for b in bills} == {"C"}
    numbers = sorted(b.get("BillNo") or b.get("FBillNo") for b in bills)
    assert numbers == sorted(f"JSTXS-{i}" for i in io_ids)
    trade = sum((Decimal(str(d.target_payload["F_PAEZ_TradeAmount"])) for d in docs), Decimal("0"))
    assert trade == Decimal("72.96")  # 59.98 + 8.99 + 5.99 - 2.00 over the two parcels


def test_source_switch_from_orders_to_sales_out_books_nothing_twice(
    demo_integration, storefront, kingdee_bills, run_flow_until
):
    """Issue 18 point 1 (migration): GIVEN an order already booked by the order source
    (document o:<o_id>, bill JSTXS<o_id>) WHEN the flow switches to the sales-out source and
    re-reads the same day THEN the shipment of that order is kept as filtered naming the
    order's bill, Kingdee still holds one bill for it, and an order shipped after the switch
    is booked from its sales-out document."""
    flow = _flow(demo_integration, source="orders")
    old = storefront.order(
        so_id="SWITCH-OLD", shop_id=10001, currency="USD", lines=[("SKU-PB-1001", 1, "29.99")]
    )
    [old_o_id] = storefront.place_and_ship(old)
    run_flow_until(
        flow, lambda: SyncDocument.objects.filter(flow=flow, state=S.SYNCED).count() == 1
    )
    booked = SyncDocument.objects.get(flow=flow, state=S.SYNCED)
    assert booked.source_key == f"o:{old_o_id}" and booked.target_key == f"JSTXS{old_o_id}"

    flow = _flow(demo_integration, source="sales_out")
    Watermark.objects.filter(flow=flow).update(cursor=None, catchup_ts=None)
    new = storefront.order(
        so_id="SWITCH-NEW", shop_id=10001, currency="USD", lines=[("SKU-CBL-1201", 1, "8.99")]
    )
    storefront.place_and_ship(new)
    run_flow_until(
        flow,
        lambda: (
            SyncDocument.objects.filter(flow=flow, state=S.SYNCED).count() == 2
            and SyncDocument.objects.filter(flow=flow, state=S.FILTERED).count() == 1
        ),
        timeout=90,
    )
    kept = SyncDocument.objects.get(flow=flow, state=S.FILTERED)
    assert kept.source_key.startswith("io:") and kept.platform_order_no == "SWITCH-OLD"
    assert f"JSTXS{old_o_id}" in kept.filter_reason
    fresh = SyncDocument.objects.get(flow=flow, platform_order_no="SWITCH-NEW")
    assert fresh.source_key.startswith("io:") and fresh.state == S.SYNCED
    bills = kingdee_bills("SAL_OUTSTOCK", ["SWITCH-OLD", "SWITCH-NEW"])
    assert {k: len(v) for k, v in bills.items()} == {"SWITCH-OLD": 1, "SWITCH-NEW": 1}


def test_lost_purchase_in_answer_is_found_although_not_confirmed(
    demo_integration, kingdee_desk, jst_warehouse, run_flow_until
):
    """Issue 18 point 5: GIVEN F4 leaves purchase-ins unconfirmed (WaitConfirm) and Jushuitan
    answers every write only after the client gave up WHEN the inbound syncs THEN the lookup by
    external id sends statuss with every status, finds the unconfirmed document, and the
    createbatch call was sent exactly once."""
    from connectors.jushuitan.models import JushuitanConnection
    from monitoring.models import RemoteCall

    inbound = kingdee_desk.purchase_inbound(
        "CGRK-WC-0001", lines=[("SKU-PB-1002", "20001", 4, "48.00", "CGDD-W1")]
    )
    connection = JushuitanConnection.objects.get(pk=demo_integration.jushuitan_id)
    connection.timeout_seconds = 2
    connection.save()
    flow = _flow(
        demo_integration,
        FlowCode.PURCHASE_INBOUND,
        confirm_in_jushuitan=False,
        retry={"base_seconds": 0.5, "jitter": 0},
    )
    faults.set_profile("jushuitan", timeout_after_commit_rate=1, stall_seconds=3)
    try:
        run_flow_until(
            flow,
            lambda: SyncDocument.objects.filter(flow=flow, state=S.SYNCED).count() == 1,
            timeout=120,
        )
    finally:
        faults.set_profile("jushuitan")
    sent = RemoteCall.objects.filter(
        system="jushuitan",
        operation="/open/webapi/wmsapi/purchasein/createbatch",
        request__contains=inbound,
    )
    assert sent.count() == 1
    lookups = RemoteCall.objects.filter(
        system="jushuitan", operation="/open/purchasein/query", request__contains=inbound
    )
    assert lookups.exists() and all("WaitConfirm" in c.request for c in lookups)
    [doc] = jst_warehouse.documents("purchase_in", [inbound])[inbound]
    assert doc["status"] == "WaitConfirm"
    synced = SyncDocument.objects.get(flow=flow)
    assert synced.progress["done"] == {inbound: str(doc["io_id"])}


def test_row_version_catchup_rechecks_the_status_itself(demo_integration, storefront):
    """Issue 18 point 3: GIVEN a shipment whose sales-out document is still WaitConfirm (待出库)
    WHEN the catch-up walks row versions, sending no status filter THEN the flow keeps it as
    filtered with the status named; WHEN it turns Confirmed (new row version) THEN the next
    catch-up books it, with the cross-border finance read again by id."""
    from django.db.models import Max

    from flows import engine
    from sandbox.jushuitan.models import StockDocument
    from sandbox.jushuitan.services import next_number

    flow = _flow(demo_integration)
    start_ts = (StockDocument.objects.aggregate(ts=Max("ts"))["ts"] or 0) + 1
    Watermark.objects.update_or_create(flow=flow, defaults={"catchup_ts": start_ts})
    order = storefront.order(
        so_id="WAIT-0001",
        shop_id=10001,
        currency="USD",
        lines=[("SKU-CBL-1201", 1, "8.99")],
        commission="1.35",
    )
    storefront.place_and_ship(order)
    StockDocument.objects.filter(so_id="WAIT-0001").update(
        status="WaitConfirm", ts=next_number("ts")
    )
    engine.pull(flow=flow, catchup=True)
    doc = SyncDocument.objects.get(flow=flow, platform_order_no="WAIT-0001")
    assert doc.state == S.FILTERED and "WaitConfirm" in doc.filter_reason

    StockDocument.objects.filter(so_id="WAIT-0001").update(status="Confirmed", ts=next_number("ts"))
    engine.pull(flow=flow, catchup=True)
    engine.process(flow=flow)
    doc.refresh_from_db()
    assert doc.state == S.SYNCED, (doc.last_error_class, doc.last_error_message)
    assert doc.source_payload["cb_finances"]["platform_commission"] in ("1.35", 1.35)
    assert Decimal(str(doc.target_payload["F_PAEZ_Commission"])) == Decimal("1.35")


def test_currency_missing_on_the_row_comes_from_the_shop_mapping(demo_integration, storefront):
    """Issue 18 point 7: GIVEN shop rows carry no currency and a shipment row without one WHEN
    F2 books it THEN the currency is the shop mapping's settlement currency (USD here), with
    the CNY amounts at its parity, not CNY."""
    from flows import engine
    from mappings.models import ShopCustomerMapping
    from sandbox.jushuitan.models import StockDocument

    ShopCustomerMapping.objects.filter(integration=demo_integration, shop_id="10001").update(
        settle_currency="USD"
    )
    order = storefront.order(
        so_id="NOCUR-0001", shop_id=10001, currency="USD", lines=[("SKU-CBL-1201", 1, "8.99")]
    )
    storefront.place_and_ship(order)
    for out in StockDocument.objects.filter(so_id="NOCUR-0001"):
        out.data.pop("currency", None)
        out.save()
    flow = _flow(demo_integration)
    engine.run_flow(flow=flow, catchup=False)
    doc = SyncDocument.objects.get(flow=flow, platform_order_no="NOCUR-0001")
    assert "currency" not in doc.source_payload
    assert doc.state == S.SYNCED, (doc.last_error_class, doc.last_error_message)
    assert doc.target_payload["F_PAEZ_Currency"] == "USD"
    assert doc.progress["fx"]["currency"] == "USD"
