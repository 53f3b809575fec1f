"""The Kingdee client against the simulated K3Cloud over real HTTP (live_server)."""

from decimal import Decimal

import pytest

from connectors.errors import AuthError, BusinessError, RateLimited, TransientError, UnknownOutcome
from connectors.kingdee.client import KingdeeClient, client_for
from connectors.kingdee.models import KingdeeAuthMode
from connectors.observe import remote_call
from sandbox import faults
from sandbox.kingdee.models import KdBill, KdSession, KdStockBalance

pytestmark = pytest.mark.django_db(transaction=True)


def outbound(
    platform_order_no: str,
    *,
    sku: str = "SKU-PB-1001",
    qty: int = 2,
    stock: str = "20001",
    customer: str = "10001",
    bill_no: str | None = None,
) -> dict:
    model = {
        "FBillTypeID": {"FNumber": "XSCKD01_SYS"},
        "FDate": "2026-05-01",
        "FSaleOrgId": {"FNumber": "100"},
        "FStockOrgId": {"FNumber": "100"},
        "FCustomerID": {"FNumber": customer},
        "F_PAEZ_PlatformOrderNo": platform_order_no,
        "SubHeadEntity": {"FSettleCurrID": {"FNumber": "PRE007"}, "FExchangeRate": 7.18},
        "FEntity": [
            {
                "FMaterialID": {"FNumber": sku},
                "FStockID": {"FNumber": stock},
                "FRealQty": qty,
                "FTaxPrice": 29.99,
                "FEntryTaxRate": 0,
            }
        ],
    }
    if bill_no:
        model["FBillNo"] = bill_no
    return model


def balance(sku: str, stock: str = "20001") -> Decimal:
    return KdStockBalance.objects.get(stock_number=stock, material_number=sku).base_qty


@pytest.fixture
def client(kingdee_connection):
    return KingdeeClient(kingdee_connection)


@pytest.fixture
def calls():
    seen = []

    def receiver(sender, **kwargs):
        seen.append(kwargs)

    remote_call.connect(receiver)
    yield seen
    remote_call.disconnect(receiver)


# -- writes ------------------------------------------------------------------------------------
def test_batch_save_partial_failure_is_settled_by_dindex(client):
    """F2.1: GIVEN a batch with a good outbound, an unknown SKU and a duplicate bill no.
    WHEN BatchSave runs THEN it does not raise: successes and classified errors come back by
    DIndex, and only the good document exists."""
    client.save("SAL_OUTSTOCK", outbound("PO-DUP", bill_no="JST-IO-1"))
    result = client.batch_save(
        "SAL_OUTSTOCK",
        [
            outbound("PO-1", bill_no="JST-IO-2"),
            outbound("PO-2", sku="SKU-GIFT-9001"),
            outbound("PO-3", bill_no="JST-IO-1"),
            outbound("PO-4", customer=""),
        ],
    )
    assert not result.ok
    assert [s.dindex for s in result.successes] == [0]
    assert result.successes[0].number == "JST-IO-2" and result.successes[0].id > 0
    assert [e.kind for e in result.errors_for(1)] == ["unknown_base_data"]
    assert "SKU-GIFT-9001" in result.errors_for(1)[0].message
    assert result.errors_for(1)[0].field_name == "FMaterialID"
    assert [e.kind for e in result.errors_for(2)] == ["duplicate_bill_no"]
    assert result.errors_for(2)[0].field_name == "FBillNo"
    assert [e.kind for e in result.errors_for(3)] == ["missing_field"]
    assert result.failed_dindexes == {1, 2, 3}
    assert KdBill.objects.filter(form_id="SAL_OUTSTOCK").count() == 2


def test_unknown_base_data_without_verification_is_a_missing_field(client):
    """GIVEN IsVerifyBaseDataField off WHEN a required reference is unknown THEN, like the real
    server, the field stays empty and the required-field message comes back."""
    result = client.save(
        "SAL_OUTSTOCK", outbound("PO-X", customer="NOPE"), validate_base_data=False
    )
    assert [e.kind for e in result.errors] == ["missing_field"]
    assert result.errors[0].message == "字段“客户”是必填项"


def test_auto_submit_audit_with_insufficient_stock_keeps_nothing(client):
    """F2.4: GIVEN 6 units on hand in 20003 WHEN an outbound of 7 is saved with
    IsAutoSubmitAndAudit THEN (Save+Submit+Audit are one transaction) the record fails with
    kind insufficient_stock, nothing is saved, stock is untouched; the good one is audited."""
    before = balance("SKU-PB-1001", "20003")
    result = client.batch_save(
        "SAL_OUTSTOCK",
        [outbound("PO-OK", qty=1, stock="20001"), outbound("PO-SHORT", qty=7, stock="20003")],
        auto_submit_audit=True,
    )
    assert [s.dindex for s in result.successes] == [0]
    [error] = result.errors_for(1)
    assert error.kind == "insufficient_stock"
    assert "负库存" in error.message and "SKU-PB-1001" in error.message
    assert result.saved_with_errors == []
    assert client.lookup_bills(
        "SAL_OUTSTOCK", key_field="F_PAEZ_PlatformOrderNo", values=["PO-OK", "PO-SHORT"]
    ).keys() == {"PO-OK"}
    assert balance("SKU-PB-1001", "20003") == before
    assert KdBill.objects.get(bill_no=result.successes[0].number).document_status == "C"


def test_auto_audit_failure_can_leave_the_bill_submitted(client, monkeypatch):
    """F2.4: GIVEN a server that keeps the bill when the automatic audit fails WHEN stock is
    short THEN the record is in both lists (saved_with_errors), status B, and auditing it again
    after stock arrives succeeds without saving it twice."""
    monkeypatch.setenv("PORTAL_SANDBOX_KINGDEE_AUTO_AUDIT_FAILURE", "keep_submitted")
    result = client.batch_save(
        "SAL_OUTSTOCK", [outbound("PO-HOLD", qty=9, stock="20003")], auto_submit_audit=True
    )
    [kept] = result.saved_with_errors
    assert result.errors_for(0)[0].kind == "insufficient_stock"
    assert KdBill.objects.get(pk=kept.id).document_status == "B"
    KdStockBalance.objects.filter(stock_number="20003", material_number="SKU-PB-1001").update(
        base_qty=Decimal("20")
    )
    audited = client.audit("SAL_OUTSTOCK", numbers=[kept.number])
    assert audited.ok and audited.successes[0].number == kept.number
    assert balance("SKU-PB-1001", "20003") == Decimal("11")


def test_lifecycle_submit_audit_unaudit_delete_moves_stock(client):
    """F4.1 / F8.1: GIVEN a saved purchase inbound WHEN submitted and audited THEN stock rises;
    UnAudit reverses it; an audited bill cannot be deleted (wrong_status); Delete works after."""
    saved = client.save(
        "STK_InStock",
        {
            "FDate": "2026-05-02",
            "FStockOrgId": {"FNumber": "100"},
            "FPurchaseOrgId": {"FNumber": "100"},
            "FSupplierId": {"FNumber": "SUP001"},
            "FInStockEntry": [
                {
                    "FMaterialId": {"FNumber": "SKU-CBL-1201"},
                    "FStockId": {"FNumber": "20001"},
                    "FRealQty": 30,
                }
            ],
        },
    )
    number = saved.successes[0].number
    assert number.startswith("CGRK")
    assert client.audit("STK_InStock", numbers=[number]).errors[0].kind == "wrong_status"
    assert client.submit("STK_InStock", numbers=[number]).ok
    assert client.audit("STK_InStock", ids=[saved.successes[0].id]).ok
    assert balance("SKU-CBL-1201") == Decimal("530")
    assert client.inventory(material_numbers=["SKU-CBL-1201"], org_number="100") == {
        ("SKU-CBL-1201", "20001", "100"): Decimal("530"),
        ("SKU-CBL-1201", "20002", "100"): Decimal("40"),
    }
    refused = client.delete("STK_InStock", numbers=[number])
    assert refused.errors[0].kind == "wrong_status"
    assert client.unaudit("STK_InStock", numbers=[number]).ok
    assert balance("SKU-CBL-1201") == Decimal("500")
    assert client.delete("STK_InStock", numbers=[number]).ok
    assert client.view("STK_InStock", number=number) is None
    missing = client.submit("STK_InStock", numbers=["CGRK999999"])
    assert missing.errors[0].dindex == 0 and missing.errors[0].kind == "other"


def test_update_with_need_update_fields(client):
    """GIVEN a saved outbound WHEN saved again with its FID and NeedUpDateFields THEN only
    those fields change, entries are kept and the bill no. stays."""
    first = client.save("SAL_OUTSTOCK", outbound("PO-UPD"))
    fid = first.successes[0].id
    again = client.save(
        "SAL_OUTSTOCK",
        {"FID": fid, "FNote": "amended"},
        need_update_fields=["FNote"],
        is_delete_entry=False,
    )
    assert again.ok and again.successes[0].number == first.successes[0].number
    shown = client.view("SAL_OUTSTOCK", id=fid)
    assert shown["Note"] == "amended"
    assert shown["BillNo"] == first.successes[0].number
    assert shown["SAL_OUTSTOCKENTRY"][0]["MaterialID"]["Number"] == "SKU-PB-1001"
    assert shown["CustomerID"]["Number"] == "10001"


# -- reads -------------------------------------------------------------------------------------
def test_query_filters_on_custom_field_and_pages_through_everything(client):
    """GIVEN 25 outbounds WHEN iter_bill_query walks them 10 a page with a filter on the custom
    platform order no. THEN every matching row comes back once, in order, as dicts."""
    result = client.batch_save("SAL_OUTSTOCK", [outbound(f"AMZ-{i:03d}", qty=1) for i in range(25)])
    assert result.ok and len(result.successes) == 25
    keys = ["FID", "FBillNo", "F_PAEZ_PlatformOrderNo", "FEntity_FEntryId", "FRealQty", "FDate"]
    rows = list(
        client.iter_bill_query(
            "SAL_OUTSTOCK",
            keys,
            filter_string="F_PAEZ_PlatformOrderNo like 'AMZ-0%' and FDocumentStatus = 'A'",
            order_string="FID ASC",
            page_size=10,
        )
    )
    assert [r["F_PAEZ_PlatformOrderNo"] for r in rows] == [f"AMZ-{i:03d}" for i in range(25)]
    assert rows[0]["FRealQty"] == 1 and rows[0]["FDate"] == "2026-05-01T00:00:00"
    assert len({r["FEntity_FEntryId"] for r in rows}) == 25
    found = client.lookup_bills(
        "SAL_OUTSTOCK", key_field="F_PAEZ_PlatformOrderNo", values=["AMZ-007", "AMZ-999"]
    )
    assert list(found) == ["AMZ-007"] and found["AMZ-007"].status == "A"


def test_query_errors_are_typed(client):
    """GIVEN an unknown field / form / bad filter THEN BusinessError with Kingdee's code."""
    with pytest.raises(BusinessError) as unknown_field:
        client.execute_bill_query("SAL_OUTSTOCK", ["FCustId.FNumber"])
    assert unknown_field.value.code == 9
    assert "FCustId" in unknown_field.value.remote_message
    with pytest.raises(BusinessError) as unknown_form:
        client.execute_bill_query("STK_OutStock", ["FBillNo"])
    assert unknown_form.value.code == 4
    with pytest.raises(BusinessError):
        client.execute_bill_query("SAL_OUTSTOCK", ["FBillNo"], filter_string="FBillNo = ")
    with pytest.raises(BusinessError) as empty:
        client.save("NO_SUCH_FORM", {"FNumber": "x"})
    assert empty.value.code == 4


def test_master_data_query_for_material_sync(client):
    """F1.2: material code, HS code, English name, weights, brand and battery flag can be read
    from BD_MATERIAL of org 100 (custom F_PAEZ_* fields)."""
    rows = list(
        client.iter_bill_query(
            "BD_MATERIAL",
            [
                "FNumber",
                "F_PAEZ_HSCode",
                "F_PAEZ_EnName",
                "FGROSSWEIGHT",
                "FNETWEIGHT",
                "F_PAEZ_Brand",
                "F_PAEZ_IsBattery",
                "FBaseUnitId.FNumber",
            ],
            filter_string="FUseOrgId.FNumber = '100' and FDocumentStatus = 'C' "
            "and FForbidStatus = 'A' and FNumber in ('SKU-PB-1001', 'SKU-LAMP-1501')",
            order_string="FNumber ASC",
        )
    )
    assert rows[0]["FNumber"] == "SKU-LAMP-1501" and rows[0]["F_PAEZ_HSCode"] == ""
    assert rows[1]["F_PAEZ_HSCode"] == "8507600090"
    assert rows[1]["FGROSSWEIGHT"] == Decimal("0.48")
    assert rows[1]["F_PAEZ_IsBattery"] is True and rows[1]["FBaseUnitId.FNumber"] == "Pcs"


# -- authentication and sessions -----------------------------------------------------------------
@pytest.mark.parametrize(
    "mode",
    [
        KingdeeAuthMode.LOGIN_BY_APP_SECRET,
        KingdeeAuthMode.VALIDATE_USER,
        KingdeeAuthMode.LOGIN_BY_SIGN,
    ],
)
def test_session_login_and_relogin_after_session_loss(kingdee_connection, calls, mode):
    """GIVEN a session-login connection WHEN the server forgets the session THEN the client
    logs in again and replays the call once, transparently; secrets never reach the signal."""
    kingdee_connection.auth_mode = mode
    kingdee_connection.save()
    client = KingdeeClient(kingdee_connection)
    assert len(client.execute_bill_query("BD_STOCK", ["FNumber"])) == 3
    first_session = client.session_id
    KdSession.objects.all().delete()  # the server lost every session
    assert len(client.execute_bill_query("BD_STOCK", ["FNumber"])) == 3
    assert client.session_id and client.session_id != first_session
    operations = [c["operation"] for c in calls]
    assert operations == [
        "login",
        "ExecuteBillQuery",
        "ExecuteBillQuery",
        "login",
        "ExecuteBillQuery",
    ]
    logged = " ".join(c["request"] + c["response"] for c in calls)
    assert kingdee_connection.app_secret not in logged
    assert kingdee_connection.password not in logged


@pytest.mark.usefixtures("english")
def test_wrong_password_login_is_an_auth_error(kingdee_connection):
    kingdee_connection.auth_mode = KingdeeAuthMode.VALIDATE_USER
    kingdee_connection.password = "wrong"
    kingdee_connection.save()
    with pytest.raises(AuthError, match="refused the login"):
        KingdeeClient(kingdee_connection).execute_bill_query("BD_STOCK", ["FNumber"])


def test_signature_mode_survives_session_expiry_faults(client):
    """docs/protocols/kingdee.md §1.3: GIVEN every session expiring WHEN signed calls continue
    THEN the server re-authenticates them silently and issues new session ids."""
    client.execute_bill_query("BD_STOCK", ["FNumber"])
    before = client.session_id
    faults.set_profile("kingdee", session_expiry_rate=1)
    assert len(client.execute_bill_query("BD_STOCK", ["FNumber"])) == 3
    assert client.session_id != before


@pytest.mark.usefixtures("english")
def test_wrong_secret_and_wrong_account_set_are_auth_errors(kingdee_connection, calls):
    """GIVEN a wrong app secret THEN AuthError after one re-sign (MsgCode 1 twice);
    GIVEN an unknown account set THEN AuthError naming the account set."""
    kingdee_connection.app_secret = "f" * 32
    kingdee_connection.save()
    with pytest.raises(AuthError) as wrong_secret:
        KingdeeClient(kingdee_connection).save("SAL_OUTSTOCK", outbound("PO-AUTH"))
    assert wrong_secret.value.code == 1
    assert [c["operation"] for c in calls] == ["Save", "Save"]
    kingdee_connection.acct_id = "000000000000aa"
    kingdee_connection.save()
    with pytest.raises(AuthError, match="account set"):
        KingdeeClient(kingdee_connection).execute_bill_query("BD_STOCK", ["FNumber"])


# -- fault injection -----------------------------------------------------------------------------
def test_server_errors_are_transient_on_reads_and_unknown_on_writes(client):
    faults.set_profile("kingdee", error_rate=1)
    with pytest.raises(TransientError) as read:
        client.execute_bill_query("BD_STOCK", ["FNumber"])
    assert not isinstance(read.value, UnknownOutcome)
    with pytest.raises(UnknownOutcome):
        client.save("SAL_OUTSTOCK", outbound("PO-500"))
    faults.set_profile("kingdee", busy_rate=1)
    with pytest.raises(UnknownOutcome):
        client.audit("SAL_OUTSTOCK", numbers=["XSCKD000001"])
    faults.set_profile("kingdee", rate_limit_rate=1)
    with pytest.raises(RateLimited):
        client.batch_save("SAL_OUTSTOCK", [outbound("PO-429")])
    assert not KdBill.objects.exists()


def test_timeout_after_commit_is_unknown_outcome_and_lookup_finds_it(kingdee_connection):
    """Exactly once: GIVEN the server commits and then stalls past the client's timeout WHEN
    the client saves THEN UnknownOutcome; asking by the platform order no. shows the document
    landed, so the engine does not send it again."""
    client = KingdeeClient(kingdee_connection, timeout=0.6)
    faults.set_profile("kingdee", timeout_after_commit_rate=1, stall_seconds=2)
    with pytest.raises(UnknownOutcome):
        client.batch_save("SAL_OUTSTOCK", [outbound("PO-LATE")])
    faults.set_profile("kingdee")
    found = client.lookup_bills(
        "SAL_OUTSTOCK", key_field="F_PAEZ_PlatformOrderNo", values=["PO-LATE"]
    )
    assert list(found) == ["PO-LATE"]
    assert KdBill.objects.count() == 1


def test_connection_refused_is_transient(kingdee_connection):
    kingdee_connection.server_url = "http://127.0.0.1:9/k3cloud/"
    kingdee_connection.save()
    with pytest.raises(TransientError) as refused:
        KingdeeClient(kingdee_connection).save("SAL_OUTSTOCK", outbound("PO-DOWN"))
    assert not isinstance(refused.value, UnknownOutcome)  # never sent: safe to retry


def test_client_for_caches_one_client_per_connection(kingdee_connection):
    first = client_for(kingdee_connection)
    assert client_for(kingdee_connection) is first
    kingdee_connection.timeout_seconds = 5
    kingdee_connection.save()
    assert client_for(kingdee_connection) is not first
    assert first.http.verify is True
