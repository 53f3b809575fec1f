"""K2 export chain: the consumer-sale rows (one per shipped line of a synced F2 bill), with
the returns netted and the declaration items each line drew on (see the package docstring)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext_lazy

from connectors.models import Integration
from core.messages import gettext as _
from flows.choices import DocumentState, FlowCode
from flows.models import SyncDocument

from ..reconciliation import safe_text
from .declarations import HS_CODE, DeclarationChain, ReturnLine, declaration_chain

PREFIX = "F_PAEZ_"

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
