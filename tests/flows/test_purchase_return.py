"""F5 purchase returns, end to end: an audited PUR_MRB in the Kingdee sandbox becomes one
confirmed purchase-out in the Jushuitan sandbox (stock reduced) and the return reason is
written back onto the PUR_MRB, via a real Celery worker."""

import pytest

from flows.choices import DocumentState as S
from flows.choices import FlowCode
from flows.models import Flow, SyncDocument

pytestmark = pytest.mark.django_db(transaction=True)


def _written_back(flow) -> bool:
    """The write-back runs after the document is marked synced: wait for its outcome (an
    event at stage "writeback", success or failure), not for the state alone."""
    from monitoring.models import Event

    return Event.objects.filter(document__flow=flow, stage="writeback").exists()


def test_f5_return_reduces_jushuitan_stock_and_writes_the_reason_back(
    demo_integration, kingdee_desk, jst_warehouse, run_flow_until
):
    """F5.1: GIVEN an audited purchase return of 3 cables from warehouse 20001 with a reason
    WHEN the F5 flow runs THEN Jushuitan has exactly one confirmed purchase-out for the
    supplier with the reason, its stock fell by 3, and the PUR_MRB in Kingdee now carries the
    reason and the Jushuitan document no.; further runs change nothing."""
    from sandbox.jushuitan.models import Supplier

    before = jst_warehouse.stock("SKU-CBL-1201", 20001)
    number = kingdee_desk.purchase_return(
        "CGTL-T5-0001",
        supplier="SUP002",
        reason="来料破损 damaged in transit",
        lines=[("SKU-CBL-1201", "20001", 3, "6.50", "CGRK-0099")],
    )
    flow = Flow.objects.get(integration=demo_integration, code=FlowCode.PURCHASE_RETURN)
    run_flow_until(flow, lambda: _written_back(flow))
    run_flow_until(flow)  # a second whole run writes nothing more

    docs = jst_warehouse.documents("purchase_out", [number])
    assert len(docs[number]) == 1
    out = docs[number][0]
    assert out["status"] == "Confirmed"
    assert out["supplier_id"] == Supplier.objects.get(supplier_code="SUP002").supplier_id
    assert "damaged in transit" in out["remark"]
    assert [(i["sku_id"], i["qty"]) for i in out["items"]] == [("SKU-CBL-1201", 3)]
    assert jst_warehouse.stock("SKU-CBL-1201", 20001) == before - 3

    written = kingdee_desk.header(
        "PUR_MRB", number, ["FBillNo", "FDocumentStatus", "F_PAEZ_ReturnReason", "F_PAEZ_JstDocNo"]
    )
    assert written["FDocumentStatus"] == "C"
    assert "damaged in transit" in written["F_PAEZ_ReturnReason"]
    assert written["F_PAEZ_JstDocNo"] == str(out["io_id"])
    doc = SyncDocument.objects.get(flow=flow)
    assert doc.attempts == 1
    assert doc.progress["done"] == {number: str(out["io_id"])}


def test_f5_writeback_refused_opens_a_ticket_but_keeps_the_return_synced(
    demo_integration, kingdee_desk, jst_warehouse, run_flow_until
):
    """F5.1: GIVEN a tenant whose write-back field is locked after audit (flow setting names a
    field Kingdee refuses to change on an audited bill) WHEN the return syncs THEN the stock
    still moved once in Jushuitan and a ticket says the reason could not be written back."""
    from monitoring.models import ExceptionTicket

    flow = Flow.objects.get(integration=demo_integration, code=FlowCode.PURCHASE_RETURN)
    flow.settings = {"writeback_fields": {"reason": "F_PAEZ_LockedReason"}}
    flow.save()
    number = kingdee_desk.purchase_return(
        "CGTL-T5-0002",
        reason="wrong colour",
        lines=[("SKU-CBL-1201", "20001", 1, "6.50", "")],
    )
    run_flow_until(flow, lambda: _written_back(flow))
    doc = SyncDocument.objects.get(flow=flow)
    assert doc.state == S.SYNCED
    ticket = ExceptionTicket.objects.get(trace_key=f"{doc.trace_key}:writeback")
    assert ticket.status == "open"
    assert number in ticket.message and "F_PAEZ_LockedReason" in ticket.message
    assert len(jst_warehouse.documents("purchase_out", [number])[number]) == 1
