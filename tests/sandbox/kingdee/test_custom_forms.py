"""Issue 21 point 1: the simulated K3Cloud serves a form the tenant built in BOS (a customs
declaration form), knows nothing of it before a custom field is declared on it, and serves
the 财务 forms IV_PURCHASEIC and AR_RECEIVEBILL with their standard keys only
(docs/protocols/kingdee.md §4.18)."""

import pytest

from connectors.errors import ConnectorError
from connectors.kingdee.client import KingdeeClient
from sandbox.kingdee import bos

pytestmark = pytest.mark.django_db(transaction=True)

FORM = "PAEZ_ExportDecl"


@pytest.fixture
def client(kingdee_connection):
    client = KingdeeClient(kingdee_connection)
    yield client
    client.http.close()


def _code(call) -> int:
    with pytest.raises(ConnectorError) as caught:
        call()
    return int(caught.value.code)


def test_issue_21_a_bos_form_exists_once_its_fields_are_declared(client):
    """GIVEN no field declared on PAEZ_ExportDecl THEN querying it is MsgCode 4 (no such
    business object); GIVEN a header and an entry custom field declared WHEN a bill with two
    FEntity rows is saved and audited THEN an entry-level query answers one row per item with
    the header repeated, a key never declared is MsgCode 9, and the filter on the header field
    selects the bill."""
    assert _code(lambda: client.execute_bill_query(FORM, ["FID"])) == 4
    bos.declare(FORM, ["F_PAEZ_DeclNo"])
    bos.declare(FORM, ["F_PAEZ_Item", "F_PAEZ_Qty"], level=bos.Level.ENTRY)
    model = {
        "FDate": "2026-11-20",
        "F_PAEZ_DeclNo": "531620260000000999",
        "FEntity": [{"F_PAEZ_Item": 1, "F_PAEZ_Qty": 5}, {"F_PAEZ_Item": 2, "F_PAEZ_Qty": 7}],
    }
    assert client.save(FORM, model, auto_submit_audit=True).ok
    rows = client.execute_bill_query(
        FORM,
        ["FBillNo", "FDocumentStatus", "F_PAEZ_DeclNo", "F_PAEZ_Item", "F_PAEZ_Qty"],
        filter_string="F_PAEZ_DeclNo = '531620260000000999'",
        order_string="FEntity_FEntryID ASC",
    )
    assert [row[1:] for row in rows] == [
        ["C", "531620260000000999", 1, 5],
        ["C", "531620260000000999", 2, 7],
    ]
    assert rows[0][0] == rows[1][0] and rows[0][0].startswith("PAEZEXPORT")
    assert _code(lambda: client.execute_bill_query(FORM, ["F_PAEZ_HwcYt"])) == 9


def test_issue_21_purchase_invoice_and_receipt_forms(client):
    """GIVEN the demo tenant WHEN an IV_PURCHASEIC invoice and an AR_RECEIVEBILL receipt are
    saved THEN their standard keys read back, a required supplier is enforced, and a key the
    form does not have is MsgCode 9."""
    invoice = {
        "FDate": "2026-11-20",
        "FSUPPLIERID": {"FNumber": "SUP001"},
        "FINVOICENO": "24442000000000000999",
        "FHEADAUXPRICEFOR": 1000,
        "FTAXAMOUNTFOR": 130,
    }
    assert client.save("IV_PURCHASEIC", invoice, auto_submit_audit=True).ok
    [row] = client.execute_bill_query(
        "IV_PURCHASEIC", ["FINVOICENO", "FHEADAUXPRICEFOR", "FTAXAMOUNTFOR", "FDocumentStatus"]
    )
    assert row == ["24442000000000000999", 1000, 130, "C"]
    refused = client.save("IV_PURCHASEIC", {**invoice, "FSUPPLIERID": {}})
    assert not refused.ok
    receipt = {"FDate": "2026-11-21", "FCURRENCYID": {"FNumber": "PRE007"}, "FREALRECAMOUNTFOR": 5}
    assert client.save("AR_RECEIVEBILL", receipt).ok
    [row] = client.execute_bill_query(
        "AR_RECEIVEBILL", ["FCURRENCYID.FNumber", "FREALRECAMOUNTFOR"]
    )
    assert row == ["PRE007", 5]
    assert _code(lambda: client.execute_bill_query("AR_RECEIVEBILL", ["FRecAmount"])) == 9
