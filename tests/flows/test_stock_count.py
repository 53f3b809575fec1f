"""F8.1 / F8.2 stock counts, end to end: counts confirmed in the Jushuitan sandbox become
audited other-inbound / other-outbound bills in the Kingdee sandbox (per warehouse and
material, exactly once); variances over ±2 % of book are revalued with a cost adjustment and
a finance review ticket that names both documents."""

from decimal import ROUND_HALF_UP, Decimal

import pytest

from flows.choices import DocumentState as S
from flows.choices import FlowCode
from flows.definitions.stock_count import needs_revaluation
from flows.models import Flow, SyncDocument
from flows.tasks import flow_run

pytestmark = pytest.mark.django_db(transaction=True)
TWO = Decimal("2")


# --- the ±2 % rule on its own (F8.2) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("variance", "book", "expected"),
    [
        (Decimal("10"), Decimal("500"), False),  # exactly 2 %: no revaluation
        (Decimal("-10"), Decimal("500"), False),  # exactly -2 %
        (Decimal("11"), Decimal("500"), True),  # 2.2 %
        (Decimal("-11"), Decimal("500"), True),
        (Decimal("1"), Decimal("49.99"), True),  # just over 2 %
        (Decimal("1"), Decimal("50"), False),  # exactly 2 %
        (Decimal("0"), Decimal("0"), False),
    ],
)
def test_f8_2_threshold_is_strictly_more_than_two_percent(variance, book, expected):
    """F8.2: GIVEN a line's variance and book quantity THEN revaluation triggers only when
    |variance| is strictly more than 2 % of the book quantity."""
    assert (
        needs_revaluation(variance=variance, book=book, threshold=TWO, zero_book_policy="revalue")
        is expected
    )


def test_f8_2_zero_book_quantity_is_explicit():
    """F8.2: GIVEN a count of a SKU whose book quantity was zero THEN the default policy
    revalues any variance (it is unbounded in percent) and "skip" never does."""
    assert needs_revaluation(
        variance=Decimal("3"), book=Decimal("0"), threshold=TWO, zero_book_policy="revalue"
    )
    assert not needs_revaluation(
        variance=Decimal("3"), book=Decimal("0"), threshold=TWO, zero_book_policy="skip"
    )


# --- end to end against both sandboxes ---------------------------------------------------------


@pytest.fixture
def jst(demo_integration):
    from connectors.jushuitan.client import JushuitanClient

    return JushuitanClient(demo_integration.jushuitan)


@pytest.fixture
def kd(demo_integration):
    from connectors.kingdee.client import client_for

    return client_for(demo_integration.kingdee)


def count(jst, so_id: str, items: list[tuple[str, int]], wms_co_id: int = 20001) -> int:
    """Confirm a stock check (absolute counted quantities) in Jushuitan; returns io_id."""
    result = jst.upload_inventory(
        {
            "so_id": so_id,
            "wms_co_id": wms_co_id,
            "warehouse": 1,
            "type": "check",
            "is_confirm": True,
            "remark": "cycle count",
            "items": [{"sku_id": sku, "qty": qty} for sku, qty in items],
        }
    )
    assert result.ok, result.message
    return int(result.remote_id)


def bill(kd, form: str, number: str) -> dict | None:
    rows = kd.execute_bill_query(form, ["FBillNo"], filter_string=f"FBillNo = '{number}'")
    assert len(rows) <= 1, rows
    if not rows:
        return None
    found = kd.view(form, number=number)
    return found


def entries(viewed: dict) -> list[dict]:
    for value in viewed.values():
        if isinstance(value, list) and value and isinstance(value[0], dict) and "Seq" in value[0]:
            return value
    raise KeyError(sorted(viewed))


def lower(row: dict) -> dict:
    return {k.lower(): v for k, v in row.items()}


def number_of(value) -> str:
    return value.get("Number") if isinstance(value, dict) else value


def run_until_synced(flow, wait_until, expected: int, timeout: float = 60):
    flow_run.delay(flow.pk)
    wait_until(
        lambda: SyncDocument.objects.filter(flow=flow, state=S.SYNCED).count() == expected,
        timeout,
        message=str(
            list(
                SyncDocument.objects.filter(flow=flow).values(
                    "source_key", "state", "last_error_message"
                )
            )
        ),
    )


def test_f8_1_counts_become_audited_misc_bills_exactly_once_and_f8_2_revalues_over_two_percent(
    demo_integration, jst, kd, celery_worker, wait_until
):
    """F8.1 / F8.2: GIVEN a confirmed count in warehouse 20001 (book 500 each) that finds
    PB-1001 +10 (exactly 2 %), EAR-1101 +11 (2.2 %) and PB-1002 -11 (2.2 %) WHEN the flow runs
    in a worker THEN Kingdee holds one audited STK_MISCELLANEOUS (two gain lines) and one
    audited STK_MisDelivery (one loss line), Kingdee stock equals the counted quantities, and
    only the two lines over 2 % are revalued: one cost adjustment per bill at the SKU's unit
    cost, each with a finance review ticket naming both numbers; a second run writes nothing."""
    from monitoring.models import ExceptionTicket

    io_id = count(
        jst, "CNT-F8-1", [("SKU-PB-1001", 510), ("SKU-EAR-1101", 511), ("SKU-PB-1002", 489)]
    )
    flow = Flow.objects.get(integration=demo_integration, code=FlowCode.STOCK_COUNT)

    run_until_synced(flow, wait_until, 2)
    run_until_synced(flow, wait_until, 2)  # nothing new

    gain = bill(kd, "STK_MISCELLANEOUS", f"JSTPD{io_id}-PY")
    loss = bill(kd, "STK_MisDelivery", f"JSTPD{io_id}-PK")
    assert gain["DocumentStatus"] == "C" and loss["DocumentStatus"] == "C"
    gain_lines = {
        number_of(lower(e)["materialid"]): Decimal(str(lower(e)["qty"])) for e in entries(gain)
    }
    assert gain_lines == {"SKU-PB-1001": Decimal("10"), "SKU-EAR-1101": Decimal("11")}
    loss_lines = {
        number_of(lower(e)["materialid"]): Decimal(str(lower(e)["qty"])) for e in entries(loss)
    }
    assert loss_lines == {"SKU-PB-1002": Decimal("11")}
    stock = kd.inventory(
        stock_numbers=["20001"], material_numbers=["SKU-PB-1001", "SKU-EAR-1101", "SKU-PB-1002"]
    )
    assert {k[0]: v for k, v in stock.items()} == {
        "SKU-PB-1001": Decimal("510"),
        "SKU-EAR-1101": Decimal("511"),
        "SKU-PB-1002": Decimal("489"),
    }

    gain_adjust = bill(kd, "HS_AdjustmentBill", f"JSTPD{io_id}-PY-CA")
    loss_adjust = bill(kd, "HS_AdjustmentBill", f"JSTPD{io_id}-PK-CA")
    [g] = [lower(e) for e in entries(gain_adjust)]
    assert number_of(g["materialid"]) == "SKU-EAR-1101"  # PB-1001 at exactly 2 % is not revalued
    assert Decimal(str(g["adjustmentamount"])) == Decimal("935.00")  # 11 × 85.00
    assert number_of(g["stockid"]) == "20001" and number_of(g["stockorgid"]) == "100"
    assert gain_adjust["DocumentStatus"] == "C"
    [lo] = [lower(e) for e in entries(loss_adjust)]
    assert number_of(lo["materialid"]) == "SKU-PB-1002"
    assert Decimal(str(lo["adjustmentamount"])) == Decimal("-528.00")  # -11 × 48.00

    tickets = ExceptionTicket.objects.filter(error_class="revaluation_review").order_by("trace_key")
    # the review tickets are opened just after the documents are marked synced: wait for them
    wait_until(lambda: tickets.count() == 2, 30)
    assert [(t.role, t.status) for t in tickets] == [("finance", "open"), ("finance", "open")]
    assert {(t.detail["bill_no"], t.detail["cost_adjust_no"]) for t in tickets} == {
        (f"JSTPD{io_id}-PY", f"JSTPD{io_id}-PY-CA"),
        (f"JSTPD{io_id}-PK", f"JSTPD{io_id}-PK-CA"),
    }
    assert all(t.document.flow_id == flow.pk for t in tickets)
    # Exactly once: one bill of each number, however often the flow ran.
    for form, no in (
        ("STK_MISCELLANEOUS", f"JSTPD{io_id}-PY"),
        ("STK_MisDelivery", f"JSTPD{io_id}-PK"),
        ("HS_AdjustmentBill", f"JSTPD{io_id}-PY-CA"),
        ("HS_AdjustmentBill", f"JSTPD{io_id}-PK-CA"),
    ):
        assert len(kd.execute_bill_query(form, ["FBillNo"], filter_string=f"FBillNo = '{no}'")) == 1


def test_f8_2_valuation_rounds_to_the_cent_with_the_kingdee_unit_cost(
    demo_integration, jst, kd, celery_worker, wait_until
):
    """F8.2: GIVEN the unit cost read from Kingdee (a 4-decimal cost of 12.3456 on the
    material) and a count loss of 3 on a book of 5 (60 %) WHEN the flow runs THEN the cost
    adjustment values the variance at -37.04 (-37.0368 rounded half-up to the cent)."""
    from sandbox.kingdee.models import KdBaseData

    material = KdBaseData.objects.get(form_id="BD_MATERIAL", number="SKU-PB-1001")
    material.fields = {**material.fields, "f_paez_unitcost": "12.3456"}
    material.save()
    flow = Flow.objects.get(integration=demo_integration, code=FlowCode.STOCK_COUNT)
    flow.settings = {"unit_cost_source": "kingdee"}
    flow.save()
    io_id = count(jst, "CNT-F8-2", [("SKU-PB-1001", 2)], wms_co_id=20003)  # book 5

    run_until_synced(flow, wait_until, 1)

    adjust = bill(kd, "HS_AdjustmentBill", f"JSTPD{io_id}-PK-CA")
    [line] = [lower(e) for e in entries(adjust)]
    expected = (Decimal("-3") * Decimal("12.3456")).quantize(Decimal("0.01"), ROUND_HALF_UP)
    assert expected == Decimal("-37.04")
    assert Decimal(str(line["adjustmentamount"])) == expected
    doc = SyncDocument.objects.get(flow=flow, target_key=f"JSTPD{io_id}-PK")
    assert doc.target_payload["revaluation"][0]["unit_cost"] == "12.3456"


def test_f8_1_exactly_once_under_injected_kingdee_faults(demo_integration, jst, kd):
    """F8.1 / F8.2 exactly once: GIVEN Kingdee failing 20 % of calls and timing out after
    committing another 20 % (stalling past the client's 2 s timeout) and three counts with
    revaluations WHEN the flow is run again and again until every document is synced THEN
    Kingdee holds exactly one bill and one cost adjustment per number — never two."""
    from django.utils import timezone

    from connectors.kingdee.client import clear_clients
    from connectors.kingdee.models import KingdeeConnection
    from flows.engine import run_flow
    from sandbox import faults

    io_ids = [
        count(jst, f"CNT-FAULT-{n}", [("SKU-PB-1001", 520 + n), ("SKU-PB-1002", 470 - n)])
        for n in range(3)
    ]
    flow = Flow.objects.get(integration=demo_integration, code=FlowCode.STOCK_COUNT)
    flow.settings = {"retry": {"base_seconds": 0.5, "jitter": 0, "max_attempts": 50}}
    flow.save()
    KingdeeConnection.objects.filter(pk=demo_integration.kingdee_id).update(timeout_seconds=2)
    clear_clients()
    faults.set_profile("kingdee", error_rate=0.2, timeout_after_commit_rate=0.2, stall_seconds=3)
    try:
        for _round in range(80):
            flow.refresh_from_db()
            Flow.objects.filter(pk=flow.pk).update(paused_until=None)  # no cool-down waits
            run_flow(flow=Flow.objects.get(pk=flow.pk))
            if SyncDocument.objects.filter(flow=flow, state=S.SYNCED).count() == 6:
                break
            SyncDocument.objects.filter(flow=flow, state=S.WAITING).update(
                next_attempt_at=timezone.now()
            )
    finally:
        faults.set_profile("kingdee")
        clear_clients()
    states = list(SyncDocument.objects.filter(flow=flow).values_list("state", flat=True))
    assert states == [S.SYNCED] * 6, list(
        SyncDocument.objects.filter(flow=flow).values("source_key", "state", "last_error_message")
    )
    adjusts = 0
    for doc in SyncDocument.objects.filter(flow=flow):
        wanted = [(doc.target_payload["form_id"], doc.target_key)]
        if doc.target_payload["cost_adjust"]:
            wanted.append(("HS_AdjustmentBill", f"{doc.target_key}-CA"))
            adjusts += 1
            assert doc.progress["cost_adjust_no"] == f"{doc.target_key}-CA"
        for form, no in wanted:
            rows = kd.execute_bill_query(
                form, ["FBillNo", "FDocumentStatus"], filter_string=f"FBillNo like '{no}%'"
            )
            assert [tuple(r) for r in rows] == [(no, "C")], (form, no, rows)
    assert adjusts >= 2 and sorted(io_ids) == sorted(
        {int(d.source_payload["io_id"]) for d in SyncDocument.objects.filter(flow=flow)}
    )


@pytest.mark.usefixtures("english")
def test_f8_2_revaluation_stays_off_until_the_preflight_proved_the_form(
    demo_integration, jst, kd, celery_worker, wait_until
):
    """Issue 17 point 1 / F8.2: GIVEN a tenant whose latest Kingdee preflight found the cost
    adjustment form missing WHEN a count over the threshold syncs THEN the count bill lands,
    no HS_AdjustmentBill is written, and finance gets a ticket saying revaluation is off until
    the preflight proves the form."""
    from connectors import preflight
    from connectors.preflight import Check, preflight_run
    from monitoring.models import ExceptionTicket

    @preflight.provider("kingdee")
    def no_cost_form(integration):
        yield Check(
            system="kingdee",
            key="kingdee.form.HS_AdjustmentBill",
            title="Form HS_AdjustmentBill can be read",
            ok=False,
            detail="MsgCode 4: 标识为“HS_AdjustmentBill”的业务对象不存在，或者被删除。",
            flows=("stock_count",),
        )

    try:
        preflight_run(integration=demo_integration, systems=["kingdee"], requested_by="test")
    finally:
        preflight._PROVIDERS["kingdee"].remove(no_cost_form)
    io_id = count(jst, "CNT-F8-OFF", [("SKU-EAR-1101", 520)])  # +20 on 500: 4 %
    flow = Flow.objects.get(integration=demo_integration, code=FlowCode.STOCK_COUNT)

    run_until_synced(flow, wait_until, 1)

    assert bill(kd, "STK_MISCELLANEOUS", f"JSTPD{io_id}-PY")["DocumentStatus"] == "C"
    assert bill(kd, "HS_AdjustmentBill", f"JSTPD{io_id}-PY-CA") is None
    ticket = wait_until(
        lambda: ExceptionTicket.objects.filter(error_class="revaluation_review").first(), 30
    )
    assert "revaluation is off" in ticket.message and "HS_AdjustmentBill" in ticket.message
