"""Exactly once under injected faults (F4.1, F7.1, F8.3): with both simulators failing calls,
answering Jushuitan writes only after the client gave up (the document landed but the portal
cannot know) and the Kingdee pulls failing now and then, every Kingdee bill still ends as
exactly one Jushuitan document per external id, and stock moves exactly once."""

import pytest

from flows.choices import DocumentState as S
from flows.choices import FlowCode
from flows.models import Flow, SyncDocument
from monitoring.models import Event, RemoteCall
from sandbox import faults

pytestmark = pytest.mark.django_db(transaction=True)


def test_warehouse_flows_exactly_once_under_faults(
    demo_integration, kingdee_desk, jst_warehouse, run_flow_until
):
    """F4.1/F7.1/F8.3: GIVEN three purchase inbounds (one split over two warehouses), two
    transfers and two adjustments audited in Kingdee, and faults on both simulators (Jushuitan:
    20% errors, 20% timeouts after commit with a 2 s client timeout; Kingdee: 10% errors) WHEN
    the flows run until everything is synced THEN each Jushuitan document exists exactly once
    and every stock figure equals the opening figure plus the bills' quantities."""
    from connectors.jushuitan.models import JushuitanConnection

    inbounds = [
        kingdee_desk.purchase_inbound(
            "CGRK-TF-0001", lines=[("SKU-PB-1001", "20001", 11, "62.00", "CGDD-1")]
        ),
        kingdee_desk.purchase_inbound(
            "CGRK-TF-0002",
            lines=[
                ("SKU-EAR-1101", "20001", 7, "85.00", "CGDD-2"),
                ("SKU-EAR-1101", "20002", 3, "85.00", "CGDD-2"),
            ],
        ),
        kingdee_desk.purchase_inbound(
            "CGRK-TF-0003", lines=[("SKU-CBL-1201", "20003", 13, "6.50", "CGDD-3")]
        ),
    ]
    transfers = [
        kingdee_desk.transfer("ZJDB-TF-0001", lines=[("SKU-PB-1001", "20001", "20002", 5)]),
        kingdee_desk.transfer("ZJDB-TF-0002", lines=[("SKU-CBL-1201", "20001", "20003", 4)]),
    ]
    adjustments = [
        kingdee_desk.adjustment(
            "STK_MISCELLANEOUS", "QTRKD-TF-0001", lines=[("SKU-EAR-1101", "20001", 2)]
        ),
        kingdee_desk.adjustment(
            "STK_MisDelivery", "QTCKD-TF-0001", lines=[("SKU-PB-1001", "20001", 1)]
        ),
    ]
    expected_delta = {
        ("SKU-PB-1001", 20001): 11 - 5 - 1,
        ("SKU-PB-1001", 20002): 5,
        ("SKU-EAR-1101", 20001): 7 + 2,
        ("SKU-EAR-1101", 20002): 3,
        ("SKU-CBL-1201", 20003): 13 + 4,
        ("SKU-CBL-1201", 20001): -4,
    }
    before = {key: jst_warehouse.stock(*key) for key in expected_delta}
    expected_keys = {
        "purchase_in": [
            inbounds[0],
            f"{inbounds[1]}-20001",
            f"{inbounds[1]}-20002",
            inbounds[2],
        ],
        "other_inout": [f"{t}-{leg}" for t in transfers for leg in ("OUT", "IN")]
        + [f"{adjustments[0]}-20001-QTIN", f"{adjustments[1]}-20001-QTOUT"],
    }

    connection = JushuitanConnection.objects.get(pk=demo_integration.jushuitan_id)
    connection.timeout_seconds = 2
    connection.save()
    codes = (FlowCode.PURCHASE_INBOUND, FlowCode.TRANSFER, FlowCode.INVENTORY_ADJUST)
    flows = list(Flow.objects.filter(integration=demo_integration, code__in=codes))
    for flow in flows:
        flow.settings = {"retry": {"base_seconds": 0.5, "jitter": 0, "max_attempts": 40}}
        flow.save()
    faults.set_profile("jushuitan", error_rate=0.2, timeout_after_commit_rate=0.2, stall_seconds=3)
    faults.set_profile("kingdee", error_rate=0.1)
    try:
        run_flow_until(
            flows,
            lambda: SyncDocument.objects.filter(flow__in=flows, state=S.SYNCED).count() == 7,
            timeout=240,
            explain=lambda: [
                *SyncDocument.objects.filter(flow__in=flows).values_list(
                    "source_key", "state", "last_error_message", "claim_token"
                ),
                *Flow.objects.filter(pk__in=[f.pk for f in flows]).values_list(
                    "code", "paused_until", "consecutive_failures", "last_error"
                ),
            ],
        )
    finally:
        faults.set_profile("jushuitan")
        faults.set_profile("kingdee")

    docs = SyncDocument.objects.filter(flow__in=flows)
    assert docs.count() == 7
    assert not docs.exclude(state=S.SYNCED).exists()
    for name, keys in expected_keys.items():
        found = jst_warehouse.documents(name, keys)
        assert {k: len(v) for k, v in found.items()} == dict.fromkeys(keys, 1), name
    for key, delta in expected_delta.items():
        assert jst_warehouse.stock(*key) == before[key] + delta, key
    # The faults did bite: calls failed along the way (reads and writes of both systems; with
    # dozens of calls at 10-40% fault rates a quiet run is practically impossible). Whether a
    # given write was the one to time out is chance, so lost answers being looked up is proved
    # deterministically by the next test, not here.
    failed = RemoteCall.objects.exclude(error="").count()
    assert failed > 0


@pytest.mark.usefixtures("english")  # asserts English text made by the worker
def test_f7_f4_lost_answers_are_looked_up_and_never_resent(
    demo_integration, kingdee_desk, jst_warehouse, run_flow_until
):
    """F7.1/F4.1: GIVEN Jushuitan commits every write but answers only after the client gave up
    (timeout after commit on every call) WHEN a transfer and a purchase inbound sync THEN each
    write is sent exactly once: before sending again the portal finds the landed document by
    its external id, records that leg as done and sends only the next one."""
    from connectors.jushuitan.models import JushuitanConnection
    from monitoring.models import RemoteCall

    transfer = kingdee_desk.transfer("ZJDB-TL-0001", lines=[("SKU-PB-1002", "20001", "20002", 3)])
    inbound = kingdee_desk.purchase_inbound(
        "CGRK-TL-0001", lines=[("SKU-PB-1002", "20001", 9, "48.00", "CGDD-9")]
    )
    connection = JushuitanConnection.objects.get(pk=demo_integration.jushuitan_id)
    connection.timeout_seconds = 2
    connection.save()
    codes = (FlowCode.PURCHASE_INBOUND, FlowCode.TRANSFER)
    flows = list(Flow.objects.filter(integration=demo_integration, code__in=codes))
    for flow in flows:
        flow.settings = {"retry": {"base_seconds": 0.5, "jitter": 0}}
        flow.save()
    faults.set_profile("jushuitan", timeout_after_commit_rate=1, stall_seconds=3)
    try:
        run_flow_until(
            flows,
            lambda: SyncDocument.objects.filter(flow__in=flows, state=S.SYNCED).count() == 2,
            timeout=120,
        )
    finally:
        faults.set_profile("jushuitan")

    writes = {
        f"{transfer}-OUT": "/open/jushuitan/otherinout/upload",
        f"{transfer}-IN": "/open/jushuitan/otherinout/upload",
        inbound: "/open/webapi/wmsapi/purchasein/createbatch",
    }
    for key, path in writes.items():
        sent = RemoteCall.objects.filter(system="jushuitan", operation=path, request__contains=key)
        assert sent.count() == 1, (key, sent.count())
    docs = SyncDocument.objects.filter(flow__in=flows)
    landed = Event.objects.filter(document__in=docs, message__contains="not sent again")
    assert landed.count() == 2
    doc = docs.get(flow__code=FlowCode.TRANSFER)
    assert set(doc.progress["done"]) == {f"{transfer}-OUT", f"{transfer}-IN"}
    legs = jst_warehouse.documents("other_inout", [f"{transfer}-OUT", f"{transfer}-IN"])
    assert [len(v) for v in legs.values()] == [1, 1]
