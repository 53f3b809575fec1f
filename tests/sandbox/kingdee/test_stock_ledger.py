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


def value(sku: str, stock: str) -> tuple[Decimal, Decimal]:
    row = KdStockBalance.objects.get(stock_number=stock, material_number=sku)
    return row.cost_qty, row.amount


def test_issue19_p5_inventory_value_moves_at_kingdee_average_cost(client):
    """Issue 19 point 5 (the sandbox values stock as Kingdee's inventory accounting does):
    GIVEN 5 power banks in 20003 valued at 62.00 each (310.00) WHEN 5 more come in on an other
    inbound at 65.00, then 3 leave on an other outbound THEN the inbound adds 325.00 (its
    price), the outbound leaves at the moving average 63.50 (190.50) and shows that cost in
    FPrice / FAmount, a price-less inbound adds nothing (its cost is maintained later), a cost
    adjustment adds its amount, and UnAudit of the outbound takes back exactly what it
    posted."""
    assert value("SKU-PB-1001", "20003") == (Decimal("5"), Decimal("310.00"))

    def other(form: str, number: str, qty_: int, **row) -> None:
        result = client.save(
            form,
            {
                "FBillNo": number,
                "FDate": "2026-05-08",
                **ORG,
                "FEntity": [
                    {
                        "FMaterialId": {"FNumber": "SKU-PB-1001"},
                        "FStockId": {"FNumber": "20003"},
                        "FQty": qty_,
                        **row,
                    }
                ],
            },
            auto_submit_audit=True,
        )
        assert result.ok, result.errors

    other("STK_MISCELLANEOUS", "IN-1", 5, FPrice="65.00")
    assert value("SKU-PB-1001", "20003") == (Decimal("10"), Decimal("635.00"))
    other("STK_MisDelivery", "OUT-1", 3)
    assert value("SKU-PB-1001", "20003") == (Decimal("7"), Decimal("444.50"))
    [row] = client.execute_bill_query(
        "STK_MisDelivery", ["FPrice", "FAmount"], filter_string="FBillNo = 'OUT-1'"
    )
    assert [Decimal(str(x)) for x in row] == [Decimal("63.5"), Decimal("190.50")]
    other("STK_MISCELLANEOUS", "IN-2", 1)
    assert value("SKU-PB-1001", "20003") == (Decimal("8"), Decimal("444.50"))
    adjust = client.save(
        "HS_AdjustmentBill",
        {
            "FDate": "2026-05-08",
            "FACCTGSYSTEMID": {"FNumber": "KJHSTX01_SYS"},
            "FAcctOrgID": {"FNumber": "100"},
            "FACCTPOLICYID": {"FNumber": "KJZC01_SYS"},
            "FEntity": [
                {
                    "FStockOrgID": {"FNumber": "100"},
                    "FMaterialID": {"FNumber": "SKU-PB-1001"},
                    "FStockID": {"FNumber": "20003"},
                    "FAdjustmentAMOUNT": "-4.50",
                }
            ],
        },
        auto_submit_audit=True,
    )
    assert adjust.ok
    assert value("SKU-PB-1001", "20003") == (Decimal("8"), Decimal("440.00"))
    assert client.unaudit("STK_MisDelivery", numbers=["OUT-1"]).ok
    assert value("SKU-PB-1001", "20003") == (Decimal("11"), Decimal("630.50"))
