"""The guided setup (上线向导, issue 24 point 2): the go-live steps in order, each with the role
that does it, its live status (read from the go-live checklist where an item covers it) and
the page where it is done. The admin home shows it as its first section.

connections → integration → initialise → mappings and code tables → tax → accounts → FX →
robot and rules → opening inventory → preflight → dry run → canary → widen.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from core.roles import Role

from .checklist import CANARY_DAYS, MISSING, OK, WARN, CheckItem, checklist_for

TODO = "todo"


@dataclass
class Step:
    number: int
    key: str
    title: str
    role: str
    status: str  # ok / warning / missing / todo
    summary: str
    url: str
    link_label: str
    can_follow: bool = True

    @property
    def role_label(self) -> str:
        return Role(self.role).label if self.role in Role.values else ""


def _admin(name: str) -> str:
    return reverse(f"admin:{name}")


def _worst(*items: CheckItem) -> tuple[str, str]:
    """The status and summary of the worst of these checklist items."""
    rank = {OK: 0, WARN: 1, MISSING: 2}
    worst = max(items, key=lambda item: rank.get(item.status, 2))
    return worst.status, worst.summary


def guided_steps(*, integration=None) -> list[Step]:
    """The ordered steps for `integration` (the first one when None; before any exists, the
    first two steps say what to create and the rest wait)."""
    from connectors.dingtalk.models import RobotChannel
    from connectors.jushuitan.models import JushuitanConnection
    from connectors.kingdee.models import KingdeeConnection
    from connectors.models import Integration
    from mappings.models import ExchangeRate

    if integration is None:
        integration = Integration.objects.select_related("kingdee", "jushuitan").first()
    steps: list[Step] = []

    def add(key, title, role, status, summary, url, label):
        steps.append(Step(len(steps) + 1, key, title, role, status, summary, url, label))

    checklist = {}
    if integration is not None:
        checklist = {item.code: item for item in checklist_for(integration=integration)}

    # 1. Connections
    if "C1" in checklist:
        status, summary = checklist["C1"].status, checklist["C1"].summary
    else:
        have = KingdeeConnection.objects.exists() and JushuitanConnection.objects.exists()
        status = WARN if have else TODO
        summary = (
            _("Both connections exist; test them once the integration pairs them.")
            if have
            else _("Add the Kingdee and the Jushuitan connection (URL, account, app id, secret).")
        )
    add(
        "connections",
        _("Connections: Kingdee and Jushuitan, tested live"),
        Role.OPERATOR,
        status,
        summary,
        _admin("kingdee_kingdeeconnection_changelist"),
        _("Kingdee connections (then Jushuitan connections)"),
    )
    # 2. Integration
    add(
        "integration",
        _("Integration: pair the two connections"),
        Role.OPERATOR,
        OK if integration is not None else TODO,
        (
            _("%(name)s pairs %(kd)s with %(js)s.")
            % {"name": integration.name, "kd": integration.kingdee, "js": integration.jushuitan}
            if integration is not None
            else _("No integration yet: create one pairing the two connections.")
        ),
        _admin("connectors_integration_changelist"),
        _("Integrations"),
    )
    if integration is None:
        return steps
    g1 = checklist["G1"]
    # 3. Initialise
    initialised = not (g1.status == MISSING and not g1.details)
    add(
        "initialise",
        _("Initialise the mappings from both systems"),
        Role.MASTER_DATA_ADMIN,
        OK if initialised else MISSING,
        _("Codes of both systems are known.") if initialised else g1.summary,
        _admin("connectors_integration_changelist"),
        _("Integrations › action 'Initialise mappings from both systems (G1)'"),
    )
    # 4. Mappings and code tables
    status, summary = _worst(g1, checklist["FX1"])
    add(
        "mappings",
        _("Mappings and code tables: one-side codes, currencies"),
        Role.MASTER_DATA_ADMIN,
        status,
        summary,
        g1.fix_url if g1.status != OK else checklist["FX1"].fix_url,
        _("Mappings"),
    )
    # 5. Tax, 6. Accounts
    for key, code, title, role in (
        ("tax", "G3", _("Tax templates (country + HS code)"), Role.FINANCE),
        ("accounts", "G5", _("Account mappings"), Role.FINANCE),
    ):
        item = checklist[code]
        add(
            key,
            title,
            role,
            item.status,
            item.summary,
            item.fix_url
            or _admin(f"mappings_{'taxtemplate' if key == 'tax' else 'accountmapping'}_changelist"),
            item.fix_label or title,
        )
    # 7. FX
    recent = ExchangeRate.objects.filter(
        rate_date__gte=timezone.localdate() - timedelta(days=3)
    ).exists()
    add(
        "fx",
        _("Exchange rates fetched"),
        Role.FINANCE,
        OK if recent else MISSING,
        (
            _("Rates of the last three days are present.")
            if recent
            else _("No exchange rate of the last three days: check the FX sources and fetch.")
        ),
        _admin("mappings_exchangerate_changelist"),
        _("Exchange rates"),
    )
    # 8. Robot and rules
    r1 = checklist["R1"]
    robots = RobotChannel.objects.filter(enabled=True).exists()
    add(
        "alerts",
        _("Robot channel and alert rules"),
        Role.OPERATOR,
        r1.status if robots else MISSING,
        r1.summary if robots else _("No robot channel yet: add one and send a test message."),
        _admin("monitoring_alertrule_changelist")
        if robots
        else _admin("dingtalk_robotchannel_changelist"),
        _("Alert rules") if robots else _("Robot channels"),
    )
    # 9. Opening inventory, 10. Preflight
    for key, code, title, role in (
        ("opening", "G2", _("Opening inventory per warehouse"), Role.MASTER_DATA_ADMIN),
        ("preflight", "P1", _("Preflight of each system"), Role.OPERATOR),
    ):
        item = checklist[code]
        add(
            key,
            title,
            role,
            item.status,
            item.summary,
            item.fix_url or reverse("monitoring:checklist"),
            item.fix_label or _("Go-live checklist"),
        )
    # 11. Map-only dry run
    from flows.models import ShadowRun

    latest = (
        ShadowRun.objects.filter(flow__integration=integration, finished_at__isnull=False)
        .order_by("-started_at")
        .first()
    )
    if latest is None:
        status, summary = (
            TODO,
            _(
                "Run 'Map-only dry run over the last 7 days' on the flows: it maps real documents "
                "and writes nothing."
            ),
        )
    else:
        blocked = (latest.totals or {}).get("would_block", 0)
        status = WARN if blocked or latest.error else OK
        summary = _("Last dry run %(at)s: %(ok)d would be written, %(bad)d would block.") % {
            "at": timezone.localtime(latest.started_at).strftime("%Y-%m-%d %H:%M"),
            "ok": (latest.totals or {}).get("would_write", 0),
            "bad": blocked,
        }
    add(
        "dryrun",
        _("Map-only dry run over recent documents"),
        Role.OPERATOR,
        status,
        summary,
        reverse("admin:flows_flow_shadow", args=[latest.flow_id, latest.pk])
        if latest is not None
        else _admin("flows_flow_changelist"),
        _("Dry run report") if latest is not None else _("Flows"),
    )
    # 12. Canary, 13. Widen
    g6 = checklist["G6"]
    add(
        "canary",
        _("Canary: one shop and one warehouse"),
        Role.OPERATOR,
        g6.status,
        g6.summary,
        _admin("flows_flow_changelist"),
        _("Flows"),
    )
    widen_ready = g6.status == OK
    add(
        "widen",
        _("Widen to every shop and warehouse"),
        Role.OPERATOR,
        OK if widen_ready else TODO,
        (
            _("The canary ran %(d)d days: widen when its failures are worked.") % {"d": CANARY_DAYS}
            if widen_ready
            else _("After %(d)d days of canary without failures.") % {"d": CANARY_DAYS}
        ),
        _admin("flows_flow_changelist"),
        _("Flows"),
    )
    return steps


def steps_for(user, *, integration=None) -> list[Step]:
    """The steps, each link checked for this user (a step of another role names its role)."""
    from .views.checklist import can_follow

    steps = guided_steps(integration=integration)
    for step in steps:
        step.can_follow = can_follow(user, step.url)
    return steps
