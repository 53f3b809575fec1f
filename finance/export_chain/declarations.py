"""K2 export chain on customs declarations: 9810 allocation first-in-first-out, returns
netted, the refund estimate and the gaps per declaration item (see the package docstring)."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.utils.translation import gettext_lazy

from connectors.models import Integration
from core.messages import gettext as _
from flows.choices import DocumentState, FlowCode
from flows.models import SyncDocument

from ..choices import CustomsMode, EnterpriseType
from ..models import CustomsDeclaration, DeclarationItem, FinanceSettings
from ..reconciliation import safe_text

HS_CODE = re.compile(r"^\d{10}$")


@dataclass
class SaleLine:
    """One SKU line of a consumer sale (F2), from the document's source payload."""

    document_id: int
    platform_order_no: str
    shop_id: str
    wms_co_id: str
    sku: str
    quantity: Decimal
    ship_date: date | None


@dataclass
class ReturnLine:
    """Units of a sale line that came back (F3), and what they change on declarations."""

    document_id: int
    platform_order_no: str
    sku: str
    quantity: Decimal
    received_on: date | None
    sale_document_id: int | None = None
    # (declaration no., item no., quantity back to unsold, refund filed on or None)
    items: list[tuple[str, int, Decimal, date | None]] = field(default_factory=list)

    @property
    def corrections(self) -> list[str]:
        """What to correct where the refund was already filed before the goods came back."""
        return [text for entry in self.items if (text := self.correction(entry))]

    def correction(self, entry: tuple[str, int, Decimal, date | None]) -> str:
        """The correction one declaration item needs for this return ("" when none)."""
        number, item_no, qty, filed = entry
        if filed is None or (self.received_on is not None and self.received_on < filed):
            return ""
        return _(
            "Declaration %(no)s item %(item)s: the refund filed on %(filed)s counted "
            "%(qty)s sold units that were returned; declare them as unsold "
            "(reduce the sold quantity and the refund) in the next filing."
        ) % {
            "no": number,
            "item": item_no,
            "filed": filed.isoformat(),
            "qty": format(qty.normalize(), "f"),
        }


@dataclass
class ItemRow:
    """One declaration item with its sold / unsold split, refund estimate and gaps."""

    item_id: int
    declaration_no: str
    item_no: int
    mode: str
    export_date: date
    destination_country: str
    reference_no: str
    sku: str
    hs_code: str
    goods_name: str
    quantity: Decimal
    legal_unit: str
    legal_qty: Decimal | None
    second_unit: str
    second_qty: Decimal | None
    fob_usd: Decimal
    hwc_yt: bool
    export_invoice_no: str
    refund_filed_on: date | None
    sold: Decimal = Decimal(0)
    returned: Decimal = Decimal(0)
    purchase_invoices: str = ""
    taxable_amount: Decimal = Decimal(0)
    purchase_tax: Decimal = Decimal(0)
    fx_receipts: str = ""
    refund_rate: Decimal | None = None
    refund_basis: Decimal | None = None
    basis_note: str = ""
    estimated_refund: Decimal | None = None
    refundable_now: Decimal | None = None
    gaps: list[str] = field(default_factory=list)
    corrections: list[str] = field(default_factory=list)

    @property
    def unsold(self) -> Decimal:
        return self.quantity - self.sold

    @property
    def complete(self) -> bool:
        return not self.gaps

    def cells(self) -> list:
        values = {
            **{name: getattr(self, name) for name, _label in ITEM_COLUMNS if hasattr(self, name)},
            "hwc_yt": "HWC-YT" if self.hwc_yt else "",
            "unsold": self.unsold,
            "gaps": ", ".join(self.gaps),
            "corrections": " ".join(self.corrections),
        }
        return [safe_text(values[name]) for name, _label in ITEM_COLUMNS]


ITEM_COLUMNS = (
    ("declaration_no", gettext_lazy("Declaration no.")),
    ("item_no", gettext_lazy("Item no.")),
    ("mode", gettext_lazy("Mode")),
    ("export_date", gettext_lazy("Export date")),
    ("destination_country", gettext_lazy("Destination")),
    ("reference_no", gettext_lazy("Booking / order no.")),
    ("sku", gettext_lazy("SKU")),
    ("hs_code", gettext_lazy("HS code")),
    ("goods_name", gettext_lazy("Goods name")),
    ("quantity", gettext_lazy("Declared quantity")),
    ("sold", gettext_lazy("Sold")),
    ("unsold", gettext_lazy("Unsold")),
    ("returned", gettext_lazy("Returned (netted)")),
    ("legal_unit", gettext_lazy("Legal unit")),
    ("legal_qty", gettext_lazy("Legal quantity")),
    ("second_unit", gettext_lazy("Second legal unit")),
    ("second_qty", gettext_lazy("Second legal quantity")),
    ("fob_usd", gettext_lazy("FOB (USD)")),
    ("hwc_yt", gettext_lazy("HWC-YT")),
    ("export_invoice_no", gettext_lazy("Export invoice no.")),
    ("purchase_invoices", gettext_lazy("Purchase VAT invoices")),
    ("taxable_amount", gettext_lazy("Taxable amount (CNY)")),
    ("purchase_tax", gettext_lazy("Purchase VAT (CNY)")),
    ("fx_receipts", gettext_lazy("FX receipts")),
    ("refund_rate", gettext_lazy("Refund rate (%)")),
    ("refund_basis", gettext_lazy("Refund basis (CNY)")),
    ("basis_note", gettext_lazy("Refund basis")),
    ("estimated_refund", gettext_lazy("Estimated refund (CNY)")),
    ("refundable_now", gettext_lazy("Refundable now (CNY)")),
    ("refund_filed_on", gettext_lazy("Refund filed on")),
    ("corrections", gettext_lazy("Corrections to make")),
    ("gaps", gettext_lazy("Missing to file")),
)
CENT = Decimal("0.01")
HUNDRED = Decimal("100")


@dataclass
class DeclarationChain:
    items: list[ItemRow]
    sales: list[SaleLine]
    returns: list[ReturnLine]
    # (sale document id, sku) -> [(declaration no., item no., net quantity sold)]
    allocations_by_sale: dict[tuple[int, str], list[tuple[str, int, Decimal]]]
    returns_by_sale: dict[tuple[int, str], list[ReturnLine]]
    # (sale document id, sku) -> quantity no declaration item took
    unallocated: dict[tuple[int, str], Decimal]


def _day(value) -> date | None:
    from flows.definitions.kingdee_common import business_date

    try:
        return business_date(value)
    except (TypeError, ValueError):
        return None


def _number(value) -> Decimal:
    try:
        return Decimal(str(value if value not in (None, "") else 0))
    except ArithmeticError:
        return Decimal(0)


def _sales(integration: Integration) -> list[SaleLine]:
    """Every consumer sale line the portal received (not ignored or filtered out), by ship
    date then order no."""
    out = []
    docs = SyncDocument.objects.filter(
        integration=integration, flow__code=FlowCode.SALES_OUTBOUND
    ).exclude(state__in=(DocumentState.IGNORED, DocumentState.FILTERED))
    from flows.definitions.sales_outbound import is_sales_out, shipment

    for doc in docs.only("id", "source_key", "source_payload", "platform_order_no", "shop_id"):
        order = shipment(doc.source_payload or {}, sales_out=is_sales_out(doc))
        quantities: dict[str, Decimal] = defaultdict(Decimal)
        for item in order.get("items") or []:
            if item.get("sku_type") == "no_deliver" or not item.get("sku_id"):
                continue
            quantities[str(item["sku_id"])] += _number(item.get("qty"))
        for sku, qty in quantities.items():
            out.append(
                SaleLine(
                    document_id=doc.pk,
                    platform_order_no=doc.platform_order_no or str(order.get("so_id") or ""),
                    shop_id=str(order.get("shop_id") or doc.shop_id or ""),
                    wms_co_id=str(order.get("wms_co_id") or ""),
                    sku=sku,
                    quantity=qty,
                    ship_date=_day(order.get("send_date")),
                )
            )
    out.sort(key=lambda s: (s.ship_date or date.max, s.platform_order_no, s.document_id))
    return out


def _returns(integration: Integration, sales: list[SaleLine]) -> list[ReturnLine]:
    from flows.definitions.sales_return import is_receipt, receipt_lines, returned_items

    by_order: dict[tuple[str, str], SaleLine] = {}
    for sale in sales:
        by_order.setdefault((sale.platform_order_no, sale.sku), sale)
    out = []
    docs = SyncDocument.objects.filter(
        integration=integration, flow__code=FlowCode.SALES_RETURN
    ).exclude(state__in=(DocumentState.IGNORED, DocumentState.FILTERED))
    for doc in docs.only("id", "source_key", "source_payload", "platform_order_no"):
        after_sale = doc.source_payload or {}
        lines = receipt_lines(after_sale) if is_receipt(doc) else returned_items(after_sale)
        so_id = doc.platform_order_no or str(after_sale.get("so_id") or "")
        received = [i.get("receive_date") for i in after_sale.get("items") or []]
        on = next(
            (
                d
                for d in (
                    _day(after_sale.get("io_date")),
                    *(_day(v) for v in received if v),
                    _day(after_sale.get("confirm_date")),
                    _day(after_sale.get("modified")),
                )
                if d
            ),
            None,
        )
        quantities: dict[str, Decimal] = defaultdict(Decimal)
        for item in lines:
            quantities[str(item.get("sku_id") or "")] += _number(item.get("r_qty"))
        for sku, qty in quantities.items():
            sale = by_order.get((so_id, sku))
            out.append(
                ReturnLine(
                    document_id=doc.pk,
                    platform_order_no=so_id,
                    sku=sku,
                    quantity=qty,
                    received_on=on,
                    sale_document_id=sale.document_id if sale else None,
                )
            )
    return out


def _eligible(declaration: CustomsDeclaration, sale: SaleLine) -> bool:
    if sale.ship_date is None or sale.ship_date < declaration.export_date:
        return False
    shops = declaration.shop_id_list
    if shops and sale.shop_id not in shops:
        return False
    return not declaration.overseas_warehouse or declaration.overseas_warehouse == sale.wms_co_id


def declaration_chain(
    *, integration: Integration, start: date | None = None, end: date | None = None
) -> DeclarationChain:
    """Every declaration item of the integration with its sales, returns, refund and gaps;
    items listed when exported in [start, end] (the allocation always runs over all of
    them, so FIFO does not depend on the filter)."""
    from mappings.errors import MappingMissing
    from mappings.selectors import MappingBinder

    declarations = {
        d.pk: d
        for d in CustomsDeclaration.objects.filter(integration=integration).prefetch_related(
            "fx_receipts"
        )
    }
    items = list(
        DeclarationItem.objects.filter(declaration__integration=integration)
        .prefetch_related("purchase_invoices")
        .order_by("declaration__export_date", "declaration__declaration_no", "item_no")
    )
    sales = _sales(integration)
    returns = _returns(integration, sales)
    capacity = {item.pk: item.quantity for item in items}
    sold: dict[int, Decimal] = defaultdict(Decimal)
    drawn: dict[tuple[int, str], list[list]] = defaultdict(list)  # [item, qty]
    unallocated: dict[tuple[int, str], Decimal] = {}
    by_sku: dict[str, list[DeclarationItem]] = defaultdict(list)
    for item in items:
        by_sku[item.sku_id].append(item)
    for sale in sales:
        need = sale.quantity
        for item in by_sku.get(sale.sku, []):
            if need <= 0:
                break
            declaration = declarations[item.declaration_id]
            if declaration.mode == CustomsMode.OVERSEAS_WAREHOUSE:
                if not _eligible(declaration, sale):
                    continue
            elif declaration.mode == CustomsMode.B2B_DIRECT:
                if declaration.reference_no != sale.platform_order_no:
                    continue
            else:
                continue
            take = min(need, capacity[item.pk])
            if take <= 0:
                continue
            capacity[item.pk] -= take
            sold[item.pk] += take
            drawn[(sale.document_id, sale.sku)].append([item, take])
            need -= take
        if need > 0:
            unallocated[(sale.document_id, sale.sku)] = need
    returned: dict[int, Decimal] = defaultdict(Decimal)
    returns_by_sale: dict[tuple[int, str], list[ReturnLine]] = defaultdict(list)
    for line in returns:
        key = (line.sale_document_id or 0, line.sku)
        returns_by_sale[key].append(line)
        back = line.quantity
        for entry in reversed(drawn.get(key, [])):  # undo the latest draws first
            item, qty = entry
            give = min(back, qty)
            if give <= 0:
                continue
            entry[1] -= give
            sold[item.pk] -= give
            capacity[item.pk] += give
            returned[item.pk] += give
            declaration = declarations[item.declaration_id]
            line.items.append(
                (declaration.declaration_no, item.item_no, give, declaration.refund_filed_on)
            )
            back -= give
    allocations_by_sale = {
        key: [
            (declarations[item.declaration_id].declaration_no, item.item_no, qty)
            for item, qty in entries
            if qty > 0
        ]
        for key, entries in drawn.items()
    }
    corrections: dict[int, list[str]] = defaultdict(list)
    item_by_key = {(declarations[i.declaration_id].declaration_no, i.item_no): i.pk for i in items}
    for line in returns:
        for entry in line.items:
            if text := line.correction(entry):
                corrections[item_by_key[(entry[0], entry[1])]].append(text)
    binder = MappingBinder(integration)
    enterprise_type = FinanceSettings.for_integration(integration).enterprise_type
    rows = []
    for item in items:
        declaration = declarations[item.declaration_id]
        if start and declaration.export_date < start:
            continue
        if end and declaration.export_date > end:
            continue
        if declaration.mode not in (CustomsMode.OVERSEAS_WAREHOUSE, CustomsMode.B2B_DIRECT):
            sold[item.pk] = item.quantity  # 9610 / 0110: sold at export
        invoices = list(item.purchase_invoices.all())
        receipts = list(declaration.fx_receipts.all())
        row = ItemRow(
            item_id=item.pk,
            declaration_no=declaration.declaration_no,
            item_no=item.item_no,
            mode=declaration.mode,
            export_date=declaration.export_date,
            destination_country=declaration.destination_country,
            reference_no=declaration.reference_no,
            sku=item.sku_id,
            hs_code=item.hs_code,
            goods_name=item.goods_name,
            quantity=item.quantity,
            legal_unit=item.legal_unit,
            legal_qty=item.legal_qty,
            second_unit=item.second_unit,
            second_qty=item.second_qty,
            fob_usd=item.fob_usd,
            hwc_yt=item.hwc_yt,
            export_invoice_no=declaration.export_invoice_no,
            refund_filed_on=declaration.refund_filed_on,
            sold=sold[item.pk],
            returned=returned[item.pk],
            purchase_invoices=", ".join(i.invoice_no for i in invoices),
            taxable_amount=sum((i.amount for i in invoices), Decimal(0)).quantize(CENT),
            purchase_tax=sum((i.tax for i in invoices), Decimal(0)).quantize(CENT),
            fx_receipts=", ".join(
                f"{r.receipt_no} {r.currency} {r.amount} ({r.received_on.isoformat()})"
                for r in receipts
            ),
            corrections=corrections.get(item.pk, []),
        )
        template_missing = ""
        if HS_CODE.match(item.hs_code):
            try:
                template = binder.tax_template_for(
                    country=declaration.destination_country,
                    hs_code=item.hs_code,
                    on_date=declaration.export_date,
                )
                row.refund_rate = template.refund_rate
            except MappingMissing as exc:
                template_missing = exc.message
        basis_missing = _refund(row, integration, enterprise_type, has_invoices=bool(invoices))
        row.gaps = _item_gaps(
            row,
            bool(receipts),
            template_missing,
            invoice_needed=enterprise_type != EnterpriseType.MANUFACTURER,
        )
        if basis_missing:
            row.gaps.append(basis_missing)
        rows.append(row)
    return DeclarationChain(
        items=rows,
        sales=sales,
        returns=returns,
        allocations_by_sale=allocations_by_sale,
        returns_by_sale=dict(returns_by_sale),
        unallocated=unallocated,
    )


def _refund_basis(row: ItemRow, integration, enterprise_type: str, *, has_invoices: bool):
    """(basis in CNY or None, what it is, what is missing) for the enterprise type
    (docs/finance/export-refund.md §1): a trading company (外贸企业) refunds on its purchase
    VAT invoices' amount excluding tax; a manufacturer (生产企业, 免抵退) on the FOB value at
    the USD rate the integration's FX policy gives for the export date (its rate-date rule:
    the day itself or the first of the month; the tax office decides)."""
    from mappings.errors import RateUnavailable
    from mappings.rates import policy_rate_for

    if enterprise_type != EnterpriseType.MANUFACTURER:
        if not has_invoices:
            return None, "", ""
        return row.taxable_amount, _("purchase invoices excl. VAT (外贸企业)"), ""
    try:
        quote = policy_rate_for(
            integration=integration, currency="USD", business_date=row.export_date
        )
    except RateUnavailable:
        return (
            None,
            "",
            _("no USD rate for the export date %(date)s (免抵退 basis)")
            % {"date": row.export_date.isoformat()},
        )
    basis = (row.fob_usd * quote.cny_per_unit).quantize(CENT, rounding=ROUND_HALF_UP)
    note = _("FOB %(fob)s USD × %(rate)s (%(date)s) (生产企业 免抵退)") % {
        "fob": row.fob_usd,
        "rate": quote.cny_per_unit.normalize(),
        "date": quote.rate_date.isoformat(),
    }
    return basis, note, ""


def _refund(row: ItemRow, integration, enterprise_type: str, *, has_invoices: bool) -> str:
    """Fill the basis, the estimated refund and what is refundable now; returns the gap
    when the basis cannot be had (empty otherwise)."""
    if row.refund_rate is None:
        return ""
    row.refund_basis, row.basis_note, missing = _refund_basis(
        row, integration, enterprise_type, has_invoices=has_invoices
    )
    if row.refund_basis is None:
        return missing
    row.estimated_refund = (row.refund_basis * row.refund_rate / HUNDRED).quantize(
        CENT, rounding=ROUND_HALF_UP
    )
    if row.mode == CustomsMode.OVERSEAS_WAREHOUSE and not row.hwc_yt:
        row.refundable_now = (
            row.refund_basis * row.refund_rate * row.sold / (HUNDRED * row.quantity)
        ).quantize(CENT, rounding=ROUND_HALF_UP)
    else:
        row.refundable_now = row.estimated_refund
    return ""


def _item_gaps(
    row: ItemRow, has_receipt: bool, template_missing: str, *, invoice_needed: bool
) -> list[str]:
    gaps = []
    if not HS_CODE.match(row.hs_code):
        gaps.append(_("HS code must be 10 digits"))
    if not row.legal_unit or row.legal_qty is None or row.legal_qty <= 0:
        gaps.append(_("no quantity in the first legal unit"))
    if row.second_unit and (row.second_qty is None or row.second_qty <= 0):
        gaps.append(_("no quantity in the second legal unit"))
    if row.fob_usd <= 0:
        gaps.append(_("FOB value in USD is not positive"))
    if not row.export_invoice_no:
        gaps.append(_("no export invoice"))
    if invoice_needed and not row.purchase_invoices:
        gaps.append(_("no purchase VAT invoice (进项专票)"))
    if not has_receipt:
        gaps.append(_("no FX receipt (收汇)"))
    if template_missing:
        gaps.append(template_missing)
    elif row.refund_rate is not None and row.refund_rate <= 0:
        gaps.append(_("the tax template's refund rate is 0"))
    if row.mode == CustomsMode.OVERSEAS_WAREHOUSE and not row.hwc_yt and row.unsold > 0:
        gaps.append(
            _("%(n)s units unsold: file them as HWC-YT (pre-refund) or once sold")
            % {"n": format(row.unsold.normalize(), "f")}
        )
    if row.mode == CustomsMode.B2B_DIRECT and row.sold < row.quantity:
        gaps.append(
            _("no B2B shipment of order %(order)s for %(n)s units")
            % {"order": row.reference_no, "n": format(row.unsold.normalize(), "f")}
        )
    return gaps
