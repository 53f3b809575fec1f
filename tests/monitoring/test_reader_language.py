"""Issue 20 point 4, O2 / O4: events, work-order titles and texts and error messages are
stored as message ids with parameters and shown in the reader's language: the operations
pages, the admin, the exports and the DingTalk alerts (in the channel's language). A worker
speaking Chinese writes, an English reader reads English, and the other way round."""

import importlib
import re
from decimal import Decimal

import pytest
from django.utils import timezone, translation
from django.utils.html import escape

from flows import engine
from flows.definitions.kingdee_common import mapping_problem
from flows.models import SyncDocument
from mappings.errors import MappingMissing
from monitoring.models import Event, ExceptionTicket
from monitoring.services import ticket_of_document
from tests.flows.test_engine import order

pytestmark = pytest.mark.django_db(transaction=True)

CJK = re.compile(r"[\u3400-\u9fff]")
# Three English words in a row: a sentence, not a code such as SKU-GIFT-9001.
ENGLISH = re.compile(r"[A-Za-z]{2,}[,:]?\s+[A-Za-z]{2,}[,:]?\s+[A-Za-z]{2,}")
GIFT = "SKU-GIFT-9001"


def gift_sku_ticket(test_flow, fake_target, number: int, language: str) -> ExceptionTicket:
    """The engine blocks an order on the real missing-mapping error of the gift SKU, the
    worker speaking `language`."""
    from mappings.models import KnownCode
    from mappings.selectors import material_for_sku

    KnownCode.objects.get_or_create(  # Kingdee's materials are known: the 1:1 rule fails
        integration=test_flow.integration,
        system="kingdee",
        kind="material",
        code="MAT-CASE-1301",
        defaults={"name": "case", "seen_at": timezone.now()},
    )
    with translation.override(language):
        with pytest.raises(MappingMissing) as caught:
            material_for_sku(integration=test_flow.integration, sku_id=GIFT)
        fake_target.transform_error = mapping_problem(caught.value)
        engine.ingest(flow=test_flow, records=[order(number)])
        engine.process(flow=test_flow)
    ticket = ticket_of_document(SyncDocument.objects.get(flow=test_flow, source_key=str(number)))
    assert ticket is not None
    return ticket


def test_ticket_written_in_chinese_reads_in_english_and_chinese_O4(
    test_flow, fake_target, demo_users, browser
):
    """GIVEN a work order and its events written by a worker speaking Chinese WHEN an English
    reader opens the queue, the ticket page, the trace search and the admin THEN its title,
    text, fix and events are English (no Chinese character); a Chinese reader reads them in
    Chinese (no English sentence)."""
    ticket = gift_sku_ticket(test_flow, fake_target, 81, "zh-hans")
    assert CJK.search(ticket.title) and CJK.search(ticket.message)  # stored as written
    assert ticket.title_data and ticket.message_data and ticket.fix_data
    event = Event.objects.filter(document__source_key="81", level="error").first()
    assert event is not None and event.message_data

    with translation.override("en"):
        english = {
            "title": ticket.title_text,
            "message": ticket.message_text,
            "fix": ticket.fix_text,
            "event": event.message_text,
        }
    with translation.override("zh-hans"):
        chinese = {
            "title": ticket.title_text,
            "message": ticket.message_text,
            "fix": ticket.fix_text,
            "event": event.message_text,
        }
    assert english["title"] == "Missing mapping: SKU → material SKU-GIFT-9001"
    for text in english.values():
        assert not CJK.search(text), text
    for text in chinese.values():
        assert CJK.search(text) and not ENGLISH.search(text), text

    reader = browser(demo_users["mdm"])
    pages = [
        "/monitoring/tickets/",
        f"/monitoring/tickets/{ticket.pk}/",
        "/monitoring/search/?q=PO-81",
        "/admin/monitoring/exceptionticket/",
        f"/admin/monitoring/exceptionticket/{ticket.pk}/change/",
    ]
    for url in pages:
        page = reader.get(url, headers={"Accept-Language": "en"})
        assert page.status_code == 200, url
        assert escape(english["title"]) in page.text, url
        assert escape(chinese["title"]) not in page.text, url
    detail = reader.get(f"/monitoring/tickets/{ticket.pk}/", headers={"Accept-Language": "en"})
    for key in ("fix", "event"):
        assert escape(english[key]) in detail.text, key
        assert escape(chinese[key]) not in detail.text, key
    detail = reader.get(f"/monitoring/tickets/{ticket.pk}/", headers={"Accept-Language": "zh-hans"})
    for key in ("title", "fix", "event"):
        assert escape(chinese[key]) in detail.text, key
        assert escape(english[key]) not in detail.text, key


def test_ticket_written_in_english_reads_in_chinese_O4(test_flow, fake_target, demo_users, browser):
    """GIVEN a work order written by a worker speaking English WHEN a Chinese reader opens it
    THEN the title and texts are Chinese."""
    ticket = gift_sku_ticket(test_flow, fake_target, 82, "en")
    assert not CJK.search(ticket.title)
    with translation.override("zh-hans"):
        title, fix = ticket.title_text, ticket.fix_text
    assert CJK.search(title) and not ENGLISH.search(title)
    page = browser(demo_users["mdm"]).get(
        f"/monitoring/tickets/{ticket.pk}/", headers={"Accept-Language": "zh-hans"}
    )
    assert escape(title) in page.text and escape(fix) in page.text
    assert escape(ticket.title) not in page.text


def test_dingtalk_alert_is_posted_in_the_channel_language_O2(
    test_flow, fake_target, robot_channel, celery_memory_broker
):
    """GIVEN an English DingTalk channel and a rule for missing mappings WHEN a worker speaking
    Chinese opens the gift-SKU work order and the alert is posted THEN the robot receives it in
    English; a Chinese channel receives the same alert in Chinese."""
    from connectors.dingtalk.models import RobotChannel
    from monitoring.alert_models import Alert, AlertRule
    from monitoring.alerts import alerts_dispatch_channel
    from tests.fixtures.monitoring import DINGTALK, inbox

    RobotChannel.objects.filter(pk=robot_channel.pk).update(language="en")
    AlertRule.objects.create(name="mdm", channel=robot_channel, error_classes="missing_mapping")
    gift_sku_ticket(test_flow, fake_target, 83, "zh-hans")
    alert = Alert.objects.get()
    assert alert.title_data and alert.text_data and CJK.search(alert.title)

    assert alerts_dispatch_channel(channel_id=robot_channel.pk).delivered == 1
    received = inbox(DINGTALK["token"], accepted=True).get()
    text = received.body["markdown"]["text"]
    assert "Missing mapping: SKU → material SKU-GIFT-9001" in received.title
    assert "What to do" in text and GIFT in text
    assert not CJK.search(received.title) and not CJK.search(text), text

    RobotChannel.objects.filter(pk=robot_channel.pk).update(language="zh-hans")
    Alert.objects.filter(pk=alert.pk).update(status="queued", next_attempt_at=timezone.now())
    assert alerts_dispatch_channel(channel_id=robot_channel.pk).delivered == 1
    again = inbox(DINGTALK["token"], accepted=True).order_by("-id").first()
    assert CJK.search(again.title) and "Missing mapping" not in again.body["markdown"]["text"]


def test_reconciliation_export_shows_document_errors_in_the_reader_language(make_integration):
    """GIVEN a reconciling document whose error was stored in Chinese WHEN the mismatches are
    exported for an English reader THEN the error column is English."""
    from core.messages import gettext
    from finance.models import ReconciliationLine, ReconciliationRun, ReconcilingItem
    from finance.reconciliation import documents_table

    with translation.override("zh-hans"):
        stored = str.__str__(
            gettext("Ticket resolved by %(user)s: %(note)s")
            % {"user": "bob", "note": gettext("Retried.")}
        )
    run = ReconciliationRun.objects.create(integration=make_integration())
    line = ReconciliationLine.objects.create(
        run=run,
        material_number="M-1",
        sku_id="SKU-1",
        stock_number="20001",
        kingdee_qty=Decimal("1"),
        jushuitan_qty=Decimal("2"),
        difference=Decimal("1"),
    )
    ReconcilingItem.objects.create(
        line=line, flow_code="F2", reference="SO-1", quantity=Decimal("1"), error=stored
    )
    with translation.override("en"):
        _header, rows = documents_table(run)
    assert rows[0][-1] == "Ticket resolved by bob: Retried."


def test_migration_fills_message_data_of_stored_texts():
    """GIVEN events stored before (Chinese and English text, no message data) WHEN the data
    migration runs THEN each gets its message id and parameters; a text matching no message
    stays without and is shown as stored."""
    from django.apps import apps

    migration = importlib.import_module("monitoring.migrations.0007_stored_texts_to_messages")
    with translation.override("zh-hans"):
        chinese = str.__str__(
            _message("Ticket resolved by %(user)s: %(note)s", user="bob", note="Retried.")
        )
    english = "Ticket resolved by ann: Retried."
    rows = [
        Event.objects.create(stage="ticket", message=text)
        for text in (chinese, english, "金蝶：物料 ABC 不存在")
    ]
    assert migration.fill(apps.get_model("monitoring", "Event"), migration.TEXTS["Event"]) == 2
    for row in rows:
        row.refresh_from_db()
    assert rows[0].message_data["id"] == "Ticket resolved by %(user)s: %(note)s"
    assert rows[2].message_data is None
    with translation.override("en"):
        assert rows[0].message_text == "Ticket resolved by bob: Retried."
        assert rows[2].message_text == "金蝶：物料 ABC 不存在"
    with translation.override("zh-hans"):
        assert rows[1].message_text == str.__str__(
            _message("Ticket resolved by %(user)s: %(note)s", user="ann", note="Retried.")
        )


def _message(msgid: str, **params):
    from core.messages import gettext

    return gettext(msgid) % {
        name: gettext(value) if value == "Retried." else value for name, value in params.items()
    }
