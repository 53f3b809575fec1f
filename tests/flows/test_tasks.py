"""Engine tasks run in a real Celery worker (not eager), through the broker."""

import pytest
from django.utils import timezone

from flows import engine
from flows.choices import DocumentState as S
from flows.definitions.base import SourceRecord
from flows.models import SyncDocument
from flows.tasks import flow_process, sweep

pytestmark = pytest.mark.django_db(transaction=True)


def test_worker_processes_queued_flow(test_flow, fake_target, celery_worker, wait_until):
    """GIVEN received documents WHEN flow_process is sent through the broker THEN a real worker
    syncs them."""
    engine.ingest(
        flow=test_flow,
        records=[
            SourceRecord(
                source_key=str(n),
                payload={"order_no": n, "lines": [{"sku": "A", "qty": 1}]},
                modified_at=timezone.now(),
            )
            for n in range(5)
        ],
    )
    flow_process.delay(test_flow.pk)
    wait_until(lambda: SyncDocument.objects.filter(state=S.SYNCED).count() == 5)
    assert len(fake_target.documents) == 5


def test_sweep_picks_up_documents_stored_while_broker_was_down(
    test_flow, fake_target, celery_worker, wait_until
):
    """Pushes are stored first and queued after: documents stored without a queued task are
    found by the periodic sweep and synced."""
    engine.ingest(
        flow=test_flow,
        records=[
            SourceRecord(
                source_key="x", payload={"order_no": "x", "lines": [{"sku": "A", "qty": 1}]}
            )
        ],
    )
    assert sweep.delay() is not None
    wait_until(lambda: SyncDocument.objects.filter(state=S.SYNCED).count() == 1)


def test_run_lock_of_a_killed_worker_lapses_and_a_live_run_keeps_it(
    test_flow, fake_target, settings
):
    """S1 / chaos (#12): GIVEN a run lock left by a worker that was killed mid-run WHEN the
    lock's lapse time passes without a heartbeat THEN the next scheduled run goes ahead;
    a live run's heartbeats keep its lock while it works."""
    import time

    from flows.tasks import RunLock, flow_run

    # Two seconds, not one: on a loaded two-core machine a run can take a second to start.
    settings.PORTAL_RUN_LOCK_SECONDS = 2
    dead = RunLock(test_flow.pk)
    assert dead.acquire()  # ... and the worker dies: release() never runs
    assert flow_run(test_flow.pk) == {"skipped": "already running"}
    time.sleep(2.3)
    fake_target.source = [
        SourceRecord(
            source_key="LOCK-1",
            payload={"order_no": "LOCK-1", "lines": [{"sku": "A", "qty": 1}]},
            modified_at=timezone.now(),
        )
    ]
    assert flow_run(test_flow.pk)["synced"] == 1

    live = RunLock(test_flow.pk)
    assert live.acquire()
    for _ in range(8):  # a run that works for twice the lapse time, beating as it goes
        time.sleep(0.5)
        live.heartbeat()
    assert flow_run(test_flow.pk) == {"skipped": "already running"}
    live.release()


def test_a_live_batch_keeps_its_claim_however_long_it_takes(test_flow, fake_target, settings):
    """S1 exactly once (#12 chaos): GIVEN a claim lease of one second and a batch whose write
    takes three WHEN another worker tries to claim while the write is in flight THEN it gets
    nothing: the live worker renews its claim (a dead one would not, and its documents would
    be taken up after the lease); every document is written once."""
    import time

    settings.PORTAL_CLAIM_LEASE_SECONDS = 1
    engine.ingest(
        flow=test_flow,
        records=[
            SourceRecord(
                source_key=f"KEEP-{n}",
                payload={"order_no": f"KEEP-{n}", "lines": [{"sku": "A", "qty": 1}]},
                modified_at=timezone.now(),
            )
            for n in range(3)
        ],
    )
    stolen: list = []

    def slow_write(documents):
        time.sleep(3)
        stolen.extend(engine.claim(flow=test_flow, limit=10))

    fake_target.during_load = slow_write
    try:
        engine.process(flow=test_flow)
    finally:
        fake_target.during_load = None
    assert stolen == []
    assert SyncDocument.objects.filter(flow=test_flow, state=S.SYNCED).count() == 3
    assert set(fake_target.writes.values()) == {1}
