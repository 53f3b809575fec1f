"""O3 trace search: one box finds a platform order no., a Kingdee bill no., a SKU or a source
key, and shows the documents, every event and the remote calls of their batches (request and
answer, secrets masked) in time order."""

import re

import pytest

from connectors.observe import remote_call
from flows import engine
from monitoring.models import Event, RemoteCall
from tests.fixtures.operations import make_order
from tests.flows import engine_fixtures

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "s3cr3t-app-value"


@pytest.fixture
def calling_target(monkeypatch):
    """The test flow's target announces each batch write like a connector does (remote_call
    signal with the request, an app secret in it, and the answer)."""
    original = engine_fixtures.TestFlow.load

    def load(self, ctx, documents):
        results = original(self, ctx, documents)
        remote_call.send(
            sender=None,
            system="kingdee",
            operation="BatchSave SAL_OUTSTOCK",
            url="https://kingdee.invalid/k3cloud/BatchSave",
            request={"app_secret": SECRET, "bills": [d.target_key for d in documents]},
            response={"Result": {"ResponseStatus": {"IsSuccess": True}}},
            status=200,
            duration_ms=12.5,
            error="",
        )
        return results

    monkeypatch.setattr(engine_fixtures.TestFlow, "load", load)


def trace_rows(html: str) -> list[str]:
    body = html.split("ops-timeline", 1)[1]
    return re.findall(r'<tr class="(event|call)">', body)


@pytest.mark.parametrize(
    ("key", "matched"),
    [
        ("PO-41", "platform order no."),
        ("XS-41", "Kingdee bill no."),
        ("SKU-RARE", "SKU"),
        ("so:41", "source key"),
    ],
)
def test_search_by_each_key_type_finds_the_trace_O3(
    key, matched, test_flow, fake_target, calling_target, demo_users, browser
):
    """GIVEN an order synced in a batch that made a remote call WHEN finance searches by its
    platform order no. / Kingdee bill no. / SKU / source key THEN the page shows the document,
    every event of it and the batch's remote call, in time order, with the secret masked."""
    engine.ingest(
        flow=test_flow,
        records=[make_order(41, skus=("SKU-RARE", "SKU-1")), make_order(42)],
    )
    engine.process(flow=test_flow)
    doc_events = Event.objects.filter(document__source_key="so:41").count()
    assert doc_events == 3 and RemoteCall.objects.count() == 1

    finance = browser(demo_users["finance"])
    page = finance.get("/monitoring/search/", params={"q": key}, headers={"Accept-Language": "en"})
    assert page.status_code == 200
    html = page.text
    assert ">so:41</a>" in html and ">so:42</a>" not in html
    assert f"<td>{matched}</td>" in html
    rows = trace_rows(html)
    assert rows.count("event") == doc_events
    assert rows.count("call") == 1
    assert rows.index("call") < rows.index("event", 2)  # the write precedes its outcome
    assert "BatchSave SAL_OUTSTOCK" in html and "XS-41" in html
    assert SECRET not in html and "***" in html


@pytest.mark.usefixtures("english")
def test_search_selector_reports_what_matched_O3(test_flow, fake_target, calling_target):
    """GIVEN a document whose SKU equals another's source key THEN one search returns both,
    each saying by which key it matched, and events come in time order."""
    from monitoring.selectors import trace_search

    engine.ingest(flow=test_flow, records=[make_order(51, skus=("so:52",)), make_order(52)])
    engine.process(flow=test_flow)
    trace = trace_search(query="so:52")
    by_key = {d.source_key: d.matched_labels for d in trace.documents}
    assert by_key == {"so:51": ["SKU"], "so:52": ["source key"]}
    times = [e.at for e in trace.entries]
    assert times == sorted(times)
    assert {e.event.document.source_key for e in trace.entries if e.kind == "event"} == {
        "so:51",
        "so:52",
    }


def test_search_for_unknown_key_says_so_O3(test_flow, demo_users, browser):
    """GIVEN nothing with that key WHEN searched THEN the page says nothing was found and why
    that may be (exact match, retention)."""
    page = browser(demo_users["mdm"]).get("/monitoring/search/", params={"q": "PO-404"})
    assert page.status_code == 200
    assert 'class="errornote"' in page.text
    assert browser().get("/monitoring/search/?q=x", allow_redirects=False).status_code == 302
