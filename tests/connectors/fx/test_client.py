"""The FX source clients against the FX simulator over real HTTP (F2.2, F2.3)."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
import requests

from connectors.fx.client import CFETS_PAIRS, CfetsClient, EcbClient, parse_pair
from connectors.fx.errors import FxFormatChanged, FxSourceUnavailable
from sandbox import faults
from sandbox.fx import world

pytestmark = pytest.mark.django_db(transaction=True)


def test_parse_pair_knows_the_three_quotation_conventions():
    """F2.2: direct pairs, JPY per 100, and indirect pairs (units per CNY)."""
    assert parse_pair("USD/CNY") == ("USD", 1, False)
    assert parse_pair("100JPY/CNY") == ("JPY", 100, False)
    assert parse_pair("CNY/MYR") == ("MYR", 1, True)
    with pytest.raises(FxFormatChanged):
        parse_pair("USD/EUR")


def test_cfets_latest_reads_the_published_fixing(fx_sandbox):
    """GIVEN the CFETS simulator WHEN the latest fixing is read THEN all 25 pairs come back with
    the fixing date, JPY quoted per 100 and indirect pairs flagged (F2.2)."""
    snapshot = CfetsClient(base_url=fx_sandbox.cfets.base_url).latest()
    assert snapshot.fixing_date == world.latest_fixing_day()
    by_currency = {f.currency: f for f in snapshot.fixings}
    assert len(by_currency) == len(CFETS_PAIRS) == 25
    usd = by_currency["USD"]
    assert usd.price == world.fixing_price("USD/CNY", snapshot.fixing_date)
    assert (by_currency["JPY"].quote_unit, by_currency["JPY"].inverse) == (100, False)
    assert (by_currency["MYR"].quote_unit, by_currency["MYR"].inverse) == (1, True)


def test_cfets_history_pages_and_has_no_rate_on_closed_days(fx_sandbox):
    """GIVEN four months including the National Day holiday WHEN the history is read THEN the
    client pages through (50 rows a page) and returns exactly the trading days (F2.2)."""
    start, end = date(2025, 6, 1), date(2025, 10, 12)
    fixings = CfetsClient(base_url=fx_sandbox.cfets.base_url).history(
        start=start, end=end, pairs=("USD/CNY", "100JPY/CNY")
    )
    days = {f.rate_date for f in fixings}
    expected = {
        start + timedelta(days=n)
        for n in range((end - start).days + 1)
        if world.is_fixing_day(start + timedelta(days=n))
    }
    assert days == expected
    assert len(expected) > 50  # more than one page
    assert not any(date(2025, 10, 1) <= d <= date(2025, 10, 8) for d in days)
    assert len(fixings) == 2 * len(expected)


def test_cfets_history_refuses_big_pages_like_the_real_site(fx_sandbox):
    """The simulator answers 403 to pageSize >= 100, as reported of the real endpoint."""
    answer = requests.get(
        f"{fx_sandbox.cfets.base_url}/ags/ms/cm-u-bk-ccpr/CcprHisNew",
        params={"startDate": "2025-01-01", "endDate": "2025-03-01", "pageSize": 100},
        timeout=10,
    )
    assert answer.status_code == 403


def test_ecb_daily_and_history_become_cny_cross_rates(fx_sandbox):
    """GIVEN the ECB simulator WHEN daily, 90-day and zipped history are read THEN each gives
    CNY per unit cross rates: EUR directly, USD as rate(CNY) / rate(USD) (F2.3 backup)."""
    client = EcbClient(base_url=fx_sandbox.ecb.base_url)
    latest = {f.currency: f for f in client.latest()}
    assert {"EUR", "USD", "JPY", "GBP"} <= latest.keys()
    day = latest["EUR"].rate_date
    rates = world.ecb_rates_on(day)
    assert latest["EUR"].price == rates["CNY"]
    assert latest["USD"].price == (rates["CNY"] / rates["USD"]).quantize(Decimal("0.00000001"))

    old = client.history(start=date(2025, 9, 29), end=date(2025, 10, 3))  # the zipped CSV
    old_days = {f.rate_date for f in old}
    assert date(2025, 10, 1) in old_days  # TARGET is open on Chinese National Day
    recent_start = world.now_beijing().date() - timedelta(days=20)
    recent = client.history(start=recent_start, end=world.now_beijing().date())  # 90-day XML
    assert recent and all(f.rate_date >= recent_start for f in recent)


def test_unreachable_or_failing_source_raises_a_transient_error(fx_sandbox):
    """F2.3: a refused connection and a 5xx are both FxSourceUnavailable (retry / fall back)."""
    with pytest.raises(FxSourceUnavailable):
        CfetsClient(base_url="http://127.0.0.1:9", timeout=2).latest()
    faults.set_profile("fx", error_rate=1)
    with pytest.raises(FxSourceUnavailable) as caught:
        EcbClient(base_url=fx_sandbox.ecb.base_url).latest()
    assert caught.value.code == 502
