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
