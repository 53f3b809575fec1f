"""F3 Sales returns (销售退货): goods really received back for an after-sale become Kingdee
SAL_RETURNSTOCK bills linked to the original outbound, with F2's mapping and FX rules
(docs/requirements.md F3.1; docs/field-maps.md §2).

Source: the received-goods query (`/open/aftersale/received/query`,
docs/protocols/jushuitan.md §3.3): one row per receipt (退仓单 io_id). Goods of one after-sale
may arrive in several batches ("可分批确认"); each batch is its own bill (`<prefix>-<io_id>`,
source key `rcv:<io_id>`), so a partial receipt is booked when it arrives. Confirming the
after-sale is a separate step that moves no stock; a receipt is booked unless its after-sale was
cancelled or merged. Documents of the earlier after-sale source (`as:<as_id>`, one bill per
after-sale) finish as they were; a receipt of an after-sale already booked that way is kept as
filtered.

A refund-only after-sale (仅退款) moves no stock: its receipt rows are kept as filtered with that
reason, and once Jushuitan confirms it (after-sale query, status Confirmed) it is booked as a red
receivable (source key `ro:<as_id>`, setting `refund_only`; docs/finance/receivables.md §2).
Every return bill pushes a red receivable (flows/definitions/receivables.py). A return whose
original outbound has not reached Kingdee waits for it (dependency retry).
"""

from __future__ import annotations

from decimal import Decimal
from functools import partial

from django.utils.translation import gettext_lazy

from core.messages import gettext as _
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
    note_fallback,
    order_no_field,
)
from .push import JST_LINE, KEY_TEXT, WHOLE, PushEndpoint, document_schema
from .receivables import (
    ReceivableMixin,
    expense_item,
    find_red_receivables,
    save_red_receivables,
)
from .sales_outbound import (
    CNY,
    _decimal,
    currency_number,
    currency_of,
    line_objects,
    line_tax,
    parse_time,
    rates,
    tax_fields,
)

# After-sale types that bring goods back (普通退货 return, 拒收退货 refused, 换货 exchange leg).
RETURN_TYPES = ("普通退货", "拒收退货", "换货")
RETURN_WAREHOUSE = 2  # 销退仓, the sales-return warehouse inside a company


REFUND_ONLY = "仅退款"


def refund_only_booked(ctx: FlowContext) -> bool:
    """Setting `refund_only`: "receivable" (default) books each confirmed refund-only
    after-sale as a red receivable; "off" leaves them to the tenant."""
    return ctx.setting("refund_only", "receivable") == "receivable"


def refund_only_record(row: dict) -> SourceRecord:
    """A confirmed refund-only after-sale (仅退款) as a source record (key `ro:<as_id>`)."""
    return SourceRecord(
        source_key=f"ro:{row.get('as_id')}",
        payload=row,
        modified_at=parse_time(row.get("modified")),
        platform_order_no=str(row.get("so_id") or ""),
        skus=[str(i["sku_id"]) for i in line_objects(row) if i.get("sku_id")],
        shop_id=str(row.get("shop_id") or ""),
        warehouse_code=str(row.get("wms_co_id") or ""),
    )


def is_refund_only(document) -> bool:
    return str(document.source_key).startswith("ro:")


def refunded(original: dict, qty: Decimal) -> Decimal:
    """What the buyer paid for `qty` units of a sold line: its net share, the whole net when
    the whole quantity comes back (so a full return reverses the sale to the cent)."""
    sold_qty, net = Decimal(original["qty"]), Decimal(original["net"])
    if qty >= sold_qty or not sold_qty:
        return net
    return money(net * qty / sold_qty)


def returned_items(after_sale: dict) -> list[dict]:
    return [i for i in line_objects(after_sale) if _received(i) > 0]


def is_receipt(document) -> bool:
    return str(document.source_key).startswith("rcv:")


def receipt_lines(row: dict) -> list[dict]:
    """The received lines of a receipt row in the after-sale line shape (r_qty, price)."""
    return [
        {
            **item,
            "r_qty": item.get("qty"),
            "price": item.get("price", item.get("sale_price")),
        }
        for item in line_objects(row)
        if _received({"r_qty": item.get("qty")}) > 0
    ]


def _received(item: dict) -> Decimal:
    try:
        return Decimal(str(item.get("r_qty") or 0))
    except ArithmeticError:
        return Decimal(0)


def after_sale_record(after_sale: dict) -> SourceRecord:
    """A legacy after-sale row (refund query, status Confirmed, r_qty) as a source record."""
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


def receipt_record(row: dict) -> SourceRecord:
    """One receipt of returned goods (received query row) as a source record."""
    record = SourceRecord(
        source_key=f"rcv:{row.get('io_id')}",
        payload=row,
        modified_at=parse_time(row.get("modified")),
        platform_order_no=str(row.get("so_id") or ""),
        skus=[str(i["sku_id"]) for i in line_objects(row) if i.get("sku_id")],
        shop_id=str(row.get("shop_id") or ""),
        warehouse_code=str(row.get("wms_co_id") or ""),
    )
    if row.get("status") in ("Cancelled", "Merged"):
        record.filter_reason = _("after-sale status is %(status)s: the receipt is not booked") % {
            "status": row.get("status")
        }
    elif row.get("type") and row["type"] not in RETURN_TYPES:
        record.filter_reason = _("after-sale type %(type)s moves no stock (refund only)") % {
            "type": row["type"]
        }
    elif not receipt_lines(row):
        record.filter_reason = _("no goods were received back (qty is 0)")
    return record


# The push endpoint (docs/requirements.md F3.1): an after-sale row that reached returned.
PUSH = PushEndpoint(
    path="jushuitan/order/refund",
    summary="Push returned after-sales (F3 sales returns)",
    description=(
        "Jushuitan after-sale orders (the shape of /open/refund/single/query rows) that reached "
        "returned become Kingdee SAL_RETURNSTOCK."
    ),
    body=document_schema(
        "JushuitanAfterSale",
        {
            "as_id": {**WHOLE, "description": "Jushuitan after-sale no. (售后单号)"},
            "so_id": {**KEY_TEXT, "description": "Platform order no. (线上单号)"},
            "shop_id": {**WHOLE, "description": "Jushuitan shop id"},
            "status": {"type": "string", "description": "Confirmed is synced; others are kept"},
            "type": {"type": "string", "example": "普通退货"},
            "wms_co_id": WHOLE,
            "modified": {"type": "string", "example": "2026-11-28 10:15:00"},
            "items": {
                "type": "array",
                "items": {
                    **JST_LINE,
                    "properties": {**JST_LINE["properties"], "r_qty": {"type": "integer"}},
                },
            },
        },
        ["as_id", "so_id", "shop_id"],
        "A row of Jushuitan /open/refund/single/query that reached returned (已退货).",
    ),
    example={
        "as_id": 2048,
        "so_id": "112-3456789-0000001",
        "shop_id": 10001,
        "status": "Confirmed",
    },
)


@register
class SalesReturn(ReceivableMixin, KingdeeBillFlow):
    code = FlowCode.SALES_RETURN
    label = gettext_lazy("F3 Sales returns")
    requirement = "F3"
    push = PUSH
    source_system = System.JUSHUITAN
    form_id = "SAL_RETURNSTOCK"
    pull_window_seconds = 24 * 3600
    bill_prefix = "JSTTH"
    catchup_by_row_version = True

    def extract(self, ctx: FlowContext, *, start, end):
        rows = ctx.jushuitan.received_returns(start=start, end=end)
        yield from self._guarded(ctx, (receipt_record(row) for row in rows))
        if refund_only_booked(ctx):
            rows = ctx.jushuitan.refunds(start=start, end=end, status="Confirmed")
            yield from (refund_only_record(r) for r in rows if r.get("type") == REFUND_ONLY)

    def extract_since(self, ctx: FlowContext, *, row_version: int):
        rows = ctx.jushuitan.received_returns_since(row_version)
        yield from self._guarded(ctx, (receipt_record(row) for row in rows))

    def _guarded(self, ctx: FlowContext, records):
        """A receipt of an after-sale already booked as a whole (legacy `as:` document) is
        kept as filtered: nothing is booked twice across the source switch."""
        from ..models import SyncDocument
        from .sales_outbound import _chunks

        for chunk in _chunks(records, 200):
            keys = {f"as:{r.payload.get('as_id')}" for r in chunk if not r.filter_reason}
            booked = dict(
                SyncDocument.objects.filter(flow=ctx.flow, source_key__in=keys)
                .exclude(state=DocumentState.FILTERED)
                .values_list("source_key", "target_key")
            )
            for record in chunk:
                key = f"as:{record.payload.get('as_id')}"
                if key in booked and not record.filter_reason:
                    record.filter_reason = _(
                        "after-sale %(as_id)s is already booked by %(by)s: not booked again"
                    ) % {"as_id": record.payload.get("as_id"), "by": booked[key] or key}
                yield record

    def parse_push(self, ctx: FlowContext, item: dict) -> SourceRecord:
        receipt = item.get("io_id") not in (None, "")
        first = "io_id" if receipt else "as_id"
        for field in (first, "so_id", "shop_id"):
            if item.get(field) in (None, ""):
                raise ValidationProblem(
                    _("%(field)s is required (a Jushuitan received-goods row).") % {"field": field},
                    field_name=field,
                )
        record = receipt_record(item) if receipt else after_sale_record(item)
        return next(iter(self._guarded(ctx, [record])))

    def _red_receivable(self, ctx: FlowContext, document) -> tuple[dict, str]:
        """A refund-only after-sale (仅退款) as a red receivable: one line of the refund with
        the expense item `refund_only` (a sales allowance, 销售折让) at the sale's tax, saved
        and audited; no stock moves (issue 19 point 2)."""
        after_sale = document.source_payload
        on_date = self._date(after_sale)
        source_bill, source_currency, sold = self._original_outbound(ctx, after_sale, set())
        currency = (
            str(after_sale.get("currency") or "").upper()
            or source_currency.upper()
            or currency_of(ctx, after_sale)
        )
        try:
            customer = ctx.mappings.customer.to_external(after_sale["shop_id"])
            settle_currency = currency_number(ctx, currency)
        except MappingMissing as exc:
            raise mapping_problem(exc) from exc
        quote = rates(ctx).quote(currency, on_date) if currency != CNY else None
        refund = money(after_sale.get("refund"))
        tax = next(iter(sold.values()), None) or line_tax(ctx, None)
        org = ctx.integration.kingdee.org_number
        bill_no = f"{ctx.setting('refund_only_prefix', 'JSTTK')}-{after_sale['as_id']}"
        payload = {
            "FBillNo": bill_no,
            "FBillTypeID": {"FNumber": ctx.setting("receivable_bill_type", "YSD01_SYS")},
            "FDate": on_date.isoformat(),
            "FCUSTOMERID": {"FNumber": customer},
            "FCURRENCYID": {"FNumber": settle_currency},
            "FSETTLEORGID": {"FNumber": org},
            "FSALEORGID": {"FNumber": org},
            "FPAYORGID": {"FNumber": org},
            "FExchangeRate": str(quote.cny_per_unit) if quote else "1",
            "FAR_Remark": " ".join(
                str(p)
                for p in (REFUND_ONLY, after_sale["as_id"], after_sale.get("so_id"), source_bill)
                if p
            )[:255],
            "FEntityDetail": [
                {
                    "FCOSTID": {"FNumber": expense_item(ctx, "refund_only")},
                    "FPriceQty": "-1",
                    "FTaxPrice": str(refund),
                    **tax_fields(tax),
                    "FComment": "refund_only",
                }
            ],
        }
        document.progress = {
            **(document.progress or {}),
            "fx": quote.as_dict() if quote else {"currency": CNY, "rate": "1"},
            "currency": currency,
            "refunded": str(refund),
        }
        note_fallback(document, quote)
        return payload, bill_no

    def load(self, ctx: FlowContext, documents) -> dict:
        red = [d for d in documents if is_refund_only(d)]
        others = [d for d in documents if not is_refund_only(d)]
        results = super().load(ctx, others) if others else {}
        if red:
            results.update(save_red_receivables(ctx, red))
        return results

    def find_existing(self, ctx: FlowContext, documents) -> dict:
        red = [d for d in documents if is_refund_only(d)]
        others = [d for d in documents if not is_refund_only(d)]
        found = super().find_existing(ctx, others) if others else {}
        if red:
            found.update(find_red_receivables(ctx, red))
        return found

    def _lines(self, document) -> list[dict]:
        payload = document.source_payload
        return receipt_lines(payload) if is_receipt(document) else returned_items(payload)

    def validate(self, ctx: FlowContext, document) -> None:
        after_sale = document.source_payload
        if is_refund_only(document) and money(after_sale.get("refund")) <= 0:
            raise ValidationProblem(
                _("The refund-only after-sale has no refund amount."), field_name="refund"
            )
        for n, item in enumerate(self._lines(document), start=1):
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
        for value in (
            after_sale.get("io_date"),
            *received,
            after_sale.get("confirm_date"),
            after_sale.get("modified"),
        ):
            found = business_date(value)
            if found:
                return found
        return None

    def _original_outbound(self, ctx: FlowContext, after_sale: dict, skus: set[str]) -> tuple:
        """(bill no., currency, sold lines by SKU) of the sales outbound this return reverses:
        the order's bill, or of its shipment bills the one that shipped a returned SKU; waits
        while none of them has reached Kingdee."""
        from django.db.models import Q

        from ..models import SyncDocument

        o_id = after_sale.get("o_id")
        wanted = [o_id, str(o_id)] + ([int(o_id)] if str(o_id).isdigit() else [])
        originals = list(
            SyncDocument.objects.filter(
                integration=ctx.integration, flow__code=FlowCode.SALES_OUTBOUND
            )
            .filter(
                Q(source_key=f"o:{o_id}")
                | Q(source_key__startswith="io:", source_payload__o_id__in=wanted)
            )
            .exclude(state=DocumentState.FILTERED)
            .order_by("pk")
            .values("state", "target_key", "source_payload", "progress")
        )
        if not originals:
            return "", "", {}  # shipped before the portal went live: no link to wait for
        synced = [o for o in originals if o["state"] == DocumentState.SYNCED]
        if not synced:
            raise Problem(
                _("The original sales outbound of order %(so)s has not reached Kingdee yet.")
                % {"so": after_sale.get("so_id")},
                error_class=ErrorClass.DEPENDENCY,
                subject=_("order %(so)s") % {"so": after_sale.get("so_id")},
                stage="map",
            )

        def shipped(original) -> set[str]:
            items = (original["source_payload"] or {}).get("items") or []
            return {str(i.get("sku_id")) for i in items if isinstance(i, dict)}

        best = next((o for o in synced if shipped(o) & skus), synced[0])
        sold = {line["sku"]: line for line in (best["progress"] or {}).get("lines") or []}
        return best["target_key"], str((best["source_payload"] or {}).get("currency") or ""), sold

    def transform(self, ctx: FlowContext, document) -> tuple[dict, str]:
        if is_refund_only(document):
            return self._red_receivable(ctx, document)
        after_sale = document.source_payload
        f = partial(custom_field, ctx)
        on_date = self._date(after_sale)
        items = self._lines(document)
        source_bill, source_currency, sold = self._original_outbound(
            ctx, after_sale, {str(i.get("sku_id")) for i in items}
        )
        currency = (
            str(after_sale.get("currency") or "").upper()
            or source_currency.upper()
            or currency_of(ctx, after_sale)
        )
        binder = ctx.mappings
        try:
            customer = binder.customer.to_external(after_sale["shop_id"])
            stock = binder.warehouse.to_external(
                after_sale.get("wms_co_id") or 0, after_sale.get("wh_id") or RETURN_WAREHOUSE
            )
            materials = [binder.material.to_external(str(i["sku_id"])) for i in items]
            settle_currency = currency_number(ctx, currency)
        except MappingMissing as exc:
            raise mapping_problem(exc) from exc
        quote = rates(ctx).quote(currency, on_date) if currency != CNY else None
        entries = []
        for item, material in zip(items, materials, strict=True):
            qty = _received(item)
            price = money(item.get("price"))
            original = sold.get(str(item.get("sku_id")))
            amount = refunded(original, qty) if original else money(price * qty)
            price = max(price, money(amount / qty)) if qty else price
            tax = original or line_tax(ctx, None)
            entries.append(
                {
                    "FMaterialId": {"FNumber": material},
                    "FRealQty": str(qty),
                    "FTaxPrice": str(price),
                    # The sale's discount and rate: the return takes back what was paid.
                    "FDiscount": str(money(price * qty) - amount),
                    **tax_fields(tax),
                    "FIsFree": amount == 0,
                    "FReturnType": {"FNumber": ctx.setting("return_type", "THLX01_SYS")},
                    "FStockId": {"FNumber": stock},
                    "FNote": str(item.get("remark") or "")[:255],
                    f("SkuId"): str(item["sku_id"]),
                    f("Amount"): str(amount),
                    f("AmountCNY"): str(to_cny(amount, quote) if quote else amount),
                }
            )
        prefix = ctx.setting("bill_prefix", self.bill_prefix)
        if is_receipt(document):
            # One bill per receipt batch; its refund figure is the goods received back.
            bill_no = f"{prefix}-{after_sale['io_id']}"
            refund = money(sum((money(e[f("Amount")]) for e in entries), Decimal(0)))
        else:
            bill_no = f"{prefix}{after_sale['as_id']}"
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
            "currency": currency,
            "refunded": str(sum((money(e[f("Amount")]) for e in entries), Decimal(0))),
        }
        note_fallback(document, quote)
        return payload, bill_no
