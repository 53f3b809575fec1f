"""Exchange rates: conversion arithmetic, the holiday rule, the source fallback order and the
unavailable error (F2.2, F2.3, F6.1)."""

from datetime import date
from decimal import Decimal

import pytest

from mappings.choices import RateSource, RateType
from mappings.errors import RateUnavailable
from mappings.models import ExchangeRate, RateFetch
from mappings.rates import RateBook, RateQuote, rate_for, set_manual_rate, to_cny
from mappings.tasks import fetch_exchange_rates
from sandbox import faults
from sandbox.fx import world


def _quote(rate: str, unit: int = 1, inverse: bool = False) -> RateQuote:
    return RateQuote(
        Decimal(rate), date(2025, 9, 30), "cfets", False, "XXX", "pboc_parity", unit, inverse
    )


def test_to_cny_rounds_half_up_to_the_cent():
    """F2.2: 1.50 × 5.91 = 8.865 → 8.87 (half up, where banker's rounding would give 8.86)."""
    assert to_cny(Decimal("1.50"), _quote("5.91")) == Decimal("8.87")
    assert to_cny(Decimal("19.99"), _quote("7.1225")) == Decimal("142.38")
    assert to_cny(Decimal("-19.99"), _quote("7.1225")) == Decimal("-142.38")
    assert to_cny(0, _quote("7.1225")) == Decimal("0.00")


def test_to_cny_honours_quote_units_and_indirect_quotes():
    """F2.2: JPY is quoted per 100 yen; CNY/MYR is quoted as ringgit per yuan."""
    assert to_cny(Decimal("1000"), _quote("4.7812", unit=100)) == Decimal("47.81")
    assert to_cny(Decimal("100"), _quote("0.6300", inverse=True)) == Decimal("158.73")
    assert _quote("4.7812", unit=100).cny_per_unit == Decimal("0.047812")


def test_to_cny_refuses_floats():
    with pytest.raises(TypeError):
        to_cny(19.99, _quote("7.1"))


@pytest.mark.django_db(transaction=True)
def test_rate_of_a_trading_day_comes_from_the_primary(fx_sandbox):
    """GIVEN a trading day WHEN its USD rate is asked THEN the CFETS fixing of that day is
    fetched, stored and returned, not marked as a fallback (F2.2)."""
    quote = rate_for(currency="usd", on_date=date(2025, 9, 30))
    assert quote.rate == world.fixing_price("USD/CNY", date(2025, 9, 30))
    assert (quote.rate_date, quote.source, quote.fallback_used) == (
        date(2025, 9, 30),
        RateSource.CFETS,
        False,
    )
    assert not quote.earlier_rate_used
    assert ExchangeRate.objects.filter(currency="JPY", quote_unit=100).exists()
    assert RateFetch.objects.filter(ok=True, source=fx_sandbox.cfets).count() == 1


@pytest.mark.django_db(transaction=True)
def test_holiday_and_weekend_use_the_latest_earlier_fixing(fx_sandbox):
    """GIVEN National Day (no fixing 1–8 Oct) and a Saturday WHEN rates are asked THEN the
    latest earlier fixing is used and the quote says which date; a settled date is not
    fetched again (F2.2 holiday rule)."""
    holiday = rate_for(currency="USD", on_date=date(2025, 10, 3))
    assert holiday.rate_date == date(2025, 9, 30)
    assert holiday.requested_date == date(2025, 10, 3)
    assert holiday.earlier_rate_used and not holiday.fallback_used
    assert holiday.as_dict()["rate_date"] == "2025-09-30"
    fetches = RateFetch.objects.count()
    again = rate_for(currency="EUR", on_date=date(2025, 10, 2))
    assert again.rate_date == date(2025, 9, 30)
    assert RateFetch.objects.count() == fetches  # settled: answered from the table

    saturday = rate_for(currency="JPY", on_date=date(2025, 9, 13))
    assert saturday.rate_date == date(2025, 9, 12)
    assert saturday.quote_unit == 100


@pytest.mark.django_db(transaction=True)
def test_primary_down_falls_back_to_the_backup_and_says_so(fx_sandbox):
    """GIVEN the CFETS source unreachable WHEN a rate is asked THEN the ECB backup answers and
    the quote is marked as a fallback (F2.3)."""
    fx_sandbox.cfets.base_url = "http://127.0.0.1:9"
    fx_sandbox.cfets.timeout_seconds = 2
    fx_sandbox.cfets.save()
    quote = rate_for(currency="USD", on_date=date(2025, 10, 3))
    rates = world.ecb_rates_on(date(2025, 10, 3))
    assert quote.fallback_used
    assert quote.source == RateSource.ECB
    assert quote.rate_date == date(2025, 10, 3)
    assert quote.rate == (rates["CNY"] / rates["USD"]).quantize(Decimal("0.00000001"))
    assert RateFetch.objects.filter(ok=False, source=fx_sandbox.cfets).count() == 1


@pytest.mark.django_db(transaction=True)
def test_both_sources_down_raise_rate_unavailable(fx_sandbox):
    """GIVEN both sources failing WHEN a rate is asked THEN RateUnavailable names both and
    carries the 5 minutes × 3 retry rule; a batch asks the sources only once (F2.3)."""
    faults.set_profile("fx", error_rate=1)
    book = RateBook()
    with pytest.raises(RateUnavailable) as caught:
        book.rate_for(currency="USD", on_date=date(2025, 9, 30))
    error = caught.value
    assert len(error.tried) == 2
    assert "CFETS" in error.message and "ECB" in error.message
    assert (error.retry_delay_seconds, error.max_retries) == (300, 3)
    assert error.as_dict()["extra"]["currency"] == "USD"
    fetches = RateFetch.objects.count()
    with pytest.raises(RateUnavailable):
        book.rate_for(currency="USD", on_date=date(2025, 9, 30))
    assert RateFetch.objects.count() == fetches


@pytest.mark.django_db(transaction=True)
def test_manual_override_survives_fetches(fx_sandbox):
    """GIVEN finance set a rate by hand WHEN the sources are read THEN the override stays and
    is what lookups return (F6.1; history keeps both versions)."""
    row = set_manual_rate(
        currency="USD",
        rate_date=date(2025, 9, 30),
        rate_type=RateType.PBOC_PARITY,
        rate=Decimal("7.0000"),
        note="agreed with the accountant",
    )
    quote = rate_for(currency="USD", on_date=date(2025, 10, 2))  # fetches around it
    assert quote.rate == Decimal("7.0000")
    assert quote.source == RateSource.MANUAL
    row.refresh_from_db()
    assert row.manual_override and row.history.count() == 1
    assert ExchangeRate.objects.filter(currency="EUR", rate_date=date(2025, 9, 30)).exists()


@pytest.mark.django_db
def test_finance_and_business_rates_come_from_the_table_only():
    """F6.1: the finance rate is what finance enters; missing, it is RateUnavailable."""
    with pytest.raises(RateUnavailable):
        rate_for(currency="USD", on_date=date(2025, 9, 30), rate_type=RateType.FINANCE)
    set_manual_rate(
        currency="USD", rate_date=date(2025, 9, 1), rate_type=RateType.FINANCE, rate="7.2000"
    )
    quote = rate_for(currency="USD", on_date=date(2025, 9, 30), rate_type=RateType.FINANCE)
    assert (quote.rate, quote.rate_date) == (Decimal("7.2000"), date(2025, 9, 1))
    assert rate_for(currency="CNY", on_date=date(2025, 9, 30)).rate == 1


@pytest.mark.django_db(transaction=True)
def test_daily_task_fetches_the_latest_fixings(fx_sandbox):
    """GIVEN the simulator WHEN the scheduled task runs THEN the latest fixing is stored."""
    summary = fetch_exchange_rates()
    assert summary["source"] == "CFETS central parity"
    assert ExchangeRate.objects.filter(
        currency="USD", rate_date=world.latest_fixing_day(), source=RateSource.CFETS
    ).exists()
