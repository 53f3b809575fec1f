"""ExecuteBillQuery / BillQuery on the simulated K3Cloud: field keys, filters, paging,
envelopes (named and positional), errors in the row structure."""

import pytest
import requests

from connectors.kingdee.client import KingdeeClient
from sandbox.kingdee import services

pytestmark = pytest.mark.django_db(transaction=True)

BASE = "Kingdee.BOS.WebApi.ServicesStub.DynamicFormService"


def _outbound(order_no: str, lines: list[tuple[str, int]], customer: str = "10001") -> dict:
    return {
        "FDate": "2026-05-03 10:30:00",
        "FSaleOrgId": {"FNumber": "100"},
        "FStockOrgId": {"FNumber": "100"},
        "FCustomerID": {"FNumber": customer},
        "FNote": f"order {order_no}",
        "F_PAEZ_PlatformOrderNo": order_no,
        "FEntity": [
            {"FMaterialID": {"FNumber": sku}, "FStockID": {"FNumber": "20001"}, "FRealQty": qty}
            for sku, qty in lines
        ],
    }


@pytest.fixture
def client(kingdee_connection):
    client = KingdeeClient(kingdee_connection)
    result = client.batch_save(
        "SAL_OUTSTOCK",
        [
            _outbound("A-1", [("SKU-PB-1001", 1), ("SKU-CBL-1201", 3)]),
            _outbound("A-2", [("SKU-EAR-1101", 2)], customer="10002"),
            _outbound("B-1", [("SKU-PB-1001", 5)], customer="CUST-AMZ-DE"),
        ],
    )
    assert result.ok
    return client


def test_entry_fields_give_one_row_per_entry_with_names(client):
    """Selecting entry fields yields one row per entry with header values repeated;
    .FName is resolved from base data; bare references give internal ids."""
    rows = client.execute_bill_query(
        "SAL_OUTSTOCK",
        [
            "FBillNo",
            "FCustomerID.FNumber",
            "FCustomerID.FName",
            "FMaterialID.FNumber",
            "FMaterialID",
            "FRealQty",
            "FEntity_FSeq",
            "FDate",
        ],
        filter_string="F_PAEZ_PlatformOrderNo = 'A-1'",
        order_string="FEntity_FSeq DESC",
    )
    assert [(r[3], r[5], r[6]) for r in rows] == [("SKU-CBL-1201", 3, 2), ("SKU-PB-1001", 1, 1)]
    assert rows[0][0] == rows[1][0] and rows[0][1] == "10001"
    assert rows[0][2] == "Amazon US 旗舰店"
    assert isinstance(rows[0][4], int) and rows[0][4] > 0
    assert rows[0][7] == "2026-05-03T10:30:00"


def test_filters_on_names_lists_dates_and_or(client):
    def numbers(filter_string: str) -> list[str]:
        rows = client.execute_bill_query(
            "SAL_OUTSTOCK",
            ["F_PAEZ_PlatformOrderNo"],
            filter_string=filter_string,
            order_string="FID ASC",
        )
        return [r[0] for r in rows]

    assert numbers("FCustomerID.FName like '%Amazon%'") == ["A-1", "B-1"]
    assert numbers("FCustomerID.FNumber in ('10002', 'CUST-AMZ-DE')") == ["A-2", "B-1"]
    assert numbers(
        "(F_PAEZ_PlatformOrderNo like 'A%' and FCustomerID.FNumber <> '10001') "
        "or F_PAEZ_PlatformOrderNo = 'B-1'"
    ) == ["A-2", "B-1"]
    assert numbers("FDate >= '2026-05-03' and FDate < '2026-05-04'") == ["A-1", "A-2", "B-1"]
    assert numbers("FDate > '2026-05-03 11:00:00'") == []
    assert numbers("FMaterialID.FNumber = 'SKU-PB-1001'") == ["A-1", "B-1"]
    assert numbers("FNote like '%A-2'") == ["A-2"]
    assert numbers("F_PAEZ_PlatformOrderNo not in ('A-1')") == ["A-2", "B-1"]
    assert numbers("FCarriageNO is null and FDocumentStatus = 'A'") == ["A-1", "A-2", "B-1"]


def test_paging_start_row_limit_and_top(client):
    keys = ["F_PAEZ_PlatformOrderNo"]
    page = client.execute_bill_query(
        "SAL_OUTSTOCK", keys, order_string="FID DESC", start_row=1, limit=1
    )
    assert page == [["A-2"]]
    assert len(client.execute_bill_query("SAL_OUTSTOCK", keys, top_row_count=2)) == 2


def test_stk_inventory_and_bill_query_objects(kingdee_connection, client):
    rows = client.execute_bill_query(
        "STK_Inventory",
        [
            "FMaterialId.FNumber",
            "FStockId.FNumber",
            "FStockId.FName",
            "FBaseQty",
            "FStockStatusId.FNumber",
        ],
        filter_string="FMaterialId.FNumber = 'SKU-PB-1001' and FBaseQty > 10",
        order_string="FStockId.FNumber ASC",
    )
    assert rows == [
        ["SKU-PB-1001", "20001", "深圳跨境仓", 500, "KCZT01_SYS"],
        ["SKU-PB-1001", "20002", "美国海外仓 (FBA 备货)", 40, "KCZT01_SYS"],
    ]
    url = kingdee_connection.server_url + f"{BASE}.BillQuery.common.kdsvc"
    answer = requests.post(
        url,
        json={
            "data": {
                "FormId": "BD_Customer",
                "FieldKeys": "FNumber,FName",
                "FilterString": "FNumber = '10003'",
            }
        },
        headers={"kdservice-sessionid": client.session_id},
        timeout=5,
    ).json()
    assert answer == [{"FNumber": "10003", "FName": "Shopee SG 跨境店"}]


def test_positional_envelope_lower_case_method_and_string_data(kingdee_connection, client):
    """docs/protocols/kingdee.md §1.1: {"parameters": [...]} with data as a JSON string, method
    name in any case."""
    url = kingdee_connection.server_url + f"{BASE}.executebillquery.common.kdsvc"
    data = '{"FormId":"BD_STOCK","FieldKeys":"FNumber","FilterString":"FNumber=\'20002\'"}'
    answer = requests.post(
        url,
        json={"parameters": [data]},
        headers={"kdservice-sessionid": client.session_id},
        timeout=5,
    )
    assert answer.status_code == 200 and answer.json() == [["20002"]]


def test_query_errors_come_wrapped_in_rows(kingdee_connection, client):
    url = kingdee_connection.server_url + f"{BASE}.ExecuteBillQuery.common.kdsvc"
    headers = {"kdservice-sessionid": client.session_id}
    empty = requests.post(
        url, json={"data": {"FormId": "BD_STOCK", "FieldKeys": ""}}, headers=headers, timeout=5
    ).json()
    assert empty[0][0]["Result"]["ResponseStatus"]["MsgCode"] == 8
    unknown = requests.post(
        url,
        json={"data": {"FormId": "BD_STOCK", "FieldKeys": "FStockQty"}},
        headers=headers,
        timeout=5,
    ).json()
    status = unknown[0][0]["Result"]["ResponseStatus"]
    assert (
        status["MsgCode"] == 9
        and status["Errors"][0]["Message"] == "元数据中标识为FStockQty的字段不存在"
    )


def test_custom_field_filter_uses_the_index_not_python(client):
    """The engine's duplicate check compiles to an indexed subquery on (form, key, value)."""
    from sandbox.kingdee import forms
    from sandbox.kingdee.query import Query

    query = Query(forms.get("SAL_OUTSTOCK"), ["FBillNo"], "F_PAEZ_PlatformOrderNo = 'A-2'", "")
    sql = str(query.queryset().query)
    assert "sandbox_kingdee_kdbillcustomfield" in sql and "f_paez_platformorderno" in sql
    assert services.dumps(query.rows()) != "[]"
