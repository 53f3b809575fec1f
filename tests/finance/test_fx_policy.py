"""Issue 19 point 3: the FX policy of an integration. The rate date by the policy's rule, a
declared source per currency (never a silent guess), and a fallback rate that opens a finance
ticket with a re-rate action, all against the FX, Jushuitan and Kingdee simulators."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from connectors.fx.models import FxSource, FxSourceKind
from finance.models import FallbackRateBooking, FallbackRateStatus
from flows.choices import DocumentState as S
from flows.choices import FlowCode
from flows.models import Flow, SyncDocument
from mappings.choices import CurrencyRateSource, RateDateRule, RateSource
from mappings.models import CodeMapping, ExchangeRate, FxCurrencySource, FxPolicy
from mappings.rates import official_rate_for, policy_rate_for, set_manual_rate, today_beijing
from monitoring.models import ExceptionTicket
from monitoring.services import ticket_of_document
from tests.flows.test_sales_outbound import _run_until, field

pytestmark = pytest.mark.django_db(transaction=True)


def _flow(integration) -> Flow:
    return Flow.objects.get(integration=integration, code=FlowCode.SALES_OUTBOUND)


def _bill(demo_integration, number: str) -> dict:
    from connectors.kingdee.client import client_for

    return client_for(demo_integration.kingdee).view("SAL_OUTSTOCK", number=number)


def test_rate_date_follows_the_policy_rule(demo_integration):
    """Point 3: GIVEN policies 'first of month' and 'fixed period' (quarters from January)
    WHEN a USD document of 2025-09-17 asks its rate THEN the rate of 2025-09-01 (first of
    month) or of 2025-07-01 (first day of the quarter) is used; the ship-date rule keeps the
    document's own date."""
    policy = FxPolicy.objects.create(integration=demo_integration)
    day = date(2025, 9, 17)
    assert (
        policy_rate_for(integration=demo_integration, currency="USD", business_date=day).rate_date
        == day
    )

    policy.rate_date_rule = RateDateRule.FIRST_OF_MONTH
    policy.save()
    quote = policy_rate_for(integration=demo_integration, currency="USD", business_date=day)
    assert quote.rate_date == date(2025, 9, 1) and not quote.fallback_used

    policy.rate_date_rule = RateDateRule.FIXED_PERIOD
    policy.period_months, policy.period_anchor = 3, date(2025, 1, 1)
    policy.full_clean()
    policy.save()
    quote = policy_rate_for(integration=demo_integration, currency="USD", business_date=day)
    assert quote.rate_date == date(2025, 7, 1)
    assert policy.rate_date(date(2025, 12, 31)) == date(2025, 10, 1)
    assert policy.rate_date(date(2026, 1, 2)) == date(2026, 1, 1)


@pytest.mark.usefixtures("english")  # asserts English text made by the worker
def test_currency_without_fixing_needs_a_declared_source(
    demo_integration, storefront, celery_worker, wait_until
):
    """Point 3: GIVEN a TWD order (CFETS fixes no TWD parity) and no declared source WHEN the
    flow runs THEN the order stops with a finance ticket naming TWD and nothing is booked (no
    rate is guessed from the backup); WHEN finance declares 'rates entered by finance' and
    enters the rate, and the ticket is retried THEN the bill is booked at exactly that rate."""
    from monitoring.services import ticket_retry

    CodeMapping.objects.create(
        integration=demo_integration, kind="currency", jushuitan_code="TWD", kingdee_code="PRE005"
    )
    storefront.place_and_ship(
        storefront.order(
            so_id="TWD-1", shop_id=10002, currency="TWD", lines=[("SKU-BAG-1701", 1, "1299")]
        )
    )
    flow = _flow(demo_integration)
    _run_until(
        flow,
        wait_until,
        lambda: SyncDocument.objects.filter(flow=flow, state=S.BLOCKED).exists(),
    )
    doc = SyncDocument.objects.get(flow=flow, platform_order_no="TWD-1")
    ticket = ticket_of_document(doc)  # issue 20 point 1: the cause's ticket
    assert ticket.trace_key == f"fx-source:{demo_integration.code}:TWD"
    assert (
        ticket.role == "finance"
        and "TWD" in ticket.title
        and "no rate is guessed" in ticket.message
    )
    assert not ExchangeRate.objects.filter(currency="TWD").exists()

    policy = FxPolicy.objects.create(integration=demo_integration)
    FxCurrencySource.objects.create(
        policy=policy,
        currency="TWD",
        source=CurrencyRateSource.MANUAL,
        basis="No CFETS fixing for TWD; bank's month-start rate agreed with the accountant",
    )
    set_manual_rate(
        currency="TWD",
        rate_date=today_beijing() - timedelta(days=1),
        rate_type="pboc_parity",
        rate=Decimal("0.2231"),
        note="bank rate",
    )
    from django.contrib.auth import get_user_model

    admin = get_user_model().objects.create_superuser("fin", "fin@example.com", "x")
    ticket_retry(ticket=ticket, user=admin)
    _run_until(
        flow, wait_until, lambda: SyncDocument.objects.filter(flow=flow, state=S.SYNCED).exists()
    )
    doc.refresh_from_db()
    assert doc.progress["fx"]["source"] == RateSource.MANUAL
    assert doc.progress["fx"]["fallback_used"] is False
    assert Decimal(str(field(_bill(demo_integration, doc.kingdee_bill_no), "ExchangeRate"))) == (
        Decimal("0.2231")
    )
    assert not FallbackRateBooking.objects.exists()


@pytest.mark.usefixtures("english")  # asserts English text made by the worker
def test_fallback_rate_opens_a_ticket_and_re_rates(
    demo_integration, storefront, celery_worker, wait_until, admin_client
):
    """Point 3: GIVEN the CFETS source down WHEN a GBP order is booked THEN it is booked at the
    ECB cross rate AND a finance ticket 'booked at the ECB cross rate' lists it on a fallback
    booking; WHEN the policy books no fallback THEN a second order waits instead; WHEN CFETS is
    back and finance runs 'Re-rate at the official rate' in the admin THEN the audited Kingdee
    bill carries the official rate, the booking is re-rated and the ticket resolved."""
    cfets = FxSource.objects.get(kind=FxSourceKind.CFETS)
    good_url = cfets.base_url
    ExchangeRate.objects.all().delete()
    FxSource.objects.filter(pk=cfets.pk).update(base_url="http://127.0.0.1:9/cfets")
    storefront.place_and_ship(
        storefront.order(
            so_id="FB-1", shop_id=10002, currency="GBP", country="GB",
            lines=[("SKU-BAG-1701", 1, "39.99")],
        )
    )  # fmt: skip
    flow = _flow(demo_integration)
    _run_until(
        flow, wait_until, lambda: SyncDocument.objects.filter(flow=flow, state=S.SYNCED).exists()
    )
    doc = SyncDocument.objects.get(flow=flow, platform_order_no="FB-1")
    assert doc.progress["fx"]["fallback_used"] is True
    booking = FallbackRateBooking.objects.get(currency="GBP")
    assert list(booking.documents.all()) == [doc] and booking.status == FallbackRateStatus.OPEN
    ticket = ExceptionTicket.objects.get(trace_key=booking.trace_key, status="open")
    assert ticket.role == "finance" and ticket.error_class == "fx_fallback"
    assert "confirm or re-rate before period close" in ticket.message
    booked = Decimal(str(field(_bill(demo_integration, doc.kingdee_bill_no), "ExchangeRate")))
    assert booked == booking.rate

    FxPolicy.objects.create(integration=demo_integration, allow_fallback=False)
    storefront.place_and_ship(
        storefront.order(
            so_id="FB-2", shop_id=10002, currency="GBP", country="GB",
            lines=[("SKU-BAG-1701", 1, "39.99")],
        )
    )  # fmt: skip
    from flows.tasks import flow_run

    flow_run.delay(flow.pk)
    waiting = wait_until(
        lambda: SyncDocument.objects.filter(
            flow=flow, platform_order_no="FB-2", state=S.WAITING
        ).first(),
        60,
    )
    assert waiting.last_error_class == "fx_unavailable"
    assert list(booking.documents.all()) == [doc]

    FxSource.objects.filter(pk=cfets.pk).update(base_url=good_url)
    response = admin_client.post(
        reverse("admin:finance_fallbackratebooking_changelist"),
        {"action": "rerate_official", "_selected_action": [booking.pk]},
        follow=True,
    )
    assert response.status_code == 200
    booking.refresh_from_db()
    official = official_rate_for(currency="GBP", on_date=booking.rate_date)
    assert booking.status == FallbackRateStatus.RERATED, booking.outcome
    assert booking.official_rate == official.cny_per_unit != booked
    bill = _bill(demo_integration, doc.kingdee_bill_no)
    assert Decimal(str(field(bill, "ExchangeRate"))) == official.cny_per_unit
    assert bill["DocumentStatus"] == "C"
    doc.refresh_from_db()
    assert doc.progress["fx"]["fallback_used"] is False
    ticket.refresh_from_db()
    assert ticket.status == "resolved"


def test_preflight_names_a_currency_without_a_rate_source(demo_integration):
    """Point 3: GIVEN a TWD currency mapping (no CFETS fixing) WHEN the preflight runs THEN a
    failed check names TWD and gates the sales flows; the demo's official currencies pass;
    WHEN finance declares a TWD source THEN the check passes."""
    from connectors.preflight import checks_of, preflight_run

    CodeMapping.objects.create(
        integration=demo_integration, kind="currency", jushuitan_code="TWD", kingdee_code="PRE005"
    )
    run = preflight_run(integration=demo_integration, systems=["kingdee"])
    fx = {c.key: c for c in checks_of(run) if c.key.startswith("fx.source.")}
    assert not fx["fx.source.TWD"].ok and fx["fx.source.TWD"].gates("sales_outbound")
    assert "TWD" in fx["fx.source.TWD"].detail
    assert fx["fx.source.USD"].ok and fx["fx.source.GBP"].ok

    policy = FxPolicy.objects.create(integration=demo_integration)
    FxCurrencySource.objects.create(
        policy=policy, currency="TWD", source=CurrencyRateSource.MANUAL, basis="bank rate"
    )
    run = preflight_run(integration=demo_integration, systems=["kingdee"])
    assert {c.key: c.ok for c in checks_of(run)}["fx.source.TWD"] is True
