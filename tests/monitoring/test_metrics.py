"""Prometheus metrics (/monitoring/metrics, issue #9): protected (staff login or the bearer
token of PORTAL_METRICS_TOKEN) and equal to the database: documents by flow and state, backlog,
remote calls and errors by system, open tickets by queue (O1 figures for a scraper)."""

import re

import pytest

from flows.models import SyncDocument
from monitoring.models import OPEN_TICKET_STATUSES, ExceptionTicket, RemoteCall

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "metrics-token-for-tests"


def value(text: str, name: str, **labels) -> float:
    for line in text.splitlines():
        if not line.startswith(name + "{") and line.split(" ")[0] != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
        if found == {k: str(v) for k, v in labels.items()}:
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name}{labels} not in the metrics")


def test_metrics_are_protected(world, settings, demo_users, browser):
    """GIVEN a token set WHEN scraped anonymously or with a wrong token THEN 401; with the token
    or as a logged-in staff user THEN 200 in the Prometheus text format."""
    settings.PORTAL_METRICS_TOKEN = TOKEN
    anonymous = browser()
    assert anonymous.get("/monitoring/metrics").status_code == 401
    wrong = anonymous.get("/monitoring/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and "Bearer" in wrong.headers["WWW-Authenticate"]
    good = anonymous.get("/monitoring/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert good.status_code == 200 and good.headers["Content-Type"].startswith("text/plain")
    assert browser(demo_users["manager"]).get("/monitoring/metrics").status_code == 200
    settings.PORTAL_METRICS_TOKEN = ""
    empty = anonymous.get("/monitoring/metrics", headers={"Authorization": "Bearer "})
    assert empty.status_code == 401


def test_metrics_equal_the_database(world, settings, browser):
    """GIVEN the world and some remote calls WHEN scraped THEN each figure equals a count made
    here."""
    settings.PORTAL_METRICS_TOKEN = TOKEN
    RemoteCall.objects.create(system="kingdee", operation="BatchSave", status=200)
    RemoteCall.objects.create(system="kingdee", operation="BatchSave", status=500)
    RemoteCall.objects.create(system="jushuitan", operation="orders.query", status=200, error="x")
    text = browser().get("/monitoring/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
    flow = world["flow"]
    labels = {"integration": flow.integration.code, "flow": flow.code}
    for state in ("synced", "blocked", "held", "waiting", "filtered"):
        expected = SyncDocument.objects.filter(flow=flow, state=state).count()
        assert value(text, "portal_documents", **labels, state=state) == expected
    assert value(text, "portal_backlog_documents", **labels) == 5
    assert value(text, "portal_flow_paused", **labels) == 0
    # Issue 15: the engine's own definitions (SyncDocumentQuerySet.workable / stuck).
    workable = SyncDocument.objects.filter(flow=flow).workable().count()
    assert value(text, "portal_workable_documents", **labels) == workable
    assert value(text, "portal_stuck_documents", **labels) == (
        SyncDocument.objects.stuck(flow).count()
    )
    assert value(text, "portal_remote_calls_1h", system="kingdee") == 2
    assert value(text, "portal_remote_call_errors_1h", system="kingdee") == 1
    assert value(text, "portal_remote_call_errors_24h", system="jushuitan") == 1
    # Issue 20: one ticket per cause (the world's two orders of unmapped shop 10009 share one).
    for role, at_least in (("master_data_admin", 1), ("finance", 1)):
        open_tickets = ExceptionTicket.objects.filter(role=role, status__in=OPEN_TICKET_STATUSES)
        assert value(text, "portal_open_tickets", role=role) == open_tickets.count() >= at_least
