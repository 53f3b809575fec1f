"""K1 inventory reconciliation against both sandboxes: a run compares stock per material ×
warehouse, finds an injected mismatch, stores accuracy, alerts below target, exports."""

import csv
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from finance.choices import RunStatus
from finance.models import FinanceSettings, ReconciliationRun
from finance.reconciliation import accuracy_of, reconciliation_run

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def jst(demo_integration):
    from connectors.jushuitan.client import JushuitanClient

    return JushuitanClient(demo_integration.jushuitan)


def adjust_jushuitan_only(jst, so_id: str, sku: str, delta: int, wms_co_id: int) -> None:
    """A stock change made in Jushuitan that never reaches Kingdee (the injected fault)."""
    result = jst.upload_inventory(
        {
            "so_id": so_id,
            "wms_co_id": wms_co_id,
            "warehouse": 1,
            "type": "adjust",
            "is_confirm": True,
            "items": [{"sku_id": sku, "qty": delta}],
        }
    )
    assert result.ok, result.message


def test_k1_run_finds_an_injected_mismatch_and_alerts_below_target(
    demo_integration, jst, alert_rule
):
    """K1: GIVEN both sandboxes seeded alike (except a gift SKU Jushuitan alone stocks) WHEN a
    reconciliation runs, then 7 units of SKU-CBL-1201 are added in Jushuitan only, and it runs
    again THEN the second run has exactly one more mismatching line — SKU-CBL-1201 @ 20002,
    Kingdee 40 vs Jushuitan 47 — accuracy = matching / compared (rounded down); no portal
    document explains it, so the 7 units are unexplained, valued at Kingdee's unit cost
    (6.50 × 7); both runs, being under 99.5 %, raised an alert; the mismatches export as csv
    (both figures first) and xlsx (summary, mismatches, pending documents)."""
    from monitoring.models import Alert

    before = reconciliation_run(integration=demo_integration)
    assert before.status == RunStatus.DONE and before.compared > 10
    gift = before.lines.get(matched=False)
    assert (gift.sku_id, gift.stock_number, gift.jushuitan_qty) == (
        "SKU-GIFT-9001",
        "20001",
        Decimal("1000"),
    )
    assert "M4" in gift.note

    adjust_jushuitan_only(jst, "ADJ-K1-1", "SKU-CBL-1201", 7, 20002)
    after = reconciliation_run(integration=demo_integration)

    assert after.compared == before.compared
    assert after.matched == before.matched - 1
    line = after.lines.get(matched=False, sku_id="SKU-CBL-1201")
    assert (line.stock_number, line.kingdee_qty, line.jushuitan_qty, line.difference) == (
        "20002",
        Decimal("40"),
        Decimal("47"),
        Decimal("7"),
    )
    assert after.accuracy == accuracy_of(after.matched, after.compared)
    assert after.accuracy < before.accuracy < Decimal("99.5")
    assert after.below_target and before.below_target
    alerts = Alert.objects.filter(error_class="reconciliation", integration=demo_integration)
    assert alerts.count() == 2
    assert "SKU-CBL-1201" in alerts.order_by("-id").first().text

    from finance.reconciliation import mismatches_export

    assert line.unexplained_qty == Decimal("7") and not line.items.exists()
    assert line.unit_cost == Decimal("6.5") and line.unexplained_value == Decimal("45.50")
    content, _type, name = mismatches_export(run=after, fmt="csv")
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert name.endswith(".csv")
    figures = {r[0]: r[1] for r in rows[:10]}
    assert figures["准确率（原始，%）"] == str(after.accuracy)
    assert figures["计入在途单据后的准确率（%）"] == str(after.accuracy_after_pending)
    assert ["SKU-CBL-1201", "SKU-CBL-1201", "20002", "20002", "1", "40.000", "47.000", "7.000"] in [
        r[:8] for r in rows
    ]
    content, _type, _name = mismatches_export(run=after, fmt="xlsx")
    book = load_workbook(io.BytesIO(content))
    assert book.sheetnames == ["汇总", "差异", "在途单据"]
    assert book["差异"].max_row == 1 + after.mismatches


def test_k1_no_alert_at_or_above_target(demo_integration, alert_rule):
    """K1: GIVEN a target the run meets WHEN it runs THEN no alert is raised."""
    from monitoring.models import Alert

    FinanceSettings.objects.create(integration=demo_integration, accuracy_target=Decimal("90"))
    run = reconciliation_run(integration=demo_integration)
    assert run.accuracy >= Decimal("90") and not run.below_target
    assert not Alert.objects.filter(error_class="reconciliation").exists()


def test_k1_accuracy_is_never_overstated():
    """K1: 199 of 200 lines = 99.5 % exactly; 1990 of 2001 = 99.450... shown as 99.450."""
    assert accuracy_of(199, 200) == Decimal("99.500")
    assert accuracy_of(1990, 2001) == Decimal("99.450")
    assert accuracy_of(2, 3) == Decimal("66.666")
    assert accuracy_of(0, 0) is None


def test_k1_trend_page_runs_on_demand_and_exports(demo_integration, admin_client):
    """K1 (issue 21 points 1 and 4): GIVEN the operations page WHEN finance presses "Reconcile
    now" THEN a run is stored, the run page shows it, and the trend chart carries both figures
    (raw, after pending documents) with legends that read "%" (never "%%") in both
    languages; its mismatches download as xlsx."""
    url = "/finance/reconciliation/"
    answer = admin_client.post(url, {"integration": demo_integration.pk})
    assert answer.status_code == 302
    run = ReconciliationRun.objects.get(integration=demo_integration)
    assert answer["Location"] == f"/finance/reconciliation/{run.pk}/"
    assert admin_client.get(answer["Location"]).status_code == 200
    for language, raw_label in (("en", "Accuracy, raw (%)"), ("zh-hans", "准确率（原始，%）")):
        page = admin_client.get(url, headers={"Accept-Language": language})
        assert page.status_code == 200
        assert b"chart-accuracy" in page.content and b"chart.umd.min.js" in page.content
        trend = page.context["trend"]
        assert trend["accuracy"] == [float(run.accuracy)]
        assert trend["after_pending"] == [float(run.accuracy_after_pending)]
        assert trend["legend"]["accuracy"] == raw_label
        assert not any("%%" in str(label) for label in trend["legend"].values())
        assert "%%" not in page.content.decode()
    download = admin_client.get(f"/finance/reconciliation/{run.pk}/mismatches.xlsx")
    assert download.status_code == 200
    sheet = load_workbook(io.BytesIO(download.content))["差异"]
    assert sheet.max_row == 1 + run.mismatches


def test_k1_admin_action_reconciles_again_and_finance_pages_render(demo_integration, admin_client):
    """K1 / F6.1 admin: GIVEN a stored run WHEN the admin action "reconcile again" is applied
    THEN a new run is stored and reported; every finance changelist renders."""
    run = reconciliation_run(integration=demo_integration)
    answer = admin_client.post(
        "/admin/finance/reconciliationrun/",
        {"action": "reconcile_now", "_selected_action": [run.pk]},
        follow=True,
        headers={"Accept-Language": "en"},
    )
    assert answer.status_code == 200
    assert ReconciliationRun.objects.filter(integration=demo_integration).count() == 2
    assert any("lines match" in str(m) for m in answer.context["messages"])
    models = ("reconciliationrun", "fxdifference", "fxvoucher", "financesettings")
    for model in (*models, "customsdeclaration", "purchaseinvoice"):
        assert admin_client.get(f"/admin/finance/{model}/").status_code == 200
    assert admin_client.get(f"/admin/finance/reconciliationrun/{run.pk}/change/").status_code == 200


def _line(run, sku, stock="20001"):
    return run.lines.get(sku_id=sku, stock_number=stock)


@pytest.fixture
def gift_order(demo_integration, storefront, celery_worker, wait_until):
    """An order shipped in Jushuitan that F2 blocks: its gift SKU has no Kingdee material, so
    the whole order (with 2 cases) waits, with a ticket to the master-data admins."""
    from flows.choices import DocumentState as S
    from flows.choices import FlowCode
    from flows.models import Flow, SyncDocument
    from flows.tasks import flow_run

    order = storefront.order(
        so_id="K1-GIFT-0001",
        shop_id=10001,
        currency="USD",
        lines=[("SKU-CASE-1301", 2, "12.99"), ("SKU-GIFT-9001", 1, "0")],
    )
    storefront.place_and_ship(order)
    flow = Flow.objects.get(integration=demo_integration, code=FlowCode.SALES_OUTBOUND)
    flow_run.delay(flow.pk)
    wait_until(
        lambda: SyncDocument.objects.filter(
            flow=flow, platform_order_no="K1-GIFT-0001", state=S.BLOCKED
        ).exists(),
        60,
    )
    return SyncDocument.objects.get(flow=flow, platform_order_no="K1-GIFT-0001")


def test_k1_a_blocked_document_explains_its_line_with_state_ticket_and_value(
    demo_integration, gift_order, alert_rule
):
    """K1 (issue 21 point 1): GIVEN an order shipped in Jushuitan and blocked by F2 (missing
    mapping, open ticket) WHEN a reconciliation runs THEN SKU-CASE-1301 @ 20001 differs by -2
    (Jushuitan shipped, Kingdee not), the blocked document is listed on the line with its
    quantity -2, state, platform order no. and open ticket, nothing is left unexplained, and
    the difference is valued at Kingdee's unit cost; the raw figure counts the line as a
    mismatch, the figure after pending documents does not."""
    from monitoring.services import ticket_of_document

    run = reconciliation_run(integration=demo_integration)
    line = _line(run, "SKU-CASE-1301")
    assert (line.kingdee_qty, line.jushuitan_qty, line.difference) == (
        Decimal("500"),
        Decimal("498"),
        Decimal("-2"),
    )
    assert not line.matched and line.matched_after_pending
    assert (line.pending_qty, line.unexplained_qty) == (Decimal("-2"), Decimal("0"))
    item = line.items.get()
    ticket = ticket_of_document(gift_order)  # issue 20 point 1: the cause's ticket
    assert ticket.is_cause
    assert (item.document, item.kind, item.state, item.quantity, item.ticket) == (
        gift_order,
        "blocked",
        "blocked",
        Decimal("-2"),
        ticket,
    )
    assert item.reference == "K1-GIFT-0001" and "SKU-GIFT-9001" in item.error
    assert line.unit_cost == Decimal("4.8") and line.difference_value == Decimal("-9.60")
    assert line.unexplained_value == Decimal("0.00")
    assert run.pending_documents == 1 and run.overdue_documents == 0
    assert run.accuracy_after_pending > run.accuracy
    gift = _line(run, "SKU-GIFT-9001")  # stock Kingdee does not know: never explained away
    assert not gift.matched_after_pending and gift.pending_qty == Decimal("-1")
    assert gift.unexplained_qty == Decimal("1000")


def test_k1_documents_after_the_cut_off_are_left_out_of_both_sides(
    demo_integration, storefront, celery_worker, wait_until, monkeypatch
):
    """K1 (issue 21 point 1, one cut-off): GIVEN an order shipped and synced to Kingdee
    WHEN the run's cut-off lies before the shipment THEN the shipment is taken back out of
    both readings (the line matches, no pending document); WHEN the cut-off lies between the
    shipment and its sync THEN the Kingdee bill is taken back out of the Kingdee reading and
    the document is listed as in flight, explaining the whole difference."""
    from datetime import timedelta

    from flows.choices import DocumentState as S
    from flows.choices import FlowCode
    from flows.models import Flow, SyncDocument
    from flows.tasks import flow_run

    storefront.place_and_ship(
        storefront.order(
            so_id="K1-CUT-0001",
            shop_id=10001,
            currency="USD",
            lines=[("SKU-BTL-1401", 3, "19.99")],
        )
    )
    flow = Flow.objects.get(integration=demo_integration, code=FlowCode.SALES_OUTBOUND)
    flow_run.delay(flow.pk)
    wait_until(
        lambda: SyncDocument.objects.filter(
            flow=flow, platform_order_no="K1-CUT-0001", state=S.SYNCED
        ).exists(),
        60,
    )
    doc = SyncDocument.objects.get(flow=flow, platform_order_no="K1-CUT-0001")
    shipped_at = doc.source_modified_at

    monkeypatch.setattr(
        "finance.reconciliation._cut_off", lambda: shipped_at - timedelta(seconds=1)
    )
    before = reconciliation_run(integration=demo_integration)
    line = _line(before, "SKU-BTL-1401")
    assert (line.kingdee_qty, line.jushuitan_qty) == (Decimal("500"), Decimal("500"))
    assert line.matched and not line.items.exists()

    assert shipped_at < doc.synced_at
    monkeypatch.setattr(
        "finance.reconciliation._cut_off",
        lambda: shipped_at + (doc.synced_at - shipped_at) / 2,
    )
    between = reconciliation_run(integration=demo_integration)
    line = _line(between, "SKU-BTL-1401")
    assert (line.kingdee_qty, line.jushuitan_qty, line.difference) == (
        Decimal("500"),
        Decimal("497"),
        Decimal("-3"),
    )
    item = line.items.get()
    assert (item.kind, item.state, item.quantity) == ("in_flight", "synced", Decimal("-3"))
    assert line.unexplained_qty == 0 and line.matched_after_pending


def test_k1_alerts_on_documents_pending_longer_than_their_bound(
    demo_integration, gift_order, alert_rule
):
    """K1 (issue 21 point 1): GIVEN a target every line meets after pending documents and a
    sales outbound blocked for 31 minutes (F2's default bound is 30) WHEN a run happens THEN it
    counts one overdue document and raises an alert naming it; at 29 minutes it does not, nor
    at 31 once the flow's "stuck_minutes" setting says 60."""
    from datetime import timedelta

    from django.utils import timezone

    from flows.models import SyncDocument
    from monitoring.models import Alert

    FinanceSettings.objects.create(integration=demo_integration, accuracy_target=Decimal("0"))
    SyncDocument.objects.filter(pk=gift_order.pk).update(
        created_at=timezone.now() - timedelta(minutes=29)
    )
    calm = reconciliation_run(integration=demo_integration)
    assert calm.overdue_documents == 0 and not calm.below_target
    assert not Alert.objects.filter(error_class="reconciliation").exists()

    SyncDocument.objects.filter(pk=gift_order.pk).update(
        created_at=timezone.now() - timedelta(minutes=31)
    )
    late = reconciliation_run(integration=demo_integration)
    assert late.overdue_documents == 1 and not late.below_target
    alert = Alert.objects.get(error_class="reconciliation")
    assert "K1-GIFT-0001" in alert.text

    flow = gift_order.flow  # the flow's own bound (the watchdog's "stuck_minutes") wins
    flow.settings = {**flow.settings, "stuck_minutes": 60}
    flow.save(update_fields=["settings"])
    assert reconciliation_run(integration=demo_integration).overdue_documents == 0


def test_k1_the_board_links_to_the_latest_run(demo_integration, admin_client):
    """K1 (issue 21 point 3): GIVEN two reconciliation runs WHEN the process board is opened
    THEN it links to the latest one with both of its figures."""
    from django.urls import reverse

    reconciliation_run(integration=demo_integration)
    latest = reconciliation_run(integration=demo_integration)
    page = admin_client.get(reverse("monitoring:board"), headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert page.context["latest_reconciliation"] == latest
    html = page.content.decode()
    assert f'href="/finance/reconciliation/{latest.pk}/"' in html
    assert f"{latest.accuracy} % raw, {latest.accuracy_after_pending} % after pending" in html


def test_k1_a_kingdee_bill_not_yet_in_jushuitan_explains_its_line(
    demo_integration, kingdee_desk, run_flow_until
):
    """K1 (issue 21 point 1), the other direction: GIVEN an audited purchase inbound of 3
    power banks into 20001 in Kingdee whose supplier Jushuitan does not know (F4 blocks it)
    WHEN a reconciliation runs THEN SKU-PB-1001 @ 20001 shows Kingdee 503 vs Jushuitan 500,
    the blocked inbound (bill no.) explains the -3, nothing is unexplained."""
    from flows.choices import DocumentState as S
    from flows.choices import FlowCode
    from flows.models import Flow, SyncDocument

    kingdee_desk.client_.batch_save(
        "BD_Supplier",
        [
            {
                "FNumber": "SUP-K1-ONLY",
                "FName": "只在金蝶的供应商",
                "FCreateOrgId": {"FNumber": "100"},
                "FUseOrgId": {"FNumber": "100"},
            }
        ],
        auto_submit_audit=True,
    )
    kingdee_desk.purchase_inbound(
        "CGRK-K1-0001", supplier="SUP-K1-ONLY", lines=[("SKU-PB-1001", "20001", 3, "62.00", "")]
    )
    inbound = Flow.objects.get(integration=demo_integration, code=FlowCode.PURCHASE_INBOUND)
    run_flow_until(
        inbound, lambda: SyncDocument.objects.filter(flow=inbound, state=S.BLOCKED).exists()
    )
    run = reconciliation_run(integration=demo_integration)
    line = _line(run, "SKU-PB-1001")
    assert (line.kingdee_qty, line.jushuitan_qty, line.difference) == (
        Decimal("503"),
        Decimal("500"),
        Decimal("-3"),
    )
    item = line.items.get()
    assert (item.flow_code, item.kind, item.quantity) == ("purchase_inbound", "blocked", -3)
    assert item.reference == "CGRK-K1-0001" and item.ticket_id
    assert line.unexplained_qty == 0 and line.matched_after_pending


def test_k1_the_scheduled_task_stores_a_run_with_both_figures(
    demo_integration, celery_worker, wait_until
):
    """K1: GIVEN the beat task WHEN it runs on the worker THEN a scheduled run is stored with
    its cut-off and both figures."""
    from finance.tasks import reconcile

    reconcile.delay(demo_integration.pk)
    wait_until(lambda: ReconciliationRun.objects.filter(status=RunStatus.DONE).exists(), 60)
    run = ReconciliationRun.objects.get()
    assert run.trigger == "schedule" and run.cut_off is not None
    assert run.accuracy is not None and run.accuracy_after_pending is not None


def test_k1_kingdee_transfers_and_adjustments_in_flight_at_the_cut_off(
    demo_integration, kingdee_desk, run_flow_until, monkeypatch
):
    """K1 (issue 21 point 1), F7 and F8.3: GIVEN an audited Kingdee transfer of 4 power banks
    20001 → 20002 and an other-outbound of 2 earbuds from 20002, both synced to Jushuitan
    WHEN the cut-off lies after the Kingdee bills but before their sync THEN Jushuitan's
    stock is taken back to the cut-off, each of the three lines differs by what the bills
    moved, and the in-flight documents explain all of it."""
    from datetime import timedelta

    from flows.choices import DocumentState as S
    from flows.choices import FlowCode
    from flows.models import Flow, SyncDocument

    kingdee_desk.transfer("ZJDB-K1-0001", lines=[("SKU-PB-1002", "20001", "20002", 4)])
    kingdee_desk.adjustment(
        "STK_MisDelivery", "QTCKD-K1-0001", lines=[("SKU-EAR-1101", "20002", 2)]
    )
    flows = Flow.objects.filter(
        integration=demo_integration, code__in=(FlowCode.TRANSFER, FlowCode.INVENTORY_ADJUST)
    )
    for flow in flows:
        run_flow_until(
            flow, lambda f=flow: SyncDocument.objects.filter(flow=f, state=S.SYNCED).exists()
        )
    docs = list(SyncDocument.objects.filter(flow__in=flows))
    assert len(docs) == 2
    last_event = max(d.source_modified_at for d in docs)
    first_sync = min(d.synced_at for d in docs)
    assert last_event < first_sync
    cut_off = last_event + (first_sync - last_event) / 2
    monkeypatch.setattr("finance.reconciliation._cut_off", lambda: cut_off)
    run = reconciliation_run(integration=demo_integration)

    expected = {
        ("SKU-PB-1002", "20001"): (Decimal("496"), Decimal("500"), Decimal("4")),
        ("SKU-PB-1002", "20002"): (Decimal("44"), Decimal("40"), Decimal("-4")),
        ("SKU-EAR-1101", "20002"): (Decimal("38"), Decimal("40"), Decimal("2")),
    }
    for (sku, stock), (kingdee, jushuitan, diff) in expected.items():
        line = _line(run, sku, stock)
        assert (line.kingdee_qty, line.jushuitan_qty, line.difference) == (
            kingdee,
            jushuitan,
            diff,
        ), (sku, stock)
        item = line.items.get()
        assert (item.kind, item.state, item.quantity) == ("in_flight", "synced", diff)
        assert line.unexplained_qty == 0
    assert run.pending_documents == 2 and timedelta(0) < first_sync - cut_off
