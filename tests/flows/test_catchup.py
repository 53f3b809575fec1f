"""The catch-up pass (补漏) of F2 by row version (issue #11, docs/protocols/jushuitan.md §2.5):
after one pass over a time window, each catch-up reads only the shipments (sales-out documents,
issue 18) changed since the last one, so a steady stream is read about once more instead of
once per pass, and a shipment committed late with an old modification time is still found."""

from datetime import timedelta

import pytest
from django.utils import timezone

from flows import engine
from flows.choices import DocumentState as S
from flows.choices import FlowCode
from flows.models import Flow, SyncDocument, Watermark
from monitoring.models import RemoteCall

pytestmark = pytest.mark.django_db(transaction=True)

ORDERS_QUERY = "/open/orders/out/simple/query"  # F2's default source: sales-out documents


def _orders_queries() -> int:
    return RemoteCall.objects.filter(system="jushuitan", operation__endswith=ORDERS_QUERY).count()


def test_f2_catchup_walks_row_versions_once_then_only_changes(demo_integration, storefront):
    """F2.1/S1 (no order missed), #11 (calls per document): GIVEN 120 shipped orders synced by
    the regular pull WHEN the first catch-up runs THEN it re-reads its time window (3 or 4
    pages) and stores the newest row version; WHEN a shipment is committed late, its
    modification time five hours old (outside every window), and the next catch-up runs THEN
    that catch-up walks once from the stored version, reads the new shipment by id with its
    finance, and it is synced; a third catch-up with nothing new asks once and finds nothing."""
    from sandbox.jushuitan.models import StockDocument
    from sandbox.jushuitan.services import next_number

    flow = Flow.objects.get(integration=demo_integration, code=FlowCode.SALES_OUTBOUND)
    orders = [
        storefront.order(
            so_id=f"114-{n:07d}-0000001",
            shop_id=10001,
            currency="USD",
            lines=[("SKU-CBL-1201", 1, "8.99")],
        )
        for n in range(120)
    ]
    for i in range(0, len(orders), 40):  # the shipment upload takes at most 50
        storefront.place_and_ship(*orders[i : i + 40])
    engine.run_flow(flow=flow, catchup=False)
    assert SyncDocument.objects.filter(flow=flow, state=S.SYNCED).count() == 120

    before = _orders_queries()
    engine.pull(flow=flow, catchup=True)
    # the two-hour window: 120 shipments at 50 a page (the keyset pager may re-enter once more)
    assert _orders_queries() - before >= 3
    watermark = Watermark.objects.get(flow=flow)
    newest = max(StockDocument.objects.filter(kind="sales_out").values_list("ts", flat=True))
    assert watermark.catchup_ts == newest

    late = storefront.order(
        so_id="114-9999999-0000001",
        shop_id=10001,
        currency="USD",
        lines=[("SKU-PB-1001", 1, "29.99")],
    )
    storefront.place_and_ship(late)
    # Jushuitan committed it late: its modification time lies before every pull window, but
    # the commit gave it a new row version.
    StockDocument.objects.filter(kind="sales_out", so_id=late["so_id"]).update(
        modified=timezone.now() - timedelta(hours=5), ts=next_number("ts", 1)
    )
    engine.pull(flow=flow, catchup=False)
    assert not SyncDocument.objects.filter(flow=flow, platform_order_no=late["so_id"]).exists()

    before = _orders_queries()
    engine.pull(flow=flow, catchup=True)
    # one walk from the stored version, plus one read by io_id of the shipment the portal did
    # not know yet: the walk sends only cursor and paging, so it carries no cross-border finance
    assert _orders_queries() - before == 2
    engine.process(flow=flow)
    doc = SyncDocument.objects.get(flow=flow, platform_order_no=late["so_id"])
    assert doc.state == S.SYNCED
    assert Watermark.objects.get(flow=flow).catchup_ts > newest

    before = _orders_queries()
    stats = engine.pull(flow=flow, catchup=True)
    assert _orders_queries() - before == 1
    assert stats.ingested == 0


def test_f2_pull_reads_a_backlog_to_its_end_under_read_errors(demo_integration, storefront):
    """S1 (nothing lost, chaos #12): GIVEN 600 shipped orders (twelve sales-out pages) and the
    Jushuitan sales-out query failing 30% of its calls WHEN the flow pulls once THEN the read
    resumes after each failure from the newest shipment it had, and every one is ingested in
    that one pull."""
    from sandbox import faults
    from sandbox.jushuitan.models import ApiSettings

    jst = ApiSettings.load()
    jst.allow_negative_stock = True  # 600 shipments from the demo's opening stock
    jst.save()
    flow = Flow.objects.get(integration=demo_integration, code=FlowCode.SALES_OUTBOUND)
    orders = [
        storefront.order(
            so_id=f"115-{n:07d}-0000001",
            shop_id=10001,
            currency="USD",
            lines=[("SKU-CBL-1201", 1, "8.99")],
        )
        for n in range(600)
    ]
    for i in range(0, len(orders), 40):
        storefront.place_and_ship(*orders[i : i + 40])
    faults.set_profile("jushuitan", error_rate=0.3)
    try:
        before = _orders_queries()
        stats = engine.pull(flow=flow)
    finally:
        faults.set_profile("jushuitan")
    assert SyncDocument.objects.filter(flow=flow).count() == 600
    assert stats.pulled >= 600
    assert _orders_queries() - before >= 12
