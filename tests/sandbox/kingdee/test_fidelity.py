"""Issue 17: the simulated K3Cloud is strict where real servers are strict, and the portal's
client copes with what real servers send (docs/protocols/kingdee.md)."""

import json
from decimal import Decimal

import pytest
import requests

from connectors.kingdee.client import KingdeeClient, unique_order
from connectors.observe import remote_call
from sandbox.kingdee import bos
from sandbox.kingdee.models import KdBill, KdStockBalance

pytestmark = pytest.mark.django_db(transaction=True)

BASE = "Kingdee.BOS.WebApi.ServicesStub.DynamicFormService"
ORG = {"FNumber": "100"}


def outbound(order_no: str, *, sku: str = "SKU-PB-1001", qty: int = 1, bill_no: str = "") -> dict:
    model = {
        "FDate": "2026-05-01",
        "FSaleOrgId": ORG,
        "FStockOrgId": ORG,
        "FCustomerID": {"FNumber": "10001"},
        "F_PAEZ_PlatformOrderNo": order_no,
        "FEntity": [
            {"FMaterialID": {"FNumber": sku}, "FStockID": {"FNumber": "20001"}, "FRealQty": qty}
        ],
    }
    if bill_no:
        model["FBillNo"] = bill_no
    return model


@pytest.fixture
def client(kingdee_connection):
    return KingdeeClient(kingdee_connection)


@pytest.fixture
def sent():
    """The data packages the client sent, per operation."""
    seen = []

    def record(sender, **info):
        seen.append(info)

    remote_call.connect(record, weak=False)
    yield seen
    remote_call.disconnect(record)


# --- point 2: custom fields exist only once created in BOS -----------------------------------
def test_query_naming_an_undeclared_custom_field_fails_like_a_real_server(client):
    """Done-when 2 / point 2: GIVEN F_QWJI_Origin created on no form WHEN a query names it
    THEN Kingdee's MsgCode 9 comes back with its exact wording (not a column of nulls)."""
    with pytest.raises(Exception) as failed:
        client.execute_bill_query("SAL_OUTSTOCK", ["FBillNo", "F_QWJI_Origin"])
    assert failed.value.code == 9
    assert failed.value.remote_message == "元数据中标识为F_QWJI_Origin的字段不存在"
    # a declared field of another developer prefix works once created in BOS
    bos.declare("SAL_OUTSTOCK", ["F_QWJI_Origin"])
    assert client.execute_bill_query("SAL_OUTSTOCK", ["FBillNo", "F_QWJI_Origin"]) == []


def test_save_with_an_undeclared_field_is_refused_and_view_hides_a_deleted_one(client):
    """Point 2: Save naming a custom field the tenant never created is refused (MsgCode 9,
    nothing saved); a field deleted in BOS no longer shows in View; NeedReturnFields naming
    an unknown key is refused too."""
    answer = client.batch_save("SAL_OUTSTOCK", [{**outbound("U-1"), "F_PAEZ_NoSuchField": "x"}])
    assert not answer.successes
    assert [(e.field_name, e.message, e.code) for e in answer.errors] == [
        ("F_PAEZ_NoSuchField", "元数据中标识为F_PAEZ_NoSuchField的字段不存在", 9)
    ]
    assert not KdBill.objects.filter(form_id="SAL_OUTSTOCK").exists()

    answer = client.save("SAL_OUTSTOCK", outbound("U-2"), need_return_fields=["F_PAEZ_Nope"])
    assert answer.errors[0].message == "元数据中标识为F_PAEZ_Nope的字段不存在"

    saved = client.save("SAL_OUTSTOCK", outbound("U-3", bill_no="XS-U-3"))
    assert saved.ok
    assert client.view("SAL_OUTSTOCK", number="XS-U-3")["F_PAEZ_PlatformOrderNo"] == "U-3"
    bos.undeclare("SAL_OUTSTOCK", "F_PAEZ_PlatformOrderNo")
    assert "F_PAEZ_PlatformOrderNo" not in client.view("SAL_OUTSTOCK", number="XS-U-3")


# --- point 3: PUR_MRB and STK_InStock keys -----------------------------------------------------
def test_pur_mrb_reason_is_assistant_data_and_instock_note_is_on_the_entry(client):
    """Point 3: PUR_MRB.FMRREASON is written {"FNumber": "01"} and read as
    FMRREASON.FDataValue, its remark is FDESCRIPTION; STK_InStock refuses a header FNote and
    keeps FNote on FInStockEntry."""
    mrb = client.save(
        "PUR_MRB",
        {
            "FBillNo": "TL-F3",
            "FDate": "2026-05-07",
            "FStockOrgId": ORG,
            "FPurchaseOrgId": ORG,
            "FSupplierID": {"FNumber": "SUP003"},
            "FMRREASON": {"FNumber": "01"},
            "FDESCRIPTION": "外箱破损",
            "FPURMRBENTRY": [
                {
                    "FMATERIALID": {"FNumber": "SKU-CBL-1201"},
                    "FSTOCKID": {"FNumber": "20001"},
                    "FRMREALQTY": 1,
                }
            ],
        },
    )
    assert mrb.ok, mrb.errors
    rows = client.execute_bill_query(
        "PUR_MRB", ["FMRREASON.FNumber", "FMRREASON.FDataValue", "FDESCRIPTION"]
    )
    assert rows == [["01", "质量问题", "外箱破损"]]

    header_note = client.save(
        "STK_InStock",
        {
            "FDate": "2026-05-07",
            "FStockOrgId": ORG,
            "FPurchaseOrgId": ORG,
            "FSupplierId": {"FNumber": "SUP001"},
            "FNote": "header",
            "FInStockEntry": [
                {
                    "FMaterialId": {"FNumber": "SKU-CBL-1201"},
                    "FStockId": {"FNumber": "20001"},
                    "FRealQty": 1,
                    "FNote": "row",
                }
            ],
        },
    )
    assert [e.message for e in header_note.errors] == ["元数据中标识为FNote的字段不存在"]
    entry_note = client.save(
        "STK_InStock",
        {
            "FDate": "2026-05-07",
            "FStockOrgId": ORG,
            "FPurchaseOrgId": ORG,
            "FSupplierId": {"FNumber": "SUP001"},
            "FInStockEntry": [
                {
                    "FMaterialId": {"FNumber": "SKU-CBL-1201"},
                    "FStockId": {"FNumber": "20001"},
                    "FRealQty": 1,
                    "FNote": "row",
                }
            ],
        },
    )
    assert entry_note.ok
    assert client.execute_bill_query("STK_InStock", ["FNote"]) == [["row"]]


# --- point 4: results by number, server order ----------------------------------------------
def test_multi_number_audit_answers_in_server_order_skips_missing_and_finish_matches_by_number(
    client,
):
    """Point 4: GIVEN three saved bills, the one created first short of stock WHEN they are
    audited in reverse creation order with an unknown number among them THEN the server
    answers in id order (DIndex 0 = the oldest), skips the unknown number silently, fills
    SuccessMessages; and finish_bills puts the stock error on the right bill by number."""
    numbers = []
    for index, qty in enumerate((9999, 1, 1)):
        saved = client.save("SAL_OUTSTOCK", outbound(f"S-{index}", qty=qty, bill_no=f"XS-S{index}"))
        assert saved.ok
        numbers.append(f"XS-S{index}")
    client.submit("SAL_OUTSTOCK", numbers=numbers)
    asked = [numbers[2], "XS-NOPE", numbers[1], numbers[0]]
    answer = client.audit("SAL_OUTSTOCK", numbers=asked)
    assert [(s.number, s.dindex) for s in answer.successes] == [(numbers[1], 1), (numbers[2], 2)]
    assert [e.dindex for e in answer.errors] == [0]  # the oldest bill, not asked[0]
    assert "负库存" in answer.errors[0].message
    assert len(answer.success_messages) == 2 and "审核成功" in answer.success_messages[0]

    client.unaudit("SAL_OUTSTOCK", numbers=numbers[1:])
    client.submit("SAL_OUTSTOCK", numbers=numbers[1:])
    outcome = client.finish_bills(
        "SAL_OUTSTOCK", {numbers[2]: "B", numbers[1]: "B", numbers[0]: "B"}
    )
    assert outcome[numbers[1]] == [] and outcome[numbers[2]] == []
    assert "负库存" in outcome[numbers[0]][0].message


# --- point 5: unique OrderString when paging ------------------------------------------------
def test_pager_sends_a_unique_order_and_reads_every_row_once(client, sent):
    """Point 5: GIVEN 30 bills of one date (a sort key that is not unique) WHEN they are read
    in pages of 4 ordered by FDate THEN the client adds FID and the entry id to the
    OrderString and every row comes back exactly once (the sandbox breaks ties at random,
    as a database may, when the order is not unique)."""
    answer = client.batch_save(
        "SAL_OUTSTOCK", [outbound(f"P-{i}", bill_no=f"XS-P{i:02}") for i in range(30)]
    )
    assert answer.ok
    rows = list(
        client.iter_bill_query(
            "SAL_OUTSTOCK",
            ["FBillNo", "FMaterialID.FNumber"],
            order_string="FDate ASC",
            page_size=4,
            entry_key="FEntity",
        )
    )
    assert sorted(r["FBillNo"] for r in rows) == [f"XS-P{i:02}" for i in range(30)]
    orders = {
        json.loads(c["request"])["data"]["OrderString"]
        for c in sent
        if c["operation"] == "ExecuteBillQuery"
    }
    assert orders == {"FDate ASC, FID ASC, FEntity_FEntryID ASC"}
    assert unique_order("BD_Customer", "", ["FNumber"]) == "FCUSTID ASC"
    assert (
        unique_order("STK_InStock", "FID ASC", ["FBillNo", "FInStockEntry_FEntryID"])
        == "FID ASC, FInStockEntry_FEntryID ASC"
    )


# --- point 6: header-only write-backs keep the rows -------------------------------------------
def test_header_only_write_back_on_an_audited_bill_needs_is_delete_entry_false(client):
    """Point 6: GIVEN an audited PUR_MRB WHEN only its unlocked custom header fields are saved
    THEN IsDeleteEntry=true (rows would be dropped) is refused, and IsDeleteEntry=false is
    accepted with the rows kept."""
    mrb = client.save(
        "PUR_MRB",
        {
            "FBillNo": "TL-F6",
            "FDate": "2026-05-07",
            "FStockOrgId": ORG,
            "FPurchaseOrgId": ORG,
            "FSupplierID": {"FNumber": "SUP003"},
            "FMRREASON": {"FNumber": "02"},
            "FPURMRBENTRY": [
                {
                    "FMATERIALID": {"FNumber": "SKU-CBL-1201"},
                    "FSTOCKID": {"FNumber": "20001"},
                    "FRMREALQTY": 1,
                }
            ],
        },
        auto_submit_audit=True,
    )
    assert mrb.ok, mrb.errors
    fid = mrb.successes[0].id
    change = {"FID": fid, "F_PAEZ_ReturnReason": "数量不符", "F_PAEZ_JstDocNo": "9001"}
    keys = ["FID", "F_PAEZ_ReturnReason", "F_PAEZ_JstDocNo"]
    refused = client.save("PUR_MRB", change, need_update_fields=keys)
    assert refused.errors and "不允许修改" in refused.errors[0].message
    accepted = client.save("PUR_MRB", change, need_update_fields=keys, is_delete_entry=False)
    assert accepted.ok, accepted.errors
    rows = client.execute_bill_query(
        "PUR_MRB", ["F_PAEZ_JstDocNo", "FMATERIALID.FNumber"], filter_string="FBillNo = 'TL-F6'"
    )
    assert rows == [["9001", "SKU-CBL-1201"]]


# --- point 7: answers and bodies as real servers send them ------------------------------------
def test_success_answers_carry_no_error_code(kingdee_connection, client):
    """Point 7: a successful Save answer has no ErrorCode (a failure has ErrorCode 500)."""
    session = client.http
    client.login()
    url = client.service_url(f"{BASE}.Save")
    good = session.post(
        url,
        data=json.dumps({"formid": "SAL_OUTSTOCK", "data": {"Model": outbound("E-1")}}),
        headers=client._headers(url),
    ).json()
    assert "ErrorCode" not in good["Result"]["ResponseStatus"]
    assert good["Result"]["ResponseStatus"]["IsSuccess"] is True
    bad = session.post(
        url,
        data=json.dumps({"formid": "SAL_OUTSTOCK", "data": {"Model": {"FDate": "2026-05-01"}}}),
        headers=client._headers(url),
    ).json()
    assert bad["Result"]["ResponseStatus"]["ErrorCode"] == 500


def test_an_older_builds_bare_success_is_matched_by_number(client, monkeypatch):
    """Point 7: GIVEN a build that answers a BatchSave with only {"IsSuccess": true}, Id and
    Number WHEN the client parses it THEN it is a success matched by Number, never an unknown
    outcome."""
    monkeypatch.setenv("PORTAL_SANDBOX_KINGDEE_SUCCESS_ENVELOPE", "legacy")
    answer = client.batch_save("SAL_OUTSTOCK", [outbound("L-1", bill_no="XS-L1")])
    assert answer.ok and answer.reported_success
    saved = answer.saved(0, "XS-L1")
    assert saved is not None and saved.number == "XS-L1" and saved.id > 0
    two = client.batch_save(
        "SAL_OUTSTOCK",
        [outbound("L-2", bill_no="XS-L2"), outbound("L-3", bill_no="XS-L3")],
    )
    assert two.reported_success and two.saved(1, "XS-L3").number == "XS-L3"
    assert two.saved(0, "XS-L2") is None  # no entity for it: the flow confirms it by number


@pytest.mark.parametrize("style", ["data only", "formid and data"])
def test_form_encoded_bodies_are_accepted(kingdee_connection, client, style):
    """Done-when 4 / point 7: a client posting application/x-www-form-urlencoded `data=<json>`
    (ExecuteBillQuery) or `formid` + `data` (View) gets rows / the object, as on real servers."""
    assert client.save("SAL_OUTSTOCK", outbound("F-1", bill_no="XS-F1")).ok
    client.execute_bill_query("BD_STOCK", ["FNumber"])  # opens the signed session
    http = requests.Session()
    http.cookies.update(client.http.cookies)
    headers = {"kdservice-sessionid": client.session_id}
    if style == "data only":
        query = {"FormId": "SAL_OUTSTOCK", "FieldKeys": "FBillNo,F_PAEZ_PlatformOrderNo"}
        answer = http.post(
            client.service_url(f"{BASE}.ExecuteBillQuery"),
            data={"data": json.dumps(query)},
            headers=headers,
        )
        assert answer.json() == [["XS-F1", "F-1"]]
    else:
        answer = http.post(
            client.service_url(f"{BASE}.View"),
            data={"formid": "SAL_OUTSTOCK", "data": json.dumps({"Number": "XS-F1"})},
            headers=headers,
        )
        assert answer.json()["Result"]["Result"]["BillNo"] == "XS-F1"


# --- point 1: HS_AdjustmentBill in the sandbox -------------------------------------------------
def test_cost_adjustment_bill_requires_its_accounting_keys(client):
    """Point 1: HS_AdjustmentBill needs the accounting system, org and policy; it moves no
    quantity; the old STK_CostAdjust is no form at all (MsgCode 4)."""
    before = KdStockBalance.objects.get(stock_number="20001", material_number="SKU-PB-1001")
    entry = {
        "FStockOrgID": ORG,
        "FMaterialID": {"FNumber": "SKU-PB-1001"},
        "FStockID": {"FNumber": "20001"},
        "FAdjustmentAMOUNT": "-12.50",
    }
    missing = client.save("HS_AdjustmentBill", {"FDate": "2026-05-07", "FEntity": [entry]})
    assert {e.field_name for e in missing.errors} >= {"FACCTGSYSTEMID", "FAcctOrgID"}
    ok = client.save(
        "HS_AdjustmentBill",
        {
            "FDate": "2026-05-07",
            "FACCTGSYSTEMID": {"FNumber": "KJHSTX01_SYS"},
            "FAcctOrgID": ORG,
            "FACCTPOLICYID": {"FNumber": "KJZC01_SYS"},
            "FBusinessType": "0",
            "FEntity": [entry],
        },
        auto_submit_audit=True,
    )
    assert ok.ok, ok.errors
    rows = client.execute_bill_query(
        "HS_AdjustmentBill", ["FBillNo", "FAcctOrgID.FNumber", "FAdjustmentAMOUNT"]
    )
    assert [(r[1], Decimal(str(r[2]))) for r in rows] == [("100", Decimal("-12.50"))]
    after = KdStockBalance.objects.get(pk=before.pk)
    assert after.base_qty == before.base_qty
    with pytest.raises(Exception) as failed:
        client.execute_bill_query("STK_CostAdjust", ["FBillNo"])
    assert failed.value.code == 4
