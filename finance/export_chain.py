"""K2 export-refund data chain (出口退税数据链), built on customs declarations.

The unit a refund is filed on is a declaration item (报关单号 + 项号), not a consumer sale
(国家税务总局公告2025年第3号; docs/finance/export-refund.md cites the sources). So:

- Declaration items come in by import (finance.declarations): mode (0110 / 9610 / 9710 /
  9810), HS code, legal-unit quantities, FOB in USD, the HWC-YT flag, with their purchase VAT
  invoices (进项专票) and FX receipts (收汇).
- 9810 (overseas warehouse): consumer sales (F2) are allocated first-in-first-out to the items
  of the same SKU exported on or before the ship date (and, when the declaration names them,
  sold by its shops / shipped from its overseas warehouse): sold / unsold per item, and
  sold + unsold = declared quantity always.
- Returns (F3) are netted against the sale they reverse: the returned units go back to unsold
  on the item the sale drew on, so a fully returned unit is never offered for declaration; a
  return received after the item's refund was filed is listed with the correction to make.
- 9710 (B2B direct): the item matches its B2B shipment directly (the declaration's order no.
  = the shipment's platform order no., same SKU).
- 9610 / 0110: the goods were sold at export; no allocation.
- Each item: estimated refund = refund basis × the refund rate of the tax template for its HS
  code and destination country on the export date; the basis follows the finance setting
  *enterprise type*: a trading company's (外贸企业) purchase invoices' amounts excluding tax, a
  manufacturer's (生产企业, 免抵退) FOB × the USD rate of the export date. For 9810 without
  HWC-YT only the sold share is refundable now.
- The Gaps sheet lists, per item, what is missing to file (docs/protocols/
  alerts-fx-customs.md §3.4: HS must be 10 digits; every line traceable).

The consumer-sale rows (one per shipped line of a synced F2 bill) stay: platform order no.,
shop, SKU, HS code, English name, value, currency, rate and CNY amount, logistics / FBA no.,
ship date and the Kingdee bill no., now with the quantity returned, the net quantity and the
declaration items the line drew on.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.utils import timezone
from django.utils.translation import gettext_lazy

from connectors.models import Integration
from core.messages import gettext as _
from flows.choices import DocumentState, FlowCode
from flows.models import SyncDocument

from .choices import CustomsMode, EnterpriseType
from .exports import table_csv, table_xlsx
from .models import CustomsDeclaration, DeclarationItem, FinanceSettings
from .reconciliation import safe_text

PREFIX = "F_PAEZ_"
HS_CODE = re.compile(r"^\d{10}$")

COLUMNS = (
    ("platform_order_no", gettext_lazy("Platform order no.")),
    ("shop_id", gettext_lazy("Shop")),
    ("sku", gettext_lazy("SKU")),
    ("quantity", gettext_lazy("Quantity")),
    ("returned", gettext_lazy("Returned")),
    ("net_quantity", gettext_lazy("Net quantity")),
    ("hs_code", gettext_lazy("HS code")),
    ("english_name", gettext_lazy("English name")),
    ("declared_value", gettext_lazy("Declared value")),
    ("currency", gettext_lazy("Currency")),
    ("rate", gettext_lazy("Rate (CNY per unit)")),
    ("cny_amount", gettext_lazy("CNY amount")),
    ("logistics_no", gettext_lazy("Logistics / FBA no.")),
    ("ship_date", gettext_lazy("Ship date")),
    ("kingdee_bill_no", gettext_lazy("Kingdee outbound bill no.")),
    ("declaration_items", gettext_lazy("Declaration items (sold)")),
    ("gaps", gettext_lazy("Gaps (not declarable until fixed)")),
)


@dataclass
class ChainRow:
    """One shipped line of an export order, with what is missing for the declaration."""

    platform_order_no: str
    shop_id: str
    sku: str
    material: str
    quantity: Decimal
    hs_code: str
    english_name: str
    declared_value: Decimal
    currency: str
    rate: Decimal | None
    cny_amount: Decimal
    logistics_no: str
    ship_date: date | None
    kingdee_bill_no: str
    document_id: int
    gaps: list[str] = field(default_factory=list)
    returned: Decimal = Decimal(0)
    allocations: list[tuple[str, int, Decimal]] = field(default_factory=list)
    returns: list[ReturnLine] = field(default_factory=list)

    @property
    def net_quantity(self) -> Decimal:
        return max(self.quantity - self.returned, Decimal(0))

    @property
    def complete(self) -> bool:
        return not self.gaps

    def cells(self) -> list:
        data = asdict(self)
        data["gaps"] = ", ".join(self.gaps)
        data["net_quantity"] = self.net_quantity
        data["declaration_items"] = ", ".join(
            f"{number}#{item_no}: {format(qty.normalize(), 'f')}"
            for number, item_no, qty in self.allocations
        )
        return [safe_text(data[name]) for name, _label in COLUMNS]


def _field(row: dict, name: str):
    return row.get(f"{PREFIX}{name}")


def _materials(integration: Integration, numbers: set[str]) -> dict[str, dict]:
    """HS code and English name of materials, read from Kingdee now (not cached)."""
    if not numbers:
        return {}
    from connectors.kingdee.client import client_for, quote

    client = client_for(integration.kingdee)
    keys = ["FNumber", f"{PREFIX}HSCode", f"{PREFIX}EnName"]
    facts = {}
    ordered = sorted(numbers)
    for index in range(0, len(ordered), 200):
        part = ordered[index : index + 200]
        for row in client.iter_bill_query(
            "BD_MATERIAL", keys, filter_string=f"FNumber in ({','.join(quote(n) for n in part)})"
        ):
            facts[str(row["FNumber"])] = {
                "hs_code": str(row.get(keys[1]) or "").strip(),
                "english_name": str(row.get(keys[2]) or "").strip(),
            }
    return facts


def chain_documents(
    *,
    integration: Integration,
    start: date | None = None,
    end: date | None = None,
    shop_id: str = "",
    platform_order_no: str = "",
):
    """Synced sales outbounds of the integration, by ship date range / shop / order no."""
    docs = SyncDocument.objects.filter(
        integration=integration, flow__code=FlowCode.SALES_OUTBOUND, state=DocumentState.SYNCED
    )
    if platform_order_no:
        docs = docs.filter(platform_order_no=platform_order_no)
    if shop_id:
        docs = docs.filter(shop_id=str(shop_id))
    if start:  # a bill is synced on or after its ship date
        docs = docs.filter(
            synced_at__gte=timezone.make_aware(
                datetime.combine(start - timedelta(days=1), time.min)
            )
        )
    selected = []
    for doc in docs.order_by("platform_order_no", "id"):
        ship = _ship_date(doc.target_payload or {})
        if start and (ship is None or ship < start):
            continue
        if end and (ship is None or ship > end):
            continue
        selected.append(doc)
    return selected


def _ship_date(payload: dict) -> date | None:
    try:
        return date.fromisoformat(str(payload.get("FDate"))[:10])
    except ValueError:
        return None


def chain_rows(
    *,
    integration: Integration,
    start: date | None = None,
    end: date | None = None,
    shop_id: str = "",
    platform_order_no: str = "",
    chain: DeclarationChain | None = None,
) -> list[ChainRow]:
    """The consumer-sale rows (see the module docstring), returns netted, the declaration
    items each line drew on, gaps flagged."""
    docs = chain_documents(
        integration=integration,
        start=start,
        end=end,
        shop_id=shop_id,
        platform_order_no=platform_order_no,
    )
    materials = set()
    for doc in docs:
        for entry in (doc.target_payload or {}).get("FEntity") or []:
            materials.add(str((entry.get("FMaterialID") or {}).get("FNumber", "")))
    facts = _materials(integration, materials - {""})
    rows: list[ChainRow] = []
    for doc in docs:
        payload = doc.target_payload or {}
        sub = payload.get("SubHeadEntity") or {}
        currency = str(_field(payload, "Currency") or "CNY").upper()
        rate_text = sub.get("FExchangeRate")
        rate = Decimal(str(rate_text)) if rate_text not in (None, "") else None
        logistics = str(_field(payload, "LogisticsNo") or payload.get("FCarriageNO") or "")
        for entry in payload.get("FEntity") or []:
            material = str((entry.get("FMaterialID") or {}).get("FNumber", ""))
            fact = facts.get(material, {})
            hs_code = fact.get("hs_code") or str(_field(entry, "HSCode") or "")
            row = ChainRow(
                platform_order_no=doc.platform_order_no,
                shop_id=str(_field(payload, "ShopId") or doc.shop_id),
                sku=str(_field(entry, "SkuId") or material),
                material=material,
                quantity=Decimal(str(entry.get("FRealQty") or 0)),
                hs_code=hs_code,
                english_name=fact.get("english_name", ""),
                declared_value=Decimal(str(_field(entry, "NetAmount") or 0)),
                currency=currency,
                rate=rate,
                cny_amount=Decimal(str(_field(entry, "NetAmountCNY") or 0)),
                logistics_no=logistics,
                ship_date=_ship_date(payload),
                kingdee_bill_no=doc.kingdee_bill_no,
                document_id=doc.pk,
            )
            rows.append(row)
    chain = chain or declaration_chain(integration=integration)
    for row in rows:
        key = (row.document_id, row.sku)
        row.returns = chain.returns_by_sale.get(key, [])
        row.returned = sum((r.quantity for r in row.returns), Decimal(0))
        row.allocations = chain.allocations_by_sale.get(key, [])
        row.gaps = _gaps(row)
    return rows


def _gaps(row: ChainRow) -> list[str]:
    gaps = []
    if row.quantity > 0 and row.returned >= row.quantity:
        gaps.append(_("fully returned: nothing to declare"))
    if not HS_CODE.match(row.hs_code):
        gaps.append(_("HS code must be 10 digits"))
    if not row.english_name:
        gaps.append(_("no English name"))
    if row.declared_value <= 0:
        gaps.append(_("declared value is not positive"))
    if row.rate is None or row.rate <= 0:
        gaps.append(_("no exchange rate"))
    if not row.logistics_no:
        gaps.append(_("no logistics / FBA no."))
    if not row.kingdee_bill_no:
        gaps.append(_("no Kingdee outbound bill"))
    if row.ship_date is None:
        gaps.append(_("no ship date"))
    return gaps


def totals(rows: list[ChainRow]) -> dict[str, dict[str, Decimal]]:
    """Per currency: declared value and CNY amount of the complete rows and of all rows."""
    out: dict[str, dict[str, Decimal]] = defaultdict(
        lambda: {k: Decimal(0) for k in ("declared", "cny", "declared_all", "cny_all")}
    )
    for row in rows:
        bucket = out[row.currency]
        bucket["declared_all"] += row.declared_value
        bucket["cny_all"] += row.cny_amount
        if row.complete:
            bucket["declared"] += row.declared_value
            bucket["cny"] += row.cny_amount
    return dict(out)


def _total_rows(rows: list[ChainRow]) -> list[list]:
    return [
        [currency, b["declared"], b["cny"], b["declared_all"], b["cny_all"]]
        for currency, b in sorted(totals(rows).items())
    ]


def _total_header() -> list[str]:
    return [
        _("Currency"),
        _("Declared value (complete rows)"),
        _("CNY amount (complete rows)"),
        _("Declared value (all rows)"),
        _("CNY amount (all rows)"),
    ]


# --- declarations: allocation, returns, refund, gaps ----------------------------------------


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


def item_totals(items: list[ItemRow]) -> list[list]:
    """Per mode: declared, sold, unsold, FOB USD, estimated refund, refundable now."""
    out: dict[str, list] = {}
    for row in items:
        bucket = out.setdefault(row.mode, [row.mode] + [Decimal(0)] * 6)
        bucket[1] += row.quantity
        bucket[2] += row.sold
        bucket[3] += row.unsold
        bucket[4] += row.fob_usd
        bucket[5] += row.estimated_refund or 0
        bucket[6] += row.refundable_now or 0
    return [
        [b[0], *(_plain(v) for v in b[1:4]), *(v.quantize(CENT) for v in b[4:])]
        for b in (out[k] for k in sorted(out))
    ]


def _plain(value: Decimal) -> Decimal:
    """A quantity without trailing zeros and without an exponent (230.000 → 230)."""
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


def _item_total_header() -> list[str]:
    return [
        _("Mode"),
        _("Declared quantity"),
        _("Sold"),
        _("Unsold"),
        _("FOB (USD)"),
        _("Estimated refund (CNY)"),
        _("Refundable now (CNY)"),
    ]


def _return_header() -> list[str]:
    return [
        _("Platform order no."),
        _("SKU"),
        _("Returned"),
        _("Received on"),
        _("Back to unsold on"),
        _("Correction to make"),
    ]


def return_rows(returns: list[ReturnLine]) -> list[list]:
    return [
        [
            safe_text(r.platform_order_no),
            safe_text(r.sku),
            r.quantity,
            r.received_on,
            safe_text(
                ", ".join(
                    f"{number}#{item_no}: {format(qty.normalize(), 'f')}"
                    for number, item_no, qty, _filed in r.items
                )
            ),
            safe_text(" ".join(r.corrections)),
        ]
        for r in returns
    ]


def export_csv(rows: list[ChainRow], chain: DeclarationChain) -> bytes:
    """The declaration items (their gaps and corrections in the last columns), then the
    consumer-sale lines with their returns, then the totals, each after an empty line."""
    item_header = [str(label) for _name, label in ITEM_COLUMNS]
    body = [item.cells() for item in chain.items]
    body += [[], [str(label) for _name, label in COLUMNS]]
    body += [r.cells() for r in sorted(rows, key=lambda r: (not r.complete, r.platform_order_no))]
    body += [[], _return_header(), *return_rows(chain.returns)]
    body += [[], _item_total_header(), *item_totals(chain.items)]
    body += [[], _total_header(), *_total_rows(rows)]
    return table_csv(item_header, body)


def export_xlsx(rows: list[ChainRow], chain: DeclarationChain) -> bytes:
    """Sheets: declaration items ready to file, the Gaps sheet (per item what is missing),
    the consumer sales with their allocation and returns, the returns with corrections,
    and the totals."""
    item_header = [str(label) for _name, label in ITEM_COLUMNS]
    gap_header = [
        _("Declaration no."),
        _("Item no."),
        _("SKU"),
        _("Missing to file"),
        _("Corrections to make"),
    ]
    gap_rows = [
        [
            safe_text(i.declaration_no),
            i.item_no,
            safe_text(i.sku),
            safe_text("; ".join(i.gaps)),
            safe_text(" ".join(i.corrections)),
        ]
        for i in chain.items
        if i.gaps or i.corrections
    ]
    return table_xlsx(
        [
            (_("Declaration items"), item_header, [i.cells() for i in chain.items if i.complete]),
            (_("Gaps"), gap_header, gap_rows),
            (_("Consumer sales"), [str(label) for _n, label in COLUMNS], [r.cells() for r in rows]),
            (_("Returns"), _return_header(), return_rows(chain.returns)),
            (
                _("Totals"),
                _item_total_header(),
                [*item_totals(chain.items), [], _total_header(), *_total_rows(rows)],
            ),
        ]
    )
