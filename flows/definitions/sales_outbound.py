"""F2 Sales outbound (销售出库): Jushuitan shipments become Kingdee SAL_OUTSTOCK bills,
submitted and audited (docs/requirements.md F2.1–F2.4; docs/field-maps.md §1).

Source (flow setting `source`, docs/protocols/jushuitan.md §3.1, §3.15):
- "sales_out" (default): the sales-out documents (`/open/orders/out/simple/query`, status
  Confirmed), one bill per shipment `io_id` (source key `io:<io_id>`, bill `<prefix>-<io_id>`),
  the platform order no. in the header field, so a split shipment becomes several bills
  traced to one order. Public integration templates read shipments there; it covers every shop.
- "orders": the order query (`/open/orders/single/query`, status Sent), one bill per order
  (`o:<o_id>`, bill `<prefix><o_id>`). Public SDK comments say it covers self-run malls and
  offline cross-border shops; whether it returns platform orders is unconfirmed.
Switching never books an order twice: a shipment whose order already has an order-keyed
document (or the reverse) is kept as filtered with that reason, order-keyed documents still in
flight finish as order bills, and the check-before-resend accepts the order's earlier bill.
The status is re-checked here on every row (row-version reads send no status filter).

The bill carries every F2.2 field: platform order no., shop →
customer, buyer id, transaction amount, platform commission, logistics / FBA no.; per line
SKU → material, quantity, list price and, in Kingdee's own discount field, what the buyer did
not pay of it (the order coupon spread to the cent), so Kingdee's line totals are what the buyer
paid; the tax combination and rate of the destination country and HS code (0 % export by
default); currency, the rate of the FX policy and CNY amounts. Freight, marketplace-collected
taxes and platform fees go to the receivable pushed from the bill, or are left to the tenant
(docs/finance/receivables.md).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import partial

from django.utils.translation import gettext_lazy

from core.messages import gettext as _
from mappings.errors import MappingMissing
from mappings.rates import to_cny

from ..choices import DocumentState, ErrorClass, FlowCode, System
from ..money import money, spread
from . import register
from .base import FlowContext, LoadResult, Problem, SourceRecord, ValidationProblem
from .kingdee_common import (
    KingdeeBillFlow,
    RateCache,
    business_date,
    custom_field,
    mapping_problem,
    material_facts,
    note_fallback,
    order_no_field,
)
from .push import JST_LINE, KEY_TEXT, WHOLE, PushEndpoint, document_schema
from .receivables import ReceivableMixin, booked_charges

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


SOURCE_SALES_OUT = "sales_out"
SOURCE_ORDERS = "orders"
SOURCES = (SOURCE_SALES_OUT, SOURCE_ORDERS)
# Rows of a row-version walk come without cross-border finance (only cursor and paging are
# sent): rows the portal has not stored yet are read again by id with it, this many per call.
REFETCH_CHUNK = {SOURCE_SALES_OUT: 50, SOURCE_ORDERS: 20}


def order_record(order: dict) -> SourceRecord:
    """A Jushuitan order row as a source record (keys people search by included)."""
    record = SourceRecord(
        source_key=f"o:{order.get('o_id')}",
        payload=order,
        modified_at=parse_time(order.get("modified")),
        platform_order_no=str(order.get("so_id") or ""),
        skus=[str(i["sku_id"]) for i in line_objects(order) if i.get("sku_id")],
        shop_id=str(order.get("shop_id") or ""),
        warehouse_code=str(order.get("wms_co_id") or ""),
    )
    if order.get("status") != "Sent":
        record.filter_reason = _("order status is %(status)s, not Sent (shipped)") % {
            "status": order.get("status")
        }
    return record


def sales_out_record(row: dict) -> SourceRecord:
    """A sales-out row (one shipment) as a source record; only Confirmed (已出库) is synced."""
    record = SourceRecord(
        source_key=f"io:{row.get('io_id')}",
        payload=row,
        modified_at=parse_time(row.get("modified")),
        platform_order_no=str(row.get("so_id") or ""),
        skus=[str(i["sku_id"]) for i in line_objects(row) if i.get("sku_id")],
        shop_id=str(row.get("shop_id") or ""),
        warehouse_code=str(row.get("wms_co_id") or ""),
    )
    if row.get("status") != "Confirmed":
        record.filter_reason = _("sales-out status is %(status)s, not Confirmed (shipped)") % {
            "status": row.get("status")
        }
    return record


def source_of(ctx: FlowContext) -> str:
    value = ctx.setting("source", SOURCE_SALES_OUT)
    if value not in SOURCES:
        raise ValidationProblem(
            _("The flow setting source is %(value)r; expected one of %(choices)s.")
            % {"value": value, "choices": ", ".join(SOURCES)},
            field_name="settings.source",
            missing=False,
        )
    return value


def is_sales_out(document) -> bool:
    return str(document.source_key).startswith("io:")


def shipment(payload: dict, *, sales_out: bool) -> dict:
    """A sales-out row in the order row's shape the bill is built from (io_date → send_date,
    sale_price → price, sale_amount → amount); an order row as it is."""
    if not sales_out:
        return payload
    items = [
        {
            **item,
            "price": item.get("price", item.get("sale_price")),
            "amount": item.get("amount", item.get("sale_amount")),
        }
        for item in line_objects(payload)
    ]
    raw = payload.get("items")
    return {
        **payload,
        "send_date": payload.get("io_date") or payload.get("send_date"),
        "items": items if isinstance(raw, list) and len(items) == len(raw) else raw,
    }


# The push endpoint (docs/requirements.md F2.1): a row of the order query, as Jushuitan sends it.
PUSH = PushEndpoint(
    path="jushuitan/order/outbound",
    summary="Push shipped orders (F2 sales outbound)",
    description=(
        "Jushuitan orders that reached shipped (已发货, status Sent), in the shape of "
        "/open/orders/single/query rows (o_id, so_id and shop_id are required), become Kingdee "
        "SAL_OUTSTOCK."
    ),
    body=document_schema(
        "JushuitanOrder",
        {
            "o_id": {**WHOLE, "description": "Jushuitan internal order no. (内部单号)"},
            "so_id": {**KEY_TEXT, "description": "Platform order no. (线上单号)"},
            "shop_id": {**WHOLE, "description": "Jushuitan shop id"},
            "status": {"type": "string", "description": "Sent (已发货) is synced; others are kept"},
            "wms_co_id": WHOLE,
            "send_date": {"type": "string", "example": "2026-11-28 10:15:00"},
            "modified": {"type": "string", "example": "2026-11-28 10:15:00"},
            "currency": {"type": "string", "example": "USD"},
            "l_id": {"type": "string", "description": "Logistics no."},
            "items": {"type": "array", "items": JST_LINE},
        },
        ["o_id", "so_id", "shop_id"],
        "A row of Jushuitan /open/orders/single/query (is_get_cbfinance=true).",
    ),
    example={
        "o_id": 1024,
        "so_id": "112-3456789-0000001",
        "shop_id": 10001,
        "status": "Sent",
        "wms_co_id": 20001,
        "send_date": "2026-11-28 10:15:00",
        "currency": "USD",
        "items": [{"sku_id": "SKU-PB-1001", "qty": 2, "price": 21.99}],
    },
)


@register
class SalesOutbound(ReceivableMixin, KingdeeBillFlow):
    code = FlowCode.SALES_OUTBOUND
    label = gettext_lazy("F2 Sales outbound")
    requirement = "F2"
    poll_seconds = 60  # F2.1: Jushuitan is polled every minute
    push = PUSH
    source_system = System.JUSHUITAN
    form_id = "SAL_OUTSTOCK"
    pull_window_seconds = 24 * 3600
    bill_prefix = "JSTXS"

    # --- extract ------------------------------------------------------------------------
    catchup_by_row_version = True

    def extract(self, ctx: FlowContext, *, start, end):
        if source_of(ctx) == SOURCE_ORDERS:
            rows = ctx.jushuitan.orders(start=start, end=end, status="Sent", is_get_cbfinance=True)
            records = (order_record(row) for row in rows)
        else:
            rows = ctx.jushuitan.sales_outs(
                start=start, end=end, status="Confirmed", is_get_cbfinance=True
            )
            records = (sales_out_record(row) for row in rows)
        yield from self._guarded(ctx, records)

    def extract_since(self, ctx: FlowContext, *, row_version: int):
        source = source_of(ctx)
        if source == SOURCE_ORDERS:
            rows = ctx.jushuitan.orders_since(row_version)
            make = order_record
        else:
            rows = ctx.jushuitan.sales_outs_since(row_version)
            make = sales_out_record
        yield from self._guarded(ctx, self._completed(ctx, source, (make(r) for r in rows)))

    def _completed(self, ctx: FlowContext, source: str, records):
        """Row-version rows carry no cross-border finance: the ones to be synced are read again
        by id with it; rows of documents already synced pass as they are (ingest keeps them)."""
        from ..models import SyncDocument

        for chunk in _chunks(records, 200):
            wanted = [r for r in chunk if not r.filter_reason]
            # Synced (or ignored) documents are never reopened by a pull; every other one
            # would take this row as its new source, so it must carry the finance too.
            known = set(
                SyncDocument.objects.filter(
                    flow=ctx.flow,
                    source_key__in=[r.source_key for r in wanted],
                    state__in=(DocumentState.SYNCED, DocumentState.IGNORED),
                ).values_list("source_key", flat=True)
            )
            missing = [r for r in wanted if r.source_key not in known]
            full: dict[str, dict] = {}
            if missing:
                client = ctx.jushuitan
                size = REFETCH_CHUNK[source]
                for part in _chunks(missing, size):
                    if source == SOURCE_ORDERS:
                        ids = [r.payload.get("o_id") for r in part]
                        rows = client.orders_by_o_ids(ids, is_get_cbfinance=True)
                        full.update({f"o:{row.get('o_id')}": row for row in rows})
                    else:
                        ids = [str(r.payload.get("io_id")) for r in part]
                        rows = client.sales_outs_by_io_ids(ids, is_get_cbfinance=True)
                        full.update({f"io:{row.get('io_id')}": row for row in rows})
            for record in chunk:
                row = full.get(record.source_key)
                if row is not None:
                    record = (order_record if source == SOURCE_ORDERS else sales_out_record)(row)
                yield record

    def _guarded(self, ctx: FlowContext, records):
        """Nothing is booked twice across a source switch: a shipment whose order already has
        an order-keyed document, or an order that already has shipment documents, is kept as
        filtered, naming the document that books it."""
        from ..models import SyncDocument

        for chunk in _chunks(records, 200):
            o_ids = {str(r.payload.get("o_id")) for r in chunk if not r.filter_reason}
            o_ids.discard("None")
            if not o_ids:
                yield from chunk
                continue
            booked: dict[str, str] = {}
            docs = SyncDocument.objects.filter(flow=ctx.flow).exclude(state=DocumentState.FILTERED)
            if chunk[0].source_key.startswith("io:"):
                for key, target in docs.filter(
                    source_key__in=[f"o:{o}" for o in o_ids]
                ).values_list("source_key", "target_key"):
                    booked[key.removeprefix("o:")] = target or key
            else:
                wanted = [*o_ids, *(int(o) for o in o_ids if o.isdigit())]
                for key, target, o_id in docs.filter(
                    source_key__startswith="io:", source_payload__o_id__in=wanted
                ).values_list("source_key", "target_key", "source_payload__o_id"):
                    booked.setdefault(str(o_id), target or key)
            for record in chunk:
                by = booked.get(str(record.payload.get("o_id")))
                if by and not record.filter_reason:
                    record.filter_reason = _(
                        "order %(o_id)s is already booked by %(by)s (documents of the other "
                        "F2 source): not booked again"
                    ) % {"o_id": record.payload.get("o_id"), "by": by}
                yield record

    def parse_push(self, ctx: FlowContext, item: dict) -> SourceRecord:
        pushed_sales_out = item.get("io_id") not in (None, "")
        required = (
            ("io_id", "so_id", "shop_id") if pushed_sales_out else ("o_id", "so_id", "shop_id")
        )
        for field in required:
            if item.get(field) in (None, ""):
                raise ValidationProblem(
                    _("%(field)s is required (a Jushuitan order or sales-out row).")
                    % {"field": field},
                    field_name=field,
                )
        record = sales_out_record(item) if pushed_sales_out else order_record(item)
        if item.get("status") is None:
            record.filter_reason = ""  # a pushed row without status is taken as shipped
        return next(iter(self._guarded(ctx, [record])))

    # --- validate -----------------------------------------------------------------------
    def validate(self, ctx: FlowContext, document) -> None:
        sales_out = is_sales_out(document)
        order = shipment(document.source_payload, sales_out=sales_out)
        date_field = "io_date" if sales_out else "send_date"
        for field in ("so_id", "shop_id", date_field, "wms_co_id"):
            if order.get(field) in (None, ""):
                raise ValidationProblem(
                    _("The order has no %(field)s.") % {"field": field}, field_name=field
                )
        if business_date(order.get("send_date")) is None:
            raise ValidationProblem(
                _("%(field)s %(value)r is not a date.")
                % {"field": date_field, "value": order.get("send_date")},
                field_name=date_field,
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
        currency = currency_of(ctx, order)
        if len(currency) != 3 or not currency.isalpha():
            raise ValidationProblem(
                _("currency %(value)r is not an ISO 4217 code.") % {"value": order.get("currency")},
                field_name="currency",
                missing=False,
            )

    # --- map and transform ----------------------------------------------------------------
    def transform(self, ctx: FlowContext, document) -> tuple[dict, str]:
        sales_out = is_sales_out(document)
        order = shipment(document.source_payload, sales_out=sales_out)
        f = partial(custom_field, ctx)
        ship_date = business_date(order["send_date"])
        currency = currency_of(ctx, order)
        items = [i for i in order.get("items") or [] if i.get("sku_type") != "no_deliver"]
        binder = ctx.mappings
        try:
            customer = binder.customer.to_external(order["shop_id"])
            stock = binder.warehouse.to_external(order["wms_co_id"])
            materials = [binder.material.to_external(str(i["sku_id"])) for i in items]
            settle_currency = currency_number(ctx, currency)
        except MappingMissing as exc:
            raise mapping_problem(exc) from exc
        quote = rates(ctx).quote(currency, ship_date) if currency != CNY else None
        facts = material_facts(ctx, set(materials))
        country = str(order.get("receiver_country") or ctx.setting("default_country", "")).upper()

        amounts = [line_amount(item) for item in items]
        finances = order.get("cb_finances") or {}
        coupon = money(order.get("free_amount"))
        charges = order_charges(ctx, order, finances)
        coupons = spread(coupon, amounts)
        goods = sum(amounts, Decimal(0)) - coupon
        trade_amount = money(order.get("pay_amount") or goods + charges["freight"])

        entries, lines = [], []
        for item, material, amount, share in zip(items, materials, amounts, coupons, strict=True):
            hs_code = facts.get(material, {}).get("hs_code", "")
            tax = line_tax(ctx, self._tax_template(ctx, country, hs_code, ship_date, material))
            qty = _decimal(item.get("qty"), "qty")
            price = money(item.get("price"))
            net = amount - share
            entries.append(
                {
                    "FRowType": "Standard",
                    "FMaterialID": {"FNumber": material},
                    "FRealQty": str(qty),
                    "FTaxPrice": str(price),
                    # What the buyer did not pay of the list price: the line's own reduction
                    # and its share of the order's coupon; Kingdee's FAllAmount is the rest.
                    "FDiscount": str(money(price * qty) - net),
                    **tax_fields(tax),
                    "FIsFree": net == 0,
                    "FStockID": {"FNumber": stock},
                    "FEntrynote": str(item.get("remark") or "")[:255],
                    f("SkuId"): str(item["sku_id"]),
                    f("HSCode"): hs_code,
                    f("NetAmount"): str(net),
                    f("NetAmountCNY"): str(to_cny(net, quote) if quote else net),
                }
            )
            lines.append({"sku": str(item["sku_id"]), "qty": str(qty), "net": str(net), **tax})
        prefix = ctx.setting("bill_prefix", self.bill_prefix)
        # A shipment's bill: <prefix>-<io_id>, never equal to an order's <prefix><o_id>.
        bill_no = f"{prefix}-{order['io_id']}" if sales_out else f"{prefix}{order['o_id']}"
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
            f("Commission"): str(charges["platform_fee"]),
            f("CommissionCNY"): str(
                to_cny(charges["platform_fee"], quote) if quote else charges["platform_fee"]
            ),
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
            "currency": currency,
            "lines": lines,
            "paid": str(goods + charges["freight"]),
            "charges": booked_charges(ctx, charges),
        }
        note_fallback(document, quote)
        return payload, bill_no

    def find_existing(self, ctx: FlowContext, documents) -> dict:
        """Check-before-resend; a shipment whose order was booked under the order source
        (bill <prefix><o_id> with the same platform order no.) counts as landed there."""
        found = super().find_existing(ctx, documents)
        missing = [d for d in documents if d.pk not in found and is_sales_out(d)]
        if not missing:
            return found
        refs = self._lookup(ctx, missing)
        prefix = ctx.setting("bill_prefix", self.bill_prefix)
        for doc in missing:
            legacy = refs.get(f"{prefix}{doc.source_payload.get('o_id')}")
            if legacy is not None and legacy.status == "C":
                found[doc.pk] = LoadResult.landed(target_id=legacy.id, target_number=legacy.number)
        return found

    def _tax_template(self, ctx, country, hs_code, on_date, material):
        if not country:
            return None
        try:
            return ctx.mappings.tax_template_for(country=country, hs_code=hs_code, on_date=on_date)
        except MappingMissing as exc:
            if not hs_code:
                raise material_field_problem(material, "hs_code") from exc
            raise mapping_problem(exc) from exc


def material_field_problem(material: str, field: str) -> Problem:
    """Issue 20 point 3: a template cannot be chosen because the material lacks a field (the
    HS code): the cause is the material, fixed in its master data, not a tax template."""
    return Problem(
        _("Material %(material)s has no HS code, so no tax template can be chosen for it.")
        % {"material": material},
        error_class=ErrorClass.MISSING_VALUE,
        subject=_("material %(material)s has no HS code") % {"material": material},
        stage="map",
        material=material,
        material_field=field,
    )


# Platform fees read from the order's cross-border finance (a setting names others): the
# commission, and the FBA / fulfilment / transaction fees where the marketplace reports them
# (key names other than platform_commission are [U]: docs/protocols/jushuitan.md).
FEE_FIELDS = ("platform_commission", "fba_fee", "fulfillment_fee", "transaction_fee")


def order_charges(ctx: FlowContext, order: dict, finances: dict) -> dict[str, Decimal]:
    """What the order carries besides its goods: buyer-paid freight, the VAT / sales tax the
    marketplace collected and remits (cb_total_tax / product_tax, 平台代收税费: not an import
    duty) and the platform's fees, each to the cent."""
    fees = ctx.setting("fee_fields", FEE_FIELDS)
    return {
        "freight": money(order.get("freight")),
        "marketplace_tax": money(order.get("cb_total_tax") or finances.get("product_tax")),
        "platform_fee": money(sum((money(finances.get(name)) for name in fees), Decimal(0))),
    }


def line_tax(ctx: FlowContext, template) -> dict:
    """The line's tax: the template's combination and rate; without a template the zero-rated
    export combination of the flow setting `export_tax_combination` at 0 % (issue 19 point 1)."""
    if template is None:
        return {"rate": "0", "combination": ctx.setting("export_tax_combination", "")}
    return {"rate": str(template.vat_rate), "combination": template.kingdee_tax_number}


def tax_fields(tax: dict) -> dict:
    fields = {"FEntryTaxRate": tax["rate"]}
    if tax.get("combination"):
        fields["FTaxCombination"] = {"FNumber": tax["combination"]}
    return fields


def currency_of(ctx: FlowContext, row: dict) -> str:
    """The row's currency; else the shop mapping's settlement currency (shop rows carry none,
    docs/protocols/jushuitan.md §3.12); else CNY."""
    if row.get("currency"):
        return str(row["currency"]).upper()
    from mappings.models import ShopCustomerMapping

    memo = ctx.memo.setdefault("shop_currency", {})
    shop = str(row.get("shop_id") or "")
    if shop not in memo:
        memo[shop] = (
            ShopCustomerMapping.objects.filter(integration=ctx.integration, shop_id=shop)
            .values_list("settle_currency", flat=True)
            .first()
            or ""
        )
    return str(memo[shop] or CNY).upper()


def _chunks(iterable, size: int):
    chunk: list = []
    for item in iterable:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def currency_number(ctx: FlowContext, currency: str) -> str:
    """Kingdee currency number (PRE001 = CNY; others from the code-mapping table), memoised."""
    from mappings.selectors import currency_for

    memo = ctx.memo.setdefault("currency", {})
    if currency not in memo:
        memo[currency] = currency_for(integration=ctx.integration, currency=currency)
    return memo[currency]


def rates(ctx: FlowContext) -> RateCache:
    return ctx.memo.setdefault("rates", RateCache(ctx.integration))
