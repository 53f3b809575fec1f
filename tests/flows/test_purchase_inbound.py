"""F4 purchase inbound, end to end: audited STK_InStock bills in the Kingdee sandbox become
confirmed purchase-in documents in the Jushuitan sandbox, once, via a real Celery worker; a
sales outbound held for stock (F2.4) is released and audited when the goods arrive."""

from decimal import Decimal

import pytest

from flows.choices import DocumentState as S
from flows.choices import FlowCode
from flows.models import Flow, StockHold, SyncDocument

pytestmark = pytest.mark.django_db(transaction=True)


def test_f4_inbound_reaches_jushuitan_once_and_releases_held_outbound(
    demo_integration, storefront, kingdee_desk, jst_warehouse, kingdee_bills, run_flow_until
):
    """F4.1/F4.2/F2.4: GIVEN an order shipped from the bonded warehouse 20003 beyond Kingdee's
    stock there (its outbound is held for stock) and then an audited purchase inbound with
    lines in two warehouses WHEN the F4 flow runs in a worker THEN Jushuitan has one confirmed
    purchase-in per warehouse carrying PO no., supplier, expected arrival, price, tariff rate
    and logistics mode, its stock rose by exactly the inbound quantities, and the held outbound
    was released and audited in Kingdee; more runs write nothing twice."""
    from sandbox.jushuitan.models import ApiSettings, Supplier

    jst = ApiSettings.load()
    jst.allow_negative_stock = True  # the WMS shipped before Kingdee knew of the goods
    jst.save()
    order = storefront.order(
        so_id="114-0000004-0000001",
        shop_id=10001,
        currency="USD",
        lines=[("SKU-PB-1001", 8, "29.99")],
        wms_co_id=20003,
    )
    storefront.place_and_ship(order)
    outbound = Flow.objects.get(integration=demo_integration, code=FlowCode.SALES_OUTBOUND)
    run_flow_until(
        outbound, lambda: SyncDocument.objects.filter(flow=outbound, state=S.HELD).exists()
    )
    held = SyncDocument.objects.get(flow=outbound, platform_order_no=order["so_id"])
    assert StockHold.objects.filter(document=held, material_number="SKU-PB-1001").exists()

    before = {
        ("SKU-PB-1001", 20003): jst_warehouse.stock("SKU-PB-1001", 20003),
        ("SKU-CBL-1201", 20001): jst_warehouse.stock("SKU-CBL-1201", 20001),
    }
    number = kingdee_desk.purchase_inbound(
        "CGRK-T4-0001",
        supplier="SUP001",
        lines=[
            ("SKU-PB-1001", "20003", 10, "62.00", "CGDD-0001"),
            ("SKU-CBL-1201", "20001", 20, "6.50", "CGDD-0002"),
        ],
        F_PAEZ_ExpectedArrival="2026-06-01",
        F_PAEZ_TariffRate="5",
        F_PAEZ_LogisticsMode="sea freight",
    )
    inbound = Flow.objects.get(integration=demo_integration, code=FlowCode.PURCHASE_INBOUND)
    run_flow_until(
        inbound, lambda: SyncDocument.objects.filter(flow=inbound, state=S.SYNCED).count() == 1
    )
    # The held outbound resumes by itself (F2.4) and is audited now that stock is there.
    run_flow_until(
        outbound,
        lambda: SyncDocument.objects.filter(pk=held.pk, state=S.SYNCED).exists(),
        timeout=60,
    )
    for _again in range(2):  # more runs find nothing new
        run_flow_until([inbound, outbound])

    keys = [f"{number}-20003", f"{number}-20001"]
    docs = jst_warehouse.documents("purchase_in", keys)
    assert {k: len(v) for k, v in docs.items()} == {keys[0]: 1, keys[1]: 1}
    bonded = docs[keys[0]][0]
    assert bonded["status"] == "Confirmed"
    assert bonded["wms_co_id"] == 20003
    sup001 = Supplier.objects.get(supplier_code="SUP001").supplier_id
    assert bonded["supplier_id"] == sup001
    for text in ("CGDD-0001", "2026-06-01", "5%", "sea freight", number):
        assert text in bonded["remark"]
    (line,) = bonded["items"]
    assert (line["sku_id"], line["qty"]) == ("SKU-PB-1001", 10)
    assert Decimal(str(line["price"])) == Decimal("62.00")
    assert jst_warehouse.stock("SKU-PB-1001", 20003) == before[("SKU-PB-1001", 20003)] + 10
    assert jst_warehouse.stock("SKU-CBL-1201", 20001) == before[("SKU-CBL-1201", 20001)] + 20

    doc = SyncDocument.objects.get(flow=inbound)
    assert doc.kingdee_bill_no == number
    assert doc.attempts == 1
    assert sorted(doc.progress["done"]) == sorted(keys)
    bills = kingdee_bills("SAL_OUTSTOCK", [order["so_id"]])
    assert [b["_status"] for b in bills[order["so_id"]]] == ["C"]
    assert not StockHold.objects.filter(document=held, status="open").exists()


def test_f4_missing_supplier_mapping_blocks_with_a_ticket(
    demo_integration, kingdee_desk, run_flow_until
):
    """F4.1 / M3: GIVEN an audited inbound from a Kingdee supplier that Jushuitan does not
    know WHEN the flow runs THEN the document is blocked for a master-data admin with a ticket
    naming the supplier, and nothing is written to Jushuitan."""
    from monitoring.services import ticket_of_document

    kingdee_desk.client_.batch_save(
        "BD_Supplier",
        [
            {
                "FNumber": "SUP-K3-ONLY",
                "FName": "只在金蝶的供应商",
                "FCreateOrgId": {"FNumber": "100"},
                "FUseOrgId": {"FNumber": "100"},
            }
        ],
        auto_submit_audit=True,
    )
    kingdee_desk.purchase_inbound(
        "CGRK-T4-0002",
        supplier="SUP-K3-ONLY",
        lines=[("SKU-PB-1001", "20001", 1, "62.00", "")],
    )
    inbound = Flow.objects.get(integration=demo_integration, code=FlowCode.PURCHASE_INBOUND)
    run_flow_until(
        inbound, lambda: SyncDocument.objects.filter(flow=inbound, state=S.BLOCKED).exists()
    )
    doc = SyncDocument.objects.get(flow=inbound)
    assert doc.last_error_class == "missing_mapping"
    assert "SUP-K3-ONLY" in doc.last_error_message
    ticket = ticket_of_document(doc)  # the missing supplier mapping's ticket (issue 20)
    assert ticket.status == "open" and ticket.trace_key.startswith("mapping:")
    assert doc.progress.get("done", {}) == {}
