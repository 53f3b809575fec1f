"""Issue 20 point 2: fix the cause in place, on its ticket. A missing mapping gets its row
(the key prefilled, the target code chosen from the M4 snapshot of the target's codes), a
missing exchange rate gets its rate; saving retries every document the ticket holds. The
mapping's history (django-simple-history) records who made the change and from which ticket.
A shortage shows what would release it (the holds, the quantities short)."""

from dataclasses import dataclass
from decimal import Decimal

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, Sum

from core.messages import gettext as _

from .errors import TicketError
from .models import ExceptionTicket
from .services import _cause_retry, _ticket_guard, _ticket_note, ticket_documents


@dataclass(frozen=True)
class MappingFix:
    """Which mapping table a kind of MappingMissing is fixed in."""

    model: str
    key_field: str
    target_field: str
    known_kind: str  # KnownCode.kind of the target's codes


MAPPING_FIXES = {
    "material": MappingFix("mappings.MaterialMapping", "sku_id", "material_number", "material"),
    "customer": MappingFix(
        "mappings.ShopCustomerMapping", "shop_id", "customer_number", "customer"
    ),
    "supplier": MappingFix(
        "mappings.SupplierMapping", "jst_supplier_code", "supplier_number", "supplier"
    ),
}

FIX_MAPPING, FIX_RATE, FIX_SHORTAGE = "mapping", "rate", "shortage"


def fix_kind(ticket: ExceptionTicket) -> str:
    """Which in-place fix the ticket offers ("" for none)."""
    detail = ticket.detail or {}
    if not ticket.is_cause:
        return ""
    if ticket.error_class == "missing_mapping" and detail.get("kind") in MAPPING_FIXES:
        return FIX_MAPPING
    if ticket.error_class == "fx_unavailable" and detail.get("currency"):
        return FIX_RATE
    if ticket.error_class == "insufficient_stock" and detail.get("lines"):
        return FIX_SHORTAGE
    return ""


def target_codes(ticket: ExceptionTicket, query: str = "", limit: int = 50):
    """Codes of the target system (the KnownCode snapshot) a missing mapping may point to;
    `query` searches code and name."""
    from mappings.models import KnownCode

    fix = MAPPING_FIXES[ticket.detail["kind"]]
    codes = KnownCode.objects.filter(
        integration_id=ticket.integration_id, system="kingdee", kind=fix.known_kind
    )
    if query.strip():
        codes = codes.filter(Q(code__icontains=query.strip()) | Q(name__icontains=query.strip()))
    return codes.order_by("code")[:limit]


def _reason(ticket: ExceptionTicket) -> str:
    return _("Added from ticket #%(pk)s") % {"pk": ticket.pk}


@transaction.atomic
def ticket_fix_mapping(*, ticket: ExceptionTicket, user, target_code: str) -> ExceptionTicket:
    """Add the missing mapping row and retry the ticket's documents."""
    from mappings.models import KnownCode

    fresh = _ticket_guard(ticket=ticket, user=user)
    if fix_kind(fresh) != FIX_MAPPING:
        raise TicketError(_("This ticket has no mapping to add."), ticket=fresh.pk)
    fix = MAPPING_FIXES[fresh.detail["kind"]]
    code = target_code.strip()
    snapshot = KnownCode.objects.filter(
        integration_id=fresh.integration_id, system="kingdee", kind=fix.known_kind
    )
    if not code or (snapshot.exists() and not snapshot.filter(code=code).exists()):
        raise TicketError(
            _("Choose a code Kingdee has (%(code)s is not in the snapshot of its codes).")
            % {"code": code or "—"},
            ticket=fresh.pk,
        )
    row = apps.get_model(fix.model)(
        integration_id=fresh.integration_id,
        note=_reason(fresh)[:200],
        **{fix.key_field: fresh.detail["key"], fix.target_field: code},
    )
    row._history_user = user  # django-simple-history: who
    row._change_reason = _reason(fresh)  # … and from which ticket
    try:
        row.full_clean()
    except ValidationError as exc:
        raise TicketError(" ".join(exc.messages), ticket=fresh.pk) from exc
    row.save()
    _ticket_note(fresh, user, _("Mapping added: %(row)s.") % {"row": row})
    return _cause_retry(fresh, user=user, target_payload=None)


@transaction.atomic
def ticket_fix_rate(
    *, ticket: ExceptionTicket, user, rate: Decimal, quote_unit: int = 1
) -> ExceptionTicket:
    """Enter the missing exchange rate (a manual override) and retry the ticket's documents."""
    from mappings.models import ExchangeRate

    fresh = _ticket_guard(ticket=ticket, user=user)
    if fix_kind(fresh) != FIX_RATE or not fresh.detail.get("on_date"):
        raise TicketError(_("This ticket has no exchange rate to enter."), ticket=fresh.pk)
    if rate <= 0 or quote_unit < 1:
        raise TicketError(_("The rate must be above zero."), ticket=fresh.pk)
    entry, _created = ExchangeRate.objects.update_or_create(
        currency=str(fresh.detail["currency"]).upper(),
        rate_date=fresh.detail["on_date"],
        rate_type=ExchangeRate._meta.get_field("rate_type").default,
        defaults={
            "rate": rate,
            "quote_unit": quote_unit,
            "source": "manual",
            "manual_override": True,
            "note": _reason(fresh)[:200],
        },
    )
    _ticket_note(
        fresh,
        user,
        _("Rate entered: 1 CNY per %(unit)s %(currency)s = %(rate)s on %(date)s.")
        % {
            "unit": quote_unit,
            "currency": entry.currency,
            "rate": rate,
            "date": fresh.detail["on_date"],
        },
    )
    return _cause_retry(fresh, user=user, target_payload=None)


@dataclass
class ShortageView:
    """What a shortage ticket shows: the material and stock short, the stock on both sides,
    the open holds of its documents and the purchase that would release them."""

    material: str
    stock: str
    held: Decimal
    holds: list
    kingdee_on_hand: Decimal | None
    jushuitan_on_hand: Decimal | None
    notes: list

    @property
    def to_purchase(self) -> Decimal | None:
        """What a purchase inbound must bring for Kingdee to cover every hold."""
        if self.kingdee_on_hand is None:
            return None
        return max(self.held - self.kingdee_on_hand, Decimal(0))


def shortage_of(ticket: ExceptionTicket) -> ShortageView:
    from flows.models import StockHold

    material, stock = ticket.detail["lines"][0][:2]
    holds = StockHold.objects.filter(
        document__in=[d.pk for d in ticket_documents(ticket)],
        material_number=material,
        status="open",
    ).select_related("document")
    held = holds.aggregate(total=Sum("quantity"))["total"] or Decimal(0)
    notes: list[str] = []
    return ShortageView(
        material=material,
        stock=stock,
        held=held,
        holds=list(holds),
        kingdee_on_hand=_kingdee_on_hand(ticket.integration, material, stock, notes),
        jushuitan_on_hand=_jushuitan_on_hand(ticket.integration, material, notes),
        notes=notes,
    )


def _kingdee_on_hand(integration, material: str, stock: str, notes: list) -> Decimal | None:
    from connectors.kingdee.client import client_for
    from core.errors import PortalError

    try:
        totals = client_for(integration.kingdee).inventory(
            material_numbers=[material], stock_numbers=[stock] if stock else None
        )
    except (PortalError, OSError) as exc:
        notes.append(_("Kingdee's stock could not be read: %(error)s") % {"error": exc})
        return None
    return sum(totals.values(), Decimal(0))


def _jushuitan_on_hand(integration, material: str, notes: list) -> Decimal | None:
    from connectors.jushuitan.client import client_for
    from core.errors import PortalError
    from mappings.errors import MappingMissing
    from mappings.selectors import MappingBinder

    try:
        sku = MappingBinder(integration).material.to_internal(material)
        rows = client_for(integration.jushuitan).inventory_by_skus([sku])
    except (PortalError, MappingMissing, OSError) as exc:
        notes.append(_("Jushuitan's stock could not be read: %(error)s") % {"error": exc})
        return None
    return sum((Decimal(str(row.get("qty") or 0)) for row in rows), Decimal(0))
