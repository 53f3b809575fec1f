"""The go-live checklist (上线 checklist, G1–G6): each item checked against the live
configuration, saying what is missing and where to fix it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from flows.choices import DocumentState, FlowCode

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


def check_g1_mappings(integration) -> CheckItem:
    from mappings.models import KnownCode
    from monitoring.models import OPEN_TICKET_STATUSES, ExceptionTicket

    known = KnownCode.objects.filter(integration=integration).count()
    missing = list(
        ExceptionTicket.objects.filter(
            integration=integration, error_class="missing_mapping", status__in=OPEN_TICKET_STATUSES
        ).values_list("title", flat=True)[:20]
    )
    title = _("G1 Mapping tables initialised")
    if not known:
        return CheckItem(
            "G1",
            title,
            MISSING,
            _("The mappings were never initialised from the two systems."),
            fix_url=_admin("mappings_shopcustomermapping_changelist"),
            fix_label=_("Run 'Initialise from systems' (manage.py initialise_mappings)"),
        )
    if missing:
        return CheckItem(
            "G1",
            title,
            WARN,
            _("%(n)d mappings used by documents are still missing.") % {"n": len(missing)},
            details=missing,
            fix_url=reverse("monitoring:tickets") + "?error_class=missing_mapping",
            fix_label=_("Open the master-data work orders"),
        )
    return CheckItem(
        "G1", title, OK, _("%(n)d codes known from both systems; nothing missing.") % {"n": known}
    )


def check_g2_opening_inventory(integration) -> CheckItem:
    from mappings.models import KnownCode
    from masterdata.selectors import warehouses_without_opening_inventory

    warehouses = sorted(
        KnownCode.objects.filter(
            integration=integration, system="kingdee", kind="warehouse"
        ).values_list("code", flat=True)
    )
    title = _("G2 Opening inventory imported per warehouse")
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
        )
    return CheckItem("G2", title, OK, _("All %(n)d warehouses imported.") % {"n": len(warehouses)})


def check_g3_tax_templates(integration) -> CheckItem:
    from flows.models import SyncDocument
    from mappings.errors import MappingMissing
    from mappings.models import KnownCode
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
    skus = set(docs.values_list("sku_keys__sku", flat=True).distinct()) - {None}
    hs_codes = {
        (row.get("hs_code") or "")
        for row in KnownCode.objects.filter(
            integration=integration, system="kingdee", kind="material", code__in=skus
        ).values_list("extra", flat=True)
        if isinstance(row, dict)
    } - {""}
    title = _("G3 Cross-border tax templates (country + HS code)")
    if not countries:
        return CheckItem(
            "G3",
            title,
            WARN,
            _("No shipped orders in the last %(d)d days to check against.") % {"d": RECENT_DAYS},
        )
    gaps = []
    today = timezone.localdate()
    for country in sorted(countries):
        for hs in sorted(hs_codes):
            try:
                tax_template_for(
                    integration=integration, country=country, hs_code=hs, on_date=today
                )
            except MappingMissing:
                gaps.append(f"{country} · {hs}")
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
        )
    return CheckItem(
        "G3",
        title,
        OK,
        _("%(c)d countries × %(h)d HS codes seen in orders are covered.")
        % {"c": len(countries), "h": len(hs_codes)},
    )


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
        )
    if connection.token_expires_at <= now:
        return CheckItem(
            "G4",
            title,
            MISSING,
            _("The access token has expired."),
            fix_url=fix,
            fix_label=_("Refresh token now"),
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
        )
    return CheckItem(
        "G5",
        title,
        OK,
        _("Revenue, cost, freight, platform fees, tariffs and FX gain/loss are mapped."),
    )


def check_g6_canary(integration) -> CheckItem:
    from flows.models import Flow

    title = _("G6 Canary: 1 shop + 1 warehouse for 3 days, then widen")
    flows = list(Flow.objects.filter(integration=integration, enabled=True))
    scoped = [f for f in flows if f.canary_shops or f.canary_warehouses]
    fix = _admin("flows_flow_changelist")
    if not flows:
        return CheckItem(
            "G6", title, MISSING, _("No flow is enabled."), fix_url=fix, fix_label=_("Enable flows")
        )
    if not scoped:
        return CheckItem(
            "G6",
            title,
            WARN,
            _("No canary scope is set: every shop and warehouse is synced."),
            fix_url=fix,
            fix_label=_("Set a canary shop and warehouse"),
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
    )


CHECKS = (
    check_schedules,
    check_g1_mappings,
    check_g2_opening_inventory,
    check_g3_tax_templates,
    check_g4_tokens,
    check_g5_accounts,
    check_g6_canary,
)


def checklist_for(*, integration) -> list[CheckItem]:
    return [check(integration) for check in CHECKS]
