"""The Kingdee push endpoints of the warehouse flows (F4 `POST /kdcloud/purchase/inbound`, F5
`POST /kdcloud/purchase/return`, F8.3 `POST /kdcloud/inventory/adjust`): HMAC authentication,
all-or-nothing validation with a 400 naming the fields, 202 with the stored documents, which a
real worker then syncs."""

import pytest

from flows.choices import DocumentState as S
from flows.choices import FlowCode
from flows.models import Flow, SyncDocument

pytestmark = pytest.mark.django_db(transaction=True)


def inbound_bill(number: str, qty) -> dict:
    return {
        "FBillNo": number,
        "FDocumentStatus": "C",
        "FSupplierId": {"FNumber": "SUP003"},
        "F_PAEZ_LogisticsMode": "air",
        "FInStockEntry": [
            {
                "FMaterialId": {"FNumber": "SKU-CBL-1201"},
                "FStockId": {"FNumber": "20002"},
                "FRealQty": qty,
                "FTaxPrice": "6.50",
                "FPOOrderNo": "CGDD-0100",
            }
        ],
    }


def test_f4_push_unsigned_is_refused(demo_integration, kingdee_push):
    """F4.1: GIVEN no HMAC signature WHEN Kingdee pushes THEN 401/403 and nothing is stored."""
    answer = kingdee_push("kdcloud/purchase/inbound", inbound_bill("CGRK-P-1", 1), sign=False)
    assert answer.status_code in (401, 403)
    assert not SyncDocument.objects.exists()


def test_f4_push_invalid_answers_400_naming_the_field_and_stores_nothing(
    demo_integration, kingdee_push
):
    """F4.1: GIVEN two bills, the second without a quantity on its first row WHEN pushed THEN
    400 names FInStockEntry[1].FRealQty and the index, and neither bill is stored."""
    bad = inbound_bill("CGRK-P-3", None)
    answer = kingdee_push("kdcloud/purchase/inbound", [inbound_bill("CGRK-P-2", 5), bad])
    assert answer.status_code == 400
    body = answer.json()
    (rejected,) = body["extra"]["fields"]["documents"]
    assert str(rejected["index"]) == "1"
    assert rejected["field"] == "FInStockEntry[1].FRealQty"
    assert not SyncDocument.objects.exists()


def test_f4_f5_f8_3_pushes_are_accepted_and_synced_by_a_worker(
    demo_integration, kingdee_desk, kingdee_push, jst_warehouse, celery_worker, wait_until
):
    """F4.1/F5.1/F8.3: GIVEN bills pushed by Kingdee in its Save-model shape to each endpoint
    WHEN the signed pushes are answered 202 THEN the worker writes each to Jushuitan once
    (pushing the same bill again stores nothing new), and an empty body asks for a pull."""
    number = kingdee_desk.purchase_inbound(
        "CGRK-P-4", supplier="SUP003", lines=[("SKU-CBL-1201", "20002", 7, "6.50", "CGDD-0100")]
    )
    before = jst_warehouse.stock("SKU-CBL-1201", 20002)
    pushes = {
        "kdcloud/purchase/inbound": inbound_bill(number, 7),
        "kdcloud/purchase/return": {
            "FBillNo": "CGTL-P-1",
            "FDocumentStatus": "C",
            "FSupplierID": {"FNumber": "SUP003"},
            "FMRREASON": "质量问题",
            "FPURMRBENTRY": [
                {
                    "FMATERIALID": {"FNumber": "SKU-CBL-1201"},
                    "FSTOCKID": {"FNumber": "20002"},
                    "FRMREALQTY": 2,
                    "FTAXPRICE": "6.50",
                }
            ],
        },
        "kdcloud/inventory/adjust": {
            "FormId": "STK_MISCELLANEOUS",
            "FBillNo": "QTRKD-P-1",
            "FDocumentStatus": "C",
            "FNote": "盘点补录",
            "FEntity": [
                {
                    "FMaterialId": {"FNumber": "SKU-CBL-1201"},
                    "FStockId": {"FNumber": "20002"},
                    "FQty": 1,
                }
            ],
        },
    }
    for path, body in pushes.items():
        answer = kingdee_push(path, body)
        assert answer.status_code == 202, answer.text
        assert answer.json()["accepted"] == 1
    wait_until(lambda: SyncDocument.objects.filter(state=S.SYNCED).count() == 3, 60)
    again = kingdee_push("kdcloud/purchase/inbound", inbound_bill(number, 7))
    assert again.status_code == 202
    assert SyncDocument.objects.count() == 3

    found = {
        "purchase_in": jst_warehouse.documents("purchase_in", [number]),
        "purchase_out": jst_warehouse.documents("purchase_out", ["CGTL-P-1"]),
        "other_inout": jst_warehouse.documents("other_inout", ["QTRKD-P-1-20002-QTIN"]),
    }
    assert [len(v) for d in found.values() for v in d.values()] == [1, 1, 1]
    assert jst_warehouse.stock("SKU-CBL-1201", 20002) == before + 7 - 2 + 1

    empty = kingdee_push("kdcloud/inventory/adjust", None)
    assert empty.status_code == 202 and empty.json()["pull"] is True
    flow = Flow.objects.get(integration=demo_integration, code=FlowCode.INVENTORY_ADJUST)
    wait_until(lambda: Flow.objects.get(pk=flow.pk).last_run_at is not None, 30)


def test_openapi_documents_the_kdcloud_endpoints(client, admin_user):
    """F4/F5/F8.3: the OpenAPI schema lists the three endpoints with their 202 and 400."""
    client.force_login(admin_user)
    schema = client.get("/api/schema/?format=json").json()
    for path in (
        "/kdcloud/purchase/inbound",
        "/kdcloud/purchase/return",
        "/kdcloud/inventory/adjust",
    ):
        operation = schema["paths"][path]["post"]
        assert {"202", "400"} <= set(operation["responses"])
