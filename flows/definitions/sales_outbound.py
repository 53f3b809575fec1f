"""F2 Sales outbound (销售出库): Jushuitan orders that reached shipped (Sent) become Kingdee
SAL_OUTSTOCK bills, submitted and audited (docs/requirements.md F2.1–F2.4; docs/field-maps.md §1).

Source: the order query (`/open/orders/single/query`, status Sent, with cross-border finance),
one bill per order (o_id). The bill carries every F2.2 field: platform order no., shop →
customer, buyer id, transaction amount, platform commission, logistics / FBA no.; per line
SKU → material, quantity, unit price, and the order's tariff, freight and discount spread over
the lines to the cent; currency, the PBOC central parity of the ship date, CNY amounts and the
tax template of the destination country and HS code.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import partial

from django.utils.translation import gettext as _

from mappings.errors import MappingMissing
from mappings.rates import to_cny

from ..choices import FlowCode, System
from ..money import allocate, money
from . import register
from .base import FlowContext, SourceRecord, ValidationProblem
from .kingdee_common import (
    KingdeeBillFlow,
    RateCache,
    business_date,
    custom_field,
    mapping_problem,
    material_facts,
    order_no_field,
)

CNY = "CNY"
# Lines per bill the portal writes; beyond this a person splits the order (poison input).
MAX_LINES = 2000


def parse_time(value) -> datetime | None:
    from connectors.jushuitan.client import parse_time as jst_time

    return jst_time(value)


def _decimal(value, field: str) -> Decimal:
    try:
        return Decimal(str(value if value not in (None, "") else 0))
    except InvalidOperation as exc:
        raise ValidationProblem(
            _("%(field)s must be a number, got %(value)r.") % {"field": field, "value": value},
            field_name=field,
            missing=False,
        ) from exc


def line_objects(row: dict) -> list[dict]:
    """The row's `items` when it is a list of objects; nothing otherwise (validate says why)."""
    items = row.get("items")
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def line_amount(item: dict) -> Decimal:
    """A line's goods amount: `amount` when given, else price × qty, to the cent."""
    if item.get("amount") not in (None, ""):
        return money(item["amount"])
    return money(_decimal(item.get("price"), "price") * _decimal(item.get("qty"), "qty"))


def order_record(order: dict) -> SourceRecord:
    """A Jushuitan order row as a source record (keys people search by included)."""
    return SourceRecord(
        source_key=f"o:{order.get('o_id')}",
        payload=order,
        modified_at=parse_time(order.get("modified")),
        platform_order_no=str(order.get("so_id") or ""),
        skus=[str(i["sku_id"]) for i in line_objects(order) if i.get("sku_id")],
        shop_id=str(order.get("shop_id") or ""),
        warehouse_code=str(order.get("wms_co_id") or ""),
    )


@register
class SalesOutbound(KingdeeBillFlow):
    code = FlowCode.SALES_OUTBOUND
    source_system = System.JUSHUITAN
    form_id = "SAL_OUTSTOCK"
    pull_window_seconds = 24 * 3600
    bill_prefix = "JSTXS"

    # --- extract ------------------------------------------------------------------------
    catchup_by_row_version = True

    def extract(self, ctx: FlowContext, *, start, end):
        rows = ctx.jushuitan.orders(start=start, end=end, status="Sent", is_get_cbfinance=True)
        for order in rows:
            yield order_record(order)

    def extract_since(self, ctx: FlowContext, *, row_version: int):
        rows = ctx.jushuitan.orders_since(row_version, status="Sent", is_get_cbfinance=True)
        for order in rows:
            yield order_record(order)

    def parse_push(self, ctx: FlowContext, item: dict) -> SourceRecord:
        for field in ("o_id", "so_id", "shop_id"):
            if item.get(field) in (None, ""):
                raise ValidationProblem(
                    _("%(field)s is required (a Jushuitan order row).") % {"field": field},
                    field_name=field,
                )
        if item.get("status") not in (None, "Sent"):
            record = order_record(item)
            record.filter_reason = _("order status is %(status)s, not Sent (shipped)") % {
                "status": item.get("status")
            }
            return record
        return order_record(item)

    # --- validate -----------------------------------------------------------------------
    def validate(self, ctx: FlowContext, document) -> None:
        order = document.source_payload
        for field in ("so_id", "shop_id", "send_date", "wms_co_id"):
            if order.get(field) in (None, ""):
                raise ValidationProblem(
                    _("The order has no %(field)s.") % {"field": field}, field_name=field
                )
        if business_date(order.get("send_date")) is None:
            raise ValidationProblem(
                _("send_date %(value)r is not a date.") % {"value": order.get("send_date")},
                field_name="send_date",
                missing=False,
            )
        raw_items = order.get("items")
        if not isinstance(raw_items, list) or not all(isinstance(i, dict) for i in raw_items):
            raise ValidationProblem(
                _("items must be a list of line objects."), field_name="items", missing=False
            )
        items = [i for i in raw_items if i.get("sku_type") != "no_deliver"]
        if not items:
            raise ValidationProblem(_("The order has no lines to ship."), field_name="items")
        if len(items) > MAX_LINES:
            raise ValidationProblem(
                _("The order has %(n)d lines; at most %(max)d fit one Kingdee bill.")
                % {"n": len(items), "max": MAX_LINES},
                field_name="items",
                missing=False,
            )
        for n, item in enumerate(items, start=1):
            if not item.get("sku_id"):
                raise ValidationProblem(
                    _("Line %(n)d has no sku_id.") % {"n": n}, field_name=f"items[{n}].sku_id"
                )
            qty = _decimal(item.get("qty"), f"items[{n}].qty")
            if qty <= 0:
                raise ValidationProblem(
                    _("Line %(n)d has quantity %(qty)s; it must be positive.")
                    % {"n": n, "qty": qty},
                    field_name=f"items[{n}].qty",
                    missing=False,
                )
            if _decimal(item.get("price"), f"items[{n}].price") < 0:
                raise ValidationProblem(
                    _("Line %(n)d has a negative price.") % {"n": n},
                    field_name=f"items[{n}].price",
                    missing=False,
                )
        currency = str(order.get("currency") or CNY).upper()
        if len(currency) != 3 or not currency.isalpha():
            raise ValidationProblem(
                _("currency %(value)r is not an ISO 4217 code.") % {"value": order.get("currency")},
                field_name="currency",
                missing=False,
            )

    # --- map and transform ----------------------------------------------------------------
    def transform(self, ctx: FlowContext, document) -> tuple[dict, str]:
        order = document.source_payload
        f = partial(custom_field, ctx)
        ship_date = business_date(order["send_date"])
        currency = str(order.get("currency") or CNY).upper()
        items = [i for i in order.get("items") or [] if i.get("sku_type") != "no_deliver"]
        resolver = ctx.mappings
        try:
            customer = resolver.customer_for_shop(order["shop_id"])
            stock = resolver.stock_for_warehouse(order["wms_co_id"])
            materials = [resolver.material_for_sku(str(i["sku_id"])) for i in items]
            settle_currency = currency_number(ctx, currency)
        except MappingMissing as exc:
            raise mapping_problem(exc) from exc
        quote = rates(ctx).quote(currency, ship_date) if currency != CNY else None
        facts = material_facts(ctx, set(materials))
        country = str(order.get("receiver_country") or ctx.setting("default_country", "")).upper()

        amounts = [line_amount(item) for item in items]
        finances = order.get("cb_finances") or {}
        discount = money(order.get("free_amount"))
        freight = money(order.get("freight"))
        tariff = money(order.get("cb_total_tax") or finances.get("product_tax"))
        commission = money(finances.get("platform_commission"))
        discounts = allocate(discount, amounts)
        freights = allocate(freight, amounts)
        tariffs = allocate(tariff, amounts)
        trade_amount = money(
            order.get("pay_amount") or sum(amounts, Decimal(0)) + freight - discount
        )

        entries = []
        for item, material, amount, disc, frt, tax in zip(
            items, materials, amounts, discounts, freights, tariffs, strict=True
        ):
            hs_code = facts.get(material, {}).get("hs_code", "")
            template = self._tax_template(ctx, country, hs_code, ship_date, material)
            net = amount - disc
            entries.append(
                {
                    "FRowType": "Standard",
                    "FMaterialID": {"FNumber": material},
                    "FRealQty": str(_decimal(item.get("qty"), "qty")),
                    "FTaxPrice": str(money(item.get("price"))),
                    "FEntryTaxRate": str(template.vat_rate) if template else "0",
                    "FIsFree": bool(item.get("is_gift")) or money(item.get("price")) == 0,
                    "FStockID": {"FNumber": stock},
                    "FEntrynote": str(item.get("remark") or "")[:255],
                    f("SkuId"): str(item["sku_id"]),
                    f("HSCode"): hs_code,
                    f("LineAmount"): str(amount),
                    f("Discount"): str(disc),
                    f("Freight"): str(frt),
                    f("Tariff"): str(tax),
                    f("NetAmount"): str(net),
                    f("NetAmountCNY"): str(to_cny(net, quote) if quote else net),
                    f("TaxTemplate"): template.kingdee_tax_number if template else "",
                }
            )
        bill_no = f"{ctx.setting('bill_prefix', self.bill_prefix)}{order['o_id']}"
        payload = {
            "FBillNo": bill_no,
            "FBillTypeID": {"FNumber": ctx.setting("bill_type", "XSCKD01_SYS")},
            "FDate": ship_date.isoformat(),
            "FSaleOrgId": {"FNumber": ctx.integration.kingdee.org_number},
            "FStockOrgId": {"FNumber": ctx.integration.kingdee.org_number},
            "FCustomerID": {"FNumber": customer},
            "FCarriageNO": str(order.get("l_id") or ""),
            "FNote": str(order.get("remark") or "")[:255],
            order_no_field(ctx): str(order["so_id"]),
            f("BuyerId"): str(order.get("shop_buyer_id") or order.get("buyer_id") or ""),
            f("ShopId"): str(order["shop_id"]),
            f("LogisticsNo"): str(order.get("l_id") or ""),
            f("LogisticsCompany"): str(order.get("logistics_company") or ""),
            f("Currency"): currency,
            f("TradeAmount"): str(trade_amount),
            f("TradeAmountCNY"): str(to_cny(trade_amount, quote) if quote else trade_amount),
            f("Commission"): str(commission),
            f("CommissionCNY"): str(to_cny(commission, quote) if quote else commission),
            f("RateDate"): quote.rate_date.isoformat() if quote else ship_date.isoformat(),
            "SubHeadEntity": {
                "FSettleCurrID": {"FNumber": settle_currency},
                "FSettleOrgID": {"FNumber": ctx.integration.kingdee.org_number},
                "FExchangeTypeID": {"FNumber": ctx.setting("exchange_type", "HLTX01_SYS")},
                "FExchangeRate": str(quote.cny_per_unit) if quote else "1",
            },
            "FEntity": entries,
        }
        document.progress = {
            **(document.progress or {}),
            "fx": quote.as_dict() if quote else {"currency": CNY, "rate": "1"},
        }
        return payload, bill_no

    def _tax_template(self, ctx, country, hs_code, on_date, material):
        if not country:
            return None
        try:
            return ctx.mappings.tax_template_for(country=country, hs_code=hs_code, on_date=on_date)
        except MappingMissing as exc:
            raise mapping_problem(exc) from exc


def currency_number(ctx: FlowContext, currency: str) -> str:
    """Kingdee currency number (PRE001 = CNY; others from the code-mapping table), memoised."""
    from mappings.selectors import currency_for

    memo = ctx.memo.setdefault("currency", {})
    if currency not in memo:
        memo[currency] = currency_for(integration=ctx.integration, currency=currency)
    return memo[currency]


def rates(ctx: FlowContext) -> RateCache:
    return ctx.memo.setdefault("rates", RateCache())
