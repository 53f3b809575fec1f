"""What each flow needs on the Kingdee tenant: the forms it reads or writes, every field key it
uses (custom `F_*` fields included, named as the flow settings name them) and the base data it
references. The Kingdee preflight (connectors.kingdee.preflight) proves each of them with a
one-row query before a flow may be switched on (docs/protocols/kingdee.md §7).

Keep this in step with the flows' transforms: the sandbox refuses any key a tenant has not
created (MsgCode 9), and tests/connectors/kingdee/test_preflight.py checks that the demo tenant
declares every custom field listed here (plus two read outside the flows' defaults).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..choices import FlowCode
from .base import FlowContext
from .kingdee_common import custom_field, order_no_field

HEADER, ENTRY = "header", "entry"


@dataclass(frozen=True)
class FieldNeed:
    """One field key a flow uses on a form (query key; custom fields start with F_)."""

    form_id: str
    key: str
    level: str = HEADER
    kind: str = "text"
    length: int = 0
    setting: str = ""  # the flow setting that names this key, for the fix text

    @property
    def custom(self) -> bool:
        return self.key.upper().startswith("F_")


@dataclass(frozen=True)
class BaseNeed:
    """A base-data record a flow references by number."""

    form_id: str
    number: str
    label: str  # e.g. "customer of shop 10001"
    where: str = ""  # where the number comes from (mapping / setting), for the fix text
    org_specific: bool = False


@dataclass
class Needs:
    fields: list[FieldNeed] = field(default_factory=list)
    base: list[BaseNeed] = field(default_factory=list)

    def add(self, form_id: str, keys: str, level: str = HEADER, setting: str = "") -> None:
        for key in keys.split():
            self.fields.append(FieldNeed(form_id, key, level, setting=setting))

    def custom(
        self,
        ctx: FlowContext,
        form_id: str,
        names: str,
        level: str = HEADER,
        kind: str = "text",
        length: int = 0,
    ) -> None:
        for name in names.split():
            self.fields.append(
                FieldNeed(
                    form_id,
                    custom_field(ctx, name),
                    level,
                    kind,
                    length,
                    setting="custom_prefix",
                )
            )


def _org(ctx: FlowContext) -> str:
    return ctx.integration.kingdee.org_number


def _customers_and_stocks(ctx: FlowContext, needs: Needs) -> None:
    from mappings.models import ShopCustomerMapping, WarehouseMapping

    for shop, customer in ShopCustomerMapping.objects.filter(
        integration=ctx.integration
    ).values_list("shop_id", "customer_number"):
        needs.base.append(
            BaseNeed(
                "BD_Customer",
                customer,
                f"customer of shop {shop}",
                "shop → customer mapping",
                True,
            )
        )
    for wms, stock in WarehouseMapping.objects.filter(integration=ctx.integration).values_list(
        "wms_co_id", "stock_number"
    ):
        needs.base.append(
            BaseNeed("BD_STOCK", stock, f"warehouse of {wms}", "warehouse mapping", True)
        )


def _currencies(ctx: FlowContext, needs: Needs) -> None:
    from mappings.choices import CodeKind
    from mappings.models import CodeMapping

    numbers = {"PRE001": "CNY"}
    for iso, number in CodeMapping.objects.filter(
        integration=ctx.integration, kind=CodeKind.CURRENCY
    ).values_list("jushuitan_code", "kingdee_code"):
        numbers[number] = iso
    for number, iso in sorted(numbers.items()):
        needs.base.append(BaseNeed("BD_Currency", number, f"currency {iso}", "code mapping"))
    rate_type = ctx.setting("exchange_type", "HLTX01_SYS")
    needs.base.append(
        BaseNeed("BD_RateType", rate_type, "exchange-rate type", "flow setting exchange_type")
    )


def _tax_rates(ctx: FlowContext, needs: Needs) -> None:
    from mappings.models import TaxTemplate

    numbers = set(
        TaxTemplate.objects.filter(integration=ctx.integration)
        .exclude(kingdee_tax_number="")
        .values_list("kingdee_tax_number", flat=True)
    )
    for number in sorted(numbers):
        needs.base.append(BaseNeed("BD_TaxRate", number, "tax rate", "tax templates"))


def _accounts(ctx: FlowContext, needs: Needs) -> None:
    """The accounts the FX-difference vouchers book to (GL_VOUCHER, F6)."""
    from finance.models import FinanceSettings
    from mappings.models import AccountMapping

    numbers = dict.fromkeys(
        AccountMapping.objects.filter(integration=ctx.integration).values_list(
            "account_number", flat=True
        ),
        "account mapping",
    )
    settings = FinanceSettings.objects.filter(integration=ctx.integration).first()
    for number in (
        (settings.receivable_account, settings.payable_account) if settings else ("1122", "2202")
    ):
        numbers.setdefault(number, "finance settings")
    for number, where in sorted(numbers.items()):
        needs.base.append(BaseNeed("BD_Account", number, "account", where))
    needs.add("GL_VOUCHER", "FVOUCHERID FBillNo FAccountBookID FDate FVOUCHERGROUPID")
    needs.add("GL_VOUCHER", "FEXPLANATION FACCOUNTID FDEBIT FCREDIT", ENTRY)
    needs.fields.append(FieldNeed("GL_VOUCHER", "F_PAEZ_PortalKey", HEADER, "text", 100))


def _receivables(ctx: FlowContext, needs: Needs) -> None:
    """AR_receivable and the expense items of its charge lines, when the portal pushes
    receivables (flows/definitions/receivables.py); the tenant's own generation is checked
    by the preflight instead."""
    from mappings.choices import CodeKind
    from mappings.models import CodeMapping

    form = "AR_receivable"
    needs.add(form, "FID FBillNo FDocumentStatus FCUSTOMERID FCURRENCYID FALLAMOUNTFOR")
    needs.add(form, "FSourceBillNo FSOURCETYPE FCOSTID FPriceQty FTaxPrice FALLAMOUNTFOR_D", ENTRY)
    if ctx.setting("receivable", "push") != "push":
        return
    for kind, number in CodeMapping.objects.filter(
        integration=ctx.integration, kind=CodeKind.EXPENSE_ITEM
    ).values_list("jushuitan_code", "kingdee_code"):
        needs.base.append(BaseNeed("BD_Expense", number, f"expense item {kind}", "code mapping"))


def _bill_type(ctx: FlowContext, needs: Needs, default: str, form_id: str) -> None:
    number = ctx.setting("bill_type", default)
    needs.base.append(BaseNeed("BOS_BillType", number, f"bill type of {form_id}", "bill_type"))


def sales_outbound(ctx: FlowContext) -> Needs:
    needs = Needs()
    form = "SAL_OUTSTOCK"
    needs.add(
        form,
        "FBillNo FBillTypeID FDate FSaleOrgId FStockOrgId FCustomerID FCarriageNO FNote "
        "FSettleCurrID FSettleOrgID FExchangeTypeID FExchangeRate FDocumentStatus",
    )
    needs.add(
        form,
        "FRowType FMaterialID FRealQty FTaxPrice FEntryTaxRate FIsFree FStockID FEntrynote "
        "FDiscount FTaxCombination FAllAmount",
        ENTRY,
    )
    needs.fields.append(
        FieldNeed(form, order_no_field(ctx), HEADER, "text", 100, setting="order_no_field")
    )
    needs.custom(ctx, form, "BuyerId LogisticsNo LogisticsCompany", length=100)
    needs.custom(ctx, form, "ShopId", length=50)
    needs.custom(ctx, form, "Currency", length=10)
    needs.custom(ctx, form, "TradeAmount TradeAmountCNY Commission CommissionCNY", kind="decimal")
    needs.custom(ctx, form, "RateDate", kind="date")
    needs.custom(ctx, form, "SkuId", ENTRY, length=100)
    needs.custom(ctx, form, "HSCode", ENTRY, length=20)
    needs.custom(ctx, form, "NetAmount NetAmountCNY", ENTRY, kind="decimal")
    needs.custom(ctx, "BD_MATERIAL", "HSCode", length=20)
    needs.custom(ctx, "BD_MATERIAL", "EnName", length=255)
    needs.custom(ctx, "BD_MATERIAL", "DeclaredPrice", kind="decimal")
    _customers_and_stocks(ctx, needs)
    _currencies(ctx, needs)
    _tax_rates(ctx, needs)
    _bill_type(ctx, needs, "XSCKD01_SYS", form)
    _accounts(ctx, needs)
    _receivables(ctx, needs)
    return needs


def sales_return(ctx: FlowContext) -> Needs:
    needs = Needs()
    form = "SAL_RETURNSTOCK"
    needs.add(
        form,
        "FBillNo FBillTypeID FDate FSaleOrgId FStockOrgId FRetcustId FHeadNote FSettleCurrId "
        "FSettleOrgId FExchangeTypeId FExchangeRate FDocumentStatus",
    )
    needs.add(
        form,
        "FMaterialId FRealQty FTaxPrice FEntryTaxRate FIsFree FReturnType FStockId FNote "
        "FDiscount FTaxCombination FAllAmount",
        ENTRY,
    )
    needs.fields.append(
        FieldNeed(form, order_no_field(ctx), HEADER, "text", 100, setting="order_no_field")
    )
    needs.custom(ctx, form, "SrcBillNo", length=80)
    needs.custom(ctx, form, "AfterSaleId", length=50)
    needs.custom(ctx, form, "Currency", length=10)
    needs.custom(ctx, form, "RefundAmount RefundAmountCNY", kind="decimal")
    needs.custom(ctx, form, "RateDate", kind="date")
    needs.custom(ctx, form, "SkuId", ENTRY, length=100)
    needs.custom(ctx, form, "Amount AmountCNY", ENTRY, kind="decimal")
    _customers_and_stocks(ctx, needs)
    _currencies(ctx, needs)
    _bill_type(ctx, needs, "XSTHD01_SYS", form)
    _accounts(ctx, needs)
    _receivables(ctx, needs)
    return needs


def _source_forms(ctx: FlowContext, code: str) -> Needs:
    """Kingdee → Jushuitan flows: every key their ExecuteBillQuery names (source_keys
    overrides included), at the level the SourceForm puts it."""
    from . import definition_for

    needs = Needs()
    definition = definition_for(code)
    for form in definition.source_forms(ctx):
        entry = set(form.entry.values()) | {f"{form.entry_key}_FEntryID"}
        for key in form.keys():  # noqa: SIM118 - SourceForm.keys(), not a dict
            needs.fields.append(
                FieldNeed(
                    form.form_id,
                    key,
                    ENTRY if key in entry else HEADER,
                    setting="source_keys",
                )
            )
    return needs


def purchase_return(ctx: FlowContext) -> Needs:
    from .purchase_return import DEFAULT_WRITEBACK

    needs = _source_forms(ctx, FlowCode.PURCHASE_RETURN)
    if ctx.setting("writeback", True):
        fields = {**DEFAULT_WRITEBACK, **ctx.setting("writeback_fields", {})}
        needs.fields.append(
            FieldNeed("PUR_MRB", fields["reason"], HEADER, "text", 255, "writeback_fields")
        )
        needs.fields.append(
            FieldNeed("PUR_MRB", fields["jst_no"], HEADER, "text", 100, "writeback_fields")
        )
    return needs


def stock_count(ctx: FlowContext) -> Needs:
    from .stock_count import DIRECTIONS

    needs = Needs()
    for spec in DIRECTIONS.values():
        form = spec["form"]
        needs.add(form, f"FBillNo FBillTypeID FDate FStockOrgId FStockDirect {spec['note_key']}")
        needs.add(
            form,
            " ".join((spec["material"], "FQty", spec["stock"], spec["status"], spec["owner_type"]))
            + f" {spec['owner']} FEntryNote",
            ENTRY,
        )
        needs.custom(ctx, form, "CountNo", length=50)
        needs.custom(ctx, form, "SkuId", ENTRY, length=100)
        needs.custom(ctx, form, "BookQty CountedQty", ENTRY, kind="decimal")
        needs.base.append(BaseNeed("BOS_BillType", spec["bill_type"], f"bill type of {form}", ""))
    # Gains are priced at Kingdee's unit cost (docs/finance/stock-counts.md §2).
    needs.add("STK_MISCELLANEOUS", "FPrice FAmount", ENTRY)
    key = str(ctx.setting("unit_cost_field", custom_field(ctx, "UnitCost")))
    needs.fields.append(FieldNeed("BD_MATERIAL", key, HEADER, "decimal", 0, "unit_cost_field"))
    # F8.2 opt-in revaluation: the cost adjustment form and its configured keys, only while
    # `revaluation` is "propose" (docs/protocols/kingdee.md §4.16, §7).
    from .count_revaluation import add_needs

    add_needs(ctx, needs)
    from mappings.models import WarehouseMapping

    for wms, stock in WarehouseMapping.objects.filter(integration=ctx.integration).values_list(
        "wms_co_id", "stock_number"
    ):
        needs.base.append(
            BaseNeed("BD_STOCK", stock, f"warehouse of {wms}", "warehouse mapping", True)
        )
    return needs


def material_sync(ctx: FlowContext) -> Needs:
    from .material_sync import FORM, kingdee_keys, query_keys

    needs = Needs()
    custom = set(kingdee_keys(ctx).values())
    for key in query_keys(ctx):
        needs.fields.append(
            FieldNeed(FORM, key, HEADER, setting="kingdee_fields" if key in custom else "")
        )
    return needs


def master_data(ctx: FlowContext) -> Needs:
    from .master_data import FORM, KEYS

    needs = Needs()
    for key in KEYS:
        needs.fields.append(FieldNeed(FORM, key, HEADER))
    return needs


NEEDS = {
    FlowCode.SALES_OUTBOUND: sales_outbound,
    FlowCode.SALES_RETURN: sales_return,
    FlowCode.PURCHASE_INBOUND: lambda ctx: _source_forms(ctx, FlowCode.PURCHASE_INBOUND),
    FlowCode.PURCHASE_RETURN: purchase_return,
    FlowCode.TRANSFER: lambda ctx: _source_forms(ctx, FlowCode.TRANSFER),
    FlowCode.INVENTORY_ADJUST: lambda ctx: _source_forms(ctx, FlowCode.INVENTORY_ADJUST),
    FlowCode.STOCK_COUNT: stock_count,
    FlowCode.MATERIAL_SYNC: material_sync,
    FlowCode.MASTER_DATA: master_data,
}


def kingdee_needs(ctx: FlowContext) -> Needs:
    """What the flow of `ctx` needs on the Kingdee tenant (nothing for an unknown code)."""
    builder = NEEDS.get(ctx.flow.code)
    return builder(ctx) if builder else Needs()
