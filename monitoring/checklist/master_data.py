"""Checklist items on master data: G1 mappings, G3 tax templates and HS codes, FX1 currency
numbers (and the codes one system lists that nothing pairs)."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from flows.choices import FlowCode

from .base import MISSING, OK, RECENT_DAYS, WARN, CheckItem, _admin


def _missing_mappings(tickets) -> list[str]:
    """Issue 20 point 3: each missing mapping once, with how many documents wait for it (a
    cause ticket counts its documents; older per-document tickets are counted by title)."""
    from collections import Counter

    counts: Counter = Counter()
    for title, is_cause, held in tickets.annotate(held=Count("links")).values_list(
        "title", "is_cause", "held"
    ):
        counts[title] += held if is_cause else 1
    return [
        ngettext("%(title)s (%(n)d document)", "%(title)s (%(n)d documents)", n)
        % {"title": title, "n": n}
        for title, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    ]


def check_g1_mappings(integration) -> CheckItem:
    from mappings.code_tables import CODE_TABLE_KINDS
    from mappings.models import KnownCode
    from monitoring.models import OPEN_TICKET_STATUSES, ExceptionTicket

    # Kingdee's code tables (currencies, accounts, tax rates) are not master data.
    known = (
        KnownCode.objects.filter(integration=integration).exclude(kind__in=CODE_TABLE_KINDS).count()
    )
    missing = _missing_mappings(
        ExceptionTicket.objects.filter(
            integration=integration, error_class="missing_mapping", status__in=OPEN_TICKET_STATUSES
        )
    )
    title = _("G1 Mapping tables initialised")
    if not known:
        return CheckItem(
            "G1",
            title,
            MISSING,
            _("The mappings were never initialised from the two systems."),
            # The action lives on the Integration list (master-data admins may run it).
            fix_url=_admin("connectors_integration_changelist"),
            fix_label=_(
                "Select the integration, action 'Initialise mappings from both systems (G1)'"
            ),
            role="master_data_admin",
        )
    one_side = one_side_codes(integration)
    if one_side:
        kinds = sorted({kind for _label, kind, _code, _name, _system in one_side})
        fix_url, _kind = _g1_fix(kinds[0])
        # A Jushuitan code without its Kingdee pair blocks documents; a Kingdee warehouse
        # Jushuitan never lists may be one the shop side does not use: a warning.
        blocking = any(system == "jushuitan" for *_rest, system in one_side)
        return CheckItem(
            "G1",
            title,
            MISSING if blocking else WARN,
            (
                _(
                    "%(n)d codes exist in one system only: documents using them would block. "
                    "Map each one (or create it in the other system)."
                )
                if blocking
                else _(
                    "%(n)d Kingdee warehouses have no Jushuitan warehouse: map those Jushuitan "
                    "uses; the others can stay."
                )
            )
            % {"n": len(one_side)},
            details=[
                f"{label}: {code}" + (f" ({name})" if name else "")
                for label, _kind, code, name, _system in one_side[:50]
            ],
            fix_url=fix_url,
            fix_label=_("Add the missing mappings"),
            role="master_data_admin",
        )
    if missing:
        return CheckItem(
            "G1",
            title,
            WARN,
            _("%(n)d mappings used by documents are still missing.") % {"n": len(missing)},
            details=missing[:50],
            fix_url=reverse("monitoring:tickets") + "?error_class=missing_mapping",
            fix_label=_("Open the master-data work orders"),
            role="master_data_admin",
        )
    return CheckItem(
        "G1", title, OK, _("%(n)d codes known from both systems; nothing missing.") % {"n": known}
    )


def check_g3_tax_templates(integration) -> CheckItem:
    from flows.models import SyncDocument
    from mappings.errors import MappingMissing
    from mappings.selectors import tax_template_for

    since = timezone.now() - timedelta(days=RECENT_DAYS)
    docs = SyncDocument.objects.filter(
        integration=integration, flow__code=FlowCode.SALES_OUTBOUND, created_at__gte=since
    )
    countries = {
        str(c).upper()
        for c in docs.values_list("source_payload__receiver_country", flat=True).distinct()
        if c
    }
    seen = _hs_codes_seen(docs)
    hs_codes = {hs for _country, hs in seen}
    title = _("G3 Cross-border tax templates (country + HS code)")
    if not countries:
        return CheckItem(
            "G3",
            title,
            WARN,
            _("No shipped orders in the last %(d)d days to check against.") % {"d": RECENT_DAYS},
        )
    without_hs = _materials_without_hs_code(integration)
    gaps = []
    today = timezone.localdate()
    for country, hs in sorted(seen):
        try:
            tax_template_for(integration=integration, country=country, hs_code=hs, on_date=today)
        except MappingMissing:
            gaps.append(f"{country} · {hs}")
    if without_hs:
        # Issue 20 point 3: no template can be chosen before the material has its HS code;
        # the fix is the material's, so the item links to the ticket of that cause.
        return CheckItem(
            "G3",
            title,
            MISSING,
            ngettext(
                "%(n)d material has no HS code, so no tax template can be chosen for it.",
                "%(n)d materials have no HS code, so no tax template can be chosen for them.",
                len(without_hs),
            )
            % {"n": len(without_hs)},
            details=[text for text, _url in without_hs][:50] + gaps[:50],
            fix_url=without_hs[0][1],
            fix_label=_("Open the work order of the material"),
            role="master_data_admin",
        )
    if gaps:
        return CheckItem(
            "G3",
            title,
            MISSING,
            _("%(n)d country and HS code pairs seen in orders have no tax template.")
            % {"n": len(gaps)},
            details=gaps[:50],
            fix_url=_admin("mappings_taxtemplate_changelist"),
            fix_label=_("Add tax templates"),
            role="finance",
        )
    return CheckItem(
        "G3",
        title,
        OK,
        _("%(p)d country and HS code pairs (%(h)d HS codes) seen in orders are covered.")
        % {"p": len(seen), "h": len(hs_codes)},
    )


def _hs_codes_seen(docs) -> set[tuple[str, str]]:
    """(country, HS code) pairs really written: from the Kingdee bills the flow built."""
    pairs: set[tuple[str, str]] = set()
    for country, payload in docs.exclude(target_payload={}).values_list(
        "source_payload__receiver_country", "target_payload"
    ):
        for entry in (payload or {}).get("FEntity") or []:
            hs = next((str(v) for k, v in entry.items() if k.endswith("HSCode") and v), "")
            if country and hs:
                pairs.add((str(country).upper(), hs))
    return pairs


def _materials_without_hs_code(integration) -> list[tuple[str, str]]:
    """ "material X has no HS code", with the link to the ticket of that cause."""
    from monitoring.models import OPEN_TICKET_STATUSES, ExceptionTicket

    tickets = ExceptionTicket.objects.filter(
        integration=integration,
        trace_key__startswith="material-field:",
        trace_key__endswith=":hs_code",
        status__in=OPEN_TICKET_STATUSES,
    ).annotate(held=Count("links"))
    return [
        (
            ngettext(
                "material %(material)s has no HS code (%(n)d document waits)",
                "material %(material)s has no HS code (%(n)d documents wait)",
                t.held,
            )
            % {"material": t.detail.get("material", "?"), "n": t.held},
            reverse("monitoring:ticket", args=[t.pk]),
        )
        for t in tickets.order_by("trace_key")
    ]


# (label, system, snapshot kind, (binder kind, direction)) for codes listed by one system.
def _one_side_rules():
    from mappings.choices import MasterKind, System

    return (
        (
            _("shop without a Kingdee customer"),
            System.JUSHUITAN,
            MasterKind.SHOP,
            ("customer", "to_external"),
        ),
        (
            _("warehouse only in Jushuitan"),
            System.JUSHUITAN,
            MasterKind.WAREHOUSE,
            ("warehouse", "to_external"),
        ),
        (
            _("warehouse only in Kingdee"),
            System.KINGDEE,
            MasterKind.WAREHOUSE,
            ("warehouse", "to_internal"),
        ),
        (
            _("supplier only in Jushuitan"),
            System.JUSHUITAN,
            MasterKind.SUPPLIER,
            ("supplier", "to_external"),
        ),
        (
            _("SKU without a Kingdee material"),
            System.JUSHUITAN,
            MasterKind.SKU,
            ("material", "to_external"),
        ),
    )


def one_side_codes(integration) -> list[tuple[str, str, str, str, str]]:
    """Codes listed by one system at initialisation that no mapping or 1:1 rule pairs with
    the other: (label, kind, code, name, system that lists it)."""
    from mappings.errors import MappingMissing
    from mappings.models import KnownCode
    from mappings.selectors import MappingBinder

    binder = MappingBinder(integration)
    found = []
    for label, system, kind, (bound, direction) in _one_side_rules():
        rows = KnownCode.objects.filter(integration=integration, system=system, kind=kind)
        for code, name in rows.order_by("code").values_list("code", "name"):
            try:
                getattr(getattr(binder, bound), direction)(code)
            except MappingMissing:
                found.append((str(label), kind, code, name, system))
    return found


def _g1_fix(kind: str) -> tuple[str, str]:
    names = {
        "shop": "mappings_shopcustomermapping",
        "warehouse": "mappings_warehousemapping",
        "supplier": "mappings_suppliermapping",
        "sku": "mappings_materialmapping",
    }
    return _admin(f"{names.get(kind, 'mappings_shopcustomermapping')}_changelist"), kind


def check_currency_codes(integration) -> CheckItem:
    """FX1: every currency the shops use has its Kingdee currency number (M5)."""
    from flows.models import SyncDocument
    from mappings.errors import MappingMissing
    from mappings.models import KnownCode, ShopCustomerMapping
    from mappings.selectors import currency_for

    title = _("FX1 Currency code mappings for the shops' currencies")
    used = {
        str(c).upper()
        for c in ShopCustomerMapping.objects.filter(integration=integration).values_list(
            "settle_currency", flat=True
        )
        if c
    }
    used |= {
        str((extra or {}).get("currency") or "").upper()
        for extra in KnownCode.objects.filter(
            integration=integration, system="jushuitan", kind="shop"
        ).values_list("extra", flat=True)
        if isinstance(extra, dict) and extra.get("currency")
    }
    since = timezone.now() - timedelta(days=RECENT_DAYS)
    used |= {
        str(c).upper()
        for c in SyncDocument.objects.filter(integration=integration, created_at__gte=since)
        .values_list("source_payload__currency", flat=True)
        .distinct()
        if c
    }
    missing, numbers = [], {}
    for currency in sorted(used):
        try:
            numbers[currency] = currency_for(integration=integration, currency=currency)
        except MappingMissing:
            missing.append(currency)
    wrong = _currency_numbers_wrong(integration, numbers)
    fix = _admin("mappings_codemapping_changelist")
    if not used:
        return CheckItem(
            "FX1",
            title,
            WARN,
            _(
                "No shop has a settlement currency yet: set it on the shop ↔ customer "
                "mappings so the currencies can be checked."
            ),
            fix_url=_admin("mappings_shopcustomermapping_changelist"),
            fix_label=_("Set the shops' settlement currencies"),
            role="master_data_admin",
        )
    if missing or wrong:
        return CheckItem(
            "FX1",
            title,
            MISSING,
            _(
                "%(n)d currencies used by the shops have no Kingdee currency number: every "
                "order in them would block."
            )
            % {"n": len(missing) + len(wrong)},
            details=[_("%(code)s → ? (e.g. USD → PRE007)") % {"code": c} for c in missing] + wrong,
            fix_url=fix,
            fix_label=_("Add currency code mappings (or pull Kingdee's currencies)"),
            role="master_data_admin",
        )
    return CheckItem(
        "FX1",
        title,
        OK,
        _("All %(n)d currencies have their Kingdee number: %(list)s")
        % {"n": len(used), "list": ", ".join(sorted(used))},
    )


def _currency_numbers_wrong(integration, numbers: dict[str, str]) -> list[str]:
    """Currency numbers Kingdee's currency table (pulled into the snapshot) does not have, or
    has for another ISO code (issue 24 point 6); nothing is said before it was pulled."""
    from mappings.import_checks import snapshot_codes

    known = snapshot_codes(integration.pk, "kingdee", "currency")
    if known is None:
        return []
    wrong = []
    for currency, number in sorted(numbers.items()):
        listed = known.get(number)
        iso = str(listed.extra.get("iso") or "").upper() if listed else ""
        if listed is None:
            wrong.append(
                _("%(code)s → %(number)s: Kingdee has no currency %(number)s")
                % {"code": currency, "number": number}
            )
        elif iso and iso != currency:
            wrong.append(
                _("%(code)s → %(number)s: Kingdee's %(number)s is %(iso)s")
                % {"code": currency, "number": number, "iso": iso}
            )
    return wrong
