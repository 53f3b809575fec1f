"""Exchange rates for booking in CNY (docs/requirements.md F2.2, F2.3, F6.1;
docs/protocols/alerts-fx-customs.md §2).

`rate_for` answers the rate of a currency for a business date: that day's published central
parity; on a day with none (weekend, holiday, before 09:15 publication) the latest earlier one,
and the quote says which date it used. A date is settled once an official source was read
for it after publication: a missing rate then means none was published. When a date is not
settled, the sources are asked in priority order (primary CFETS, then the backup); a quote
from a non-official source is marked `fallback_used`. With no answer it raises
RateUnavailable, which the flows retry (5 minutes × 3, F2.3).

`to_cny` converts with the quote as published (CNY per 1 or per 100 units, or units per CNY)
and rounds once, to the cent, ROUND_HALF_UP.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from connectors.errors import ConnectorError
from connectors.fx.client import CfetsClient, Fixing, client_for
from connectors.fx.models import FxSource
from core.messages import gettext as _

from .choices import (
    NON_OFFICIAL_RATE_SOURCES,
    OFFICIAL_FIXING_CURRENCIES,
    CurrencyRateSource,
    RateSource,
    RateType,
)
from .errors import RateUnavailable
from .models import ExchangeRate, RateFetch

logger = logging.getLogger(__name__)

CENT = Decimal("0.01")
BEIJING = ZoneInfo("Asia/Shanghai")
# How far back the "latest earlier rate" may reach (the longest closure is ~9 days).
LOOKBACK_DAYS: int = getattr(settings, "PORTAL_FX_LOOKBACK_DAYS", 15)
# CFETS publishes at 09:15 Beijing time; a read after this settles the day.
PUBLISHED_AT: time = getattr(settings, "PORTAL_FX_PUBLISHED_AT", time(9, 15))
# A date read successfully this recently is not asked for again (protects the sources when
# thousands of documents of today arrive before publication).
REFETCH_SECONDS: int = getattr(settings, "PORTAL_FX_REFETCH_SECONDS", 600)
# Finance / business rates are entered by people, often once a month: reach further back.
ENTERED_LOOKBACK_DAYS: int = getattr(settings, "PORTAL_FX_ENTERED_LOOKBACK_DAYS", 62)


@dataclass(frozen=True)
class RateQuote:
    """A rate as used on a document: record `rate_date` (the date whose rate was used) next
    to the business date, and the source; `fallback_used` marks a non-official source."""

    rate: Decimal
    rate_date: date
    source: str
    fallback_used: bool
    currency: str = "CNY"
    rate_type: str = RateType.PBOC_PARITY
    quote_unit: int = 1
    inverse: bool = False
    requested_date: date | None = None

    @property
    def cny_per_unit(self) -> Decimal:
        """CNY for one unit of the currency (unrounded; e.g. for Kingdee FExchangeRate)."""
        if self.inverse:
            return Decimal(1) / self.rate
        return self.rate / self.quote_unit

    @property
    def earlier_rate_used(self) -> bool:
        return self.requested_date is not None and self.rate_date != self.requested_date

    def as_dict(self) -> dict:
        data = asdict(self)
        data["rate"] = str(self.rate)
        data["rate_date"] = self.rate_date.isoformat()
        data["requested_date"] = self.requested_date.isoformat() if self.requested_date else None
        return data


def to_cny(amount: Decimal | int | str, quote: RateQuote) -> Decimal:
    """Amount in the quote's currency -> CNY, quantized to the cent with ROUND_HALF_UP.
    Floats are refused: they carry binary rounding errors into money."""
    if isinstance(amount, float):
        raise TypeError("to_cny takes Decimal, int or str amounts, not float")
    value = Decimal(amount)
    cny = value / quote.rate if quote.inverse else value * quote.rate / quote.quote_unit
    return cny.quantize(CENT, rounding=ROUND_HALF_UP)


def _quote(row: ExchangeRate, requested: date) -> RateQuote:
    return RateQuote(
        rate=row.rate,
        rate_date=row.rate_date,
        source=row.source,
        fallback_used=row.source in NON_OFFICIAL_RATE_SOURCES,
        currency=row.currency,
        rate_type=row.rate_type,
        quote_unit=row.quote_unit,
        inverse=row.inverse,
        requested_date=requested,
    )


def _latest(
    currency: str,
    rate_type: str,
    on_date: date,
    *,
    official: bool | None = None,
    lookback: int = LOOKBACK_DAYS,
) -> ExchangeRate | None:
    rows = ExchangeRate.objects.filter(
        currency=currency,
        rate_type=rate_type,
        rate_date__lte=on_date,
        rate_date__gte=on_date - timedelta(days=lookback),
    )
    if official is True:
        rows = rows.exclude(source__in=NON_OFFICIAL_RATE_SOURCES)
    elif official is False:
        rows = rows.filter(source__in=NON_OFFICIAL_RATE_SOURCES)
    return rows.order_by("-rate_date").first()


def _settled(on_date: date) -> bool:
    """Whether an official source was read for this date after publication (or very
    recently): then the latest earlier rate is the answer for a date without one."""
    recent = timezone.now() - timedelta(seconds=REFETCH_SECONDS)
    fetches = RateFetch.objects.filter(
        ok=True,
        source__official=True,
        requested_from__lte=on_date,
        requested_to__gte=on_date,
    )
    return (
        fetches.filter(settled_to__gte=on_date).exists()
        or fetches.filter(fetched_at__gte=recent).exists()
    )


def rate_for(*, currency: str, on_date: date, rate_type: str = RateType.PBOC_PARITY) -> RateQuote:
    """The rate of `currency` for the business date `on_date` (see the module docstring)."""
    currency = currency.strip().upper()
    if currency == "CNY":
        return RateQuote(
            Decimal(1), on_date, "identity", False, "CNY", rate_type, 1, False, on_date
        )
    if rate_type != RateType.PBOC_PARITY:
        row = _latest(currency, rate_type, on_date, lookback=ENTERED_LOOKBACK_DAYS)
        if row is not None:
            return _quote(row, on_date)
        raise RateUnavailable(
            _(
                "No %(type)s for %(currency)s on or before %(date)s. Finance enters it under "
                "Mappings › exchange rates."
            )
            % {"type": RateType(rate_type).label, "currency": currency, "date": on_date},
            currency=currency,
            on_date=on_date,
            rate_type=rate_type,
        )

    row = _latest(currency, rate_type, on_date, official=True)
    if row is not None and (row.rate_date == on_date or _settled(on_date)):
        return _quote(row, on_date)

    tried: list[str] = []
    for source in FxSource.objects.filter(enabled=True).order_by("priority", "pk"):
        try:
            fetch_rates(source=source, start=on_date - timedelta(days=LOOKBACK_DAYS), end=on_date)
        except ConnectorError as exc:
            tried.append(f"{source.name}: {exc.message}")
            continue
        row = _latest(currency, rate_type, on_date, official=source.official)
        if row is not None:
            return _quote(row, on_date)
        tried.append(
            _("%(source)s: no %(currency)s rate up to %(date)s")
            % {"source": source.name, "currency": currency, "date": on_date}
        )
    if not tried:
        tried.append(_("no enabled exchange-rate source"))
    raise RateUnavailable(
        _(
            "No exchange rate for %(currency)s on %(date)s: %(tried)s. The record is retried "
            "later; if it persists, check the sources under Exchange-rate sources or enter the "
            "rate under Mappings › exchange rates."
        )
        % {"currency": currency, "date": on_date, "tried": "; ".join(tried)},
        currency=currency,
        on_date=on_date,
        rate_type=rate_type,
        tried=tried,
    )


class RateBook:
    """Per-batch cache of rate_for answers (and of RateUnavailable), so a batch of thousands
    of documents asks the database, and at worst the sources, once per currency and date."""

    def __init__(self) -> None:
        self._answers: dict[tuple[str, date, str], RateQuote | RateUnavailable] = {}

    def rate_for(
        self, *, currency: str, on_date: date, rate_type: str = RateType.PBOC_PARITY
    ) -> RateQuote:
        key = (currency.strip().upper(), on_date, rate_type)
        if key not in self._answers:
            try:
                self._answers[key] = rate_for(currency=key[0], on_date=on_date, rate_type=rate_type)
            except RateUnavailable as exc:
                self._answers[key] = exc
        answer = self._answers[key]
        if isinstance(answer, RateUnavailable):
            raise answer
        return answer


# --- Writes ---------------------------------------------------------------------------------


def _settled_to(end: date) -> date:
    now = timezone.now().astimezone(BEIJING)
    today = now.date()
    if end < today:
        return end
    return today if now.time() >= PUBLISHED_AT else today - timedelta(days=1)


def store_fixings(*, fixings: list[Fixing], source_kind: str) -> int:
    """Upsert published rates as the PBOC-parity rate type. Never overwrites a manual
    override, and never replaces an official rate by a reference one. Returns rows written."""
    if not fixings:
        return 0
    incoming_official = source_kind not in NON_OFFICIAL_RATE_SOURCES
    now = timezone.now()
    days = [f.rate_date for f in fixings]
    existing = {
        (row.currency, row.rate_date): row
        for row in ExchangeRate.objects.filter(
            rate_type=RateType.PBOC_PARITY,
            rate_date__gte=min(days),
            rate_date__lte=max(days),
            currency__in={f.currency for f in fixings},
        )
    }
    new_rows: dict[tuple[str, date], ExchangeRate] = {}
    written = 0
    with transaction.atomic():
        for fixing in fixings:
            key = (fixing.currency, fixing.rate_date)
            row = existing.get(key)
            if row is None:
                new_rows[key] = ExchangeRate(
                    currency=fixing.currency,
                    rate_date=fixing.rate_date,
                    rate_type=RateType.PBOC_PARITY,
                    rate=fixing.price,
                    quote_unit=fixing.quote_unit,
                    inverse=fixing.inverse,
                    source=source_kind,
                    fetched_at=now,
                    note=fixing.pair,
                )
                continue
            if row.manual_override:
                continue
            if not incoming_official and row.source not in NON_OFFICIAL_RATE_SOURCES:
                continue
            changed = (row.rate, row.quote_unit, row.inverse, row.source) != (
                fixing.price,
                fixing.quote_unit,
                fixing.inverse,
                source_kind,
            )
            if changed:
                row.rate, row.quote_unit, row.inverse = (
                    fixing.price,
                    fixing.quote_unit,
                    fixing.inverse,
                )
                row.source, row.fetched_at, row.note = source_kind, now, fixing.pair
                row.save()
                written += 1
        if new_rows:
            bulk_create_with_history(list(new_rows.values()), ExchangeRate, batch_size=500)
            written += len(new_rows)
    return written


def fetch_rates(*, source: FxSource, start: date, end: date) -> int:
    """Read one source for a date range and store what it published; every read is logged
    (RateFetch), and a successful official read settles the range. Raises ConnectorError."""
    client = client_for(source)
    log = RateFetch(source=source, requested_from=start, requested_to=end)
    try:
        if isinstance(client, CfetsClient):
            fixings = client.history(start=start, end=end)
        else:
            fixings = client.history(start=start, end=end, today=timezone.localdate())
    except ConnectorError as exc:
        log.error = exc.message
        log.save()
        logger.warning("FX source %s failed for %s..%s: %s", source.name, start, end, exc.message)
        raise
    written = store_fixings(fixings=fixings, source_kind=_source_kind(source))
    log.ok = True
    log.records = len(fixings)
    log.settled_to = _settled_to(end) if source.official else None
    log.save()
    return written


def _source_kind(source: FxSource) -> str:
    return RateSource.CFETS if source.official else RateSource.ECB


def fetch_latest_rates(*, days: int = 7) -> dict:
    """The daily job: read the last `days` days from the first source that answers."""
    end = timezone.now().astimezone(BEIJING).date()
    start = end - timedelta(days=days)
    errors = []
    for source in FxSource.objects.filter(enabled=True).order_by("priority", "pk"):
        try:
            written = fetch_rates(source=source, start=start, end=end)
        except ConnectorError as exc:
            errors.append(f"{source.name}: {exc.message}")
            continue
        return {"source": source.name, "written": written, "errors": errors}
    return {"source": None, "written": 0, "errors": errors}


def set_manual_rate(
    *,
    currency: str,
    rate_date: date,
    rate_type: str,
    rate: Decimal,
    quote_unit: int = 1,
    inverse: bool = False,
    note: str = "",
    user=None,
) -> ExchangeRate:
    """A person sets a rate: marked as a manual override, never overwritten by fetches."""
    row = ExchangeRate.objects.filter(
        currency=currency.upper(), rate_date=rate_date, rate_type=rate_type
    ).first() or ExchangeRate(currency=currency.upper(), rate_date=rate_date, rate_type=rate_type)
    row.rate, row.quote_unit, row.inverse = Decimal(rate), quote_unit, inverse
    row.source, row.manual_override, row.note = RateSource.MANUAL, True, note
    row.fetched_at = None
    row.full_clean()
    if user is not None:
        row._history_user = user
    row.save()
    return row


def today_beijing() -> date:
    return datetime.now(BEIJING).date()


# --- The integration's FX policy (issue 19 point 3) -----------------------------------------


class SourceUndeclared(RateUnavailable):
    """A currency without an official fixing and no declared source: a person decides."""


def policy_of(integration):
    """The integration's FX policy; the default (ship date, fallback allowed) when none."""
    from .models import FxPolicy

    policy = FxPolicy.objects.filter(integration=integration).first()
    return policy or FxPolicy(integration=integration)


def _entered_rate(currency: str, on_date: date) -> ExchangeRate | None:
    return (
        ExchangeRate.objects.filter(
            currency=currency,
            rate_type=RateType.PBOC_PARITY,
            source__in=(RateSource.MANUAL, RateSource.IMPORT),
            rate_date__lte=on_date,
            rate_date__gte=on_date - timedelta(days=ENTERED_LOOKBACK_DAYS),
        )
        .order_by("-rate_date")
        .first()
    )


def _reference_rate(currency: str, on_date: date, source: FxSource) -> RateQuote:
    """A declared reference source: its own rate (never marked as a fallback)."""
    row = _latest(currency, RateType.PBOC_PARITY, on_date, official=False)
    if row is None or (row.rate_date != on_date and not _settled(on_date)):
        fetch_rates(source=source, start=on_date - timedelta(days=LOOKBACK_DAYS), end=on_date)
        row = _latest(currency, RateType.PBOC_PARITY, on_date, official=False)
    if row is None:
        raise RateUnavailable(
            _("%(source)s publishes no %(currency)s rate up to %(date)s.")
            % {"source": source.name, "currency": currency, "date": on_date},
            currency=currency,
            on_date=on_date,
            rate_type=RateType.PBOC_PARITY,
        )
    quote = _quote(row, on_date)
    return RateQuote(**{**quote.__dict__, "fallback_used": False})


def policy_rate_for(*, integration, currency: str, business_date: date) -> RateQuote:
    """The rate of `currency` for a document of `business_date` under the integration's FX
    policy: the rate date by its rule; the source declared for the currency (official by
    default where CFETS fixes one); a fallback only where the policy allows it (the caller
    opens the finance ticket). Raises RateUnavailable / SourceUndeclared."""
    from .models import FxCurrencySource

    currency = currency.strip().upper()
    policy = policy_of(integration)
    on_date = policy.rate_date(business_date)
    declared = (
        FxCurrencySource.objects.filter(policy_id=policy.pk, currency=currency)
        .select_related("reference_source")
        .first()
        if policy.pk
        else None
    )
    kind = declared.source if declared else None
    if kind is None:
        if currency != "CNY" and currency not in OFFICIAL_FIXING_CURRENCIES:
            raise SourceUndeclared(
                _(
                    "%(currency)s has no official central parity and no declared rate source. "
                    "Finance declares one under Mappings › FX policies (a reference source or "
                    "rates entered by finance); no rate is guessed."
                )
                % {"currency": currency},
                currency=currency,
                on_date=on_date,
                rate_type=RateType.PBOC_PARITY,
            )
        kind = CurrencyRateSource.OFFICIAL
    if kind == CurrencyRateSource.MANUAL:
        row = _entered_rate(currency, on_date)
        if row is None:
            raise RateUnavailable(
                _(
                    "No rate entered for %(currency)s on or before %(date)s (declared source: "
                    "rates entered by finance). Enter it under Mappings › exchange rates."
                )
                % {"currency": currency, "date": on_date},
                currency=currency,
                on_date=on_date,
                rate_type=RateType.PBOC_PARITY,
            )
        return _quote(row, on_date)
    if kind == CurrencyRateSource.REFERENCE:
        try:
            return _reference_rate(currency, on_date, declared.reference_source)
        except ConnectorError as exc:
            raise RateUnavailable(
                _("%(source)s: %(error)s")
                % {"source": declared.reference_source.name, "error": exc.message},
                currency=currency,
                on_date=on_date,
                rate_type=RateType.PBOC_PARITY,
            ) from exc
    quote = rate_for(currency=currency, on_date=on_date)
    if quote.fallback_used and not policy.allow_fallback:
        raise RateUnavailable(
            _(
                "The official rate of %(currency)s for %(date)s is unavailable and the FX "
                "policy books no reference rate: the record waits for the official one."
            )
            % {"currency": currency, "date": on_date},
            currency=currency,
            on_date=on_date,
            rate_type=RateType.PBOC_PARITY,
        )
    return quote


def official_rate_for(*, currency: str, on_date: date) -> RateQuote:
    """The official (or finance-entered) rate of a date, never a reference one: for
    re-rating a document booked at a fallback rate. Raises RateUnavailable."""
    row = _latest(currency, RateType.PBOC_PARITY, on_date, official=True)
    if row is None or (row.rate_date != on_date and not _settled(on_date)):
        for source in FxSource.objects.filter(enabled=True, official=True).order_by("priority"):
            try:
                fetch_rates(
                    source=source, start=on_date - timedelta(days=LOOKBACK_DAYS), end=on_date
                )
            except ConnectorError:
                continue
            break
        row = _latest(currency, RateType.PBOC_PARITY, on_date, official=True)
    if row is None:
        raise RateUnavailable(
            _(
                "The official rate of %(currency)s for %(date)s is still unavailable. Enter "
                "it under Mappings › exchange rates (a manual override), then re-rate."
            )
            % {"currency": currency, "date": on_date},
            currency=currency,
            on_date=on_date,
            rate_type=RateType.PBOC_PARITY,
        )
    return _quote(row, on_date)
