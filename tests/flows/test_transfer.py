"""F7 direct transfers, end to end: an audited STK_TransferDirect becomes the source
warehouse's outbound leg and then the destination's inbound leg in Jushuitan, each once; a
failed inbound leg leaves the document visibly half moved with a ticket, and the retry sends
only the missing leg."""

import pytest

from flows.choices import DocumentState as S
from flows.choices import FlowCode
from flows.models import Flow, SyncDocument

pytestmark = pytest.mark.django_db(transaction=True)


def test_f7_transfer_moves_stock_out_then_in_exactly_once(
    demo_integration, kingdee_desk, jst_warehouse, run_flow_until
):
    """F7.1: GIVEN an audited transfer of 4 power banks from 20001 to the US warehouse 20002
    WHEN the F7 flow runs THEN Jushuitan has one other-out at 20001 and one other-in at 20002
    (stock −4 / +4) and the document is synced with both legs recorded."""
    src, dest = jst_warehouse.stock("SKU-PB-1002", 20001), jst_warehouse.stock("SKU-PB-1002", 20002)
    number = kingdee_desk.transfer(
        "ZJDB-T7-0001", lines=[("SKU-PB-1002", "20001", "20002", 4)], note="FBA 备货"
    )
    flow = Flow.objects.get(integration=demo_integration, code=FlowCode.TRANSFER)
    run_flow_until(flow, lambda: SyncDocument.objects.filter(flow=flow, state=S.SYNCED).exists())
    run_flow_until(flow)

    legs = jst_warehouse.documents("other_inout", [f"{number}-OUT", f"{number}-IN"])
    assert {k: len(v) for k, v in legs.items()} == {f"{number}-OUT": 1, f"{number}-IN": 1}
    out, into = legs[f"{number}-OUT"][0], legs[f"{number}-IN"][0]
    assert (out["wms_co_id"], out["type"]) == (20001, "其它出库")
    assert (into["wms_co_id"], into["type"]) == (20002, "其它进仓")
    assert jst_warehouse.stock("SKU-PB-1002", 20001) == src - 4
    assert jst_warehouse.stock("SKU-PB-1002", 20002) == dest + 4
    doc = SyncDocument.objects.get(flow=flow)
    assert doc.progress["done"] == {
        f"{number}-OUT": str(out["io_id"]),
        f"{number}-IN": str(into["io_id"]),
    }
    assert doc.progress["partial"] is False


@pytest.mark.usefixtures("english")  # asserts English text made by the worker
def test_f7_half_moved_transfer_is_ticketed_and_completed_by_a_retry(
    demo_integration, kingdee_desk, jst_warehouse, run_flow_until
):
    """F7.1: GIVEN a transfer to a new warehouse 20009 that Kingdee has (mapped to Jushuitan
    wms_co_id 20009) but Jushuitan has not opened yet WHEN the flow runs THEN the outbound leg
    lands, the inbound leg is refused, and the document is blocked, shown as "half moved" with
    an open ticket; WHEN the warehouse is opened in Jushuitan and a person retries THEN only
    the inbound leg is sent: each leg exists exactly once and the ticket closes."""
    from flows.services import document_retry
    from mappings.models import WarehouseMapping
    from monitoring.models import ExceptionTicket
    from sandbox.jushuitan.models import Partner
    from sandbox.jushuitan.services import stamp

    kingdee_desk.warehouse("20009", "墨西哥海外仓")
    WarehouseMapping.objects.create(
        integration=demo_integration,
        source="explicit",
        wms_co_id="20009",
        wh_id=0,
        stock_number="20009",
        warehouse_name="墨西哥海外仓",
    )
    src = jst_warehouse.stock("SKU-PB-1002", 20001)
    number = kingdee_desk.transfer("ZJDB-T7-0002", lines=[("SKU-PB-1002", "20001", "20009", 2)])
    flow = Flow.objects.get(integration=demo_integration, code=FlowCode.TRANSFER)
    run_flow_until(flow, lambda: SyncDocument.objects.filter(flow=flow, state=S.BLOCKED).exists())

    doc = SyncDocument.objects.get(flow=flow)
    assert doc.progress["partial"] is True
    assert doc.progress_note.startswith("Half moved")
    assert list(doc.progress["done"]) == [f"{number}-OUT"]
    ticket = ExceptionTicket.objects.get(trace_key=doc.trace_key)
    assert ticket.status == "open" and "Half moved" in ticket.message
    legs = jst_warehouse.documents("other_inout", [f"{number}-OUT", f"{number}-IN"])
    assert {k: len(v) for k, v in legs.items()} == {f"{number}-OUT": 1, f"{number}-IN": 0}
    assert jst_warehouse.stock("SKU-PB-1002", 20001) == src - 2

    modified, ts = stamp()
    Partner.objects.create(wms_co_id=20009, name="墨西哥海外仓", modified=modified, ts=ts)
    document_retry(document=doc)
    run_flow_until(flow, lambda: SyncDocument.objects.filter(flow=flow, state=S.SYNCED).exists())

    legs = jst_warehouse.documents("other_inout", [f"{number}-OUT", f"{number}-IN"])
    assert {k: len(v) for k, v in legs.items()} == {f"{number}-OUT": 1, f"{number}-IN": 1}
    assert jst_warehouse.stock("SKU-PB-1002", 20001) == src - 2
    assert jst_warehouse.stock("SKU-PB-1002", 20009) == 2
    doc.refresh_from_db()
    assert doc.progress["partial"] is False
    ticket.refresh_from_db()
    assert ticket.status != "open"
