"""The engine's throughput mechanics (issue #11): a pull streams its pages into ingest and the
documents are worked chunk by chunk while it pages on, idle workers are asked to help with a
large backlog, and many documents are written with few statements."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from flows import engine
from flows.choices import DocumentState as S
from flows.definitions.base import SourceRecord
from flows.models import SyncDocument, Watermark

pytestmark = pytest.mark.django_db


def order(no: int) -> SourceRecord:
    return SourceRecord(
        source_key=str(no),
        payload={"order_no": no, "shop": "10001", "lines": [{"sku": "SKU-1", "qty": 1}]},
        modified_at=timezone.now() - timedelta(minutes=5),
        platform_order_no=f"PO-{no}",
        shop_id="10001",
        skus=["SKU-1"],
    )


def test_pull_works_each_chunk_while_it_pages_and_asks_idle_workers_to_help(test_flow, fake_target):
    """F2.1 / issue #11: GIVEN 1,200 new source records WHEN a run pulls them THEN documents
    of the first chunk are synced before the source is read to its end, a large chunk asks
    idle workers to help (fan-out), and every record lands exactly once."""
    fake_target.source = [order(n) for n in range(1, 1201)]
    synced_while_paging: list[int] = []
    reads = {"n": 0}
    original = list(fake_target.source)

    class Probe(list):
        def __iter__(self):
            for record in original:
                reads["n"] += 1
                if reads["n"] == 1100:  # deep into the third chunk: earlier chunks are done
                    synced_while_paging.append(
                        SyncDocument.objects.filter(flow=test_flow, state=S.SYNCED).count()
                    )
                yield record

    fake_target.source = Probe(original)
    Watermark.objects.filter(flow=test_flow).update(last_catchup_at=timezone.now())
    fan_outs: list[int] = []
    stats = engine.run_flow(flow=test_flow, fan_out=lambda: fan_outs.append(1))
    assert stats.pulled == 1200 and stats.synced == 1200
    assert synced_while_paging == [1000]
    assert len(fan_outs) == 3  # every chunk (500, 500, 200) exceeds the batch size (50)
    assert set(fake_target.writes.values()) == {1} and len(fake_target.writes) == 1200


def test_bulk_write_sets_equal_and_differing_fields_in_few_statements(test_flow, fake_target):
    """Issue #11: GIVEN 300 documents WHEN their state (equal on all) and target keys and
    payloads (one per document) are written THEN the database holds every value, in at most
    three statements."""
    engine.ingest(flow=test_flow, records=[order(n) for n in range(300)])
    docs = list(SyncDocument.objects.filter(flow=test_flow).order_by("id"))
    for doc in docs:
        doc.state = S.MAPPED
        doc.target_key = f"XS-{doc.source_key}"
        doc.target_payload = {"FBillNo": doc.target_key, "lines": [{"qty": int(doc.source_key)}]}
    with CaptureQueriesContext(connection) as captured:
        engine.bulk_write(docs, ["state", "target_key", "target_payload"])
    assert len(captured) <= 3
    stored = {
        d.source_key: (d.state, d.target_key, d.target_payload)
        for d in SyncDocument.objects.filter(flow=test_flow)
    }
    assert stored["7"] == (S.MAPPED, "XS-7", {"FBillNo": "XS-7", "lines": [{"qty": 7}]})
    assert {state for state, _key, _payload in stored.values()} == {S.MAPPED}
    assert len({key for _state, key, _payload in stored.values()}) == 300
