"""Issue 20 points 4 and 6 in a real browser: the work order, its text, its fix, the events and
the documents' errors are written by a worker speaking Chinese (the portal's default) and read
by an English and a Chinese reader, each in their own language. Live server, the demo
integration, both sandboxes over HTTP, a real Celery worker.

What counts as generated text: the elements the pages mark `data-generated` (ticket titles,
texts, fixes, events, documents' errors). Names people gave (the integration's name) and codes
are data, taken out before the check. An English reader must see no Chinese character there;
a Chinese reader must see Chinese and no English sentence (three English words in a row)."""

from __future__ import annotations

import re

import pytest

from flows.choices import DocumentState as S
from flows.models import SyncDocument
from flows.tasks import flow_run
from monitoring.models import ExceptionTicket

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ORDERS = [f"113-2026020-000010{n}" for n in range(2)]
CJK = re.compile(r"[\u3400-\u9fff]")
ENGLISH_SENTENCE = re.compile(r"[A-Za-z]{2,}[,:;]?\s+[A-Za-z]{2,}[,:;]?\s+[A-Za-z]{2,}")


def generated_texts(page, data: tuple[str, ...]) -> list[str]:
    """The generated texts on the page, without the data named in `data`."""
    texts = []
    for element in page.locator("[data-generated]").all():
        text = element.inner_text()
        for value in data:
            text = text.replace(value, "")
        if text.strip():
            texts.append(text)
    return texts


def test_english_and_chinese_readers_see_their_own_language(
    demo_integration, storefront, celery_worker, wait_until, open_browser
):
    """Issue 20 point 4: GIVEN orders blocked by the gift SKU's missing mapping, the work order
    and events written by a worker speaking Chinese WHEN an English reader opens the queue, the
    work order and the trace THEN every generated text is English (no Chinese character);
    WHEN a Chinese reader opens the same pages THEN every generated text is Chinese (no
    English sentence)."""
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
    wait_until(lambda: SyncDocument.objects.filter(flow=flow, state=S.BLOCKED).count() == 2, 60)
    ticket = ExceptionTicket.objects.get(status="open", role="master_data_admin")
    assert CJK.search(ticket.title) and ticket.title_data  # written in Chinese, with its id
    data = (demo_integration.name, demo_integration.code)
    pages = (
        "/monitoring/tickets/",
        f"/monitoring/tickets/{ticket.pk}/",
        f"/monitoring/search/?q={ORDERS[0]}",
    )

    english = open_browser("mdm")
    seen = {}
    for url in pages:
        english.goto(url)
        seen[url] = generated_texts(english, data)
        assert seen[url], f"no generated text on {url}"
        for text in seen[url]:
            assert not CJK.search(text), f"{url}: {text}"
    assert any("Missing mapping: SKU → material SKU-GIFT-9001" in t for t in seen[pages[0]])
    assert any("Add the mapping" in t for t in seen[pages[1]])
    english.goto(pages[1])
    assert english.inner_text("#content h1") == "Missing mapping: SKU → material SKU-GIFT-9001"

    chinese = open_browser("mdm", locale="zh-CN")
    for url in pages:
        chinese.goto(url)
        texts = generated_texts(chinese, data)
        assert len(texts) == len(seen[url]), url
        for text in texts:
            assert CJK.search(text), f"{url}: {text}"
            assert not ENGLISH_SENTENCE.search(text), f"{url}: {text}"
    chinese.goto(pages[1])
    heading = chinese.inner_text("#content h1")
    assert CJK.search(heading) and "SKU-GIFT-9001" in heading
    assert not ENGLISH_SENTENCE.search(heading), heading
