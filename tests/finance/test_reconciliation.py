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
    Kingdee 40 vs Jushuitan 47 — accuracy = matching / compared (rounded down), and both
    runs, being under 99.5 %, raised an alert; the mismatches export as csv and xlsx."""
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

    content, _type, name = mismatches_export(run=after, fmt="csv")
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert name.endswith(".csv") and len(rows) == 1 + 2
    assert ["SKU-CBL-1201", "SKU-CBL-1201", "20002", "20002", "1", "40.000", "47.000", "7.000"] in [
        r[:8] for r in rows
    ]
    content, _type, _name = mismatches_export(run=after, fmt="xlsx")
    sheet = load_workbook(io.BytesIO(content)).active
    assert sheet.max_row == 3


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
    """K1: GIVEN the operations page WHEN finance presses "Reconcile now" THEN a run is stored
    and the trend chart lists it; its mismatches download as xlsx."""
    url = "/finance/reconciliation/"
    answer = admin_client.post(url, {"integration": demo_integration.pk})
    assert answer.status_code == 302
    run = ReconciliationRun.objects.get(integration=demo_integration)
    page = admin_client.get(answer["Location"])
    assert page.status_code == 200
    assert b"chart-accuracy" in page.content and b"chart.umd.min.js" in page.content
    assert page.context["trend"]["accuracy"] == [float(run.accuracy)]
    download = admin_client.get(f"/finance/reconciliation/{run.pk}/mismatches.xlsx")
    assert download.status_code == 200
    assert load_workbook(io.BytesIO(download.content)).active.max_row == 1 + run.mismatches


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
    for model in ("reconciliationrun", "fxdifference", "fxvoucher", "financesettings"):
        assert admin_client.get(f"/admin/finance/{model}/").status_code == 200
    assert admin_client.get(f"/admin/finance/reconciliationrun/{run.pk}/change/").status_code == 200
