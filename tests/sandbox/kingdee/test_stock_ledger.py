"""The simulated stock ledger: audited inbound adds, outbound subtracts, transfers move,
counts set the book quantity, UnAudit reverses, and negative stock is refused per row."""

from decimal import Decimal

import pytest

from connectors.kingdee.client import KingdeeClient
from sandbox.kingdee.models import KdStockBalance

pytestmark = pytest.mark.django_db(transaction=True)

ORG = {"FStockOrgId": {"FNumber": "100"}}


def qty(sku: str, stock: str) -> Decimal:
    row = KdStockBalance.objects.filter(stock_number=stock, material_number=sku).first()
    return row.base_qty if row else Decimal("0")


@pytest.fixture
def client(kingdee_connection):
    return KingdeeClient(kingdee_connection)


def test_transfer_moves_stock_and_unaudit_moves_it_back(client):
    """F7.1: GIVEN 40 power banks in 20002 WHEN 15 are transferred to 20003 and audited THEN
    20002 has 25 and 20003 has 20; UnAudit restores both."""
    result = client.save(
        "STK_TransferDirect",
        {
            "FDate": "2026-05-04",
            **ORG,
            "FStockOutOrgId": {"FNumber": "100"},
            "FBillEntry": [
                {
                    "FMaterialId": {"FNumber": "SKU-PB-1001"},
                    "FSrcStockId": {"FNumber": "20002"},
                    "FDestStockId": {"FNumber": "20003"},
                    "FQty": 15,
                }
            ],
        },
        auto_submit_audit=True,
    )
    assert result.ok and result.successes[0].number.startswith("ZJDB")
    assert (qty("SKU-PB-1001", "20002"), qty("SKU-PB-1001", "20003")) == (25, 20)
    assert client.unaudit("STK_TransferDirect", numbers=[result.successes[0].number]).ok
    assert (qty("SKU-PB-1001", "20002"), qty("SKU-PB-1001", "20003")) == (40, 5)


def test_count_loss_and_gain_set_the_book_quantity(client):
    """F8.1: GIVEN 500 cables in 20001 WHEN a loss count of 497 and a gain count elsewhere are
    audited THEN the book quantity becomes the counted quantity."""
    loss = client.save(
        "STK_StockCountLoss",
        {
            "FDate": "2026-05-05",
            **ORG,
            "FBillEntry": [
                {
                    "FMaterialId": {"FNumber": "SKU-CBL-1202"},
                    "FStockId": {"FNumber": "20001"},
                    "FCountQty": 497,
                }
            ],
        },
        auto_submit_audit=True,
    )
    gain = client.save(
        "STK_StockCountGain",
        {
            "FDate": "2026-05-05",
            **ORG,
            "FBillEntry": [
                {
                    "FMaterialId": {"FNumber": "SKU-BAG-1701"},
                    "FStockId": {"FNumber": "20003"},
                    "FCountQty": 4,
                }
            ],
        },
        auto_submit_audit=True,
    )
    assert loss.ok and gain.ok
    assert qty("SKU-CBL-1202", "20001") == 497 and qty("SKU-BAG-1701", "20003") == 4


def test_returns_and_other_inbound_add_other_outbound_subtracts(client):
    """F3.1 / F8.1: a sales return and an other-inbound add stock; an other-outbound beyond
    stock fails with the per-row negative-stock message and changes nothing."""
    ret = client.save(
        "SAL_RETURNSTOCK",
        {
            "FDate": "2026-05-06",
            "FSaleOrgId": {"FNumber": "100"},
            **ORG,
            "FRetcustId": {"FNumber": "10001"},
            "FEntity": [
                {
                    "FMaterialId": {"FNumber": "SKU-EAR-1101"},
                    "FStockId": {"FNumber": "20003"},
                    "FRealQty": 2,
                    "FReturnType": {"FNumber": "THLX01_SYS"},
                }
            ],
        },
        auto_submit_audit=True,
    )
    misc_in = client.save(
        "STK_MISCELLANEOUS",
        {
            "FDate": "2026-05-06",
            **ORG,
            "FStockDirect": "GENERAL",
            "FEntity": [
                {
                    "FMATERIALID": {"FNumber": "SKU-EAR-1101"},
                    "FSTOCKID": {"FNumber": "20003"},
                    "FQty": 3,
                }
            ],
        },
        auto_submit_audit=True,
    )
    assert ret.ok and misc_in.ok and qty("SKU-EAR-1101", "20003") == 10
    short = client.save(
        "STK_MisDelivery",
        {
            "FDate": "2026-05-06",
            **ORG,
            "FBillTypeID": {"FNumber": "QTCKD01_SYS"},
            "FEntity": [
                {
                    "FMaterialId": {"FNumber": "SKU-EAR-1101"},
                    "FStockId": {"FNumber": "20003"},
                    "FQty": 4,
                },
                {
                    "FMaterialId": {"FNumber": "SKU-EAR-1101"},
                    "FStockId": {"FNumber": "20003"},
                    "FQty": 7,
                },
            ],
        },
        auto_submit_audit=True,
    )
    [error] = short.errors
    assert error.kind == "insufficient_stock"
    assert "序号=2,负库存=-1,物料=SKU-EAR-1101,仓库=前海保税仓" in error.message
    assert qty("SKU-EAR-1101", "20003") == 10


def test_purchase_return_and_voucher_and_cost_adjustment_are_kept(client):
    """F5.1 / F8.2 / F6.1: purchase returns reduce stock; cost adjustments and vouchers are
    stored with their numbers and can be queried."""
    mrb = client.save(
        "PUR_MRB",
        {
            "FDate": "2026-05-07",
            **ORG,
            "FPurchaseOrgId": {"FNumber": "100"},
            "FSupplierID": {"FNumber": "SUP003"},
            "FMRREASON": {"FNumber": "01"},
            "FPURMRBENTRY": [
                {
                    "FMATERIALID": {"FNumber": "SKU-YOGA-1601"},
                    "FSTOCKID": {"FNumber": "20001"},
                    "FRMREALQTY": 10,
                }
            ],
        },
        auto_submit_audit=True,
    )
    assert mrb.ok and qty("SKU-YOGA-1601", "20001") == 490
    adjust = client.save(
        "HS_AdjustmentBill",
        {
            "FDate": "2026-05-07",
            "FACCTGSYSTEMID": {"FNumber": "KJHSTX01_SYS"},
            "FAcctOrgID": {"FNumber": "100"},
            "FACCTPOLICYID": {"FNumber": "KJZC01_SYS"},
            "FEntity": [
                {
                    "FStockOrgID": {"FNumber": "100"},
                    "FMaterialID": {"FNumber": "SKU-YOGA-1601"},
                    "FStockID": {"FNumber": "20001"},
                    "FAdjustmentAMOUNT": 15,
                }
            ],
        },
    )
    voucher = client.save(
        "GL_VOUCHER",
        {
            "FDate": "2026-05-07",
            "FAccountBookID": {"FNumber": "100"},
            "FVOUCHERGROUPID": {"FNumber": "PRE001"},
            "FEntity": [
                {"FEXPLANATION": "汇兑损益", "FACCOUNTID": {"FNumber": "6603.03"}, "FDEBIT": 12.5},
                {"FEXPLANATION": "汇兑损益", "FACCOUNTID": {"FNumber": "1122"}, "FCREDIT": 12.5},
            ],
        },
    )
    assert adjust.ok and voucher.ok
    rows = client.execute_bill_query(
        "GL_VOUCHER", ["FBillNo", "FACCOUNTID.FNumber", "FDEBIT"], order_string="FEntity_FSeq ASC"
    )
    assert [r[1:] for r in rows] == [["6603.03", 12.5], ["1122", None]]
    assert qty("SKU-YOGA-1601", "20001") == 490  # cost adjustment moves no quantity
