"""The simulated K3Cloud refuses a GL voucher whose debits and credits differ
(docs/protocols/kingdee.md §4.15),
so F6.1 vouchers are proven balanced by the sandbox itself."""

import pytest

from connectors.kingdee.client import client_for

pytestmark = pytest.mark.django_db(transaction=True)


def voucher(debit: str, credit: str) -> dict:
    return {
        "FAccountBookID": {"FNumber": "001"},
        "FDate": "2026-01-15",
        "FVOUCHERGROUPID": {"FNumber": "PRE001"},
        "FEntity": [
            {
                "FEXPLANATION": "FX",
                "FACCOUNTID": {"FNumber": "1122"},
                "FDEBIT": debit,
                "FCREDIT": "0",
            },
            {
                "FEXPLANATION": "FX",
                "FACCOUNTID": {"FNumber": "6603.03"},
                "FDEBIT": "0",
                "FCREDIT": credit,
            },
        ],
    }


def test_f6_1_sandbox_rejects_an_unbalanced_voucher_and_accepts_a_balanced_one(kingdee_connection):
    """GIVEN two vouchers WHEN saved THEN 10.00 / 9.99 is refused naming the totals and
    10.00 / 10.00 is saved and audited."""
    client = client_for(kingdee_connection)
    bad = client.batch_save("GL_VOUCHER", [voucher("10.00", "9.99")], auto_submit_audit=True)
    assert not bad.successes
    assert "借贷不平衡" in bad.errors[0].message and "9.99" in bad.errors[0].message
    good = client.batch_save("GL_VOUCHER", [voucher("10.00", "10.00")], auto_submit_audit=True)
    assert good.ok and good.successes[0].number
