"""Issue 15.4: the watchdog. One alert and one operator ticket per flow and finding, listing
the documents, closed when they move; the board's "Stuck" figure opens the documents."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.utils import timezone

from core.schedules import declared_schedules, schedules_setup
from flows import engine, tasks
from flows.choices import DocumentState as S
from flows.choices import FlowCode
from flows.models import SyncDocument, stuck_minutes
from flows.watchdog import WORKER_HEARTBEAT_KEY, trace_key
from monitoring.models import Alert, ExceptionTicket, TicketStatus
from tests.flows.test_engine import order


def _age(flow, minutes, **filters):
    SyncDocument.objects.filter(flow=flow, **filters).update(
        updated_at=timezone.now() - timedelta(minutes=minutes)
    )


@pytest.mark.usefixtures("english")
def test_bound_is_a_flow_setting_with_f2_at_30_minutes(make_integration):
    """Issue 15.4: GIVEN flows without a setting and one with "stuck_minutes" THEN the bound is
    10 minutes by default, 30 for F2 (the brief's hard bound) and the setting where given; a
    setting that is not a whole number of minutes is refused, naming the key."""
    from flows.services import flow_ensure

    integration = make_integration()
    f2 = flow_ensure(integration=integration, code=FlowCode.SALES_OUTBOUND)
    f4 = flow_ensure(integration=integration, code=FlowCode.PURCHASE_INBOUND)
    assert stuck_minutes(f2) == 30 and stuck_minutes(f4) == 10
    f4.settings = {"stuck_minutes": 3}
    assert stuck_minutes(f4) == 3
    f4.full_clean()
    f4.settings = {"stuck_minutes": "ten"}
    with pytest.raises(ValidationError) as refused:
        f4.full_clean()
    assert "stuck_minutes" in str(refused.value.message_dict["settings"])


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("english")
def test_stuck_documents_one_alert_one_ticket_closed_when_they_move(
    test_flow, fake_target, alert_rule, admin_client
):
    """Issue 15.4: GIVEN three documents of a flow that have not moved for longer than its
    bound (two received, one loading under a claim that keeps being renewed) WHEN the watchdog
    runs three times THEN there is one operator ticket for the flow listing the three and one
    alert; the board's "Stuck" figure is 3 and opens exactly those documents; WHEN they move
    (processed) THEN the next run closes the ticket and the figure is 0."""
    engine.ingest(flow=test_flow, records=[order(n) for n in range(1, 5)])
    engine.process(
        flow=test_flow,
        ids=list(SyncDocument.objects.filter(source_key="4").values_list("pk", flat=True)),
    )
    SyncDocument.objects.filter(flow=test_flow, source_key="3").update(
        state=S.LOADING,
        claim_token="00000000-0000-0000-0000-000000000009",
        claimed_until=timezone.now() + timedelta(minutes=5),
    )
    _age(test_flow, 11, state__in=(S.RECEIVED, S.LOADING))
    stuck = set(
        SyncDocument.objects.filter(source_key__in=["1", "2", "3"]).values_list("pk", flat=True)
    )
    for _run in range(3):
        report = tasks.watchdog()
    key = trace_key("stuck_documents", test_flow)
    assert report["findings"] == {key: 3}
    tickets = ExceptionTicket.objects.filter(trace_key=key)
    assert tickets.count() == 1
    ticket = tickets.get()
    assert ticket.status == TicketStatus.OPEN and ticket.role == "operator"
    assert set(ticket.detail["document_ids"]) == stuck
    for source_key in ("1", "2", "3"):
        assert f" {source_key} · " in ticket.message
    assert Alert.objects.filter(dedupe_key=f"ticket:{key}:stuck_documents").count() == 1
    detail = admin_client.get(f"/monitoring/tickets/{ticket.pk}/", HTTP_ACCEPT_LANGUAGE="en")
    assert detail.status_code == 200 and b"Documents stuck" in detail.content

    page = admin_client.get("/monitoring/board/", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    row = next(r for r in page.context["board"].rows if r.flow_id == test_flow.pk)
    value, url = row.stuck.value, row.stuck.url
    assert f'data-cell="{test_flow.pk}:stuck"' in page.content.decode()
    assert b"Stuck" in page.content
    assert value == 3
    page = admin_client.get(url, HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    listed = {d.pk for d in page.context["cl"].result_list}
    assert listed == stuck

    SyncDocument.objects.filter(pk__in=stuck).update(claim_token=None, claimed_until=None)
    engine.process(flow=test_flow)
    assert set(SyncDocument.objects.values_list("state", flat=True)) == {S.SYNCED}
    report = tasks.watchdog()
    assert report["findings"] == {} and report["closed"] == 1
    ticket.refresh_from_db()
    assert ticket.status != TicketStatus.OPEN
    from monitoring.selectors import board_build

    assert next(r for r in board_build().rows if r.flow_id == test_flow.pk).stuck.value == 0
    assert Alert.objects.filter(dedupe_key=f"ticket:{key}:stuck_documents").count() == 1


@pytest.mark.usefixtures("english")
@pytest.mark.django_db
def test_overdue_retries_and_a_stale_flow_are_reported_per_flow(test_flow, fake_target):
    """Issue 15.4: GIVEN waiting documents whose retry is overdue by 6 minutes (nothing picked
    them up) and a flow whose last successful run is older than 3× its schedule WHEN the
    watchdog runs THEN each finding has one ticket for the flow; a waiting document that is
    due but only 1 minute late is not listed."""
    fake_target.script = ["down"]
    engine.ingest(flow=test_flow, records=[order(n) for n in range(1, 4)])
    engine.process(flow=test_flow)
    now = timezone.now()
    SyncDocument.objects.filter(flow=test_flow).update(next_attempt_at=now - timedelta(minutes=6))
    SyncDocument.objects.filter(flow=test_flow, source_key="3").update(
        next_attempt_at=now - timedelta(minutes=1)
    )
    test_flow.__class__.objects.filter(pk=test_flow.pk).update(
        poll_seconds=60, last_success_at=now - timedelta(minutes=4)
    )
    report = tasks.watchdog()
    overdue, stale = trace_key("overdue_retries", test_flow), trace_key("stale_flow", test_flow)
    assert report["findings"] == {overdue: 2, stale: 0}
    ticket = ExceptionTicket.objects.get(trace_key=overdue)
    assert sorted(ticket.detail["document_ids"]) == sorted(
        SyncDocument.objects.filter(source_key__in=["1", "2"]).values_list("pk", flat=True)
    )
    assert ExceptionTicket.objects.filter(trace_key=stale, status=TicketStatus.OPEN).count() == 1


@pytest.mark.usefixtures("english")
@pytest.mark.django_db
def test_silent_beat_and_workers_are_noticed_by_the_web_process(test_flow, settings):
    """Issue 15.4: GIVEN beat's schedules last ran 10 minutes ago and the workers' last
    heartbeat is as old WHEN the board is computed (the web process: the watchdog itself runs
    on beat and a worker) THEN it shows both silent and one ticket each is open; WHEN they
    show signs of life again THEN the tickets close."""
    from django_celery_beat.models import PeriodicTask

    from monitoring.selectors import board_build

    schedules_setup()
    old = timezone.now() - timedelta(minutes=10)
    PeriodicTask.objects.update(last_run_at=old)
    cache.set(WORKER_HEARTBEAT_KEY, old.isoformat(), None)
    cache.delete("flows:heartbeat:watchdog")
    cache.delete("flows:silence-check")
    board = board_build()
    assert {name for name, _seen in board.silent} == {"beat", "workers"}
    open_silent = ExceptionTicket.objects.filter(
        trace_key__startswith="watchdog:silent_processes:", status=TicketStatus.OPEN
    )
    assert open_silent.count() == 2

    PeriodicTask.objects.update(last_run_at=timezone.now())
    tasks.watchdog()  # the watchdog task ran: beat sent it, a worker ran it
    cache.set(WORKER_HEARTBEAT_KEY, timezone.now().isoformat(), None)
    cache.delete("flows:silence-check")
    assert board_build().silent == []
    assert open_silent.count() == 0


@pytest.mark.django_db
def test_watchdog_is_declared_every_minute_and_installed():
    """Issue 15.4: the watchdog is declared in flows/schedules.py (every 60 s) and installed by
    setup_schedules like the other periodic tasks."""
    from django_celery_beat.models import PeriodicTask

    declared = {e["task"]: e["every_seconds"] for e in declared_schedules()}
    assert declared["flows.tasks.watchdog"] == 60
    schedules_setup()
    task = PeriodicTask.objects.get(task="flows.tasks.watchdog")
    assert task.enabled and task.interval.every == 60
