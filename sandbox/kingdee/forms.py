"""The business objects (forms) the simulated K3Cloud knows, with their keys.

Keys come from docs/protocols/kingdee.md §4; they are held in lower case because the real
server matches field keys case-insensitively. A key that is neither listed here nor a custom
field declared on the form (KdCustomField, "created in BOS") is answered with MsgCode 9
(元数据中标识为X的字段不存在), as the real server does (docs/protocols/kingdee.md §3.2), so an
integration that asks for `FCustId` on SAL_OUTSTOCK, or for an `F_PAEZ_*` field the tenant never
created, fails here exactly as it would in production.
"""

import re
from dataclasses import dataclass, field

CUSTOM_FIELD = re.compile(r"^f_[a-z0-9]+_[a-z0-9_]+$")

# One-row sub-heads: plain objects in a Save model whose keys are header keys in queries.
SUB_HEADS = frozenset(
    {
        "subheadentity",
        *(f"subheadentity{i}" for i in range(1, 8)),
        "finstockfin",
        "fpurmrbfin",
        "fsubheadfinc",
    }
)

# Stock effect of auditing a bill: +1 inbound, -1 outbound, 0 none; transfer and count special.
IN, OUT, TRANSFER, COUNT_GAIN, COUNT_LOSS, NONE = "in", "out", "transfer", "gain", "loss", "none"

# Reference keys (lower case) -> the base-data form they point at.
REFERENCES = {
    "fmaterialid": "BD_MATERIAL",
    "fstockid": "BD_STOCK",
    "fsrcstockid": "BD_STOCK",
    "fdeststockid": "BD_STOCK",
    "fcustomerid": "BD_Customer",
    "fretcustid": "BD_Customer",
    "fcustid": "BD_Customer",
    "fsupplierid": "BD_Supplier",
    # Assistant data (辅助资料): written {"FNumber": "01"}, read as FMRREASON.FDataValue (§4.8).
    "fmrreason": "BOS_ASSISTANTDATA_DETAIL",
    # 税组合 (tax combination): the sandbox keeps the numbers with the tax rates (§4.20 [U]).
    "ftaxcombination": "BD_TaxRate",
    "fcostid": "BD_Expense",
}
ORGS = {"100": "跨境电商事业部"}


@dataclass(frozen=True)
class FormSpec:
    """One form: how it is stored, numbered, validated and queried."""

    form_id: str
    name: str
    kind: str  # "bill" | "base" | "inventory"
    header: frozenset[str] = frozenset()
    entry_key: str = ""
    entry: frozenset[str] = frozenset()
    view_entry: str = ""
    prefix: str = ""
    bill_type: str = ""
    pk_key: str = "fid"
    org_key: str = "fstockorgid"
    # (key, Chinese label) required on the header / on every entry row
    required_header: tuple[tuple[str, str], ...] = ()
    required_entry: tuple[tuple[str, str], ...] = ()
    qty_key: str = ""
    stock_key: str = "fstockid"
    dest_stock_key: str = ""
    stock_effect: str = NONE
    base_qty_keys: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_bill(self) -> bool:
        return self.kind == "bill"

    def level_of(self, key: str, custom: dict[str, str]) -> str:
        """ "header", "entry" or "" (unknown: MsgCode 9) for a lower-case key; `custom` maps
        the form's declared custom fields to their level."""
        if key in self.header or key in SUB_HEADS or key in ("fid", self.pk_key):
            return "header"
        if key in self.entry or (self.entry_key and key == self.entry_key):
            return "entry"
        return custom.get(key, "")


CANONICAL: dict[str, str] = {}


def _keys(text: str) -> frozenset[str]:
    out = set()
    for key in text.split():
        CANONICAL.setdefault(key.lower(), key)
        out.add(key.lower())
    return frozenset(out)


def canonical(key: str) -> str:
    """The documented spelling of a lower-case key (FieldName in errors, View names)."""
    return CANONICAL.get(key, key)


_COMMON_BILL = _keys(
    "FID FBillNo FBillTypeID FDate FDocumentStatus FCreateDate FModifyDate FApproveDate "
    "FCreatorId FModifierId FApproverId FCancelStatus FOwnerTypeIdHead FOwnerIdHead"
)
# The header remark is FNote on most bills; PUR_MRB calls it FDESCRIPTION and STK_InStock has
# FNote only on its entry (docs/protocols/kingdee.md §4.7, §4.8).
_NOTE = _keys("FNote")
_OWNER_ROW = _keys("FOwnerTypeID FOwnerID FKeeperTypeId FKeeperId FStockStatusID FLot FAuxPropId")

FORMS: dict[str, FormSpec] = {}


def _add(spec: FormSpec) -> None:
    FORMS[spec.form_id.lower()] = spec


_add(
    FormSpec(
        form_id="SAL_OUTSTOCK",
        name="销售出库单",
        kind="bill",
        prefix="XSCKD",
        bill_type="XSCKD01_SYS",
        header=_COMMON_BILL
        | _NOTE
        | _keys(
            "FSaleOrgId FStockOrgId FCustomerID FSaleDeptID FSalesManID FSalesGroupID FStockerID "
            "FDeliveryDeptID FReceiverID FSettleID FPayerID FReceiveAddress FLinkMan FLinkPhone "
            "FCarrierID FCarriageNO FCorrespondOrgId FSettleOrgID FSettleCurrID FLocalCurrID "
            "FExchangeTypeID FExchangeRate FSettleTypeID FReceiptConditionID FPriceListId "
            "FIsIncludedTax FIsPriceExcludeTax FThirdBillNo FThirdBillId FThirdSrcType FBuyerNick "
            "FReceiverName FReceiverMobile FReceiverPhone FReceiverCountry FReceiverState "
            "FReceiverCity FReceiverDistrict FReceiverAddress FBillAmount FBillTaxAmount "
            "FBillAllAmount"
        ),
        entry_key="fentity",
        view_entry="SAL_OUTSTOCKENTRY",
        entry=_OWNER_ROW
        | _keys(
            "FENTRYID FRowType FMaterialID FUnitID FRealQty FPrice FTaxPrice FEntryTaxRate "
            "FDiscountRate FIsFree FStockID FStockLocID FProduceDate FExpiryDate FEntrynote "
            "FSalUnitID FSALUNITQTY FSALBASEQTY FPRICEBASEQTY FSOEntryId FThirdEntryId "
            "FETHIRDBILLID FETHIRDBILLNO FBaseUnitQty FAmount FAllAmount FBaseUnitId "
            "FTaxAmount FDiscount FTaxCombination"
        ),
        required_header=(
            ("fsaleorgid", "销售组织"),
            ("fstockorgid", "发货组织"),
            ("fcustomerid", "客户"),
            ("fdate", "日期"),
        ),
        required_entry=(
            ("fmaterialid", "物料编码"),
            ("fstockid", "仓库"),
            ("frealqty", "实发数量"),
        ),
        qty_key="frealqty",
        base_qty_keys=_keys("FBaseUnitQty FSALBASEQTY"),
        stock_effect=OUT,
    )
)
_add(
    FormSpec(
        form_id="SAL_RETURNSTOCK",
        name="销售退货单",
        kind="bill",
        prefix="XSTHD",
        bill_type="XSTHD01_SYS",
        header=_COMMON_BILL
        | _keys(
            "FSaleOrgId FRetcustId FSaledeptid FSalesManId FStockOrgId FStockDeptId FStockerId "
            "FReturnReason FReceiveCustId FSettleCustId FPayCustId FHeadNote FSettleCurrId "
            "FSettleOrgId FLocalCurrId FExchangeTypeId FExchangeRate FBillAmount FBillTaxAmount "
            "FBillAllAmount"
        ),
        entry_key="fentity",
        view_entry="SAL_RETURNSTOCKENTRY",
        entry=_OWNER_ROW
        | _keys(
            "FENTRYID FMaterialId FUnitID FRealQty FPrice FTaxPrice FEntryTaxRate FIsFree "
            "FReturnType FStocklocId FStockId FDeliveryDate FNote FSalUnitID FSalUnitQty "
            "FSalBaseQty FPriceBaseQty FSOEntryId FBaseunitQty FAmount FAllAmount FTaxAmount "
            "FDiscountRate FDiscount FTaxCombination"
        ),
        required_header=(
            ("fsaleorgid", "销售组织"),
            ("fstockorgid", "库存组织"),
            ("fretcustid", "退货客户"),
            ("fdate", "日期"),
        ),
        required_entry=(
            ("fmaterialid", "物料编码"),
            ("fstockid", "仓库"),
            ("frealqty", "实退数量"),
        ),
        qty_key="frealqty",
        base_qty_keys=_keys("FBaseunitQty FSalBaseQty"),
        stock_effect=IN,
    )
)
# 应收单 (docs/protocols/kingdee.md §4.20): created by Push from an outbound or a return
# (SAL_OUTSTOCK / SAL_RETURNSTOCK -> AR_receivable), or saved; rows with a material or an
# expense item (FCOSTID); a red receivable has negative quantities, so the quantity is not a
# required positive field here.
_add(
    FormSpec(
        form_id="AR_receivable",
        name="应收单",
        kind="bill",
        prefix="AR",
        bill_type="YSD01_SYS",
        org_key="fsettleorgid",
        header=_COMMON_BILL
        | _keys(
            "FCUSTOMERID FCURRENCYID FSETTLEORGID FSALEORGID FPAYORGID FSALEDEPTID FISINIT "
            "FISPRICEEXCLUDETAX FISTAX FBUSINESSTYPE FSetAccountType FENDDATE_H "
            "FACCNTTIMEJUDGETIME FSettleTypeID FMAINBOOKSTDCURRID FEXCHANGETYPE FExchangeRate "
            "FALLAMOUNTFOR "
            "FNoTaxAmountFor FTaxAmountFor FAR_Remark"
        ),
        entry_key="fentitydetail",
        view_entry="AR_receivableEntry",
        entry=_keys(
            "FEntryID FMATERIALID FCOSTID FPRICEUNITID FPriceQty FTaxPrice FPrice FEntryTaxRate "
            "FTaxCombination FEntryDiscountRate FDISCOUNTAMOUNTFOR FNoTaxAmountFor_D "
            "FTAXAMOUNTFOR_D FALLAMOUNTFOR_D FIsFree FSOURCETYPE FSourceBillNo FSRCROWID "
            "FComment FEntityDetail_Link"
        ),
        required_header=(
            ("fcustomerid", "客户"),
            ("fcurrencyid", "币别"),
            ("fsettleorgid", "结算组织"),
            ("fdate", "业务日期"),
        ),
        qty_key="fpriceqty",
        stock_key="",
    )
)
_add(
    FormSpec(
        form_id="STK_InStock",
        name="采购入库单",
        kind="bill",
        prefix="CGRK",
        bill_type="RKD01_SYS",
        header=_COMMON_BILL
        | _keys(
            "FStockOrgId FPurchaseOrgId FSupplierId FDemandOrgId FStockDeptId FStockerId "
            "FPurchaseDeptId FPurchaserId FSupplyId FSettleId FChargeId FBusinessType "
            "FSettleOrgId FSettleCurrId FIsIncludedTax FPriceTimePoint FLocalCurrId "
            "FExchangeTypeId FExchangeRate FISPRICEEXCLUDETAX"
        ),
        entry_key="finstockentry",
        view_entry="InStockEntry",
        entry=_OWNER_ROW
        | _keys(
            "FEntryID FRowType FMaterialId FUnitID FRealQty FPriceUnitID FPrice FTaxPrice "
            "FEntryTaxRate FStockId FStockLocId FGiveAway FNote FProduceDate FExpiryDate "
            "FSupplierLot FRemainInStockUnitId FRemainInStockQty FBaseUnitQty FAmount FAllAmount "
            "FTaxAmount FDiscountRate FDiscount "
            "FPOOrderNo FSRCBillNo FSRCBillTypeId"
        ),
        required_header=(
            ("fstockorgid", "收料组织"),
            ("fpurchaseorgid", "采购组织"),
            ("fsupplierid", "供应商"),
            ("fdate", "入库日期"),
        ),
        required_entry=(
            ("fmaterialid", "物料编码"),
            ("fstockid", "仓库"),
            ("frealqty", "实收数量"),
        ),
        qty_key="frealqty",
        base_qty_keys=_keys("FBaseUnitQty"),
        stock_effect=IN,
    )
)
_add(
    FormSpec(
        form_id="PUR_MRB",
        name="采购退料单",
        kind="bill",
        prefix="CGTL",
        bill_type="TLD01_SYS",
        header=_COMMON_BILL
        | _keys(
            "FMRTYPE FMRMODE FStockOrgId FRequireOrgId FPurchaseOrgId FSupplierID FMRDeptId "
            "FSTOCKERID FMRREASON FDESCRIPTION FACCEPTORID FSettleId FCHARGEID FSettleOrgId "
            "FSETTLETYPEID FSettleCurrId FIsIncludedTax FPRICETIMEPOINT FLOCALCURRID "
            "FEXCHANGETYPEID "
            "FEXCHANGERATE FISPRICEEXCLUDETAX"
        ),
        entry_key="fpurmrbentry",
        view_entry="PUR_MRBENTRY",
        entry=_OWNER_ROW
        | _keys(
            "FEntryID FMATERIALID FUnitID FRMREALQTY FPRICEUNITID FCarryUnitId FSTOCKID "
            "FSTOCKLOCID FPrice FTAXPRICE FENTRYTAXRATE FGiveAway FNOTE FSRCBillTypeId "
            "FSRCBillNo FBaseUnitQty"
        ),
        required_header=(
            ("fstockorgid", "退料组织"),
            ("fpurchaseorgid", "采购组织"),
            ("fsupplierid", "供应商"),
            ("fdate", "退料日期"),
        ),
        required_entry=(
            ("fmaterialid", "物料编码"),
            ("fstockid", "仓库"),
            ("frmrealqty", "实退数量"),
        ),
        qty_key="frmrealqty",
        base_qty_keys=_keys("FBaseUnitQty"),
        stock_effect=OUT,
    )
)
_add(
    FormSpec(
        form_id="STK_TransferDirect",
        name="直接调拨单",
        kind="bill",
        prefix="ZJDB",
        bill_type="ZJDB01_SYS",
        header=_COMMON_BILL
        | _NOTE
        | _keys(
            "FTransferDirect FTransferBizType FStockOutOrgId FOwnerTypeOutIdHead FOwnerOutIdHead "
            "FStockOrgId FBaseCurrId FSETTLECURRID FExchangeTypeId FExchangeRate"
        ),
        entry_key="fbillentry",
        view_entry="TransferDirectEntry",
        entry=_OWNER_ROW
        | _keys(
            "FEntryID FRowType FMaterialId FUnitID FQty FBaseQty FSrcStockId FSrcStockLocId "
            "FDestStockId FDestStockLocId FSrcStockStatusId FDestStockStatusId FOwnerTypeOutId "
            "FOwnerOutId FNoteEntry"
        ),
        required_header=(("fstockorgid", "调入库存组织"), ("fdate", "日期")),
        required_entry=(
            ("fmaterialid", "物料编码"),
            ("fsrcstockid", "调出仓库"),
            ("fdeststockid", "调入仓库"),
            ("fqty", "调拨数量"),
        ),
        qty_key="fqty",
        stock_key="fsrcstockid",
        dest_stock_key="fdeststockid",
        base_qty_keys=_keys("FBaseQty"),
        stock_effect=TRANSFER,
    )
)
_add(
    FormSpec(
        form_id="STK_MISCELLANEOUS",
        name="其他入库单",
        kind="bill",
        prefix="QTRKD",
        bill_type="QTRKD01_SYS",
        header=_COMMON_BILL
        | _NOTE
        | _keys(
            "FStockOrgId FStockDirect FSUPPLIERID FDEPTID FSTOCKERID FSTOCKERGROUPID FBaseCurrId"
        ),
        entry_key="fentity",
        view_entry="STK_MISCELLANEOUSENTRY",
        entry=_OWNER_ROW
        | _keys(
            "FEntryID FInStockType FMATERIALID FUnitID FQty FSTOCKID FStockLocId FPRODUCEDATE "
            "FEntryNote FBaseQty FPrice FAmount"
        ),
        required_header=(("fstockorgid", "库存组织"), ("fdate", "日期")),
        required_entry=(
            ("fmaterialid", "物料编码"),
            ("fstockid", "收货仓库"),
            ("fqty", "实收数量"),
        ),
        qty_key="fqty",
        base_qty_keys=_keys("FBaseQty"),
        stock_effect=IN,
    )
)
_add(
    FormSpec(
        form_id="STK_MisDelivery",
        name="其他出库单",
        kind="bill",
        prefix="QTCKD",
        bill_type="QTCKD01_SYS",
        header=_COMMON_BILL
        | _NOTE
        | _keys(
            "FStockOrgId FPickOrgId FStockDirect FCustId FDeptId FStockerId FBizType FBaseCurrId"
        ),
        entry_key="fentity",
        view_entry="BillEntry",
        entry=_OWNER_ROW
        | _keys(
            "FEntryID FMaterialId FUnitID FQty FBaseUnitId FStockId FStockLocId FEntryNote FBaseQty"
        ),
        required_header=(("fstockorgid", "库存组织"), ("fdate", "日期")),
        required_entry=(
            ("fmaterialid", "物料编码"),
            ("fstockid", "发货仓库"),
            ("fqty", "实发数量"),
        ),
        qty_key="fqty",
        base_qty_keys=_keys("FBaseQty"),
        stock_effect=OUT,
    )
)
for _form_id, _name, _prefix, _type, _effect, _table in (
    ("STK_StockCountGain", "盘盈单", "PY", "PY01_SYS", COUNT_GAIN, "STK_STKCOUNTGAINENTRY"),
    ("STK_StockCountLoss", "盘亏单", "PK", "PK01_SYS", COUNT_LOSS, "STK_STKCOUNTLOSSENTRY"),
):
    _add(
        FormSpec(
            form_id=_form_id,
            name=_name,
            kind="bill",
            prefix=_prefix,
            bill_type=_type,
            header=_COMMON_BILL | _keys("FStockOrgId FNoteHead"),
            entry_key="fbillentry",
            view_entry=_table,
            entry=_OWNER_ROW
            | _keys(
                "FEntryID FMaterialId FUnitID FStockId FStockLocId FCountQty FAcctQty FGainQty "
                "FLossQty FNote FBaseQty"
            ),
            required_header=(("fstockorgid", "库存组织"), ("fdate", "日期")),
            required_entry=(
                ("fmaterialid", "物料编码"),
                ("fstockid", "仓库"),
                ("fcountqty", "盘点数量"),
            ),
            qty_key="fcountqty",
            stock_effect=_effect,
        )
    )
# 存货核算 cost adjustment bill (docs/protocols/kingdee.md §4.16): adjusts the inventory value
# (FAdjustmentAMOUNT) of a material in a warehouse under one accounting system, accounting org
# and accounting policy. No quantity, no stock effect.
_add(
    FormSpec(
        form_id="HS_AdjustmentBill",
        name="成本调整单",
        kind="bill",
        prefix="CBTZ",
        bill_type="CBTZD01_SYS",
        org_key="facctorgid",
        header=_COMMON_BILL
        | _keys("FACCTGSYSTEMID FAcctOrgID FACCTPOLICYID FBusinessType FCurrencyId FDESCRIPTION"),
        entry_key="fentity",
        view_entry="HS_AdjustmentBillEntry",
        entry=_keys(
            "FEntryID FStockOrgID FMaterialID FSTOCKSTATUSID FStockID FOwnerTypeID FOwnerID "
            "FLot FAdjustmentAMOUNT FNote"
        ),
        required_header=(
            ("facctgsystemid", "核算体系"),
            ("facctorgid", "核算组织"),
            ("facctpolicyid", "会计政策"),
            ("fdate", "日期"),
        ),
        required_entry=(
            ("fmaterialid", "物料编码"),
            ("fstockid", "仓库"),
            ("fadjustmentamount", "调整金额"),
        ),
    )
)
_add(
    FormSpec(
        form_id="GL_VOUCHER",
        name="凭证",
        kind="bill",
        prefix="JZ",
        pk_key="fvoucherid",
        org_key="faccountbookid",
        header=_keys(
            "FVOUCHERID FBillNo FAccountBookID FDate FVOUCHERGROUPID FVOUCHERGROUPNO FATTACHMENTS "
            "FYEAR FPERIOD FDocumentStatus FISADJUSTVOUCHER FSourceBillKey FCreateDate "
            "FModifyDate FApproveDate FCreatorId"
        ),
        entry_key="fentity",
        view_entry="VoucherEntry",
        entry=_keys(
            "FEntryID FEXPLANATION FACCOUNTID FDetailID FCURRENCYID FEXCHANGERATETYPE "
            "FEXCHANGERATE FAMOUNTFOR FDEBIT FCREDIT FSettleTypeID FSETTLENO FQty FPrice FUnitId"
        ),
        required_header=(("faccountbookid", "账簿"), ("fdate", "日期")),
        required_entry=(("faccountid", "科目编码"),),
    )
)

_COMMON_BASE = _keys(
    "FNumber FName FCreateOrgId FUseOrgId FDocumentStatus FForbidStatus FCreateDate "
    "FModifyDate FApproveDate FDescription FShortName FMasterId"
)
_add(
    FormSpec(
        form_id="BD_MATERIAL",
        name="物料",
        kind="base",
        pk_key="fmaterialid",
        org_key="fuseorgid",
        header=_COMMON_BASE
        | _keys(
            "FMATERIALID FSpecification FOldNumber FMnemonicCode FMaterialGroup FImgStorageType "
            "FIsSalseByNet FErpClsID FCategoryID FTaxType FTaxRateId FBaseUnitId FIsPurchase "
            "FIsInventory FIsSale FIsProduce FIsSubContract FIsAsset FGROSSWEIGHT FNETWEIGHT "
            "FWEIGHTUNITID FLENGTH FWIDTH FHEIGHT FVOLUME FVOLUMEUNITID FStoreUnitID "
            "FIsBatchManage FIsKFPeriod FExpPeriod FIsSNManage FSaleUnitId FPurchaseUnitId "
            "FBARCODE"
        ),
        required_header=(("fnumber", "编码"), ("fname", "名称")),
    )
)
_add(
    FormSpec(
        form_id="BD_Customer",
        name="客户",
        kind="base",
        pk_key="fcustid",
        org_key="fuseorgid",
        header=_COMMON_BASE
        | _keys(
            "FCUSTID FCOUNTRY FPROVINCIAL FADDRESS FTEL FTRADINGCURRID FCustTypeId FGroup "
            "FSETTLETYPEID FRECCONDITIONID FInvoiceType FTaxType FTaxRate FSELLER FSALDEPTID "
            "FIsGroup FIsDefPayer FTAXREGISTERCODE"
        ),
        required_header=(("fnumber", "编码"), ("fname", "名称")),
    )
)
_add(
    FormSpec(
        form_id="BD_Supplier",
        name="供应商",
        kind="base",
        pk_key="fsupplierid",
        org_key="fuseorgid",
        header=_COMMON_BASE
        | _keys("FSupplierId FGroup FCountry FAddress FSupplyClassify FPayCurrencyId FTaxRateId"),
        required_header=(("fnumber", "编码"), ("fname", "名称")),
    )
)
_add(
    FormSpec(
        form_id="BD_STOCK",
        name="仓库",
        kind="base",
        pk_key="fstockid",
        org_key="fuseorgid",
        header=_COMMON_BASE
        | _keys(
            "FStockId FStockProperty FStockStatusType FDefStockStatusId FAllowMinusQty "
            "FIsOpenLocation FAllowLock FAllowMRPPlan FAvailablePicking FAddress FThirdStockType"
        ),
        required_header=(("fnumber", "编码"), ("fname", "名称")),
    )
)
# Base data the flows only reference (docs/protocols/kingdee.md §4.17): read by the preflight.
for _form_id, _name, _pk, _extra in (
    ("BD_Currency", "币别", "fcurrencyid", "FCurrencyId FCODE FPRICEDIGITS FAMOUNTDIGITS"),
    ("BD_RateType", "汇率类型", "fratetypeid", "FRateTypeId"),
    ("BD_TaxRate", "税率", "fid", "FID FTaxRate"),
    ("BD_Account", "科目", "facctid", "FAcctID FAcctGroupId FDC FIsDetail"),
    ("BD_Expense", "费用项目", "fexpid", "FEXPID FExpenseType FAccountId"),
    ("BOS_BillType", "单据类型", "fbilltypeid", "FBillTypeID FBillFormID FIsDefault"),
    ("BOS_ASSISTANTDATA_DETAIL", "辅助资料", "fentryid", "FEntryID FId FDataValue"),
):
    _add(
        FormSpec(
            form_id=_form_id,
            name=_name,
            kind="base",
            pk_key=_pk,
            org_key="fuseorgid",
            header=_COMMON_BASE | _keys(_extra),
            required_header=(("fnumber", "编码"), ("fname", "名称")),
        )
    )
_add(
    FormSpec(
        form_id="STK_Inventory",
        name="即时库存",
        kind="inventory",
        header=_keys(
            "FID FStockOrgId FStockId FStockLocId FMaterialId FLot FStockStatusId FOwnerTypeId "
            "FOwnerId FKeeperTypeId FKeeperId FAuxPropId FBaseUnitId FBaseQty FQty FBaseLockQty "
            "FBaseAvbQty FUpdateTime"
        ),
    )
)


# 财务 forms the export-refund chain (K2) reads where a tenant keeps purchase VAT invoices and
# FX receipts in Kingdee (docs/protocols/kingdee.md §4.18). Header keys as the K3Cloud data
# dictionary lists them; the link to a declaration is the tenant's own custom field.
_add(
    FormSpec(
        form_id="IV_PURCHASEIC",
        name="采购增值税专用发票",
        kind="bill",
        prefix="CGZP",
        org_key="fsettleorgid",
        header=_COMMON_BILL
        | _keys(
            "FSUPPLIERID FCURRENCYID FINVOICENO FINVOICEDATE FSETTLEORGID FPURCHASEORGID "
            "FRedBlue FISTAX FEXCHANGERATE FTAXAMOUNTFOR FHEADAUXPRICEFOR FAFTERTOTALTAXFOR"
        ),
        required_header=(("fdate", "业务日期"), ("fsupplierid", "供应商")),
    )
)
_add(
    FormSpec(
        form_id="AR_RECEIVEBILL",
        name="收款单",
        kind="bill",
        prefix="SKD",
        org_key="fpayorgid",
        header=_COMMON_BILL
        | _keys(
            "FCONTACTUNITTYPE FCONTACTUNIT FPAYUNITTYPE FPAYUNIT FCURRENCYID FPAYORGID "
            "FSETTLEORGID FEXCHANGERATE FRECEIVEAMOUNTFOR FREALRECAMOUNTFOR FREMARK"
        ),
        required_header=(("fdate", "业务日期"), ("fcurrencyid", "币别")),
    )
)
# A form created in BOS by the tenant (自定义单据, e.g. PAEZ_CustomsDecl): it exists once a
# custom field is declared on it (sandbox.kingdee.bos); header keys are the common bill keys,
# rows are the BOS default entity FEntity [U: the default key of a new bill's 单据体].
CUSTOM_FORM_ENTRY = "FEntity"


def custom_form(form_id: str, name: str) -> FormSpec:
    return FormSpec(
        form_id=form_id,
        name=name,
        kind="bill",
        prefix=re.sub(r"[^A-Z0-9]", "", form_id.upper())[:10],
        header=_COMMON_BILL,
        entry_key=CUSTOM_FORM_ENTRY.lower(),
        entry=_keys("FEntryID FSeq"),
        view_entry=CUSTOM_FORM_ENTRY,
    )


def get(form_id: str) -> FormSpec | None:
    """The form's spec: a standard form above, or a form the tenant created in BOS."""
    spec = FORMS.get((form_id or "").lower())
    if spec is not None or not form_id:
        return spec
    from . import bos

    return bos.custom_form(form_id)
