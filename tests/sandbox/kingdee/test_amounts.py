"""The simulated K3Cloud derives amounts on Save and pushes receivables from outbounds and
returns (issue 19 points 6 and 2; docs/protocols/kingdee.md §2.8, §4.20)."""

from decimal import Decimal

import pytest

from connectors.errors import BusinessError
from connectors.kingdee.client import client_for

pytestmark = pytest.mark.django_db(transaction=True)
ORG = {"FNumber": "100"}


@pytest.fixture
def client(kingdee_connection):
    return client_for(kingdee_connection)


def outbound(number: str, rows: list[dict]) -> dict:
    return {
        "FBillNo": number,
        "FDate": "2026-11-20",
        "FSaleOrgId": ORG,
        "FStockOrgId": ORG,
        "FCustomerID": {"FNumber": "10001"},
        "SubHeadEntity": {"FSettleCurrID": {"FNumber": "PRE007"}, "FExchangeRate": "7.1"},
        "FEntity": [
            {"FMaterialID": {"FNumber": "SKU-EAR-1101"}, "FStockID": {"FNumber": "20001"}, **row}
            for row in rows
        ],
    }


def query(client, form_id: str, keys: list[str], number: str) -> list[list]:
    return client.execute_bill_query(form_id, keys, filter_string=f"FBillNo = '{number}'")


def test_issue19_point6_amounts_derived_on_save_and_answered_by_a_query(client):
    """Issue 19 point 6: GIVEN an outbound with a 13 % line of 3 × 29.99 less a 2.00 discount
    and a 0 % line with a 10 % discount rate WHEN saved THEN a query of FAllAmount, FAmount,
    FTaxAmount, FDiscount, FDiscountRate answers what Kingdee computes (2 decimals half-up), not
    null, and the header totals are the sums of the rows; a client's own FAllAmount is
    overwritten."""
    saved = client.batch_save(
        "SAL_OUTSTOCK",
        [
            outbound(
                "AMT-1",
                [
                    {
                        "FRealQty": "3",
                        "FTaxPrice": "29.99",
                        "FEntryTaxRate": "13",
                        "FDiscount": "2.00",
                        "FAllAmount": "1",
                    },
                    {"FRealQty": "1", "FTaxPrice": "8.99", "FDiscountRate": "10"},
                ],
            )
        ],
        auto_submit_audit=True,
    )
    assert saved.ok, saved.errors
    rows = query(
        client,
        "SAL_OUTSTOCK",
        ["FAllAmount", "FAmount", "FTaxAmount", "FDiscount", "FDiscountRate", "FPrice"],
        "AMT-1",
    )
    totals = [[Decimal(str(v)) for v in row] for row in rows]
    # 3 × 29.99 = 89.97 − 2.00 = 87.97 incl. tax; ÷ 1.13 = 77.849… → 77.85; tax 10.12.
    assert totals[0][:4] == [Decimal("87.97"), Decimal("77.85"), Decimal("10.12"), Decimal("2")]
    assert totals[0][4] == Decimal("2.222963")  # 2.00 / 89.97 × 100, six decimals
    assert totals[0][5] == Decimal("26.539823")  # 29.99 / 1.13
    # 8.99 less 10 % = 0.899 → 0.90 discount, 8.09 total, no tax.
    assert totals[1][:4] == [Decimal("8.09"), Decimal("8.09"), Decimal("0"), Decimal("0.9")]
    head = query(
        client, "SAL_OUTSTOCK", ["FBillAllAmount", "FBillAmount", "FBillTaxAmount"], "AMT-1"
    )
    assert [Decimal(str(v)) for v in head[0]] == [
        Decimal("96.06"),
        Decimal("85.94"),
        Decimal("10.12"),
    ]


def test_issue19_point6_tax_combination_sets_the_rate_and_free_rows_carry_nothing(client):
    """Issue 19 point 6: GIVEN a row naming tax combination SL02_SYS (13 %) with rate 0 and a
    free row WHEN saved THEN the rate comes from the combination and the free row's amounts
    are zero."""
    saved = client.batch_save(
        "SAL_OUTSTOCK",
        [
            outbound(
                "AMT-2",
                [
                    {
                        "FRealQty": "1",
                        "FTaxPrice": "113",
                        "FEntryTaxRate": "0",
                        "FTaxCombination": {"FNumber": "SL02_SYS"},
                    },
                    {"FRealQty": "1", "FTaxPrice": "5", "FIsFree": True},
                ],
            )
        ],
        auto_submit_audit=True,
    )
    assert saved.ok, saved.errors
    rows = query(
        client, "SAL_OUTSTOCK", ["FEntryTaxRate", "FAmount", "FTaxAmount", "FAllAmount"], "AMT-2"
    )
    assert [Decimal(str(v)) for v in rows[0]] == [13, 100, 13, 113]
    assert [Decimal(str(v)) for v in rows[1]][1:] == [0, 0, 0]


def test_issue19_point2_push_outbound_and_return_to_linked_receivables(client):
    """Issue 19 point 2: GIVEN an audited outbound and an audited return WHEN each is pushed
    to AR_receivable THEN a receivable is saved per source, linked row by row (FSourceBillNo,
    FSOURCETYPE, link entity), carrying the source's amounts (red for the return); pushing
    again is refused; an unaudited source and an unknown rule are refused."""
    sale = outbound("AMT-3", [{"FRealQty": "2", "FTaxPrice": "29.99", "FDiscount": "2.00"}])
    assert client.batch_save("SAL_OUTSTOCK", [sale], auto_submit_audit=True).ok
    ret = {
        "FBillNo": "AMT-R3",
        "FDate": "2026-11-25",
        "FSaleOrgId": ORG,
        "FStockOrgId": ORG,
        "FRetcustId": {"FNumber": "10001"},
        "SubHeadEntity": {"FSettleCurrId": {"FNumber": "PRE007"}},
        "FEntity": [
            {
                "FMaterialId": {"FNumber": "SKU-EAR-1101"},
                "FStockId": {"FNumber": "20001"},
                "FRealQty": "1",
                "FTaxPrice": "29.99",
                "FDiscount": "1.00",
                "FReturnType": {"FNumber": "THLX01_SYS"},
            }
        ],
    }
    assert client.batch_save("SAL_RETURNSTOCK", [ret], auto_submit_audit=True).ok

    pushed = client.push(
        "SAL_OUTSTOCK",
        numbers=["AMT-3"],
        target_form_id="AR_receivable",
        rule_id="AR_OutStockToReceivableMap",
    )
    assert pushed.ok and pushed.successes[0].number.startswith("AR")
    red = client.push(
        "SAL_RETURNSTOCK",
        numbers=["AMT-R3"],
        target_form_id="AR_receivable",
        enable_default_rule=True,
    )
    assert red.ok, red.errors
    rows = client.execute_bill_query(
        "AR_receivable",
        ["FBillNo", "FSourceBillNo", "FSOURCETYPE", "FALLAMOUNTFOR_D", "FALLAMOUNTFOR"],
        filter_string="FSourceBillNo in ('AMT-3', 'AMT-R3')",
        order_string="FSourceBillNo",
    )
    assert [(r[1], r[2], Decimal(str(r[3])), Decimal(str(r[4]))) for r in rows] == [
        ("AMT-3", "SAL_OUTSTOCK", Decimal("57.98"), Decimal("57.98")),
        ("AMT-R3", "SAL_RETURNSTOCK", Decimal("-28.99"), Decimal("-28.99")),
    ]
    receivable = client.view("AR_receivable", number=rows[0][0])
    link = receivable["AR_receivableEntry"][0]["EntityDetail_Link"][0]
    link = {key.lower(): value for key, value in link.items()}
    assert link["fentitydetail_link_fruleid"] == "AR_OutStockToReceivableMap"
    assert link["fentitydetail_link_fstablename"] == "T_SAL_OUTSTOCKENTRY"
    assert receivable["DocumentStatus"] == "A"  # saved by the push, not yet audited

    with pytest.raises(BusinessError, match="RuleId"):
        client.push("SAL_OUTSTOCK", numbers=["AMT-3"], target_form_id="AR_receivable")
    twice = client.push(
        "SAL_OUTSTOCK",
        numbers=["AMT-3"],
        target_form_id="AR_receivable",
        rule_id="AR_OutStockToReceivableMap",
    )
    assert not twice.ok and "已全部下推" in twice.errors[0].message
    draft = outbound("AMT-4", [{"FRealQty": "1", "FTaxPrice": "1"}])
    assert client.batch_save("SAL_OUTSTOCK", [draft]).ok
    unaudited = client.push(
        "SAL_OUTSTOCK", numbers=["AMT-4"], target_form_id="AR_receivable", enable_default_rule=True
    )
    assert not unaudited.ok and "未审核" in unaudited.errors[0].message
