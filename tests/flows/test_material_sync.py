"""F1 material master sync, end to end: materials saved and audited in the Kingdee sandbox (or
pushed to POST /kdcloud/material/sync) become SKUs of the Jushuitan sandbox's item library,
through a real Celery worker, with every F1.2 field; code conflicts go through the code map
(F1.3); a missing field blocks, alerts the owner on DingTalk and is released (F1.4)."""

import time

import pytest
from django.utils import timezone

from flows import engine
from flows.choices import DocumentState as S
from flows.choices import FlowCode
from flows.models import Flow, SyncDocument
from flows.tasks import flow_run
from mappings.models import KnownCode, MaterialMapping
from monitoring.models import ExceptionTicket, RemoteCall
from monitoring.services import ticket_of_document
from tests.fixtures.masterdata import material_model

pytestmark = pytest.mark.django_db(transaction=True)


def f1_flow(integration) -> Flow:
    return Flow.objects.get(integration=integration, code=FlowCode.MATERIAL_SYNC)


def doc_for(flow, number: str) -> SyncDocument:
    return SyncDocument.objects.get(flow=flow, source_key=f"material:{number}")


def state_of(flow, number: str) -> str | None:
    doc = SyncDocument.objects.filter(flow=flow, source_key=f"material:{number}").first()
    return doc.state if doc else None


@pytest.mark.usefixtures("english")
def test_f1_1_f1_2_pulled_material_reaches_jushuitan_with_every_field(
    demo_integration, kingdee_master, jushuitan_items, celery_worker, wait_until
):
    """F1.1 / F1.2: GIVEN a finished-good material and a raw material saved and audited in
    Kingdee (org 100) WHEN the scheduled pull runs in a worker THEN the finished good is a
    Jushuitan SKU carrying code, HS code, English name, declared price, gross and net weight,
    brand and the battery flag (where recorded on the document); the raw material is kept as
    filtered with its reason; the new codes join the 1:1 snapshot (M4)."""
    kingdee_master.materials(
        material_model(
            "SKU-PB-2001",
            name="30000mAh 充电宝",
            en="30000mAh Power Bank",
            hs="8507600090",
            price=24.5,
            gross=620,
            net=550,
            weight_unit="g",
            brand="VoltPeak",
            battery=True,
        ),
        material_model("RM-CELL-18650", category="CHLB01_SYS"),
    )
    flow = f1_flow(demo_integration)

    flow_run.delay(flow.pk)
    # after_synced records the codes (M4) just after the state is settled: wait for both
    wait_until(
        lambda: (
            state_of(flow, "SKU-PB-2001") == S.SYNCED
            and KnownCode.objects.filter(
                integration=demo_integration, system="kingdee", kind="material", code="SKU-PB-2001"
            ).exists()
        ),
        60,
    )

    sku = jushuitan_items.sku("SKU-PB-2001")
    doc = doc_for(flow, "SKU-PB-2001")
    placement = doc.progress["placement"]
    assert placement == {
        "number": "sku_id",
        "hs_code": "other_1",
        "english_name": "other_2",
        "declared_price": "other_3",
        "gross_weight": "weight",
        "net_weight": "other_4",
        "brand": "brand",
        "battery": "labels",
    }
    assert sku["name"] == "30000mAh 充电宝"
    assert sku[placement["hs_code"]] == "8507600090"
    assert sku[placement["english_name"]] == "30000mAh Power Bank"
    assert sku[placement["declared_price"]] == "24.5"
    assert sku["weight"] == "0.62"  # 620 g in kg
    assert sku[placement["net_weight"]] == "0.55"
    assert sku["brand"] == "VoltPeak"
    assert "带电" in sku["labels"]
    assert sku["item_type"] == "成品"
    raw = doc_for(flow, "RM-CELL-18650")
    assert raw.state == S.FILTERED and "not a finished good" in raw.filter_reason
    assert jushuitan_items.sku("RM-CELL-18650") is None
    assert KnownCode.objects.filter(
        integration=demo_integration, system="jushuitan", kind="sku", code="SKU-PB-2001"
    ).exists()
    assert KnownCode.objects.filter(
        integration=demo_integration, system="kingdee", kind="material", code="SKU-PB-2001"
    ).exists()
    from mappings.selectors import material_for_sku

    assert material_for_sku(integration=demo_integration, sku_id="SKU-PB-2001") == "SKU-PB-2001"

    # A modification in Kingdee reaches Jushuitan again (the battery flag is cleared).
    kingdee_master.update_material("SKU-PB-2001", {"F_PAEZ_IsBattery": False})
    flow_run.delay(flow.pk)
    # the SKU changes in Jushuitan before the document is settled as synced: wait for both
    wait_until(
        lambda: (
            "带电" not in (jushuitan_items.sku("SKU-PB-2001")["labels"] or [])
            and state_of(flow, "SKU-PB-2001") == S.SYNCED
        ),
        60,
    )


def test_f1_1_pushed_material_is_synced_and_invalid_push_is_refused(
    demo_integration, jushuitan_items, celery_worker, wait_until, admin_client
):
    """F1.1: GIVEN a material in Kingdee's Save shape WHEN it is POSTed to
    /kdcloud/material/sync THEN the answer is 202 and a worker puts the SKU in Jushuitan; a
    body without FName is refused with 400 naming the field and nothing is stored; an empty
    body asks for a pull now."""
    model = material_model("SKU-LAMP-2501", name="LED 台灯 Pro", brand="Lumen", battery=False)
    model["FModifyDate"] = "2026-11-28 10:15:00"

    answer = admin_client.post(
        "/kdcloud/material/sync", {"Model": model}, content_type="application/json"
    )
    assert answer.status_code == 202, answer.content
    assert answer.json()["accepted"] == 1
    flow = f1_flow(demo_integration)
    wait_until(lambda: state_of(flow, "SKU-LAMP-2501") == S.SYNCED, 60)
    sku = jushuitan_items.sku("SKU-LAMP-2501")
    assert sku["brand"] == "Lumen" and "带电" not in (sku.get("labels") or [])

    bad = admin_client.post(
        "/kdcloud/material/sync",
        [material_model("SKU-OK-1"), {"FNumber": "SKU-NONAME-1"}],
        content_type="application/json",
    )
    assert bad.status_code == 400
    assert "FName" in bad.content.decode()
    assert not SyncDocument.objects.filter(source_key__in=["material:SKU-OK-1"]).exists()

    pull = admin_client.post("/kdcloud/material/sync", "", content_type="application/json")
    assert pull.status_code == 202 and pull.json()["pull"] is True


@pytest.mark.usefixtures("english")
def test_f1_3_code_jushuitan_cannot_take_goes_through_the_code_map(
    demo_integration, kingdee_master, jushuitan_items, celery_worker, wait_until
):
    """F1.3: GIVEN a material whose code is 46 characters (Jushuitan takes 40), one whose code
    another material already maps to and one Jushuitan holds in other letter case WHEN synced
    THEN all three are blocked with a ticket to the master-data admins naming the reason; WHEN
    a SKU ↔ material mapping row gives the SKU to use THEN the first is released and lands in
    Jushuitan under the mapped SKU."""
    long_code = "1.01.0001-POWERBANK-30000MAH-BLACK-EU-PLUG-V02"
    assert len(long_code) > 40
    MaterialMapping.objects.create(
        integration=demo_integration, sku_id="SKU-CASE-7001", material_number="OLD-CASE-7001"
    )
    KnownCode.objects.create(
        integration=demo_integration,
        system="jushuitan",
        kind="sku",
        code="sku-case-7002",
        seen_at=timezone.now(),
    )
    kingdee_master.materials(
        material_model(long_code), material_model("SKU-CASE-7001"), material_model("SKU-CASE-7002")
    )
    flow = f1_flow(demo_integration)

    flow_run.delay(flow.pk)
    wait_until(
        lambda: all(
            state_of(flow, code) == S.BLOCKED
            for code in (long_code, "SKU-CASE-7001", "SKU-CASE-7002")
        ),
        60,
    )
    ticket = ticket_of_document(doc_for(flow, long_code))
    assert ticket.role == "master_data_admin" and ticket.error_class == "missing_mapping"
    assert "at most 40" in ticket.message and "SKU ↔ material" in ticket.message
    clash = ticket_of_document(doc_for(flow, "SKU-CASE-7001"))
    assert "already belongs to material OLD-CASE-7001" in clash.message
    lookalike = ticket_of_document(doc_for(flow, "SKU-CASE-7002"))
    assert "sku-case-7002" in lookalike.message and "letter case" in lookalike.message

    MaterialMapping.objects.create(
        integration=demo_integration, sku_id="PB30K-BLK-EU-V02", material_number=long_code
    )
    wait_until(lambda: state_of(flow, long_code) == S.SYNCED, 60)
    assert jushuitan_items.sku("PB30K-BLK-EU-V02")["name"] == f"物料 {long_code}"
    assert jushuitan_items.sku(long_code[:40]) is None
    ticket.refresh_from_db()
    assert ticket.status == "resolved"


@pytest.mark.usefixtures("english")
def test_f1_4_missing_field_alerts_owner_on_dingtalk_then_release(
    demo_integration, kingdee_master, jushuitan_items, celery_worker, wait_until, robot_channel
):
    """F1.4: GIVEN material SKU-LAMP-1501 without an HS code in Kingdee, its group FG owned by
    user `li` (not a master-data admin) and a rule sending master-data problems to the sandbox
    DingTalk robot WHEN the pull runs THEN the record is blocked, the ticket names the field
    and is in the owner's queue, and the robot receives the alert @-mentioning the owner;
    WHEN the HS code is completed and audited in Kingdee THEN the next pull releases it: the
    SKU carries the code and the ticket is closed."""
    from django.contrib.auth.models import User

    from masterdata.models import MaterialOwner
    from monitoring.models import AlertContact, AlertRule
    from sandbox.robots.models import ReceivedMessage

    li = User.objects.create_user("li", password="x")
    AlertContact.objects.create(user=li, mobile="13900001501")
    MaterialOwner.objects.create(
        integration=demo_integration, material_group="FG", owner_user=li, note="lamps"
    )
    AlertRule.objects.create(name="master data", channel=robot_channel, error_classes="missing_*")
    flow = f1_flow(demo_integration)

    flow_run.delay(flow.pk)
    wait_until(lambda: state_of(flow, "SKU-LAMP-1501") == S.BLOCKED, 60)
    doc = doc_for(flow, "SKU-LAMP-1501")
    assert doc.last_error_class == "missing_value"
    ticket = ticket_of_document(doc)
    assert ticket.role == "master_data_admin"
    assert "F_PAEZ_HSCode" in ticket.message and "HS code" in ticket.message
    assert ticket.detail["mention_users"] == [li.pk]

    received = wait_until(
        lambda: ReceivedMessage.objects.filter(
            accepted=True, content__contains="SKU-LAMP-1501"
        ).first(),
        30,
        message="the DingTalk robot did not receive the alert",
    )
    assert "13900001501" in received.at_mobiles

    kingdee_master.update_material("SKU-LAMP-1501", {"F_PAEZ_HSCode": "9405409000"})
    flow_run.delay(flow.pk)
    wait_until(lambda: state_of(flow, "SKU-LAMP-1501") == S.SYNCED, 60)
    assert jushuitan_items.sku("SKU-LAMP-1501")["other_1"] == "9405409000"
    ticket.refresh_from_db()
    assert ticket.status == "resolved"


def test_f1_exactly_once_when_jushuitan_answers_are_lost(
    demo_integration, kingdee_master, jushuitan_items
):
    """F1 exactly once: GIVEN every Jushuitan write commits but its answer never arrives (the
    client times out) WHEN the flow runs THEN the uploads are unknown outcomes; the next runs
    ask Jushuitan first and find them, so no SKU is uploaded twice; THEN under random errors
    and lost answers the flow still converges with every SKU right and no open ticket."""
    from connectors.jushuitan.models import JushuitanConnection
    from sandbox import faults

    numbers = [f"SKU-FLT-{n:04d}" for n in range(1, 7)]
    kingdee_master.materials(*(material_model(n, brand=f"B{n[-1]}") for n in numbers))
    flow = f1_flow(demo_integration)
    flow.settings = {"retry": {"base_seconds": 0.5, "jitter": 0}}
    flow.save()
    JushuitanConnection.objects.filter(pk=demo_integration.jushuitan_id).update(timeout_seconds=2)
    from connectors.jushuitan.client import forget_clients

    forget_clients()
    try:
        faults.set_profile("jushuitan", timeout_after_commit_rate=1, stall_seconds=3)
        engine.run_flow(flow=flow)
        docs = SyncDocument.objects.filter(
            flow=flow, source_key__in=[f"material:{n}" for n in numbers]
        )
        assert all(d.outcome_unknown and d.state == S.WAITING for d in docs)
        uploads = RemoteCall.objects.filter(operation__contains="itemsku/upload").count()

        faults.set_profile("jushuitan")
        time.sleep(1.1)
        engine.run_flow(flow=flow)
        assert all(doc_for(flow, n).state == S.SYNCED for n in numbers)
        assert RemoteCall.objects.filter(operation__contains="itemsku/upload").count() == uploads

        kingdee_master.materials(*(material_model(f"SKU-FLT-9{n}") for n in range(1, 6)))
        faults.set_profile(
            "jushuitan", error_rate=0.2, timeout_after_commit_rate=0.2, stall_seconds=3
        )
        more = [f"SKU-FLT-9{n}" for n in range(1, 6)]
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            engine.run_flow(flow=flow, catchup=False)
            if all(state_of(flow, n) == S.SYNCED for n in more):
                break
            time.sleep(0.5)
    finally:
        faults.set_profile("jushuitan")
        forget_clients()
    for number in [*numbers, *more]:
        assert state_of(flow, number) == S.SYNCED, number
        assert jushuitan_items.sku(number)["name"] == f"物料 {number}"
    assert not ExceptionTicket.objects.filter(
        document__flow=flow, document__source_key__startswith="material:SKU-FLT", status="open"
    ).exists()
