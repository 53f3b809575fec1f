"""O1 process board (流程看板): its numbers equal counts made here, each number opens the documents
behind it, it refreshes from a JSON endpoint, and it is linked from the admin home."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from flows.choices import DocumentState as S
from flows.models import Flow, SyncDocument
from monitoring.models import ExceptionTicket

pytestmark = pytest.mark.django_db(transaction=True)


def changelist_count(html: str) -> int:
    """The result count the admin changelist prints in its paginator."""
    match = re.search(r'<p class="paginator">\s*(\d+)', html)
    assert match, "no paginator in the changelist"
    return int(match.group(1))


def test_board_numbers_equal_counts_O1(world, demo_users, browser, board_settings):
    """GIVEN documents in every state WHEN a manager polls /monitoring/board/data/ THEN backlog
    by state, throughput, retries, failure reasons, the oldest waiting document and open tickets
    equal counts made here, and every number's link lists exactly that many documents."""
    flow = world["flow"]
    manager = browser(demo_users["manager"])
    data = manager.get("/monitoring/board/data/").json()
    (row,) = [f for f in data["flows"] if f["flow_id"] == flow.pk]

    docs = SyncDocument.objects.filter(flow=flow)
    for state in (S.RECEIVED, S.MAPPED, S.LOADING, S.WAITING, S.BLOCKED, S.HELD, S.FAILED):
        assert row["states"][state] == docs.filter(state=state).count(), state
    assert row["states"][S.BLOCKED] == 3 and row["states"][S.HELD] == 1
    assert row["backlog"] == docs.exclude(state__in=(S.SYNCED, S.IGNORED, S.FILTERED)).count()
    assert row["backlog"] == 5
    assert row["synced_last_hour"] == row["synced_last_day"] == 3
    assert row["filtered_last_day"] == 1
    assert row["retrying"] == 1 and row["retry_attempts"] == 1
    assert row["failure_reasons"] == {
        "missing_mapping": 2,
        "duplicate": 1,
        "insufficient_stock": 1,
        "connection": 1,
    }
    assert row["failed_last_day"] == 4  # 2 mapping + 1 duplicate + 1 held
    oldest = docs.exclude(state__in=(S.SYNCED, S.IGNORED, S.FILTERED)).order_by("created_at")[0]
    assert row["oldest_waiting_id"] == oldest.pk
    # One ticket per cause (issue 20 point 1): the two documents of one missing mapping share one.
    assert row["open_tickets"] == ExceptionTicket.objects.filter(status="open").count() == 3
    assert sum(data["trend"]["synced"]) == 3 and sum(data["trend"]["failed"]) == 4
    assert {r["error_class"]: r["count"] for r in data["failure_reasons"]}["missing_mapping"] == 2

    # Every number clicks through to the documents (or events) behind it.
    for cell in row["cells"]:
        page = manager.get(cell["url"])
        assert page.status_code == 200, cell
        assert changelist_count(page.text) == cell["value"], cell


def test_board_page_renders_charts_and_refreshes_O1(world, demo_users, browser, board_settings):
    """GIVEN the world WHEN the board page is opened THEN it shows the flow with its numbers,
    loads the vendored Chart.js (no CDN) from static files and polls the JSON endpoint; the
    admin home links to it; a paused flow is marked."""
    flow = world["flow"]
    Flow.objects.filter(pk=flow.pk).update(
        paused_until=timezone.now() + timedelta(minutes=5), last_success_at=timezone.now()
    )
    manager = browser(demo_users["manager"])
    page = manager.get("/monitoring/board/")
    assert page.status_code == 200
    html = page.text
    assert f'data-cell="{flow.pk}:state:blocked"' in html
    assert re.search(rf'data-cell="{flow.pk}:state:blocked"[^>]*>3<', html)
    assert "ops-paused" in html
    assert "cdn" not in html.lower()
    script = re.search(r'<script src="([^"]*chart\.umd\.min\.js)"', html).group(1)
    asset = manager.get(script)
    assert asset.status_code == 200 and "Chart.js v4" in asset.text[:200]
    assert "/monitoring/board/data/" in html
    data = manager.get("/monitoring/board/data/").json()
    (row,) = data["flows"]
    assert row["paused"] is True and row["last_success_at"]
    home = manager.get("/admin/")
    for link in ("/monitoring/board/", "/monitoring/search/", "/monitoring/tickets/"):
        assert f'href="{link}"' in home.text


def test_board_filters_by_integration_O1(
    world, make_integration, demo_users, browser, board_settings
):
    """GIVEN two integrations WHEN the board is filtered by one THEN only its flows appear."""
    from flows.services import flow_ensure
    from tests.flows.engine_fixtures import TEST_FLOW

    other = flow_ensure(integration=make_integration("second"), code=TEST_FLOW, enabled=True)
    manager = browser(demo_users["manager"])
    everything = manager.get("/monitoring/board/data/").json()
    assert {f["flow_id"] for f in everything["flows"]} == {world["flow"].pk, other.pk}
    only = manager.get(f"/monitoring/board/data/?integration={other.integration_id}").json()
    assert [f["flow_id"] for f in only["flows"]] == [other.pk]
    assert only["flows"][0]["backlog"] == 0


def test_board_requires_staff_login_O1(world, browser):
    """GIVEN no login WHEN the board or its data is requested THEN the admin login is asked."""
    anonymous = browser()
    for path in ("/monitoring/board/", "/monitoring/board/data/"):
        answer = anonymous.get(path, allow_redirects=False)
        assert answer.status_code == 302 and "/admin/login/" in answer.headers["Location"]
