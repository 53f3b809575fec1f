"""The simulated BatchSave of new numbered bills, written in bulk: every model still succeeds
or fails on its own, with its DIndex, exactly as when the models are saved one by one."""

from decimal import Decimal

import pytest

from connectors.kingdee.client import KingdeeClient
from sandbox.kingdee.models import KdBill, KdBillCustomField, KdStockBalance

pytestmark = pytest.mark.django_db(transaction=True)


def qty(sku: str, stock: str) -> Decimal:
    row = KdStockBalance.objects.filter(stock_number=stock, material_number=sku).first()
    return row.base_qty if row else Decimal("0")


def outbound(number: str, *, sku: str, stock: str, quantity: int, order_no: str) -> dict:
    return {
        "FBillNo": number,
        "FDate": "2026-05-06",
        "FSaleOrgId": {"FNumber": "100"},
        "FStockOrgId": {"FNumber": "100"},
        "FCustomerID": {"FNumber": "10001"},
        "F_PAEZ_PlatformOrderNo": order_no,
        "FEntity": [
            {
                "FMaterialID": {"FNumber": sku},
                "FStockID": {"FNumber": stock},
                "FRealQty": quantity,
                "FTaxPrice": "10.00",
            }
        ],
    }


@pytest.fixture
def client(kingdee_connection):
    return KingdeeClient(kingdee_connection)


def test_bulk_batch_save_settles_each_model_on_its_own(client):
    """F2.1 / F2.4: GIVEN 5 power banks in 20003 and bill BULK-0 already saved WHEN a BatchSave
    (auto submit + audit) brings a good bill, a number taken before, a number repeated in the
    batch, a bill beyond stock and a second good bill THEN the two good bills are audited and
    take their stock, and the three others fail with their own DIndex and nothing saved."""
    first = client.save(
        "SAL_OUTSTOCK",
        outbound("BULK-0", sku="SKU-PB-1001", stock="20003", quantity=1, order_no="SO-0"),
        auto_submit_audit=True,
    )
    assert first.ok and qty("SKU-PB-1001", "20003") == 4
    answer = client.batch_save(
        "SAL_OUTSTOCK",
        [
            outbound("BULK-1", sku="SKU-PB-1001", stock="20003", quantity=2, order_no="SO-1"),
            outbound("BULK-0", sku="SKU-PB-1001", stock="20003", quantity=1, order_no="SO-X"),
            outbound("BULK-1", sku="SKU-PB-1001", stock="20003", quantity=1, order_no="SO-Y"),
            outbound("BULK-3", sku="SKU-PB-1001", stock="20003", quantity=3, order_no="SO-3"),
            outbound("BULK-4", sku="SKU-PB-1001", stock="20003", quantity=2, order_no="SO-4"),
        ],
        auto_submit_audit=True,
    )
    assert {s.dindex: s.number for s in answer.successes} == {0: "BULK-1", 4: "BULK-4"}
    assert {e.dindex for e in answer.errors} == {1, 2, 3}
    assert {e.kind for e in answer.errors_for(1)} == {"duplicate_bill_no"}
    assert {e.kind for e in answer.errors_for(2)} == {"duplicate_bill_no"}
    assert {e.kind for e in answer.errors_for(3)} == {"insufficient_stock"}
    assert "负库存=-1" in answer.errors_for(3)[0].message
    assert qty("SKU-PB-1001", "20003") == 0
    bills = {b.bill_no: b for b in KdBill.objects.filter(form_id="SAL_OUTSTOCK")}
    assert set(bills) == {"BULK-0", "BULK-1", "BULK-4"}
    assert {b.document_status for b in bills.values()} == {"C"}
    assert all(b.approved_at for b in bills.values())
    assert [e.applied_qty for e in bills["BULK-4"].entries.all()] == [Decimal("-2")]
    assert answer.success_for(4).id == bills["BULK-4"].pk
    assert set(
        KdBillCustomField.objects.filter(key="f_paez_platformorderno").values_list(
            "value", flat=True
        )
    ) == {"SO-0", "SO-1", "SO-4"}
    # The bulk-written bills behave like any other: UnAudit gives their stock back.
    assert client.unaudit("SAL_OUTSTOCK", numbers=["BULK-4"]).ok
    assert qty("SKU-PB-1001", "20003") == 2


def test_bulk_batch_save_keeps_a_bill_submitted_when_its_audit_fails(client, monkeypatch):
    """F2.4: GIVEN the simulator keeps saved bills whose audit fails (keep_submitted) WHEN a
    batch holds a bill beyond stock THEN that bill is saved and submitted (B) with the stock
    error, the other one is audited, and the ledger moved for the audited one only."""
    monkeypatch.setenv("PORTAL_SANDBOX_KINGDEE_AUTO_AUDIT_FAILURE", "keep_submitted")
    answer = client.batch_save(
        "SAL_OUTSTOCK",
        [
            outbound("KEEP-1", sku="SKU-EAR-1101", stock="20003", quantity=9, order_no="SO-K1"),
            outbound("KEEP-2", sku="SKU-PB-1002", stock="20003", quantity=2, order_no="SO-K2"),
        ],
        auto_submit_audit=True,
    )
    assert {s.number for s in answer.successes} == {"KEEP-1", "KEEP-2"}
    assert {e.kind for e in answer.errors_for(0)} == {"insufficient_stock"}
    statuses = dict(KdBill.objects.values_list("bill_no", "document_status"))
    assert statuses == {"KEEP-1": "B", "KEEP-2": "C"}
    assert qty("SKU-PB-1002", "20003") == 3
    assert client.audit("SAL_OUTSTOCK", numbers=["KEEP-1"]).errors
