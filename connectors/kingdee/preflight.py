"""Kingdee preflight: prove the tenant before go-live (G-checklist, `manage.py preflight`, the
"Run preflight" button on the Kingdee connection; docs/protocols/kingdee.md §7).

Checks, each a `connectors.preflight.Check` naming the flows it gates:
- login (signed call or session login);
- every form the integration's flows read or write: a one-row ExecuteBillQuery each;
- the forms and keys of the enabled K2 Kingdee sources (declarations, purchase invoices, FX
  receipts: finance.kingdee_sources), under the name K2;
- every field key they use, custom `F_*` fields included: one query per form naming all of
  them, and when Kingdee refuses it (MsgCode 9 names only the first unknown key) one query per
  key, so every missing field is reported, with Kingdee's exact message and the fix;
- the base data they reference: the customer per shop, the warehouse per Jushuitan warehouse,
  currencies, the exchange-rate type, tax rates, accounts and bill types.

The checks cover every flow of the integration, enabled or not: the flow switch
(flows.services.flow_enable) refuses to enable a flow while a check that gates it fails.
"""

from __future__ import annotations

from collections import defaultdict

from django.utils.translation import gettext_lazy

from connectors.errors import ConnectorError
from connectors.models import Integration
from connectors.preflight import Check, checks_of, preflight_latest, provider
from core.messages import gettext as _

from .client import KingdeeClient, primary_key, quote

SYSTEM = "kingdee"
KIND_LABELS = {
    "text": gettext_lazy("text field"),
    "decimal": gettext_lazy("decimal field"),
    "date": gettext_lazy("date field"),
    "boolean": gettext_lazy("check box field"),
    "base data": gettext_lazy("base data field"),
}
# Base data whose status columns the preflight also reads (org-specific master data).
STATUS_FORMS = {"BD_CUSTOMER", "BD_STOCK", "BD_ACCOUNT"}


def _detail(exc: ConnectorError) -> str:
    code = getattr(exc, "code", None)
    remote = getattr(exc, "remote_message", "") or exc.message
    return f"MsgCode {code}: {remote}" if code not in (None, "") else str(remote)


def _field_fix(need, flows: set[str]) -> str:
    where = _("the %(form)s header") if need.level == "header" else _("the %(form)s entry rows")
    where = where % {"form": need.form_id}
    if need.custom:
        size = f" ({need.length})" if need.length else ""
        text = _("Create %(kind)s %(key)s%(size)s on %(where)s in BOS") % {
            "kind": str(KIND_LABELS.get(need.kind, f"{need.kind} field")),
            "key": need.key,
            "size": size,
            "where": where,
        }
    else:
        text = _("Check the key %(key)s on %(where)s in BOS (the form's field list)") % {
            "key": need.key,
            "where": where,
        }
    if need.setting:
        text += _(", or set the flow's %(setting)s (%(flows)s)") % {
            "setting": need.setting,
            "flows": ", ".join(sorted(flows)),
        }
    return text + "."


def _query(client: KingdeeClient, form_id: str, keys: list[str], filter_string: str = ""):
    return client.execute_bill_query(
        form_id, keys, filter_string=filter_string, top_row_count=1, limit=1
    )


def _flow_needs(integration: Integration):
    from flows.definitions.base import FlowContext
    from flows.definitions.kingdee_needs import kingdee_needs
    from flows.models import Flow

    fields: dict[tuple[str, str], tuple[object, set[str]]] = {}
    base: dict[tuple[str, str], tuple[object, set[str]]] = {}
    for flow in Flow.objects.filter(integration=integration).select_related("integration__kingdee"):
        needs = kingdee_needs(FlowContext(flow))
        for need in needs.fields:
            key = (need.form_id, need.key.lower())
            fields.setdefault(key, (need, set()))[1].add(flow.code)
        for need in needs.base:
            key = (need.form_id, need.number)
            base.setdefault(key, (need, set()))[1].add(flow.code)
    for need in _finance_needs(integration):
        fields.setdefault((need.form_id, need.key.lower()), (need, set()))[1].add("K2")
    return fields, base


def _finance_needs(integration: Integration):
    """The forms and keys the export-refund chain reads where the tenant keeps its
    declarations, purchase invoices and FX receipts in Kingdee (finance.kingdee_sources);
    they gate no flow (K2)."""
    from finance.kingdee_sources import field_needs

    return field_needs(integration)


@provider(SYSTEM)
def kingdee_checks(integration: Integration):
    """The Kingdee checks of one integration (see the module doc)."""
    connection = integration.kingdee
    client = KingdeeClient(connection, timeout=min(connection.timeout_seconds or 30, 30))
    try:
        try:
            client.login()
            # Under header signing the first signed call is the login (§1.3).
            _query(client, "BD_STOCK", ["FNumber"])
        except ConnectorError as exc:
            yield Check(
                system=SYSTEM,
                key="kingdee.login",
                title=_("Sign in to Kingdee (%(name)s)") % {"name": connection.name},
                ok=False,
                detail=_detail(exc),
                fix=_(
                    "Check the server URL, account set id, user and app id / secret of the "
                    "Kingdee connection and the third-party login authorisation in Kingdee."
                ),
            )
            return
        yield Check(
            system=SYSTEM,
            key="kingdee.login",
            title=_("Sign in to Kingdee (%(name)s)") % {"name": connection.name},
            ok=True,
        )
        fields, base = _flow_needs(integration)
        yield from _form_checks(client, fields)
        yield from _base_checks(client, base, connection.org_number)
        yield from _receivable_checks(client, integration)
    finally:
        client.http.close()


def _receivable_checks(client: KingdeeClient, integration: Integration):
    """Flows whose receivables the tenant generates itself (setting receivable = "tenant",
    flows/definitions/receivables.py): the latest audited source bill must have a receivable
    linked to it; without any audited bill yet the row is informational."""
    from flows.models import Flow

    forms = {"sales_outbound": "SAL_OUTSTOCK", "sales_return": "SAL_RETURNSTOCK"}
    for flow in Flow.objects.filter(integration=integration, code__in=forms):
        if (flow.settings or {}).get("receivable", "push") != "tenant":
            continue
        form = forms[flow.code]
        key = f"kingdee.receivable.{form}"
        title = _("Kingdee generates the receivable of each audited %(form)s") % {"form": form}
        try:
            rows = client.execute_bill_query(
                form,
                ["FBillNo"],
                filter_string="FDocumentStatus = 'C'",
                order_string=f"{primary_key(form)} DESC",
                top_row_count=1,
                limit=1,
            )
            found = rows and _query(
                client, "AR_receivable", ["FBillNo"], f"FSourceBillNo = {quote(rows[0][0])}"
            )
        except ConnectorError as exc:
            yield Check(SYSTEM, key, title, False, _detail(exc), flows=(flow.code,))
            continue
        if not rows:
            detail = _("No audited %(form)s yet: nothing to prove.") % {"form": form}
            yield Check(SYSTEM, key, title, True, detail, flows=(flow.code,), info=True)
            continue
        yield Check(
            SYSTEM,
            key,
            title,
            bool(found),
            "" if found else _("%(bill)s has no receivable.") % {"bill": rows[0][0]},
            fix=_(
                "Turn on the automatic push from %(form)s to AR_receivable in Kingdee, or set "
                "the flow's receivable setting to push (%(flow)s)."
            )
            % {"form": form, "flow": flow.code},
            flows=(flow.code,),
        )


def _form_checks(client: KingdeeClient, fields):
    by_form: dict[str, list] = defaultdict(list)
    for need, flows in fields.values():
        by_form[need.form_id].append((need, flows))
    for form_id in sorted(by_form):
        needs = by_form[form_id]
        flows = sorted(set().union(*(f for _n, f in needs)))
        pk = primary_key(form_id)
        try:
            _query(client, form_id, [pk])
        except ConnectorError as exc:
            yield Check(
                system=SYSTEM,
                key=f"kingdee.form.{form_id}",
                title=_("Form %(form)s can be read") % {"form": form_id},
                ok=False,
                detail=_detail(exc),
                fix=_(
                    "Check that the form %(form)s exists on this tenant and that the "
                    "integration user may read it, or change the flow setting that names it "
                    "(%(flows)s)."
                )
                % {"form": form_id, "flows": ", ".join(flows)},
                flows=tuple(flows),
            )
            continue
        yield Check(
            system=SYSTEM,
            key=f"kingdee.form.{form_id}",
            title=_("Form %(form)s can be read") % {"form": form_id},
            ok=True,
            flows=tuple(flows),
        )
        keys = [need.key for need, _f in needs]
        failures: dict[str, str] = {}
        try:
            _query(client, form_id, keys)
        except ConnectorError:
            for key in keys:  # Kingdee names one unknown key per answer: ask key by key
                try:
                    _query(client, form_id, [key])
                except ConnectorError as exc:
                    failures[key] = _detail(exc)
        for need, need_flows in needs:
            yield Check(
                system=SYSTEM,
                key=f"kingdee.field.{form_id}.{need.key}",
                title=_("Field %(key)s exists on %(form)s") % {"key": need.key, "form": form_id},
                ok=need.key not in failures,
                detail=failures.get(need.key, ""),
                fix=_field_fix(need, need_flows) if need.key in failures else "",
                flows=tuple(sorted(need_flows)),
            )


def _base_checks(client: KingdeeClient, base, org: str):
    by_form: dict[str, list] = defaultdict(list)
    for need, flows in base.values():
        by_form[need.form_id].append((need, flows))
    for form_id in sorted(by_form):
        needs = by_form[form_id]
        numbers = sorted({need.number for need, _f in needs})
        status = form_id.upper() in STATUS_FORMS
        keys = ["FNumber", *(["FDocumentStatus", "FForbidStatus"] if status else [])]
        clauses = [f"FNumber in ({','.join(quote(n) for n in numbers)})"]
        if any(need.org_specific for need, _f in needs):
            clauses.append(f"FUseOrgId.FNumber = {quote(org)}")
        found: dict[str, tuple] = {}
        error = ""
        try:
            rows = client.execute_bill_query(form_id, keys, filter_string=" and ".join(clauses))
            found = {str(row[0]): tuple(row[1:]) for row in rows}
        except ConnectorError as exc:
            error = _detail(exc)
        for need, flows in needs:
            row = found.get(need.number)
            usable = row is not None and (not status or tuple(row) == ("C", "A"))
            if error:
                detail = error
            elif row is None:
                detail = _("Not found in %(form)s (organisation %(org)s).") % {
                    "form": form_id,
                    "org": org,
                }
            elif not usable:
                detail = _("Found, but its status is %(status)s / %(forbid)s (needs C / A).") % {
                    "status": row[0],
                    "forbid": row[1],
                }
            else:
                detail = ""
            yield Check(
                system=SYSTEM,
                key=f"kingdee.base.{form_id}.{need.number}",
                title=_("%(label)s %(number)s exists in Kingdee")
                % {"label": need.label, "number": need.number},
                ok=not detail,
                detail=detail,
                fix=""
                if not detail
                else _(
                    "Create and audit %(number)s in %(form)s (organisation %(org)s) and keep it "
                    "enabled, or correct %(where)s."
                )
                % {"number": need.number, "form": form_id, "org": org, "where": need.where},
                flows=tuple(sorted(flows)),
            )


def form_proved(*, integration: Integration, form_id: str) -> bool:
    """True when the latest Kingdee preflight read `form_id` and every key of it that the
    flows use."""
    run = preflight_latest(integration=integration, system=SYSTEM)
    if run is None:
        return False
    checks = checks_of(run)
    form_key = f"kingdee.form.{form_id}".lower()
    field_prefix = f"kingdee.field.{form_id}.".lower()
    mine = [
        c for c in checks if c.key.lower() == form_key or c.key.lower().startswith(field_prefix)
    ]
    return any(c.key.lower() == form_key for c in mine) and all(c.ok for c in mine)
