"""The go-live checklist (上线 checklist, G1–G6): each item checked against the live
configuration, saying what is missing and where to fix it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Count
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from flows.choices import DocumentState, FlowCode, flow_choices

OK, WARN, MISSING = "ok", "warning", "missing"
CANARY_DAYS = 3
RECENT_DAYS = 30


@dataclass
class CheckItem:
    code: str
    title: str
    status: str
    summary: str
    details: list[str] = field(default_factory=list)
    fix_url: str = ""
    fix_label: str = ""
    role: str = ""  # the role that fixes it (core.roles.Role), shown next to the link

    @property
    def ok(self) -> bool:
        return self.status == OK


def _admin(name: str) -> str:
    return reverse(f"admin:{name}")


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


def check_g2_opening_inventory(integration) -> CheckItem:
    from mappings.errors import MappingMissing
    from mappings.models import KnownCode
    from mappings.selectors import MappingBinder
    from masterdata.selectors import warehouses_without_opening_inventory

    # Every warehouse of both systems: Kingdee's own, and the Kingdee warehouse each
    # Jushuitan warehouse maps to (a Jushuitan-only warehouse shows under G1).
    warehouses = set(
        KnownCode.objects.filter(
            integration=integration, system="kingdee", kind="warehouse"
        ).values_list("code", flat=True)
    )
    binder = MappingBinder(integration)
    for wms_co_id in KnownCode.objects.filter(
        integration=integration, system="jushuitan", kind="warehouse"
    ).values_list("code", flat=True):
        try:
            warehouses.add(binder.warehouse.to_external(wms_co_id))
        except MappingMissing:
            continue
    warehouses = sorted(warehouses)
    title = _("G2 Opening inventory imported per warehouse (both systems)")
    if not warehouses:
        return CheckItem(
            "G2", title, MISSING, _("No Kingdee warehouse is known yet (run G1 first).")
        )
    left = warehouses_without_opening_inventory(
        integration_id=integration.pk, stock_numbers=warehouses
    )
    if left:
        return CheckItem(
            "G2",
            title,
            MISSING,
            _("%(n)d of %(total)d warehouses have no opening inventory pushed.")
            % {"n": len(left), "total": len(warehouses)},
            details=left,
            fix_url=_admin("masterdata_openinginventoryimport_changelist"),
            fix_label=_("Import opening inventory"),
            role="master_data_admin",
        )
    return CheckItem("G2", title, OK, _("All %(n)d warehouses imported.") % {"n": len(warehouses)})


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


REFRESH_SCHEDULE_TASK = "connectors.jushuitan.tasks.refresh_tokens"


def _schedule_state(task_path: str) -> str:
    """ "ok", "missing" or "disabled" for the declared system schedule running `task_path`."""
    from core.schedules import schedules_status

    states = [state for entry, state in schedules_status() if entry["task"] == task_path]
    return states[0] if states else "missing"


def check_schedules(integration) -> CheckItem:
    """Issue 24 point 1: every system schedule the apps declare is installed and enabled."""
    from core.schedules import schedules_status

    title = _("Schedules: system periodic tasks installed and enabled")
    status = schedules_status()
    missing = [entry["name"] for entry, state in status if state == "missing"]
    disabled = [entry["name"] for entry, state in status if state == "disabled"]
    fix = _admin("django_celery_beat_periodictask_changelist")
    if missing or disabled:
        details = [_("missing: %(name)s") % {"name": name} for name in missing] + [
            _("disabled: %(name)s") % {"name": name} for name in disabled
        ]
        return CheckItem(
            "S1",
            title,
            MISSING,
            _(
                "%(m)d system schedules are missing and %(d)d disabled: what they do (token "
                "refresh, FX fetch, sweeps, alerts, purges, checks) does not happen."
            )
            % {"m": len(missing), "d": len(disabled)},
            details=details,
            fix_url=fix,
            fix_label=_(
                "Enable them under Periodic tasks; missing ones come back with "
                "`manage.py migrate` or `manage.py setup_schedules`"
            ),
            role="operator",
        )
    return CheckItem(
        "S1",
        title,
        OK,
        _("All %(n)d system schedules are installed and enabled.") % {"n": len(status)},
    )


def check_g4_tokens(integration) -> CheckItem:
    connection = integration.jushuitan
    title = _("G4 Shop authorisation tokens fresh")
    now = timezone.now()
    fix = reverse("admin:jushuitan_jushuitanconnection_change", args=[connection.pk])
    if not connection.access_token or connection.token_expires_at is None:
        return CheckItem(
            "G4",
            title,
            MISSING,
            _("No access token yet."),
            fix_url=fix,
            fix_label=_("Refresh token now"),
            role="operator",
        )
    if connection.token_expires_at <= now:
        return CheckItem(
            "G4",
            title,
            MISSING,
            _("The access token has expired."),
            fix_url=fix,
            fix_label=_("Refresh token now"),
            role="operator",
        )
    margin = timedelta(hours=connection.refresh_before_hours)
    if connection.token_error or connection.token_expires_at - now < margin:
        return CheckItem(
            "G4",
            title,
            WARN,
            _("The token expires at %(at)s and was not refreshed yet: %(error)s")
            % {
                "at": timezone.localtime(connection.token_expires_at).strftime("%Y-%m-%d %H:%M"),
                "error": connection.token_error or "-",
            },
            fix_url=fix,
            fix_label=_("Refresh token now"),
            role="operator",
        )
    valid_until = timezone.localtime(connection.token_expires_at).strftime("%Y-%m-%d %H:%M")
    schedule = _schedule_state(REFRESH_SCHEDULE_TASK)
    if schedule != "ok":
        # Only say "refreshed automatically" when the refresh schedule really runs.
        return CheckItem(
            "G4",
            title,
            WARN,
            _(
                "Valid until %(at)s, but the token refresh schedule is %(state)s: nothing "
                "refreshes it before it expires."
            )
            % {
                "at": valid_until,
                "state": _("missing") if schedule == "missing" else _("disabled"),
            },
            fix_url=_admin("django_celery_beat_periodictask_changelist"),
            fix_label=_("Enable the schedule 'Jushuitan: keep tokens fresh'"),
            role="operator",
        )
    return CheckItem(
        "G4",
        title,
        OK,
        _("Valid until %(at)s; refreshed automatically every %(m)d minutes.")
        % {"at": valid_until, "m": _token_refresh_minutes()},
    )


def _token_refresh_minutes() -> int:
    from django_celery_beat.models import PeriodicTask

    task = (
        PeriodicTask.objects.filter(task=REFRESH_SCHEDULE_TASK).select_related("interval").first()
    )
    if task is None or task.interval is None:
        return 0
    seconds = task.interval.every * {"days": 86400, "hours": 3600, "minutes": 60}.get(
        task.interval.period, 1
    )
    return seconds // 60


def check_g5_accounts(integration) -> CheckItem:
    from mappings.selectors import account_mapping_gaps

    gaps = account_mapping_gaps(integration=integration)
    title = _("G5 Financial account mapping complete")
    if gaps:
        return CheckItem(
            "G5",
            title,
            MISSING,
            _("%(n)d accounts are not mapped.") % {"n": len(gaps)},
            details=[str(g) for g in gaps],
            fix_url=_admin("mappings_accountmapping_changelist"),
            fix_label=_("Map the accounts"),
            role="finance",
        )
    return CheckItem(
        "G5",
        title,
        OK,
        _(
            "Revenue, cost, freight, platform fees, tariffs, FX gain/loss and the stock-count "
            "accounts are mapped."
        ),
    )


SHOP_FLOWS = (FlowCode.SALES_OUTBOUND, FlowCode.SALES_RETURN)


def canary_too_wide(flow) -> bool:
    """A canary is one shop (for the shop-based flows) and one warehouse; an empty list means
    every shop or warehouse."""
    shops, warehouses = list(flow.canary_shops or []), list(flow.canary_warehouses or [])
    if len(shops) > 1 or len(warehouses) != 1:
        return True
    return flow.code in SHOP_FLOWS and len(shops) != 1


def check_g6_canary(integration) -> CheckItem:
    from flows.models import Flow

    title = _("G6 Canary: 1 shop + 1 warehouse for 3 days, then widen")
    flows = list(Flow.objects.filter(integration=integration, enabled=True))
    scoped = [f for f in flows if f.canary_shops or f.canary_warehouses]
    fix = _admin("flows_flow_changelist")
    if not flows:
        return CheckItem(
            "G6",
            title,
            MISSING,
            _("No flow is enabled."),
            fix_url=fix,
            fix_label=_("Enable flows"),
            role="operator",
        )
    if not scoped:
        return CheckItem(
            "G6",
            title,
            WARN,
            _("No canary scope is set: every shop and warehouse is synced."),
            fix_url=fix,
            fix_label=_("Set a canary shop and warehouse"),
            role="operator",
        )
    wide = [f for f in scoped if canary_too_wide(f)]
    if wide:
        return CheckItem(
            "G6",
            title,
            WARN,
            _(
                "The canary is wider than one shop and one warehouse: a mistake would reach "
                "more orders than it has to."
            ),
            details=[
                _("%(flow)s: shops %(shops)s, warehouses %(wh)s")
                % {
                    "flow": f.get_code_display(),
                    "shops": ", ".join(map(str, f.canary_shops or [])) or _("all"),
                    "wh": ", ".join(map(str, f.canary_warehouses or [])) or _("all"),
                }
                for f in wide
            ],
            fix_url=fix,
            fix_label=_("Narrow the scope to one shop and one warehouse"),
            role="operator",
        )
    details = []
    status = OK
    for flow in scoped:
        since = flow.canary_since or flow.updated_at
        age = (timezone.now() - since).days
        details.append(
            _("%(flow)s: shops %(shops)s, warehouses %(wh)s, for %(days)d days")
            % {
                "flow": flow.get_code_display(),
                "shops": flow.canary_shops or "-",
                "wh": flow.canary_warehouses or "-",
                "days": age,
            }
        )
        if age < CANARY_DAYS:
            status = WARN
    failed = (
        flows[0]
        .documents.model.objects.filter(
            flow__in=scoped, state__in=(DocumentState.FAILED, DocumentState.BLOCKED)
        )
        .count()
    )
    summary = (
        _("Canary running; widen after %(d)d days without failures.") % {"d": CANARY_DAYS}
        if status == WARN
        else _("Canary ran %(d)d days or more; %(n)d documents need attention before widening.")
        % {"d": CANARY_DAYS, "n": failed}
    )
    return CheckItem(
        "G6",
        title,
        status,
        summary,
        details=details,
        fix_url=fix,
        fix_label=_("Edit the flows' scope"),
        role="operator",
    )


# --- issue 24 point 3: what can be known before the first order ------------------------------


def check_connections(integration) -> CheckItem:
    """C1: both connections passed their live test, and nothing changed since."""
    title = _("C1 Connections tested live (Kingdee and Jushuitan)")
    rows = []
    bad = False
    for label, connection, admin_name in (
        (_("Kingdee"), integration.kingdee, "kingdee_kingdeeconnection_change"),
        (_("Jushuitan"), integration.jushuitan, "jushuitan_jushuitanconnection_change"),
    ):
        at = connection.last_checked_at
        if at is None:
            bad = True
            rows.append(_("%(system)s: never tested") % {"system": label})
            continue
        when = timezone.localtime(at).strftime("%Y-%m-%d %H:%M")
        changed = admin_name.startswith("kingdee") and connection.updated_at > at
        if not connection.last_check_ok:
            bad = True
            rows.append(
                _("%(system)s: failed at %(at)s: %(message)s")
                % {"system": label, "at": when, "message": connection.last_check_message}
            )
        elif changed:
            bad = True
            rows.append(
                _("%(system)s: the connection was changed after its last test (%(at)s)")
                % {"system": label, "at": when}
            )
        else:
            rows.append(
                _("%(system)s: passed at %(at)s: %(message)s")
                % {"system": label, "at": when, "message": connection.last_check_message}
            )
    fix = reverse("monitoring:checklist") + f"#integration-{integration.pk}"
    if bad:
        return CheckItem(
            "C1",
            title,
            MISSING,
            _("A connection is untested, failed its test or changed since."),
            details=rows,
            fix_url=fix,
            fix_label=_("Fix the credentials, then 'Test both connections now'"),
            role="operator",
        )
    return CheckItem("C1", title, OK, _("Both connections passed."), details=rows)


def check_preflight(integration) -> CheckItem:
    """P1: the latest preflight of each system (the runner of connectors.preflight)."""
    from connectors.preflight import checks_of, preflight_latest, providers

    title = _("P1 Preflight of each system")
    systems = sorted(providers()) or ["kingdee", "jushuitan"]
    details, status = [], OK
    for system in systems:
        run = preflight_latest(integration=integration, system=system)
        if run is None:
            status = MISSING
            details.append(_("%(system)s: no preflight has been run yet") % {"system": system})
            continue
        when = timezone.localtime(run.finished_at).strftime("%Y-%m-%d %H:%M")
        failed = [c for c in checks_of(run) if c.system == system and not c.ok and not c.info]
        if not failed:
            passed = sum(1 for c in checks_of(run) if c.system == system and c.ok)
            details.append(
                _("%(system)s: %(n)d checks passed at %(at)s")
                % {"system": system, "n": passed, "at": when}
            )
            continue
        status = MISSING
        details.append(
            _("%(system)s: %(n)d checks failed at %(at)s")
            % {"system": system, "n": len(failed), "at": when}
        )
        for check in failed:
            details.append(
                _("✗ %(title)s: %(detail)s → %(fix)s")
                % {"title": check.title, "detail": check.detail or "-", "fix": check.fix or "-"}
            )
    summary = (
        _("Every system's latest preflight passed.")
        if status == OK
        else _("A preflight is missing or failed: flows of that system must not be enabled.")
    )
    return CheckItem(
        "P1",
        title,
        status,
        summary,
        details=details,
        fix_url=reverse("monitoring:checklist") + f"#integration-{integration.pk}",
        fix_label=_("Run the preflight now (button below)"),
        role="operator",
    )


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


def alert_rule_problems(rule) -> list[str]:
    """Why an alert rule can never match (empty: it can)."""
    from fnmatch import fnmatchcase

    from monitoring.alert_choices import alert_error_classes

    problems = []
    classes = set(alert_error_classes())
    for field_name, values, label in (
        ("error_classes", classes, _("error class")),
        ("flow_codes", {code for code, _label in flow_choices()}, _("flow")),
    ):
        for pattern in [p.strip() for p in (getattr(rule, field_name) or "").split(",")]:
            if pattern and not any(fnmatchcase(v, pattern) for v in values):
                problems.append(
                    _("%(label)s “%(value)s” matches nothing (valid: %(valid)s)")
                    % {"label": label, "value": pattern, "valid": ", ".join(sorted(values))}
                )
    return problems


def check_alert_rules(integration) -> CheckItem:
    """R1: at least one enabled alert rule, and none that can never match."""
    from django.db.models import Q

    from monitoring.models import AlertRule

    title = _("R1 Alert rules that can match")
    rules = list(
        AlertRule.objects.filter(enabled=True).filter(
            Q(integration=integration) | Q(integration__isnull=True)
        )
    )
    fix = _admin("monitoring_alertrule_changelist")
    if not rules:
        return CheckItem(
            "R1",
            title,
            MISSING,
            _("No enabled alert rule covers this integration: failures alert nobody."),
            fix_url=fix,
            fix_label=_("Add an alert rule"),
            role="operator",
        )
    details = [f"{rule.name}: {problem}" for rule in rules for problem in alert_rule_problems(rule)]
    if details:
        return CheckItem(
            "R1",
            title,
            MISSING,
            _("Some alert rules name values that never occur, so they never alert."),
            details=details,
            fix_url=fix,
            fix_label=_("Correct the alert rules"),
            role="operator",
        )
    return CheckItem(
        "R1", title, OK, _("%(n)d enabled alert rules; all can match.") % {"n": len(rules)}
    )


CHECKS = (
    check_schedules,
    check_connections,
    check_g1_mappings,
    check_currency_codes,
    check_g2_opening_inventory,
    check_g3_tax_templates,
    check_g4_tokens,
    check_g5_accounts,
    check_alert_rules,
    check_preflight,
    check_g6_canary,
)


def checklist_for(*, integration) -> list[CheckItem]:
    return [check(integration) for check in CHECKS]
