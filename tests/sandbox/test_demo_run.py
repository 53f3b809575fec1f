"""Issue #10: the `demo` process of `make run` (sandbox/demo_run.py, `manage.py demo_run`).

Against the live simulators and a real worker: the command configures the demo Integration,
the robot channel and alert rule, and plants the three failures a newcomer should find in
the work-order queues; a second run plants nothing twice; the switches page and the admin's
Sandbox box are where a person finds the simulators.
"""

import time

import pytest
from django.core.management import call_command
from django.utils import timezone

from flows.choices import DocumentState as S
from flows.choices import FlowCode
from flows.models import Flow, SyncDocument
from flows.tasks import flow_process
from monitoring.services import ticket_of_document
from sandbox import demo_run

pytestmark = pytest.mark.django_db(transaction=True)


def _settle(flow, condition, timeout=90):
    """Let timed retries come round quickly (the demo's 20 s FX retry, made due now)."""
    deadline = time.monotonic() + timeout
    while not condition():
        SyncDocument.objects.filter(flow=flow, state=S.WAITING).update(
            next_attempt_at=timezone.now()
        )
        flow_process.delay(flow.pk)
        time.sleep(1)
        if time.monotonic() > deadline:
            states = list(
                SyncDocument.objects.filter(flow=flow).values_list(
                    "platform_order_no", "state", "last_error_class"
                )
            )
            raise AssertionError(f"the planted failures did not settle: {states}")


def test_demo_run_plants_a_missing_mapping_a_shortage_and_an_fx_outage_with_alerts(
    live_server,
    kingdee_sandbox,
    jushuitan_sandbox,
    sandbox_dingtalk_robot,
    allow_sandbox_hosts,
    celery_worker,
    settings,
    capsys,
):
    """Issue #10 (F2.3, F2.4, M4, O2, O4): GIVEN the sandboxes WHEN `demo_run --once` runs
    THEN the demo integration exists with every registered flow enabled, the work-order queues
    hold the gift SKU's missing mapping (master-data), the thin warehouse's shortage
    (purchasing, quantity frozen) and the TWD rate outage (finance, after the demo's
    compressed retries), and the sandbox DingTalk robot received the alerts. A second run
    plants nothing again."""
    from flows.definitions import definition_for
    from flows.models import StockHold
    from sandbox.robots.models import ReceivedMessage

    settings.PORTAL_DEMO = True
    settings.SANDBOX_ENABLED = True
    call_command("demo_run", "--once", "--base-url", live_server.url)
    assert (
        "planted failures: DEMO-GIFT-0001, DEMO-SHORT-0001, DEMO-FX-TWD-0001, DEMO-RETURN-0001"
        in (capsys.readouterr().out)
    )
    flow = Flow.objects.get(integration__code="demo", code=FlowCode.SALES_OUTBOUND)
    registered = {code for code in FlowCode.values if _registered(definition_for, code)}
    assert set(Flow.objects.filter(enabled=True).values_list("code", flat=True)) == registered
    assert flow.settings["retry"]["per_class"]["fx_unavailable"] == demo_run.DEMO_FX_RETRY

    def state(so_id):
        return (
            SyncDocument.objects.filter(flow=flow, platform_order_no=so_id)
            .values_list("state", flat=True)
            .first()
        )

    _settle(
        flow,
        lambda: (
            state(demo_run.GIFT_ORDER) == S.BLOCKED
            and state(demo_run.SHORTAGE_ORDER) == S.HELD
            and state(demo_run.FX_ORDER) == S.FAILED
        ),
    )
    # Issue 20: the ticket holding each planted order is the ticket of its cause.
    tickets = {
        so_id: ticket_of_document(
            SyncDocument.objects.filter(flow=flow, platform_order_no=so_id).first()
        )
        for so_id in (demo_run.GIFT_ORDER, demo_run.SHORTAGE_ORDER, demo_run.FX_ORDER)
    }
    assert tickets[demo_run.GIFT_ORDER].role == "master_data_admin"
    assert "SKU-GIFT-9001" in tickets[demo_run.GIFT_ORDER].title
    assert tickets[demo_run.SHORTAGE_ORDER].role == "purchasing"
    hold = StockHold.objects.get(document__platform_order_no=demo_run.SHORTAGE_ORDER)
    assert (hold.material_number, hold.stock_number, int(hold.quantity)) == (
        demo_run.SHORT_SKU,
        str(demo_run.THIN_WAREHOUSE),
        demo_run.SHORT_QTY,
    )
    fx = tickets[demo_run.FX_ORDER]
    assert fx.role == "finance" and fx.error_class == "fx_unavailable" and "TWD" in fx.message

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        received = " ".join(
            ReceivedMessage.objects.filter(accepted=True).values_list("content", flat=True)
        )
        if all(so in received for so in (demo_run.GIFT_ORDER, demo_run.FX_ORDER)):
            break
        time.sleep(0.5)
    assert demo_run.GIFT_ORDER in received and demo_run.FX_ORDER in received

    call_command("demo_run", "--once", "--base-url", live_server.url)
    assert "planted failures: already there" in capsys.readouterr().out
    returned = Flow.objects.get(integration__code="demo", code=FlowCode.SALES_RETURN)
    _settle(
        returned,
        lambda: SyncDocument.objects.filter(
            flow=returned, platform_order_no=demo_run.RETURN_ORDER, state=S.SYNCED
        ).exists(),
    )
    outbound = SyncDocument.objects.filter(flow=flow, platform_order_no__startswith="DEMO-")
    assert outbound.count() == 4  # nothing planted twice


def _registered(definition_for, code) -> bool:
    try:
        definition_for(code)
    except KeyError:
        return False
    return True


def test_demo_off_idles_without_touching_anything(settings, db, capsys):
    """Issue #10: PORTAL_DEMO=false → the demo process configures nothing."""
    from connectors.models import Integration

    settings.PORTAL_DEMO = False
    call_command("demo_run", "--once")
    assert "demo: off" in capsys.readouterr().out
    assert not Integration.objects.exists()


def test_fault_switches_page_sets_and_clears_a_profile(live_server, demo_users, browser):
    """Issue #10 sandbox pages: an operator turns Kingdee faults on and back to normal on the
    switches page; finance may not open it; the admin home links the simulators for the
    operator only."""
    from sandbox import faults

    operator = browser(demo_users["operator"])
    page = operator.get("/sandbox/faults/")
    assert page.status_code == 200 and 'id="faults-kingdee"' in page.text
    values = {
        f"kingdee-{name}": value
        for name, value in faults.Faults().as_dict().items()
        if name != "stall_seconds"
    }
    values.update({"system": "kingdee", "kingdee-error_rate": "0.25", "kingdee-stall_seconds": "3"})
    saved = operator.post("/sandbox/faults/", values)
    assert saved.status_code == 200 and str(faults.current("kingdee").error_rate) == "0.250"
    operator.post("/sandbox/faults/", {"system": "kingdee", "quiet": "1"})
    assert faults.current("kingdee").quiet
    home = operator.get("/admin/").text
    assert 'id="sandbox-module"' in home and "/sandbox/robots/inbox/" in home

    finance = browser(demo_users["finance"])
    assert finance.get("/sandbox/faults/").status_code == 403
    assert 'id="sandbox-module"' not in finance.get("/admin/").text


def test_demo_imports_opening_inventory_once_g2(demo_integration):
    """G2 in the demo: the first start imports and pushes the opening stock of every warehouse,
    so the go-live checklist's G2 item is done; a second start imports nothing."""
    from monitoring.checklist import checklist_for
    from sandbox.demo_run import opening_inventory_ensure

    assert opening_inventory_ensure(integration=demo_integration) == 3
    assert opening_inventory_ensure(integration=demo_integration) == 0
    g2 = next(i for i in checklist_for(integration=demo_integration) if i.code == "G2")
    assert g2.status == "ok", g2.summary
