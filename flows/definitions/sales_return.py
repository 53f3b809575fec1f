"""F3 Sales returns (销售退货): Jushuitan after-sale orders whose goods came back (status Confirmed,
received quantity > 0) become Kingdee SAL_RETURNSTOCK bills linked to the original outbound, with
F2's mapping and FX rules (docs/requirements.md F3.1; docs/field-maps.md §2).

A refund-only after-sale (仅退款) moves no stock: it is kept as filtered with that reason.
A return whose original outbound has not reached Kingdee waits for it (dependency retry).
"""

from __future__ import annotations

from decimal import Decimal
from functools import partial

from django.utils.translation import gettext as _

from mappings.errors import MappingMissing
from mappings.rates import to_cny

from ..choices import DocumentState, ErrorClass, FlowCode, System
from ..money import money
from . import register
from .base import FlowContext, Problem, SourceRecord, ValidationProblem
from .kingdee_common import (
    KingdeeBillFlow,
    business_date,
    custom_field,
    mapping_problem,
    order_no_field,
)
from .sales_outbound import CNY, _decimal, currency_number, line_objects, parse_time, rates

# After-sale types that bring goods back (普通退货 return, 拒收退货 refused, 换货 exchange leg).
RETURN_TYPES = ("普通退货", "拒收退货", "换货")
RETURN_WAREHOUSE = 2  # 销退仓, the sales-return warehouse inside a company


def returned_items(after_sale: dict) -> list[dict]:
    return [i for i in line_objects(after_sale) if _received(i) > 0]


def _received(item: dict) -> Decimal:
    try:
        return Decimal(str(item.get("r_qty") or 0))
    except ArithmeticError:
        return Decimal(0)


def after_sale_record(after_sale: dict) -> SourceRecord:
    record = SourceRecord(
        source_key=f"as:{after_sale.get('as_id')}",
        payload=after_sale,
        modified_at=parse_time(after_sale.get("modified")),
        platform_order_no=str(after_sale.get("so_id") or ""),
        skus=[str(i["sku_id"]) for i in line_objects(after_sale) if i.get("sku_id")],
        shop_id=str(after_sale.get("shop_id") or ""),
        warehouse_code=str(after_sale.get("wms_co_id") or ""),
    )
    if after_sale.get("status") not in (None, "Confirmed"):
        record.filter_reason = _("after-sale status is %(status)s, not Confirmed") % {
            "status": after_sale.get("status")
        }
    elif after_sale.get("type") and after_sale["type"] not in RETURN_TYPES:
        record.filter_reason = _("after-sale type %(type)s moves no stock (refund only)") % {
            "type": after_sale["type"]
        }
    elif not returned_items(after_sale):
        record.filter_reason = _("no goods were received back (r_qty is 0)")
    return record


@register
class SalesReturn(KingdeeBillFlow):
    code = FlowCode.SALES_RETURN
    source_system = System.JUSHUITAN
    form_id = "SAL_RETURNSTOCK"
    pull_window_seconds = 24 * 3600
    bill_prefix = "JSTTH"

    def extract(self, ctx: FlowContext, *, start, end):
        for row in ctx.jushuitan.refunds(start=start, end=end, status="Confirmed"):
            yield after_sale_record(row)

    def parse_push(self, ctx: FlowContext, item: dict) -> SourceRecord:
        for field in ("as_id", "so_id", "shop_id"):
            if item.get(field) in (None, ""):
                raise ValidationProblem(
                    _("%(field)s is required (a Jushuitan after-sale row).") % {"field": field},
                    field_name=field,
                )
        return after_sale_record(item)

    def validate(self, ctx: FlowContext, document) -> None:
        after_sale = document.source_payload
        for n, item in enumerate(returned_items(after_sale), start=1):
            if not item.get("sku_id"):
                raise ValidationProblem(
                    _("Line %(n)d has no sku_id.") % {"n": n}, field_name=f"items[{n}].sku_id"
                )
            if _decimal(item.get("price"), f"items[{n}].price") < 0:
                raise ValidationProblem(
                    _("Line %(n)d has a negative price.") % {"n": n},
                    field_name=f"items[{n}].price",
                    missing=False,
                )
        if self._date(after_sale) is None:
            raise ValidationProblem(
                _("The after-sale has no receive, confirm or modified date."),
                field_name="confirm_date",
            )

    def _date(self, after_sale: dict):
        received = [
            i.get("receive_date") for i in after_sale.get("items") or [] if i.get("receive_date")
        ]
        for value in (*received, after_sale.get("confirm_date"), after_sale.get("modified")):
            found = business_date(value)
            if found:
                return found
        return None

    def _original_outbound(self, ctx: FlowContext, after_sale: dict) -> str:
        """The bill no. of the sales outbound this return reverses (F2's deterministic number);
        waits while that outbound has not reached Kingdee."""
        from ..models import SyncDocument

        original = (
            SyncDocument.objects.filter(
                integration=ctx.integration,
                flow__code=FlowCode.SALES_OUTBOUND,
                source_key=f"o:{after_sale.get('o_id')}",
            )
            .values("state", "target_key")
            .first()
        )
        if original is None:
            return ""  # the order was shipped before the portal went live: no link to wait for
        if original["state"] != DocumentState.SYNCED:
            raise Problem(
                _("The original sales outbound of order %(so)s has not reached Kingdee yet.")
                % {"so": after_sale.get("so_id")},
                error_class=ErrorClass.DEPENDENCY,
                subject=_("order %(so)s") % {"so": after_sale.get("so_id")},
                stage="map",
            )
        return original["target_key"]

    def transform(self, ctx: FlowContext, document) -> tuple[dict, str]:
        after_sale = document.source_payload
        f = partial(custom_field, ctx)
        on_date = self._date(after_sale)
        currency = str(after_sale.get("currency") or CNY).upper()
        items = returned_items(after_sale)
        resolver = ctx.mappings
        try:
            customer = resolver.customer_for_shop(after_sale["shop_id"])
            stock = resolver.stock_for_warehouse(
                after_sale.get("wms_co_id") or 0, after_sale.get("wh_id") or RETURN_WAREHOUSE
            )
            materials = [resolver.material_for_sku(str(i["sku_id"])) for i in items]
            settle_currency = currency_number(ctx, currency)
        except MappingMissing as exc:
            raise mapping_problem(exc) from exc
        source_bill = self._original_outbound(ctx, after_sale)
        quote = rates(ctx).quote(currency, on_date) if currency != CNY else None
        entries = []
        for item, material in zip(items, materials, strict=True):
            qty = _received(item)
            price = money(item.get("price"))
            amount = money(price * qty)
            entries.append(
                {
                    "FMaterialId": {"FNumber": material},
                    "FRealQty": str(qty),
                    "FTaxPrice": str(price),
                    "FEntryTaxRate": str(ctx.setting("return_tax_rate", "0")),
                    "FIsFree": bool(item.get("is_gift")) or price == 0,
                    "FReturnType": {"FNumber": ctx.setting("return_type", "THLX01_SYS")},
                    "FStockId": {"FNumber": stock},
                    "FNote": str(item.get("remark") or "")[:255],
                    f("SkuId"): str(item["sku_id"]),
                    f("Amount"): str(amount),
                    f("AmountCNY"): str(to_cny(amount, quote) if quote else amount),
                }
            )
        bill_no = f"{ctx.setting('bill_prefix', self.bill_prefix)}{after_sale['as_id']}"
        refund = money(after_sale.get("refund"))
        payload = {
            "FBillNo": bill_no,
            "FBillTypeID": {"FNumber": ctx.setting("bill_type", "XSTHD01_SYS")},
            "FDate": on_date.isoformat(),
            "FSaleOrgId": {"FNumber": ctx.integration.kingdee.org_number},
            "FStockOrgId": {"FNumber": ctx.integration.kingdee.org_number},
            "FRetcustId": {"FNumber": customer},
            "FHeadNote": " ".join(
                str(p)
                for p in (
                    after_sale["as_id"],
                    after_sale.get("question_type"),
                    after_sale.get("remark"),
                )
                if p
            )[:255],
            order_no_field(ctx): str(after_sale["so_id"]),
            f("SrcBillNo"): source_bill,
            f("AfterSaleId"): str(after_sale["as_id"]),
            f("Currency"): currency,
            f("RefundAmount"): str(refund),
            f("RefundAmountCNY"): str(to_cny(refund, quote) if quote else refund),
            f("RateDate"): quote.rate_date.isoformat() if quote else on_date.isoformat(),
            "SubHeadEntity": {
                "FSettleCurrId": {"FNumber": settle_currency},
                "FSettleOrgId": {"FNumber": ctx.integration.kingdee.org_number},
                "FExchangeTypeId": {"FNumber": ctx.setting("exchange_type", "HLTX01_SYS")},
                "FExchangeRate": str(quote.cny_per_unit) if quote else "1",
            },
            "FEntity": entries,
        }
        document.progress = {
            **(document.progress or {}),
            "fx": quote.as_dict() if quote else {"currency": CNY, "rate": "1"},
        }
        return payload, bill_no
