"""Issue 21, in a real browser: finance reads a reconciliation that explains itself (K1) and
builds the export-refund chain on imported declarations (K2). The screenshots are the
README's tour pictures (PORTAL_E2E_SCREENSHOTS=docs)."""

from __future__ import annotations

import re

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LEGENDS = """() => Chart.getChart(document.getElementById('chart-accuracy'))
    .data.datasets.map(d => d.label)"""


@pytest.fixture
def blocked_gift_order(demo_integration, storefront, celery_worker, wait_until):
    from flows.choices import DocumentState as S
    from flows.choices import FlowCode
    from flows.models import Flow, SyncDocument
    from flows.tasks import flow_run

    storefront.place_and_ship(
        storefront.order(
            so_id="E2E-GIFT-0001",
            shop_id=10001,
            currency="USD",
            lines=[("SKU-CASE-1301", 2, "12.99"), ("SKU-GIFT-9001", 1, "0")],
        )
    )
    flow = Flow.objects.get(integration=demo_integration, code=FlowCode.SALES_OUTBOUND)
    flow_run.delay(flow.pk)
    wait_until(
        lambda: SyncDocument.objects.filter(
            flow=flow, platform_order_no="E2E-GIFT-0001", state=S.BLOCKED
        ).exists(),
        60,
    )


@pytest.mark.usefixtures("blocked_gift_order")
def test_finance_reconciles_and_sees_the_documents_behind_each_line(open_browser, shot):
    """K1 (issue 21 points 1, 4, 5): GIVEN an order blocked for a missing mapping WHEN the
    finance user presses "Reconcile now" THEN the run page shows both figures and the line
    SKU-CASE-1301 @ 20001 lists the blocked order with its quantity and ticket, nothing
    unexplained; the trend chart's legends are raw, after pending documents and target, and
    none reads "%%"."""
    page = open_browser("finance")
    page.goto("/finance/reconciliation/")
    page.click("text=Reconcile now")
    page.wait_for_url(re.compile(r"/finance/reconciliation/\d+/$"))
    assert "%" in page.inner_text("#recon-raw") and "%" in page.inner_text("#recon-after")
    line = page.locator("tr[data-line='SKU-CASE-1301@20001']")
    text = line.inner_text()
    assert "E2E-GIFT-0001" in text and "blocked" in text and "ticket #" in text
    assert line.locator(".recon-unexplained").inner_text() == "0"
    gift = page.locator("tr[data-line='SKU-GIFT-9001@20001']")
    assert gift.locator(".recon-unexplained").inner_text() == "1000"
    shot(page, "10-reconciliation-run")

    page.click("text=All runs")
    page.click("text=Reconcile now")  # a second point on the trend
    page.wait_for_url(re.compile(r"/finance/reconciliation/\d+/$"))
    page.click("text=All runs")
    page.wait_for_function("() => window.Chart && Chart.getChart('chart-accuracy')")
    assert page.locator("#recon-runs tbody tr").count() == 2
    legends = page.evaluate(LEGENDS)
    assert legends == [
        "Accuracy, raw (%)",
        "Accuracy after pending documents (%)",
        "Target (%)",
    ]
    assert "%%" not in page.content()
    shot(page, "09-reconciliation-trend")


@pytest.mark.usefixtures("demo_integration")
def test_finance_imports_declarations_and_reads_sold_unsold_refund_and_gaps(
    open_browser, shot, tmp_path
):
    """K2 (issue 21 points 2, 5): GIVEN the broker's workbook WHEN the finance user uploads
    it as a dry run, then for real THEN the chain page lists each declaration item with
    sold + unsold = declared, its estimated refund and what is missing to file."""
    from django.utils import timezone

    from sandbox.demo_run import declarations_workbook

    upload = tmp_path / "declarations.xlsx"
    upload.write_bytes(declarations_workbook(today=timezone.localdate()))
    page = open_browser("finance")
    page.goto("/finance/export-chain/")
    page.click("text=Import declarations")
    page.set_input_files("input[name=file]", str(upload))
    page.click("#content button[type=submit]")
    report = page.inner_text("#import-report")
    assert "2 declarations, 4 items" in report and "No problems found" in report
    shot(page, "11-declarations-dry-run")

    page.set_input_files("input[name=file]", str(upload))
    page.uncheck("input[name=dry_run]")
    page.click("#content button[type=submit]")
    page.wait_for_url(re.compile(r"/finance/export-chain/"))
    rows = page.locator("#declaration-items tbody tr")
    assert rows.count() == 4
    for n in range(4):
        row = rows.nth(n)
        declared = row.locator(".item-declared").inner_text()
        sold = row.locator(".item-sold").inner_text()
        unsold = row.locator(".item-unsold").inner_text()
        assert int(sold) + int(unsold) == int(declared)
    power = page.locator("tr[data-item='531620260000010001#2']")
    assert power.locator(".item-refund").inner_text() == "644.80"
    ear = page.locator("tr[data-item='531620260000010002#1']")
    assert "no quantity in the first legal unit" in ear.locator(".item-gaps").inner_text()
    shot(page, "12-export-chain")
