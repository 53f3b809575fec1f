"""Issue 20 in a real browser: one gift-SKU cause gives one work order for many orders; the
master-data admin fixes it in place (search the Kingdee codes, add the mapping) and every
order is released and written; the process board fits a 1366-px screen and says when
documents are stuck. Live server, the demo integration, both sandboxes over HTTP, a real
Celery worker; the screenshots feed the README's tour."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from flows.choices import DocumentState as S
from flows.models import SyncDocument
from flows.tasks import flow_run
from monitoring.models import ExceptionTicket
from tests.fixtures.kingdee import gift_material_in_kingdee
from tests.monitoring.test_cause_tickets import GIFT_MATERIAL

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ORDERS = [f"113-2026020-000000{n}" for n in range(4)]


def test_one_gift_sku_one_work_order_fixed_in_place_releases_every_order(
    demo_integration, storefront, kingdee_bills, celery_worker, wait_until, open_browser, shot
):
    """Issue 20 points 1, 2 and 6: GIVEN four orders carrying the Jushuitan-only gift
    SKU-GIFT-9001 WHEN the master-data admin opens the queue THEN one work order says it
    blocks 4 documents and links them; WHEN they search the Kingdee codes on the ticket page,
    pick the material and save THEN the four orders are released and written to Kingdee once
    each, and the work order shows itself resolved."""
    from mappings.models import KnownCode
    from tests.flows.test_sales_outbound import _flow

    storefront.place_and_ship(
        *[
            storefront.order(
                so_id=so,
                shop_id=10001,
                currency="USD",
                lines=[("SKU-CASE-1301", 1, "12.99"), ("SKU-GIFT-9001", 1, "0")],
            )
            for so in ORDERS
        ]
    )
    flow = _flow(demo_integration)
    flow_run.delay(flow.pk)
    wait_until(lambda: SyncDocument.objects.filter(flow=flow, state=S.BLOCKED).count() == 4, 60)
    ticket = ExceptionTicket.objects.get(status="open", role="master_data_admin")
    gift_material_in_kingdee(demo_integration, "2026-01-01", GIFT_MATERIAL)
    KnownCode.objects.update_or_create(
        integration=demo_integration,
        system="kingdee",
        kind="material",
        code=GIFT_MATERIAL,
        defaults={"name": "赠品 贴纸套装", "seen_at": timezone.now()},
    )

    page = open_browser("mdm")
    page.goto("/monitoring/tickets/")
    rows = page.locator("table.ops tbody tr", has_text="SKU-GIFT-9001")
    assert rows.count() == 1 and "4" in rows.first.locator("td.num").first.inner_text()
    rows.first.get_by_role("link").first.click()
    assert "4 documents blocked by this cause" in page.inner_text("#content")
    for so in ORDERS:
        assert page.get_by_role("link", name=f"trace {so}").count() == 1
    page.fill("input[name=codes]", "STICKER")
    page.get_by_role("button", name="Search").click()
    assert GIFT_MATERIAL in page.inner_text("#fix-code-list")
    assert page.input_value("input[name=key]") == "SKU-GIFT-9001"
    page.fill("input[name=target_code]", GIFT_MATERIAL)
    shot(page, "13-fix-in-place")
    page.get_by_role("button", name="Add the mapping and release the documents").click()
    assert "Mapping added" in page.inner_text(".messagelist")

    wait_until(lambda: SyncDocument.objects.filter(flow=flow, state=S.SYNCED).count() == 4, 90)
    bills = kingdee_bills("SAL_OUTSTOCK", ORDERS)
    assert {so: len(found) for so, found in bills.items()} == dict.fromkeys(ORDERS, 1)
    ticket.refresh_from_db()
    assert ticket.status == "resolved"
    page.reload()
    assert "Resolved" in page.inner_text("#content")


def test_board_fits_1366_pixels_and_says_how_many_are_stuck(
    demo_integration, test_flow, open_browser, shot
):
    """Issue 20 point 5: GIVEN a document loading for longer than its flow allows and one
    waiting with its retry overdue WHEN the manager opens the board in a 1366-px window THEN
    neither the page nor the board's table scrolls sideways, and the Loading and Waiting
    figures say "1 stuck", linking to those documents."""
    from flows import engine
    from tests.flows.test_engine import order

    engine.ingest(flow=test_flow, records=[order(90), order(91)])
    long_ago = timezone.now() - timedelta(hours=2)
    first, second = SyncDocument.objects.filter(flow=test_flow).order_by("pk")
    SyncDocument.objects.filter(pk=first.pk).update(state=S.LOADING, updated_at=long_ago)
    SyncDocument.objects.filter(pk=second.pk).update(
        state=S.WAITING, next_attempt_at=long_ago, updated_at=long_ago
    )

    page = open_browser("manager")
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto("/monitoring/board/")
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow} px"
    table_overflow = page.evaluate(
        "(w => w.scrollWidth - w.clientWidth)(document.querySelector('.ops-board-wrap'))"
    )
    assert table_overflow <= 0, f"the board's table is cut by {table_overflow} px"
    for state in (S.LOADING, S.WAITING):
        note = page.locator(f'[data-stuck="{test_flow.pk}:state:{state}"]')
        assert note.inner_text() == "1 stuck"
        assert "stuck=1" in note.get_attribute("href")
    shot(page, "14-board-stuck")
