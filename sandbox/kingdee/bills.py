"""Bill models as a Kingdee user enters them (purchase inbound, purchase return, direct
transfer, other in/outbound), for the simulator's callers: the test fixtures and the
benchmarks save them through the WebAPI (BatchSave with auto submit and audit).

Lines are tuples:
- purchase_inbound: (material, stock, qty, price, PO no.)
- purchase_return: (material, stock, qty, price, source inbound no.)
- transfer: (material, source stock, destination stock, qty)
- adjustment: (material, stock, qty)
"""

from django.utils import timezone

ORG = "100"


def _head(number: str, **fields) -> dict:
    return {"FBillNo": number, "FDate": timezone.localdate().isoformat(), **fields}


def purchase_inbound(number: str, *, supplier: str = "SUP001", lines, **header) -> dict:
    """STK_InStock."""
    return _head(
        number,
        FStockOrgId={"FNumber": ORG},
        FPurchaseOrgId={"FNumber": ORG},
        FSupplierId={"FNumber": supplier},
        FOwnerTypeIdHead="BD_OwnerOrg",
        FOwnerIdHead={"FNumber": ORG},
        **header,
        FInStockEntry=[
            {
                "FMaterialId": {"FNumber": material},
                "FStockId": {"FNumber": stock},
                "FRealQty": qty,
                "FTaxPrice": price,
                "FEntryTaxRate": "13",
                "FPOOrderNo": po,
            }
            for material, stock, qty, price, po in lines
        ],
    )


def purchase_return(
    number: str, *, supplier: str = "SUP002", reason: str, lines, reason_code: str = "01"
) -> dict:
    """PUR_MRB: the return reason is assistant data (FMRREASON {"FNumber": code}); the text a
    person types goes into the header remark FDESCRIPTION (docs/protocols/kingdee.md §4.8)."""
    return _head(
        number,
        FStockOrgId={"FNumber": ORG},
        FPurchaseOrgId={"FNumber": ORG},
        FSupplierID={"FNumber": supplier},
        FMRREASON={"FNumber": reason_code},
        FDESCRIPTION=reason,
        FOwnerTypeIdHead="BD_OwnerOrg",
        FOwnerIdHead={"FNumber": ORG},
        FPURMRBENTRY=[
            {
                "FMATERIALID": {"FNumber": material},
                "FSTOCKID": {"FNumber": stock},
                "FRMREALQTY": qty,
                "FTAXPRICE": price,
                "FSRCBillNo": source,
            }
            for material, stock, qty, price, source in lines
        ],
    )


def transfer(number: str, *, lines, note: str = "") -> dict:
    """STK_TransferDirect (inner-org, general)."""
    return _head(
        number,
        FTransferDirect="GENERAL",
        FTransferBizType="InnerOrgTransfer",
        FStockOutOrgId={"FNumber": ORG},
        FStockOrgId={"FNumber": ORG},
        FNote=note,
        FBillEntry=[
            {
                "FMaterialId": {"FNumber": material},
                "FSrcStockId": {"FNumber": src},
                "FDestStockId": {"FNumber": dest},
                "FQty": qty,
            }
            for material, src, dest, qty in lines
        ],
    )


def adjustment(number: str, *, lines, note: str = "") -> dict:
    """STK_MISCELLANEOUS (other inbound) or STK_MisDelivery (other outbound): same shape."""
    return _head(
        number,
        FStockOrgId={"FNumber": ORG},
        FStockDirect="GENERAL",
        FOwnerTypeIdHead="BD_OwnerOrg",
        FOwnerIdHead={"FNumber": ORG},
        FNote=note,
        FEntity=[
            {
                "FMaterialId": {"FNumber": material},
                "FStockId": {"FNumber": stock},
                "FQty": qty,
            }
            for material, stock, qty in lines
        ],
    )
