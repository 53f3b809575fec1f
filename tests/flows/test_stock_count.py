"""F8.1 / F8.2 and issue 19 point 5, stock counts end to end: counts confirmed in the Jushuitan
sandbox become other-inbound / other-outbound bills in the Kingdee sandbox (per warehouse and
material, exactly once) at Kingdee's cost; loss bills and gains over ±2 % of book are saved
only and wait for finance's approval on a ticket, whose approval audits them and posts the
suspense and write-off voucher."""

import csv
import io
from decimal import Decimal

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


def count(jst, so_id: str, items: list[tuple[str, int]], wms_co_id: int = 20001, costs=None) -> int:
    """Confirm a stock check (absolute counted quantities) in Jushuitan; returns io_id.
    `costs` puts a Jushuitan cost price on the count lines of those SKUs."""
    costs = costs or {}
    result = jst.upload_inventory(
        {
            "so_id": so_id,
            "wms_co_id": wms_co_id,
            "warehouse": 1,
            "type": "check",
            "is_confirm": True,
            "remark": "cycle count",
            "items": [
                {"sku_id": sku, "qty": qty, **({"cost_price": costs[sku]} if sku in costs else {})}
                for sku, qty in items
            ],
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


def sandbox_value(stock: str, material: str) -> tuple[Decimal, Decimal]:
    """(quantity, inventory value) of the Kingdee sandbox's inventory accounting."""
    from sandbox.kingdee.models import KdStockBalance

    row = KdStockBalance.objects.get(org_number="100", stock_number=stock, material_number=material)
    return row.base_qty, row.amount


def kingdee_costs(**by_material: str) -> None:
    """Give materials a Kingdee unit cost: the material field the flow reads, and the average
    cost of every warehouse's balance (value = quantity × cost)."""
    from sandbox.kingdee.models import KdBaseData, KdStockBalance

    for material, cost in by_material.items():
        number = material.replace("_", "-")
        row = KdBaseData.objects.get(form_id="BD_MATERIAL", number=number)
        row.fields = {**row.fields, "f_paez_unitcost": cost}
        row.save()
        for balance in KdStockBalance.objects.filter(material_number=number):
            balance.cost_qty = balance.base_qty
            balance.amount = (balance.base_qty * Decimal(cost)).quantize(Decimal("0.01"))
            balance.save()


def status_of(kd, form: str, number: str) -> str | None:
    rows = kd.execute_bill_query(
        form, ["FBillNo", "FDocumentStatus"], filter_string=f"FBillNo = '{number}'"
    )
    assert len(rows) <= 1, rows
    return rows[0][1] if rows else None


def voucher_lines(key: str) -> list[tuple[str, Decimal, Decimal]]:
    """(account, debit, credit) of the sandbox voucher carrying this portal key."""
    from sandbox.kingdee.models import KdBill

    [voucher] = KdBill.objects.filter(
        form_id="GL_VOUCHER", custom_fields__key="f_paez_portalkey", custom_fields__value=key
    )
    return [
        (
            {k.lower(): v for k, v in e.fields["faccountid"].items()}["fnumber"],
            Decimal(str(e.fields["fdebit"])),
            Decimal(str(e.fields["fcredit"])),
        )
        for e in voucher.entries.all()
    ]


def approval_tickets():
    from monitoring.models import ExceptionTicket

    return ExceptionTicket.objects.filter(error_class="count_approval").order_by("trace_key")


def test_issue19_p5_nothing_is_audited_before_approval(
    demo_integration, jst, kd, celery_worker, wait_until
):
    """Issue 19 point 5 / F8.1: GIVEN a confirmed count in warehouse 20001 (book 500 each) that
    finds PB-1001 +10 (exactly 2 %), EAR-1101 +11 (2.2 %, over the threshold) and PB-1002 -11
    WHEN the flow runs twice in a worker THEN Kingdee holds the gain bill and the loss bill
    saved only (status A, never submitted or audited), Kingdee's stock quantities and values
    are unchanged, no cost adjustment and no voucher exist, and finance has one open approval
    ticket per bill."""
    from sandbox.kingdee.models import KdBill

    before = {m: sandbox_value("20001", m) for m in ("SKU-PB-1001", "SKU-EAR-1101", "SKU-PB-1002")}
    io_id = count(
        jst, "CNT-P5-SAVE", [("SKU-PB-1001", 510), ("SKU-EAR-1101", 511), ("SKU-PB-1002", 489)]
    )
    flow = Flow.objects.get(integration=demo_integration, code=FlowCode.STOCK_COUNT)

    run_until_synced(flow, wait_until, 2)
    run_until_synced(flow, wait_until, 2)  # a second run finds them saved and leaves them so

    assert status_of(kd, "STK_MISCELLANEOUS", f"JSTPD{io_id}-PY") == "A"
    assert status_of(kd, "STK_MisDelivery", f"JSTPD{io_id}-PK") == "A"
    assert {m: sandbox_value("20001", m) for m in before} == before
    assert not KdBill.objects.filter(form_id__in=["HS_AdjustmentBill", "GL_VOUCHER"]).exists()
    wait_until(lambda: approval_tickets().count() == 2, 30)
    assert [(t.role, t.status, t.detail["bill_no"]) for t in approval_tickets()] == [
        ("finance", "open", f"JSTPD{io_id}-PY"),
        ("finance", "open", f"JSTPD{io_id}-PK"),
    ]
    docs = SyncDocument.objects.filter(flow=flow)
    assert {d.progress["approval"] for d in docs} == {"pending"}
    # K1 explains the difference by the bills awaiting approval, not as unexplained.
    from finance.reconciliation import reconciliation_run

    run = reconciliation_run(integration=demo_integration)
    line = run.lines.get(sku_id="SKU-PB-1002", stock_number="20001")
    assert not line.matched and line.matched_after_pending
    assert [(i.kind, i.quantity) for i in line.items.all()] == [("approval", Decimal("-11"))]


def test_issue19_p5_gain_under_the_threshold_lands_audited_at_kingdee_unit_cost(
    demo_integration, jst, kd, celery_worker, wait_until
):
    """Issue 19 point 5: GIVEN Kingdee's unit cost of PB-1001 is 63.40 (Jushuitan's cost price
    stays 62.00) and a count gain of +10 on a book of 500 (exactly 2 %) WHEN the flow runs THEN
    the other-inbound bill is audited at once with FPrice 63.40 and FAmount 634.00, Kingdee's
    value grows by exactly 10 × 63.40, and no approval ticket is opened."""
    kingdee_costs(SKU_PB_1001="63.40")
    qty0, value0 = sandbox_value("20001", "SKU-PB-1001")
    io_id = count(jst, "CNT-P5-GAIN", [("SKU-PB-1001", 510)])
    flow = Flow.objects.get(integration=demo_integration, code=FlowCode.STOCK_COUNT)

    run_until_synced(flow, wait_until, 1)

    gain = bill(kd, "STK_MISCELLANEOUS", f"JSTPD{io_id}-PY")
    assert gain["DocumentStatus"] == "C"
    [row] = [lower(e) for e in entries(gain)]
    assert Decimal(str(row["price"])) == Decimal("63.40")
    assert Decimal(str(row["amount"])) == Decimal("634.00")
    qty1, value1 = sandbox_value("20001", "SKU-PB-1001")
    assert (qty1 - qty0, value1 - value0) == (Decimal("10"), Decimal("634.00"))
    assert not approval_tickets().exists()


def test_issue19_p5_approved_count_changes_value_once_at_kingdee_cost_via_suspense(
    demo_integration, jst, kd, celery_worker, wait_until, demo_users, browser
):
    """Issue 19 point 5: GIVEN Kingdee's unit costs EAR-1101 86.50 and PB-1002 50.00 (Jushuitan
    says 85.00 and 48.00) and a count of EAR-1101 +11 and PB-1002 -11 on books of 500, both
    waiting for approval WHEN finance approves (the gain on its ticket page, the loss with the
    admin action "Approve stock counts") THEN both bills are
    audited, Kingdee's stock equals the counts, the total value change of the count is
    11 × 86.50 − 11 × 50.00 = 401.50 (variance × Kingdee unit cost, once: no cost adjustment),
    and the loss's voucher moves Kingdee's cost 550.00 into 1901 待处理财产损溢 and writes it
    off to 6602.09, so the suspense account nets to zero; both tickets close."""
    from sandbox.kingdee.models import KdBill

    kingdee_costs(SKU_EAR_1101="86.50", SKU_PB_1002="50.00")
    materials = ("SKU-EAR-1101", "SKU-PB-1002")
    before = {m: sandbox_value("20001", m) for m in materials}
    io_id = count(jst, "CNT-P5-APPROVE", [("SKU-EAR-1101", 511), ("SKU-PB-1002", 489)])
    flow = Flow.objects.get(integration=demo_integration, code=FlowCode.STOCK_COUNT)
    run_until_synced(flow, wait_until, 2)
    wait_until(lambda: approval_tickets().count() == 2, 30)

    finance = browser(demo_users["finance"])
    gain_ticket, loss_ticket = approval_tickets()
    answer = finance.post(f"/monitoring/tickets/{gain_ticket.pk}/approve_count/")
    assert answer.status_code == 200, answer.text[:500]
    answer = finance.post(  # the admin action does the same
        "/admin/monitoring/exceptionticket/",
        {"action": "approve_counts", "_selected_action": loss_ticket.pk, "index": 0},
    )
    assert answer.status_code == 200, answer.text[:500]

    assert status_of(kd, "STK_MISCELLANEOUS", f"JSTPD{io_id}-PY") == "C"
    assert status_of(kd, "STK_MisDelivery", f"JSTPD{io_id}-PK") == "C"
    after = {m: sandbox_value("20001", m) for m in materials}
    assert {m: after[m][0] for m in materials} == {
        "SKU-EAR-1101": Decimal("511"),
        "SKU-PB-1002": Decimal("489"),
    }
    change = {m: after[m][1] - before[m][1] for m in materials}
    assert change == {"SKU-EAR-1101": Decimal("951.50"), "SKU-PB-1002": Decimal("-550.00")}
    assert sum(change.values()) == Decimal("11") * Decimal("86.50") - Decimal("11") * Decimal(
        "50.00"
    )
    assert not KdBill.objects.filter(form_id="HS_AdjustmentBill").exists()
    lines = voucher_lines(f"count:JSTPD{io_id}-PK")
    assert sorted(lines) == sorted(
        [
            ("1901", Decimal("550.00"), Decimal("0")),
            ("1405", Decimal("0"), Decimal("550.00")),
            ("6602.09", Decimal("550.00"), Decimal("0")),
            ("1901", Decimal("0"), Decimal("550.00")),
        ]
    )
    suspense = sum((d - c for a, d, c in lines if a == "1901"), Decimal(0))
    assert suspense == 0
    assert [t.status for t in approval_tickets()] == ["resolved", "resolved"]
    # Approving again is refused (closed ticket) and posts nothing twice.
    ticket = approval_tickets().last()
    finance.post(f"/monitoring/tickets/{ticket.pk}/approve_count/")
    assert KdBill.objects.filter(form_id="GL_VOUCHER").count() == 1


@pytest.mark.usefixtures("english")
def test_issue19_p5_abnormal_loss_is_flagged_and_transfers_input_vat_out(
    demo_integration, jst, kd, celery_worker, wait_until, demo_users, browser
):
    """Issue 19 point 5: GIVEN a count loss of PB-1002 -3 whose remark says 丢失 (lost through
    poor management: 增值税暂行条例实施细则 art. 24) at Kingdee's unit cost 48.00 WHEN it syncs
    and finance approves THEN the ticket flags the input-VAT transfer-out, the voucher books
    144.00 into suspense, transfers 13 % input VAT (18.72) out to 2221.01.05 and writes off
    162.72 to the loss account, and finance's stock-count export lists the flag and amounts."""
    from finance.stock_counts import count_approve

    result = jst.upload_inventory(
        {
            "so_id": "CNT-P5-LOST",
            "wms_co_id": 20001,
            "warehouse": 1,
            "type": "check",
            "is_confirm": True,
            "remark": "丢失 3 pcs",
            "items": [{"sku_id": "SKU-PB-1002", "qty": 497}],
        }
    )
    io_id = int(result.remote_id)
    flow = Flow.objects.get(integration=demo_integration, code=FlowCode.STOCK_COUNT)
    run_until_synced(flow, wait_until, 1)
    ticket = wait_until(lambda: approval_tickets().first(), 30)
    assert ticket.detail["vat_transfer_out"] is True and ticket.detail["abnormal"] == "丢失"
    assert "input VAT" in ticket.message

    outcome = count_approve(ticket=ticket, user=demo_users["finance"])

    assert (outcome["cost"], outcome["vat"]) == ("144.00", "18.72")
    assert sorted(voucher_lines(f"count:JSTPD{io_id}-PK")) == sorted(
        [
            ("1901", Decimal("144.00"), Decimal("0")),
            ("1405", Decimal("0"), Decimal("144.00")),
            ("1901", Decimal("18.72"), Decimal("0")),
            ("2221.01.05", Decimal("0"), Decimal("18.72")),
            ("6602.09", Decimal("162.72"), Decimal("0")),
            ("1901", Decimal("0"), Decimal("162.72")),
        ]
    )
    export = browser(demo_users["finance"]).get(
        f"/finance/stock-counts/export/?integration={demo_integration.pk}"
        "&start=2000-01-01&end=2100-12-31",
        headers={"Accept-Language": "en"},
    )
    assert export.status_code == 200
    [row] = [r for r in csv.reader(io.StringIO(export.content.decode("utf-8-sig"))) if r][1:]
    assert row[2:] == [
        f"JSTPD{io_id}-PK",
        "loss",
        "approved",
        "1",
        "144.00",
        "18.72",
        "丢失",
        "yes",
        outcome["voucher"],
    ]


def test_issue19_p5_only_finance_approves_and_reject_deletes_the_saved_bill(
    demo_integration, jst, kd, celery_worker, wait_until, demo_users, browser
):
    """Issue 19 point 5: GIVEN a count loss waiting for approval WHEN purchasing and an operator
    press "Approve" THEN nothing changes in Kingdee (the bill stays saved); WHEN finance rejects
    it with a reason THEN the saved bill is deleted in Kingdee, no stock moved, and the ticket
    is closed as ignored with the reason."""
    io_id = count(jst, "CNT-P5-REJECT", [("SKU-PB-1002", 495)])
    flow = Flow.objects.get(integration=demo_integration, code=FlowCode.STOCK_COUNT)
    run_until_synced(flow, wait_until, 1)
    ticket = wait_until(lambda: approval_tickets().first(), 30)
    number = f"JSTPD{io_id}-PK"

    for who in ("purchasing", "operator"):
        browser(demo_users[who]).post(f"/monitoring/tickets/{ticket.pk}/approve_count/")
        assert status_of(kd, "STK_MisDelivery", number) == "A", who

    answer = browser(demo_users["finance"]).post(
        f"/monitoring/tickets/{ticket.pk}/reject_count/", {"reason": "recount tomorrow"}
    )
    assert answer.status_code == 200

    assert status_of(kd, "STK_MisDelivery", number) is None
    assert sandbox_value("20001", "SKU-PB-1002")[0] == Decimal("500")
    ticket.refresh_from_db()
    assert ticket.status == "ignored" and "recount tomorrow" in ticket.resolution
    assert SyncDocument.objects.get(flow=flow).progress["approval"] == "rejected"


# --- F8.2 opt-in revaluation of the counted stock (issue 17 point 1) -------------------------


def propose_revaluation(integration) -> Flow:
    """revaluation = propose on the stock_count flow, with the cost adjustment's custom field
    created in the sandbox's BOS (saving the row directly is not gated; the gate is tested in
    tests/connectors/kingdee/test_preflight.py)."""
    from sandbox.kingdee import bos

    bos.declare("HS_AdjustmentBill", ["F_PAEZ_CountNo"], length=50)
    flow = Flow.objects.get(integration=integration, code=FlowCode.STOCK_COUNT)
    flow.settings = {**(flow.settings or {}), "revaluation": "propose"}
    flow.save()
    return flow


def adjustments(kd, io_id: int) -> list[tuple[str, str, str, Decimal]]:
    """(bill no., status, material, amount) of the count's cost adjustments, by ExecuteBillQuery."""
    rows = kd.execute_bill_query(
        "HS_AdjustmentBill",
        ["FBillNo", "FDocumentStatus", "FMaterialID.FNumber", "FAdjustmentAMOUNT"],
        filter_string=f"FBillNo like 'JSTPD{io_id}-%'",
        order_string="FBillNo",
    )
    return [(r[0], r[1], r[2], Decimal(str(r[3]))) for r in rows]


def test_f8_2_issue17_p1_revaluation_proposes_saved_adjustments_and_values_counted_stock_once(
    demo_integration, jst, kd, celery_worker, wait_until, demo_users
):
    """F8.2 / issue 17 point 1: GIVEN revaluation = propose, Kingdee unit costs EAR-1101 86.50
    and PB-1002 50.00 (the books of 500 valued at them) and a count whose lines carry the
    Jushuitan cost prices 90.00 and 48.00, finding EAR-1101 +11 and PB-1002 -11 (over 2 %) and
    PB-1001 +10 (exactly 2 %, no cost price) WHEN the flow runs twice THEN each count bill has
    exactly one cost adjustment HS_AdjustmentBill `<bill>-CA`, saved only (A), read back from
    Kingdee, re-valuing the COUNTED stock: 511 × (90.00 − 86.50) = 1788.50 and
    489 × (48.00 − 50.00) = −978.00 (no line for PB-1001), listed on the finance tickets with
    what Kingdee holds, and no value moved yet; WHEN finance approves THEN the adjustments are
    audited after the count bills and each line's value is book value + variance × Kingdee cost
    + r_qty × (reference − Kingdee cost) = r_qty × reference: the variance is valued once."""
    from finance.stock_counts import count_approve
    from sandbox.kingdee.models import KdBill

    flow = propose_revaluation(demo_integration)
    kingdee_costs(SKU_EAR_1101="86.50", SKU_PB_1002="50.00")
    materials = ("SKU-EAR-1101", "SKU-PB-1002")
    before = {m: sandbox_value("20001", m) for m in materials}
    io_id = count(
        jst,
        "CNT-REVAL",
        [("SKU-EAR-1101", 511), ("SKU-PB-1002", 489), ("SKU-PB-1001", 510)],
        costs={"SKU-EAR-1101": "90.00", "SKU-PB-1002": "48.00"},
    )

    run_until_synced(flow, wait_until, 2)
    run_until_synced(flow, wait_until, 2)  # found by number, never written twice

    assert adjustments(kd, io_id) == [
        (f"JSTPD{io_id}-PK-CA", "A", "SKU-PB-1002", Decimal("-978.00")),
        (f"JSTPD{io_id}-PY-CA", "A", "SKU-EAR-1101", Decimal("1788.50")),
    ]
    assert KdBill.objects.filter(form_id="HS_AdjustmentBill").count() == 2
    assert {m: sandbox_value("20001", m) for m in materials} == before
    wait_until(lambda: approval_tickets().count() == 2, 30)
    gain_ticket, loss_ticket = approval_tickets()
    gain = gain_ticket.detail["revaluation"]
    assert gain["bill_no"] == f"JSTPD{io_id}-PY-CA" and gain["form"] == "HS_AdjustmentBill"
    assert gain["lines"] == [
        {
            "sku_id": "SKU-EAR-1101",
            "material": "SKU-EAR-1101",
            "r_qty": "511",
            "kingdee_cost": "86.50",
            "reference_cost": "90.00",
            "amount": "1788.50",
        }
    ]
    assert gain["kingdee"]["status"] == "A"
    [(material, stock, amount)] = gain["kingdee"]["rows"]
    assert (material, stock, Decimal(amount)) == ("SKU-EAR-1101", "20001", Decimal("1788.50"))
    assert f"JSTPD{io_id}-PY-CA" in gain_ticket.message
    [loss_line] = loss_ticket.detail["revaluation"]["lines"]
    assert (loss_line["r_qty"], Decimal(loss_line["kingdee_cost"]), loss_line["amount"]) == (
        "489",
        Decimal("50"),
        "-978.00",
    )

    for ticket in (gain_ticket, loss_ticket):
        outcome = count_approve(ticket=ticket, user=demo_users["finance"])
        assert outcome["revaluation"] == ticket.detail["revaluation"]["bill_no"]

    assert [a[1] for a in adjustments(kd, io_id)] == ["C", "C"]
    after = {m: sandbox_value("20001", m) for m in materials}
    variance = {"SKU-EAR-1101": (Decimal("11"), Decimal("86.50"), Decimal("1788.50"))}
    variance["SKU-PB-1002"] = (Decimal("-11"), Decimal("50.00"), Decimal("-978.00"))
    for material, (qty, cost, amount) in variance.items():
        assert after[material][1] == before[material][1] + qty * cost + amount, material
    assert after["SKU-EAR-1101"] == (Decimal("511"), Decimal("511") * Decimal("90.00"))
    assert after["SKU-PB-1002"] == (Decimal("489"), Decimal("489") * Decimal("48.00"))
    for ticket in approval_tickets():
        assert ticket.status == "resolved"
        assert ticket.detail["revaluation"]["kingdee"]["status"] == "C"


def test_f8_2_issue17_p1_reject_deletes_the_proposed_adjustment_with_the_count_bill(
    demo_integration, jst, kd, celery_worker, wait_until, demo_users, browser
):
    """F8.2 / issue 17 point 1: GIVEN revaluation = propose and a count loss of PB-1002 -11
    (over 2 %) with a Jushuitan cost price of 46.00 on its line, waiting for approval with its
    saved cost adjustment WHEN finance rejects it THEN both the loss bill and the adjustment
    are deleted in Kingdee and no quantity or value moved."""
    flow = propose_revaluation(demo_integration)
    before = sandbox_value("20001", "SKU-PB-1002")
    io_id = count(jst, "CNT-REVAL-NO", [("SKU-PB-1002", 489)], costs={"SKU-PB-1002": "46.00"})
    run_until_synced(flow, wait_until, 1)
    ticket = wait_until(lambda: approval_tickets().first(), 30)
    assert [a[:2] for a in adjustments(kd, io_id)] == [(f"JSTPD{io_id}-PK-CA", "A")]

    answer = browser(demo_users["finance"]).post(
        f"/monitoring/tickets/{ticket.pk}/reject_count/", {"reason": "recount"}
    )
    assert answer.status_code == 200

    assert adjustments(kd, io_id) == []
    assert status_of(kd, "STK_MisDelivery", f"JSTPD{io_id}-PK") is None
    assert sandbox_value("20001", "SKU-PB-1002") == before
    ticket.refresh_from_db()
    assert ticket.status == "ignored"


def test_f8_1_exactly_once_under_injected_kingdee_faults(demo_integration, jst, kd):
    """F8.1 / issue 19 point 5 exactly once: GIVEN Kingdee failing 20 % of calls and timing out
    after committing another 20 % (stalling past the client's 2 s timeout) and three counts
    with a gain and a loss each WHEN the flow is run again and again until every document is
    synced THEN Kingdee holds exactly one bill per number — the gains audited (2 % or less),
    the losses saved only, waiting for approval — never two."""
    from django.utils import timezone

    from connectors.kingdee.client import clear_clients
    from connectors.kingdee.models import KingdeeConnection
    from flows.engine import run_flow
    from sandbox import faults

    io_ids = [
        count(jst, f"CNT-FAULT-{n}", [("SKU-PB-1001", 505 + n), ("SKU-PB-1002", 470 - n)])
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
    for doc in SyncDocument.objects.filter(flow=flow):
        form, no = doc.target_payload["form_id"], doc.target_key
        rows = kd.execute_bill_query(
            form, ["FBillNo", "FDocumentStatus"], filter_string=f"FBillNo like '{no}%'"
        )
        expected = "A" if form == "STK_MisDelivery" else "C"
        assert [tuple(r) for r in rows] == [(no, expected)], (form, no, rows)
    assert sorted(io_ids) == sorted(
        {int(d.source_payload["io_id"]) for d in SyncDocument.objects.filter(flow=flow)}
    )
