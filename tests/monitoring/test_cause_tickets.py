"""Issue 20 points 1 and 2: one ticket per root cause, listing the documents it blocks and
staying current as they join and leave; alert rules count causes; the fold of the older
per-document tickets; the fix in place on the ticket page (mapping row, exchange rate)."""

import importlib
from decimal import Decimal

import pytest

from flows import engine
from flows import services as flow_services
from flows.choices import DocumentState as S
from flows.models import SyncDocument
from monitoring.models import Alert, AlertRule, ExceptionTicket, TicketDocument
from monitoring.services import ticket_of_document
from tests.fixtures.kingdee import gift_material_in_kingdee
from tests.flows.test_engine import due_now, order

pytestmark = pytest.mark.django_db(transaction=True)


def _blocked_on_one_shop(test_flow, fake_target, numbers) -> list[SyncDocument]:
    fake_target.known_mappings = {"10001"}
    engine.ingest(flow=test_flow, records=[order(n, shop="10009") for n in numbers])
    engine.process(flow=test_flow)
    return list(SyncDocument.objects.filter(source_key__in=[str(n) for n in numbers]))


def test_one_missing_mapping_gives_one_ticket_that_counts_its_documents(
    test_flow, fake_target, robot_channel, demo_users, browser
):
    """Issue 20 point 1: GIVEN five orders of a shop without a customer mapping and an alert
    rule for missing mappings WHEN they block THEN there is one open ticket keyed by the cause,
    listing the five documents (the queue shows 5, the ticket page lists them), and one alert
    (rules count causes, not documents). A document ignored leaves the ticket; adding the
    mapping releases the rest, they sync and the ticket closes itself with no document left."""
    AlertRule.objects.create(name="mdm", channel=robot_channel, error_classes="missing_mapping")
    docs = _blocked_on_one_shop(test_flow, fake_target, range(40, 45))
    assert {d.state for d in docs} == {S.BLOCKED}
    tickets = ExceptionTicket.objects.filter(status="open")
    assert tickets.count() == 1
    ticket = tickets.get()
    assert ticket.is_cause and ticket.document is None
    assert ticket.trace_key == f"mapping:{test_flow.integration.code}:customer:10009"
    assert {ticket_of_document(d) for d in docs} == {ticket}
    assert ticket.links.count() == 5 and ticket.occurrences == 5
    assert Alert.objects.count() == 1

    mdm = browser(demo_users["mdm"])
    listing = mdm.get("/monitoring/tickets/", headers={"Accept-Language": "en"})
    assert listing.text.count(f'href="/monitoring/tickets/{ticket.pk}/"') == 1
    assert '<td class="num">5</td>' in listing.text
    page = mdm.get(f"/monitoring/tickets/{ticket.pk}/", headers={"Accept-Language": "en"})
    assert "5 documents blocked by this cause" in page.text
    for doc in docs:
        assert f"/admin/flows/syncdocument/{doc.pk}/change/" in page.text
    found = mdm.get("/monitoring/tickets/?q=PO-43", headers={"Accept-Language": "en"})
    assert f'href="/monitoring/tickets/{ticket.pk}/"' in found.text

    flow_services.document_ignore(document=docs[0], user=demo_users["mdm"], reason="test order")
    ticket.refresh_from_db()
    assert ticket.is_open and ticket.links.count() == 4
    assert ticket_of_document(docs[0]) is None

    fake_target.known_mappings.add("10009")
    released = flow_services.documents_release_blocked(
        integration_id=test_flow.integration_id, error_class="missing_mapping", reason="mapped"
    )
    assert released == 4
    engine.process(flow=test_flow)
    assert SyncDocument.objects.filter(state=S.SYNCED).count() == 4
    ticket.refresh_from_db()
    assert ticket.status == "resolved" and not ticket.links.exists()
    assert Alert.objects.count() == 1


def test_a_document_moving_to_another_problem_leaves_the_cause_ticket(test_flow, fake_target):
    """Issue 20 point 1: GIVEN two documents on one missing mapping WHEN the mapping comes but
    the exchange rate of one of them is then unavailable THEN that one leaves the mapping's
    ticket for the rate's ticket, and the mapping's ticket closes when its last one syncs."""
    docs = _blocked_on_one_shop(test_flow, fake_target, (50, 51))
    mapping_ticket = ticket_of_document(docs[0])
    fake_target.known_mappings.add("10009")
    flow_services.document_retry(document=docs[0])
    fake_target.fx_down = True
    for _ in range(4):  # F2.3: three timed retries, then the ticket
        engine.process(flow=test_flow)
        due_now(test_flow)
    fx_ticket = ticket_of_document(docs[0])
    assert fx_ticket.trace_key == "fx:USD:2026-11-30" and fx_ticket.links.count() == 1
    mapping_ticket.refresh_from_db()
    assert mapping_ticket.is_open and [link.document for link in mapping_ticket.links.all()] == [
        docs[1]
    ]
    fake_target.fx_down = False
    flow_services.document_retry(document=docs[1])
    engine.process(flow=test_flow)
    mapping_ticket.refresh_from_db()
    assert mapping_ticket.status == "resolved"
    assert fx_ticket.links.count() == 1 and ExceptionTicket.objects.get(pk=fx_ticket.pk).is_open


def test_fx_ticket_takes_the_rate_in_place_and_releases_its_documents(
    test_flow, fake_target, demo_users, browser
):
    """Issue 20 point 2: GIVEN three orders failed for want of the USD rate of 2026-11-30 (one
    ticket) WHEN finance enters the rate in the ticket's form THEN the rate is stored as a
    manual override naming the ticket, the three documents are retried and sync, and the
    ticket closes itself."""
    from mappings.models import ExchangeRate

    fake_target.fx_down = True
    engine.ingest(flow=test_flow, records=[order(n) for n in (60, 61, 62)])
    for _ in range(4):
        engine.process(flow=test_flow)
        due_now(test_flow)
    ticket = ExceptionTicket.objects.get(status="open")
    assert ticket.trace_key == "fx:USD:2026-11-30" and ticket.links.count() == 3
    finance = browser(demo_users["finance"])
    page = finance.get(f"/monitoring/tickets/{ticket.pk}/", headers={"Accept-Language": "en"})
    assert 'name="rate"' in page.text and "Save the rate and release the documents" in page.text
    bad = finance.post(f"/monitoring/tickets/{ticket.pk}/fix/", {"rate": "seven"})
    assert bad.status_code == 200 and not ExchangeRate.objects.exists()
    finance.post(f"/monitoring/tickets/{ticket.pk}/fix/", {"rate": "7.1234", "quote_unit": "1"})
    rate = ExchangeRate.objects.get(currency="USD")
    assert rate.rate == Decimal("7.1234") and rate.manual_override
    assert f"#{ticket.pk}" in rate.note
    assert set(SyncDocument.objects.values_list("state", flat=True)) == {S.RECEIVED}
    engine.process(flow=test_flow)
    assert set(SyncDocument.objects.values_list("state", flat=True)) == {S.SYNCED}
    ticket.refresh_from_db()
    assert ticket.status == "resolved"


def test_migration_folds_open_per_document_tickets_of_one_cause(test_flow, fake_target):
    """Issue 20 point 1, migrating: GIVEN three open per-document tickets of one missing
    mapping, as earlier versions opened them WHEN the data migration runs THEN the oldest
    becomes the cause's ticket listing the three documents and the two others close, naming
    it; a ticket of another problem is left alone."""
    from django.apps import apps

    docs = _blocked_on_one_shop(test_flow, fake_target, (70, 71, 72))
    ExceptionTicket.objects.all().delete()
    for doc in docs:
        ExceptionTicket.objects.create(
            trace_key=doc.trace_key,
            document=doc,
            integration=doc.integration,
            error_class="missing_mapping",
            role="master_data_admin",
            title="Missing mapping: shop 10009",
            message="No customer mapped to shop 10009.",
            detail={"code": "", "stage": "transform", "kind": "customer", "key": "10009"},
        )
    other = ExceptionTicket.objects.create(
        trace_key="elsewhere", error_class="internal", role="operator", title="x", message="x"
    )
    migration = importlib.import_module("monitoring.migrations.0005_fold_ticket_causes")
    migration.fold(apps, None)
    open_tickets = ExceptionTicket.objects.filter(status="open").exclude(pk=other.pk)
    assert open_tickets.count() == 1
    cause = open_tickets.get()
    assert cause.is_cause and cause.trace_key.endswith(":customer:10009")
    assert set(TicketDocument.objects.values_list("document_id", flat=True)) == {d.pk for d in docs}
    closed = ExceptionTicket.objects.filter(status="resolved")
    assert closed.count() == 2 and all(f"#{cause.pk}" in t.resolution for t in closed)
    other.refresh_from_db()
    assert other.status == "open" and not other.is_cause


GIFT_MATERIAL = "GIFT-STICKER-01"  # its own number: the 1:1 rule cannot map it


def test_gift_sku_one_ticket_fixed_in_place_releases_every_order(
    demo_integration, storefront, kingdee_bills, celery_worker, wait_until, demo_users, browser
):
    """Issue 20 points 1 and 2, against the sandboxes: GIVEN three orders with the
    Jushuitan-only gift SKU-GIFT-9001 WHEN they block THEN one master-data ticket holds all
    three; WHEN the admin picks the Kingdee material from the snapshot search on the ticket
    page THEN the mapping row is added (its history names the admin and the ticket), the
    three orders are released and written to Kingdee once each, and the ticket closes."""
    from django.utils import timezone

    from flows.tasks import flow_run
    from mappings.models import KnownCode, MaterialMapping
    from tests.flows.test_sales_outbound import _flow

    orders = [f"GIFT-C{n}" for n in range(3)]
    storefront.place_and_ship(
        *[
            storefront.order(
                so_id=so,
                shop_id=10001,
                currency="USD",
                lines=[("SKU-CASE-1301", 1, "12.99"), ("SKU-GIFT-9001", 1, "0")],
            )
            for so in orders
        ]
    )
    flow = _flow(demo_integration)
    flow_run.delay(flow.pk)
    wait_until(lambda: SyncDocument.objects.filter(flow=flow, state=S.BLOCKED).count() == 3, 60)
    docs = list(SyncDocument.objects.filter(flow=flow, platform_order_no__in=orders))
    ticket = ExceptionTicket.objects.get(status="open", role="master_data_admin")
    assert {ticket_of_document(d) for d in docs} == {ticket} and ticket.links.count() == 3
    assert ticket.trace_key == f"mapping:{demo_integration.code}:material:SKU-GIFT-9001"

    gift_material_in_kingdee(
        demo_integration, docs[0].target_payload.get("FDate") or "2026-01-01", GIFT_MATERIAL
    )
    KnownCode.objects.update_or_create(  # the snapshot refresh ("Initialise from systems")
        integration=demo_integration,
        system="kingdee",
        kind="material",
        code=GIFT_MATERIAL,
        defaults={"name": "赠品 贴纸套装", "seen_at": timezone.now()},
    )
    mdm = browser(demo_users["mdm"])
    page = mdm.get(
        f"/monitoring/tickets/{ticket.pk}/?codes=GIFT", headers={"Accept-Language": "en"}
    )
    assert 'value="SKU-GIFT-9001" readonly' in page.text  # the key, prefilled
    assert f'<option value="{GIFT_MATERIAL}">' in page.text  # the snapshot search
    refused = mdm.post(f"/monitoring/tickets/{ticket.pk}/fix/", {"target_code": "NOT-THERE"})
    assert (
        refused.status_code == 200
        and not MaterialMapping.objects.filter(sku_id="SKU-GIFT-9001").exists()
    )
    fixed = mdm.post(f"/monitoring/tickets/{ticket.pk}/fix/", {"target_code": GIFT_MATERIAL})
    assert fixed.status_code == 200
    row = MaterialMapping.objects.get(integration=demo_integration, sku_id="SKU-GIFT-9001")
    history = row.history.get()
    assert history.history_user == demo_users["mdm"]
    assert f"#{ticket.pk}" in history.history_change_reason
    flow_run.delay(flow.pk)
    wait_until(
        lambda: (
            SyncDocument.objects.filter(pk__in=[d.pk for d in docs], state=S.SYNCED).count() == 3
        ),
        90,
    )
    bills = kingdee_bills("SAL_OUTSTOCK", orders)
    assert {so: len(found) for so, found in bills.items()} == dict.fromkeys(orders, 1)
    ticket.refresh_from_db()
    assert ticket.status == "resolved" and not ticket.links.exists()


@pytest.mark.usefixtures("english")
def test_checklist_counts_each_missing_mapping_once_and_names_the_material_without_hs_code(
    demo_integration, storefront, celery_worker, wait_until, test_flow, fake_target
):
    """Issue 20 point 3: GIVEN five documents on one missing shop mapping THEN G1 lists that
    mapping once with its count. GIVEN an order shipped to the US whose gift material has no
    HS code and one that synced THEN G3 says "material X has no HS code" linking to the
    ticket of that cause, and counts only the country and HS code pairs really written."""
    from mappings.models import KnownCode, MaterialMapping
    from monitoring.checklist import check_g1_mappings, check_g3_tax_templates
    from tests.flows.test_sales_outbound import _flow

    KnownCode.objects.filter(integration=test_flow.integration).delete()
    for system in ("kingdee", "jushuitan"):
        KnownCode.objects.create(
            integration=test_flow.integration,
            system=system,
            kind="customer" if system == "kingdee" else "shop",
            code="10001",
            seen_at="2026-11-30T10:00:00+08:00",
        )
    _blocked_on_one_shop(test_flow, fake_target, range(80, 85))
    g1 = check_g1_mappings(test_flow.integration)
    assert g1.details == ["Missing mapping: shop 10009 (5 documents)"]

    gift_material_in_kingdee(demo_integration, "2026-01-01", number="NOHS-01", hs_code="")
    MaterialMapping.objects.create(
        integration=demo_integration, sku_id="SKU-GIFT-9001", material_number="NOHS-01"
    )
    storefront.place_and_ship(
        storefront.order(
            so_id="HS-OK", shop_id=10001, currency="USD", lines=[("SKU-CASE-1301", 1, "12.99")]
        ),
        *[
            storefront.order(
                so_id=f"HS-GIFT-{n}",
                shop_id=10001,
                currency="USD",
                lines=[("SKU-CASE-1301", 1, "12.99"), ("SKU-GIFT-9001", 1, "0")],
            )
            for n in (1, 2)
        ],
    )
    flow = _flow(demo_integration)
    from flows.tasks import flow_run

    flow_run.delay(flow.pk)
    wait_until(
        lambda: (
            SyncDocument.objects.filter(flow=flow, state=S.BLOCKED).count() == 2
            and SyncDocument.objects.filter(flow=flow, state=S.SYNCED).exists()
        ),
        60,
    )
    ticket = ExceptionTicket.objects.get(trace_key="material-field:NOHS-01:hs_code")
    assert ticket.role == "master_data_admin" and ticket.links.count() == 2
    g3 = check_g3_tax_templates(demo_integration)
    assert g3.status == "missing" and g3.fix_url == f"/monitoring/tickets/{ticket.pk}/"
    assert g3.details[0] == "material NOHS-01 has no HS code (2 documents wait)"
    assert not any(d.endswith("/") or d.endswith("· ") for d in g3.details)
    ticket.links.all().delete()
    ExceptionTicket.objects.filter(pk=ticket.pk).update(status="resolved")
    g3 = check_g3_tax_templates(demo_integration)
    assert g3.status == "ok" and "(1 HS codes) seen in orders are covered" in g3.summary
