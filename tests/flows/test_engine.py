"""The engine's mechanics (docs/concepts.md "The sync engine"), through its public functions, with a
small in-process flow whose target a test scripts call by call."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from connectors.errors import TransientError
from flows import engine, services
from flows.choices import DocumentState as S
from flows.definitions.base import SourceRecord
from flows.models import Flow, StockHold, SyncDocument, Watermark
from monitoring.models import Event, ExceptionTicket, TicketStatus
from monitoring.services import ticket_of_document

pytestmark = pytest.mark.django_db


def order(no, shop="10001", lines=None, minutes_ago=5):
    lines = lines if lines is not None else [{"sku": "SKU-1", "qty": 2}]
    return SourceRecord(
        source_key=str(no),
        payload={"order_no": no, "shop": shop, "lines": lines},
        modified_at=timezone.now() - timedelta(minutes=minutes_ago),
        platform_order_no=f"PO-{no}",
        shop_id=shop,
        skus=[line["sku"] for line in lines],
    )


def due_now(flow):
    SyncDocument.objects.filter(flow=flow, state=S.WAITING).update(next_attempt_at=timezone.now())


def test_documents_sync_once_with_events(test_flow, fake_target):
    """GIVEN new source records WHEN ingested and processed twice THEN each lands exactly once,
    with a received and a synced event, and re-ingesting the same record changes nothing."""
    engine.ingest(flow=test_flow, records=[order(1), order(2)])
    stats = engine.process(flow=test_flow)
    assert stats.synced == 2
    engine.ingest(flow=test_flow, records=[order(1), order(2)])
    engine.process(flow=test_flow)
    assert dict(fake_target.writes) == {"XS-1": 1, "XS-2": 1}
    doc = SyncDocument.objects.get(source_key="1")
    assert (
        doc.state == S.SYNCED and doc.kingdee_bill_no == "XS-1" and doc.platform_order_no == "PO-1"
    )
    assert list(doc.events.order_by("id").values_list("to_state", flat=True)) == [
        S.RECEIVED,
        S.MAPPED,
        S.SYNCED,
    ]


@pytest.mark.usefixtures("english")
def test_unknown_outcome_is_checked_before_resend(test_flow, fake_target):
    """GIVEN a write that commits and then times out WHEN retried THEN the engine asks the
    target first, finds the document and does not write it again (exactly once)."""
    fake_target.script = ["timeout_after_commit"]
    engine.ingest(flow=test_flow, records=[order(7)])
    engine.process(flow=test_flow)
    doc = SyncDocument.objects.get(source_key="7")
    assert doc.state == S.WAITING and doc.outcome_unknown
    assert doc.last_error_class == "unknown_outcome"
    due_now(test_flow)
    engine.process(flow=test_flow)
    doc.refresh_from_db()
    assert doc.state == S.SYNCED and not doc.outcome_unknown
    assert fake_target.writes["XS-7"] == 1
    assert doc.events.filter(stage="load", message__contains="not sent again").exists()


def test_worker_death_mid_write_is_recovered(test_flow, fake_target):
    """GIVEN a document left LOADING by a dead worker WHEN its claim expires THEN the next run
    checks the target and settles it without a second write."""
    engine.ingest(flow=test_flow, records=[order(8)])
    engine.process(flow=test_flow)  # lands
    SyncDocument.objects.filter(source_key="8").update(
        state=S.LOADING,
        claim_token="00000000-0000-0000-0000-000000000001",
        claimed_until=timezone.now() - timedelta(seconds=1),
    )
    engine.process(flow=test_flow)
    doc = SyncDocument.objects.get(source_key="8")
    assert doc.state == S.SYNCED and fake_target.writes["XS-8"] == 1


def test_transient_failure_backs_off_then_gives_up_with_one_ticket(test_flow, fake_target):
    """GIVEN a target that stays down THEN the document waits with growing delays, and after the
    policy's attempts fails with one open ticket in the operators' queue."""
    test_flow.settings = {"retry": {"max_attempts": 3, "base_seconds": 10, "jitter": 0}}
    test_flow.save()
    fake_target.script = ["down"] * 10
    engine.ingest(flow=test_flow, records=[order(9)])
    delays = []
    for _ in range(4):
        before = timezone.now()
        engine.process(flow=test_flow)
        doc = SyncDocument.objects.get(source_key="9")
        if doc.state == S.WAITING:
            delays.append(round((doc.next_attempt_at - before).total_seconds()))
            due_now(test_flow)
    assert delays == [10, 20, 40]
    assert doc.state == S.FAILED
    tickets = ExceptionTicket.objects.filter(trace_key=doc.trace_key)
    assert tickets.count() == 1 and tickets.get().role == "operator"


@pytest.mark.usefixtures("english")
def test_fx_unavailable_retries_every_five_minutes_three_times_then_ticket(test_flow, fake_target):
    """F2.3: both FX sources fail → retry after 5 minutes, at most 3 times, then a ticket."""
    fake_target.fx_down = True
    engine.ingest(flow=test_flow, records=[order(10)])
    waits = []
    for _ in range(4):
        start = timezone.now()
        engine.process(flow=test_flow)
        doc = SyncDocument.objects.get(source_key="10")
        if doc.state == S.WAITING:
            waits.append(round((doc.next_attempt_at - start).total_seconds() / 60))
            due_now(test_flow)
    assert waits == [5, 5, 5]
    assert doc.state == S.FAILED and doc.last_error_class == "fx_unavailable"
    ticket = ticket_of_document(doc)  # issue 20 point 1: one ticket per currency and date
    assert ticket.trace_key == "fx:USD:2026-11-30" and ticket.status == TicketStatus.OPEN
    assert ticket.role == "finance" and "Exchange rate" in ticket.title


def test_missing_mapping_blocks_and_release_syncs_and_closes_ticket(test_flow, fake_target):
    """M5/O4: a missing mapping blocks the record with one ticket naming it; adding the mapping
    releases it, it syncs, and the ticket closes by itself."""
    fake_target.known_mappings = {"10001"}
    engine.ingest(flow=test_flow, records=[order(11, shop="10009")])
    engine.process(flow=test_flow)
    engine.process(flow=test_flow)
    doc = SyncDocument.objects.get(source_key="11")
    assert doc.state == S.BLOCKED and doc.last_error_class == "missing_mapping"
    ticket = ticket_of_document(doc)
    assert ticket.role == "master_data_admin" and "shop 10009" in ticket.title
    assert ticket.trace_key == f"mapping:{doc.integration.code}:customer:10009"
    fake_target.known_mappings.add("10009")
    assert (
        services.documents_release_blocked(
            integration_id=doc.integration_id, error_class="missing_mapping", reason="mapping added"
        )
        == 1
    )
    engine.process(flow=test_flow)
    doc.refresh_from_db()
    ticket.refresh_from_db()
    assert doc.state == S.SYNCED
    assert ticket.status == TicketStatus.RESOLVED


def test_newer_failure_updates_the_one_open_ticket(test_flow, fake_target):
    """One open problem per source record: a newer failure of the same record updates it."""
    fake_target.known_mappings = {"10001"}
    engine.ingest(flow=test_flow, records=[order(12, shop="10009")])
    engine.process(flow=test_flow)
    doc = SyncDocument.objects.get(source_key="12")
    services.document_retry(document=doc)
    engine.process(flow=test_flow)
    tickets = ExceptionTicket.objects.filter(links__document=doc)
    assert tickets.count() == 1 and tickets.get().occurrences == 2


def test_validation_problem_names_the_field(test_flow, fake_target):
    engine.ingest(flow=test_flow, records=[order(13, lines=[])])
    engine.process(flow=test_flow)
    doc = SyncDocument.objects.get(source_key="13")
    assert doc.state == S.BLOCKED and doc.last_error_class == "missing_value"
    assert ExceptionTicket.objects.get(trace_key=doc.trace_key).title.endswith("lines")


def test_canary_scope_keeps_filtered_records_with_reason(test_flow, fake_target):
    """G6: only the canary shop syncs; others are kept as filtered with the reason, and come
    back when the scope widens."""
    test_flow.canary_shops = [10001]
    test_flow.save()
    engine.ingest(flow=test_flow, records=[order(20, shop="10001"), order(21, shop="10002")])
    engine.process(flow=test_flow)
    kept = SyncDocument.objects.get(source_key="21")
    assert kept.state == S.FILTERED and "10002" in kept.filter_reason
    assert "XS-21" not in fake_target.documents
    test_flow.canary_shops = []
    test_flow.save()
    engine.ingest(flow=test_flow, records=[order(21, shop="10002")])
    engine.process(flow=test_flow)
    kept.refresh_from_db()
    assert kept.state == S.SYNCED


def test_stock_shortage_holds_and_releases(test_flow, fake_target):
    """F2.4 mechanics: insufficient stock → held with frozen quantity (待检库存) and a purchasing
    ticket; when stock arrives the hold is released and the document syncs by itself."""
    fake_target.stock = {"SKU-1": Decimal("1")}
    engine.ingest(flow=test_flow, records=[order(30)])
    engine.process(flow=test_flow)
    doc = SyncDocument.objects.get(source_key="30")
    assert doc.state == S.HELD
    hold = StockHold.objects.get(document=doc)
    assert (hold.material_number, hold.quantity, hold.status) == ("SKU-1", Decimal("2"), "open")
    ticket = ticket_of_document(doc)  # issue 20 point 1: the shortage of SKU-1 in WH1
    assert ticket.role == "purchasing" and ticket.trace_key == "shortage:SKU-1:WH1"
    fake_target.stock["SKU-1"] = Decimal("10")
    assert engine.holds_release(
        integration_id=doc.integration_id, materials=["SKU-1"], reason="stock arrived"
    )
    engine.process(flow=test_flow)
    doc.refresh_from_db()
    hold.refresh_from_db()
    assert doc.state == S.SYNCED and hold.status == "released"
    assert ticket_of_document(doc) is None
    ticket.refresh_from_db()
    assert ticket.status == "resolved" and not ticket.links.exists()


def test_pull_watermark_overlap_and_catchup(test_flow, fake_target):
    """The pull starts at the watermark minus the overlap; a late write older than that is
    found by the catch-up pass (补漏); the stored watermark never moves backwards."""
    now = timezone.now()
    fake_target.source = [order(40, minutes_ago=30)]
    engine.pull(flow=test_flow)
    mark = Watermark.objects.get(flow=test_flow).cursor
    assert mark is not None and SyncDocument.objects.filter(source_key="40").exists()
    late = order(41, minutes_ago=50)  # written late, dated before the watermark's overlap
    fake_target.source.append(late)
    engine.pull(flow=test_flow)
    assert not SyncDocument.objects.filter(source_key="41").exists()
    engine.pull(flow=test_flow, catchup=True)
    assert SyncDocument.objects.filter(source_key="41").exists()
    assert Watermark.objects.get(flow=test_flow).cursor >= mark
    engine.pull(flow=test_flow, until=now - timedelta(hours=1))
    assert Watermark.objects.get(flow=test_flow).cursor >= mark


def test_pull_resumes_where_a_failing_read_stopped(test_flow, fake_target):
    """S1 (nothing lost under faults): GIVEN a source whose reads break after four rows, every
    time WHEN the flow pulls THEN each retry resumes from the newest row read (one second
    early), never from the window's start, and the whole backlog arrives in one pull."""
    fake_target.source = [order(100 + n, minutes_ago=40 - n) for n in range(30)]
    fake_target.source_script = [4] * 20
    stats = engine.pull(flow=test_flow)
    assert SyncDocument.objects.filter(flow=test_flow).count() == 30
    starts = fake_target.extract_starts
    # 9 broken reads (4 rows, then 3 new rows plus the boundary row again), then the last 3
    assert len(starts) == 10
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    assert stats.pulled == 30 + 9  # only the boundary rows are read twice


def test_pull_that_gives_up_keeps_its_progress(test_flow, fake_target):
    """S1: GIVEN a read that streams four rows, fails, and then fails three times in a row
    without bringing a row WHEN the flow pulls THEN the pull gives up (the circuit breaker
    counts it) but the watermark moves to the newest row read, and the next pull goes on
    from there."""
    fake_target.source = [order(200 + n, minutes_ago=40 - n) for n in range(10)]
    fake_target.source_script = [4, 0, 0, 0]
    before = Watermark.objects.filter(flow=test_flow).values_list("cursor", flat=True).first()
    with pytest.raises(TransientError):
        engine.pull(flow=test_flow)
    mark = Watermark.objects.get(flow=test_flow).cursor
    fourth = fake_target.source[3].modified_at
    assert mark == fourth - timedelta(seconds=1)
    assert before is None or mark > before
    fake_target.extract_starts.clear()
    engine.pull(flow=test_flow)
    assert SyncDocument.objects.filter(flow=test_flow).count() == 10
    overlap = timedelta(seconds=Watermark.objects.get(flow=test_flow).overlap_seconds)
    assert fake_target.extract_starts[0] == mark - overlap


def test_circuit_breaker_pauses_alerts_once_and_resumes(test_flow, fake_target):
    """A flow whose connection keeps failing pauses itself, opens one ticket, and resumes on a
    successful probe after the cool-down."""
    fake_target.source_down = True
    for _ in range(7):
        Flow.objects.filter(pk=test_flow.pk).update(paused_until=None) if _ == 6 else None
        engine.run_flow(flow=Flow.objects.get(pk=test_flow.pk))
    flow = Flow.objects.get(pk=test_flow.pk)
    tickets = ExceptionTicket.objects.filter(trace_key=f"flow:{flow.pk}:circuit")
    assert tickets.count() == 1
    assert engine.run_flow(flow=flow).skipped in ("paused", "")
    Flow.objects.filter(pk=flow.pk).update(paused_until=timezone.now() - timedelta(seconds=1))
    fake_target.source_down = False
    engine.run_flow(flow=Flow.objects.get(pk=flow.pk))
    flow.refresh_from_db()
    assert flow.paused_until is None and flow.consecutive_failures == 0
    assert tickets.get().status == TicketStatus.RESOLVED


def test_two_integrations_run_side_by_side(make_integration, fake_target):
    """An Integration scopes flows and documents: the same source key in two integrations is
    two documents, and one integration's failing connection does not stall the other."""
    from flows.services import flow_ensure
    from tests.flows.engine_fixtures import TEST_FLOW

    a = flow_ensure(integration=make_integration("a"), code=TEST_FLOW, enabled=True)
    b = flow_ensure(integration=make_integration("b"), code=TEST_FLOW, enabled=True)
    engine.ingest(flow=a, records=[order(50)])
    engine.ingest(flow=b, records=[order(50)])
    fake_target.script = ["down"]
    engine.process(flow=a)
    fake_target.documents.clear()
    engine.process(flow=b)
    assert SyncDocument.objects.get(flow=a).state == S.WAITING
    assert SyncDocument.objects.get(flow=b).state == S.SYNCED


def test_events_are_written_for_every_transition(test_flow, fake_target):
    engine.ingest(flow=test_flow, records=[order(60)])
    engine.process(flow=test_flow)
    assert Event.objects.filter(document__source_key="60", platform_order_no="PO-60").count() == 3


def test_pulled_record_with_unstorable_text_is_kept_cleaned(test_flow, fake_target):
    """#12 poison input: GIVEN a pulled record whose payload holds a NUL character and a lone
    surrogate (PostgreSQL refuses both) next to a normal record WHEN the flow pulls THEN both
    are stored (the odd characters cleaned) and the normal one syncs."""
    odd = order(300, minutes_ago=3)
    odd.payload["remark"] = "gift\x00wrap \udc8a"
    fake_target.source = [odd, order(301, minutes_ago=2)]
    engine.pull(flow=test_flow)
    stored = SyncDocument.objects.get(flow=test_flow, source_key="300")
    assert stored.source_payload["remark"] == "giftwrap \ufffd"
    engine.process(flow=test_flow)
    assert SyncDocument.objects.get(flow=test_flow, source_key="301").state == S.SYNCED


def test_outage_of_the_portals_own_services_is_retried_not_blocked(test_flow, fake_target):
    """Chaos (#12): GIVEN Redis unreachable while documents are mapped (a restart) WHEN the
    batch runs THEN the documents wait for a timed retry (transient: connection), nobody gets
    a ticket to fix them, and they sync once Redis is back."""
    import redis

    engine.ingest(flow=test_flow, records=[order(500), order(501)])
    fake_target.transform_error = redis.exceptions.ConnectionError(
        "Error 111 connecting to 127.0.0.1:6379. Connection refused."
    )
    engine.process(flow=test_flow)
    docs = SyncDocument.objects.filter(flow=test_flow, source_key__in=["500", "501"])
    assert {d.state for d in docs} == {S.WAITING}
    assert {d.last_error_class for d in docs} == {"connection"}
    assert not ExceptionTicket.objects.filter(document__in=docs).exists()
    fake_target.transform_error = None
    SyncDocument.objects.filter(pk__in=[d.pk for d in docs]).update(next_attempt_at=timezone.now())
    engine.process(flow=test_flow)
    assert set(docs.values_list("state", flat=True)) == {S.SYNCED}
