"""Issue 15: no document without an owner. Interrupted batches (any BaseException, a database
lost during the settle), one definition of workable, a stopping worker, loading documents
left without a claim. In process, against the engine's scripted test target; the stops of
real worker processes are in test_stops.py (PostgreSQL)."""

from datetime import timedelta

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.db import OperationalError, connection
from django.utils import timezone

from flows import engine, shutdown, tasks
from flows.choices import DocumentState as S
from flows.models import SyncDocument, Watermark
from monitoring import services as monitoring
from tests.flows.test_engine import order

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_stop():
    shutdown.reset()
    yield
    shutdown.reset()


def _in_flight_then(exc, fake_target):
    """The write lands in the target, then the worker is interrupted before the answer."""

    def land_then_stop(documents):
        for doc in documents:
            fake_target.documents[doc.target_key] = doc.target_payload
            fake_target.writes[doc.target_key] += 1
        raise exc

    fake_target.during_load = land_then_stop


@pytest.mark.usefixtures("english")
@pytest.mark.parametrize(
    "exc",
    [
        SystemExit(0),
        KeyboardInterrupt(),
        shutdown.WorkerStopping("grace over"),
        SoftTimeLimitExceeded(),
    ],
    ids=["SystemExit", "KeyboardInterrupt", "WorkerStopping", "SoftTimeLimitExceeded"],
)
def test_interrupted_write_is_outcome_unknown_and_workable_at_once(test_flow, fake_target, exc):
    """Issue 15.1: GIVEN a batch whose write landed in the target WHEN the worker is
    interrupted before the answer (SystemExit, KeyboardInterrupt, the stop grace, Celery's
    soft time limit) THEN no document stays Loading or claimed: each is waiting, outcome
    unknown, due now and workable at once; the next run finds it in the target and does not
    send it again (each bill once)."""
    engine.ingest(flow=test_flow, records=[order(n) for n in range(1, 4)])
    _in_flight_then(exc, fake_target)
    with pytest.raises(type(exc)):  # the stop goes on up to the task, after the hand-back
        engine.process(flow=test_flow)
    docs = SyncDocument.objects.filter(flow=test_flow)
    assert not docs.filter(state=S.LOADING).exists()
    assert not docs.filter(claim_token__isnull=False).exists()
    assert all(d.outcome_unknown and d.state == S.WAITING for d in docs)
    assert set(SyncDocument.objects.workable().values_list("pk", flat=True)) == {d.pk for d in docs}
    fake_target.during_load = None
    engine.process(flow=test_flow)
    assert set(docs.values_list("state", flat=True)) == {S.SYNCED}
    assert dict(fake_target.writes) == {"XS-1": 1, "XS-2": 1, "XS-3": 1}
    assert docs.first().events.filter(message__contains="not sent again").exists()


@pytest.mark.usefixtures("english")
@pytest.mark.django_db(transaction=True)
def test_database_lost_during_the_settle_hands_the_batch_back(test_flow, fake_target, monkeypatch):
    """Issue 15.1: GIVEN a batch whose write landed WHEN the database connection is lost in the
    middle of the settle (on PostgreSQL the backend is really terminated) THEN the batch is
    handed back on a fresh connection: outcome unknown, no claim, workable at once, and the
    next run books nothing twice."""
    engine.ingest(flow=test_flow, records=[order(n) for n in range(1, 4)])
    real = monitoring.events_record_bulk
    lost = []

    def lose_connection(events):
        if not lost:
            lost.append(True)
            if connection.vendor == "postgresql" and not connection.in_atomic_block:
                import psycopg

                params = connection.get_connection_params()
                params.pop("cursor_factory", None)
                pid = connection.connection.info.backend_pid
                with psycopg.connect(**params, autocommit=True) as admin:
                    admin.execute("SELECT pg_terminate_backend(%s)", [pid])
            else:
                raise OperationalError("server closed the connection unexpectedly")
        return real(events)

    monkeypatch.setattr(monitoring, "events_record_bulk", lose_connection)
    with pytest.raises(OperationalError):
        engine.process(flow=test_flow)
    docs = SyncDocument.objects.filter(flow=test_flow)
    assert lost
    assert not docs.filter(claim_token__isnull=False).exists()
    assert set(docs.values_list("state", "outcome_unknown")) == {(S.WAITING, True)}
    assert docs.workable().count() == 3
    engine.process(flow=test_flow)
    assert set(docs.values_list("state", flat=True)) == {S.SYNCED}
    assert dict(fake_target.writes) == {"XS-1": 1, "XS-2": 1, "XS-3": 1}


@pytest.mark.usefixtures("english")
def test_loading_without_a_claim_is_workable_swept_and_checked(test_flow, fake_target):
    """Issue 15.2: GIVEN documents left Loading with no claim (what an interrupted settle left
    before this fix) and one Loading under a live claim WHEN sweep runs and the flow is
    processed THEN sweep, claim and the metrics count the unclaimed ones as workable (one
    definition), they are checked in the target and synced without a second write, and the
    live claim is left alone."""
    engine.ingest(flow=test_flow, records=[order(n) for n in range(1, 4)])
    engine.process(flow=test_flow)
    docs = SyncDocument.objects.filter(flow=test_flow)
    docs.update(state=S.LOADING, claim_token=None, claimed_until=None)
    live = docs.get(source_key="3")
    SyncDocument.objects.filter(pk=live.pk).update(
        claim_token="00000000-0000-0000-0000-000000000003",
        claimed_until=timezone.now() + timedelta(minutes=5),
    )
    orphans = {d.pk for d in docs.exclude(pk=live.pk)}
    assert set(SyncDocument.objects.workable().values_list("pk", flat=True)) == orphans
    assert set(SyncDocument.objects.outcome_unknown().values_list("pk", flat=True)) == orphans
    assert set(engine._workable(test_flow, timezone.now()).values_list("pk", flat=True)) == (
        orphans
    )
    from monitoring.selectors import board_build, metrics_documents_flow_health

    health = {(f, w) for _i, f, w, _s in metrics_documents_flow_health()}
    assert (test_flow.code, 2) in health
    assert next(r for r in board_build().rows if r.flow_id == test_flow.pk).workable == 2
    queued = []
    tasks.flow_process.delay = lambda flow_id, ids=None: queued.append(flow_id)
    try:
        assert tasks.sweep() == 1
    finally:
        del tasks.flow_process.delay
    assert queued == [test_flow.pk]
    engine.process(flow=test_flow)
    assert set(docs.filter(pk__in=orphans).values_list("state", flat=True)) == {S.SYNCED}
    assert docs.get(pk=live.pk).state == S.LOADING
    assert fake_target.writes["XS-1"] == 1 and fake_target.writes["XS-2"] == 1


def test_a_stopping_worker_claims_and_reads_nothing_more(test_flow, fake_target):
    """Issue 15.3: GIVEN a worker told to stop (SIGTERM) WHEN it would claim the next batch or
    read the next record of a pull THEN it claims nothing (no document taken from the
    others), the records read so far are stored and the watermark does not move past what
    was not read."""
    engine.ingest(flow=test_flow, records=[order(1)])
    shutdown.request_stop()
    stats = engine.process(flow=test_flow)
    assert stats.skipped == "stopping" and stats.processed == 0
    assert not SyncDocument.objects.filter(claim_token__isnull=False).exists()
    shutdown.reset()

    fake_target.source = [order(n, minutes_ago=30 - n) for n in range(10, 20)]
    seen = []

    def stop_after_three(records):
        for record in records:
            seen.append(record)
            if len(seen) == 3:
                shutdown.request_stop()
            yield record

    real_extract = engine.definition_for(test_flow.code).extract
    definition = engine.definition_for(test_flow.code)
    definition.extract = lambda ctx, start, end: stop_after_three(
        real_extract(ctx, start=start, end=end)
    )
    try:
        with pytest.raises(shutdown.WorkerStopping):
            engine.pull(flow=test_flow)
    finally:
        del definition.extract
    stored = set(SyncDocument.objects.filter(flow=test_flow).values_list("source_key", flat=True))
    assert stored == {"1", "10", "11"}  # the third record was read as the stop came
    assert Watermark.objects.get(flow=test_flow).cursor is None
