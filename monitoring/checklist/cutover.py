"""Checklist items of the cut-over: G2 opening inventory, G5 account mappings, G6 canary."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _

from flows.choices import DocumentState, FlowCode

from .base import CANARY_DAYS, MISSING, OK, WARN, CheckItem, _admin


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
