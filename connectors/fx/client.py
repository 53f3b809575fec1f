"""Clients of the exchange-rate sources in their real formats
(docs/protocols/alerts-fx-customs.md §2.2).

- CfetsClient: the CFETS central parity (人民币汇率中间价), A `ccpr.json` (latest fixing) and
  B `CcprHisNew` (history, paged, at most 50 rows a page, at most a year a request).
- EcbClient: the ECB euro reference rates, E `eurofxref-daily.xml`, `eurofxref-hist-90d.xml`
  and `eurofxref-hist.zip` (CSV), turned into cross rates to CNY. A reference, not an official
  fixing: whoever uses it says so.

Both return `Fixing` rows and know nothing of the database or of flows.
"""

from __future__ import annotations

import csv
import io
import re
import time
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import requests
from defusedxml import ElementTree

from connectors.errors import DestinationRefused
from connectors.observe import remote_call
from core import netguard

from .errors import FxFormatChanged, FxSourceUnavailable

CFETS_LATEST_PATH = "/r/cms/www/chinamoney/data/fx/ccpr.json"
CFETS_HISTORY_PATH = "/ags/ms/cm-u-bk-ccpr/CcprHisNew"
CFETS_REFERER = "https://www.chinamoney.com.cn/chinese/bkccpr/"
ECB_DAILY_PATH = "/stats/eurofxref/eurofxref-daily.xml"
ECB_90D_PATH = "/stats/eurofxref/eurofxref-hist-90d.xml"
ECB_HISTORY_ZIP_PATH = "/stats/eurofxref/eurofxref-hist.zip"

# The 25 pairs CFETS fixes: 10 direct (CNY per unit, yen per 100), 15 indirect (units per CNY).
CFETS_DIRECT_PAIRS = (
    "USD/CNY",
    "EUR/CNY",
    "100JPY/CNY",
    "HKD/CNY",
    "GBP/CNY",
    "AUD/CNY",
    "NZD/CNY",
    "SGD/CNY",
    "CHF/CNY",
    "CAD/CNY",
)
CFETS_INDIRECT_PAIRS = (
    "CNY/MOP",
    "CNY/MYR",
    "CNY/RUB",
    "CNY/ZAR",
    "CNY/KRW",
    "CNY/AED",
    "CNY/SAR",
    "CNY/HUF",
    "CNY/PLN",
    "CNY/DKK",
    "CNY/SEK",
    "CNY/NOK",
    "CNY/TRY",
    "CNY/MXN",
    "CNY/THB",
)
CFETS_PAIRS = CFETS_DIRECT_PAIRS + CFETS_INDIRECT_PAIRS
# More than ~100 rows a page is answered 403; a year per request is what public clients do.
CFETS_PAGE_SIZE = 50
CFETS_MAX_SPAN_DAYS = 365
ECB_90D_WINDOW_DAYS = 85  # use the 90-day file when the range starts within it (with margin)
ECB_CROSS_PLACES = Decimal("0.00000001")

_PAIR = re.compile(r"^(\d*)([A-Z]{3})/([A-Z]{3})$")
_ECB_NS = "{http://www.ecb.int/vocabulary/2002-08-01/eurofxref}"
_BROWSER_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Safari/537.36"
)


@dataclass(frozen=True)
class Fixing:
    """One published rate. `price` is as published: CNY per `quote_unit` units of `currency`,
    or, when `inverse`, units of `currency` per 1 CNY (CFETS indirect pairs such as CNY/MYR)."""

    currency: str
    rate_date: date
    price: Decimal
    quote_unit: int = 1
    inverse: bool = False
    pair: str = ""

    @property
    def cny_per_unit(self) -> Decimal:
        """CNY for one unit of the currency (unrounded; for display and Kingdee BD_Rate)."""
        if self.inverse:
            return Decimal(1) / self.price
        return self.price / self.quote_unit


@dataclass(frozen=True)
class CfetsSnapshot:
    """What ccpr.json shows: the date of the latest fixing and its rows."""

    fixing_date: date
    fixings: list[Fixing]


def parse_pair(pair: str) -> tuple[str, int, bool]:
    """'USD/CNY' -> ('USD', 1, False); '100JPY/CNY' -> ('JPY', 100, False);
    'CNY/MYR' -> ('MYR', 1, True)."""
    match = _PAIR.match(pair.strip().upper())
    if not match:
        raise FxFormatChanged(f"Unknown currency pair {pair!r}", system="fx")
    unit_text, left, right = match.groups()
    if right == "CNY" and left != "CNY":
        return left, int(unit_text or 1), False
    if left == "CNY" and right != "CNY" and not unit_text:
        return right, 1, True
    raise FxFormatChanged(f"Currency pair {pair!r} is not quoted against CNY", system="fx")


def _decimal(text: object) -> Decimal | None:
    value = str(text).strip()
    if not value or value in {"-", "--", "---", "N/A"}:
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        return None
    return number if number.is_finite() and number > 0 else None


class _HttpSource:
    system = "fx"

    def __init__(
        self,
        *,
        base_url: str,
        timeout: float = 15,
        verify: bool = True,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.verify = verify
        # Redirects are followed (the sources move files), each hop through the SSRF guard:
        # every connection's address is checked after DNS (core.netguard).
        self.session = session or netguard.guarded_session()
        self.session.headers.setdefault("User-Agent", _BROWSER_UA)

    def _get(self, operation: str, path: str, **kwargs) -> requests.Response:
        url = f"{self.base_url}{path}"
        started = time.monotonic()
        status: int | None = None
        error = ""
        try:
            response = self.session.get(url, timeout=self.timeout, verify=self.verify, **kwargs)
            status = response.status_code
            if status >= 500 or status == 429:
                raise FxSourceUnavailable(
                    f"{operation}: the source answered HTTP {status}",
                    system=self.system,
                    code=status,
                )
            if status >= 400:
                raise FxFormatChanged(
                    f"{operation}: the source answered HTTP {status} at {path}",
                    system=self.system,
                    code=status,
                )
            return response
        except netguard.DestinationRefused as exc:
            error = exc.message
            raise DestinationRefused(f"{operation}: {exc.message}", system=self.system) from exc
        except requests.RequestException as exc:
            error = f"{type(exc).__name__}: {exc}"
            raise FxSourceUnavailable(
                f"{operation}: the source could not be reached ({type(exc).__name__})",
                system=self.system,
            ) from exc
        except FxFormatChanged as exc:
            error = exc.message
            raise
        finally:
            remote_call.send(
                sender=type(self),
                system=self.system,
                operation=operation,
                url=url,
                request=kwargs.get("params") or {},
                response="",
                status=status,
                duration_ms=(time.monotonic() - started) * 1000,
                error=error,
                keys={},
            )


class CfetsClient(_HttpSource):
    """The CFETS central parity, published 09:15 Beijing time on interbank trading days."""

    def latest(self) -> CfetsSnapshot:
        response = self._get("cfets.latest", CFETS_LATEST_PATH)
        body = self._json(response)
        try:
            last = str(body["data"]["lastDate"])
            fixing_date = date.fromisoformat(last.split()[0])
            records = body["records"]
        except (KeyError, TypeError, ValueError) as exc:
            raise FxFormatChanged(
                "ccpr.json: no data.lastDate / records", system=self.system
            ) from exc
        fixings = []
        for record in records:
            pair = str(record.get("vrtEName", ""))
            price = _decimal(record.get("price", ""))
            if price is None or not _PAIR.match(pair):
                continue
            currency, unit, inverse = parse_pair(pair)
            fixings.append(Fixing(currency, fixing_date, price, unit, inverse, pair))
        if not fixings:
            raise FxFormatChanged("ccpr.json: no readable records", system=self.system)
        return CfetsSnapshot(fixing_date=fixing_date, fixings=fixings)

    def history(
        self, *, start: date, end: date, pairs: Iterable[str] = CFETS_PAIRS
    ) -> list[Fixing]:
        """Every fixing between start and end (inclusive), paging and splitting by year."""
        pairs = tuple(pairs)
        fixings: list[Fixing] = []
        chunk_start = start
        while chunk_start <= end:
            chunk_end = min(end, chunk_start + timedelta(days=CFETS_MAX_SPAN_DAYS - 1))
            fixings.extend(self._history_chunk(chunk_start, chunk_end, pairs))
            chunk_start = chunk_end + timedelta(days=1)
        return fixings

    def _history_chunk(self, start: date, end: date, pairs: tuple[str, ...]) -> list[Fixing]:
        fixings: list[Fixing] = []
        page, pages = 1, 1
        while page <= pages:
            response = self._get(
                "cfets.history",
                CFETS_HISTORY_PATH,
                params={
                    "startDate": start.isoformat(),
                    "endDate": end.isoformat(),
                    "currency": ",".join(pairs),
                    "pageNum": page,
                    "pageSize": CFETS_PAGE_SIZE,
                },
                headers={"Referer": CFETS_REFERER},
            )
            body = self._json(response)
            try:
                columns = [str(pair) for pair in body["data"]["head"]]
                pages = int(body["data"].get("pageTotal") or 1)
                # The rows are top-level `records`, not data.records (reading the latter
                # silently yields nothing).
                records = body["records"]
            except (KeyError, TypeError, ValueError) as exc:
                raise FxFormatChanged(
                    "CcprHisNew: no data.head / records", system=self.system
                ) from exc
            parsed = [parse_pair(pair) for pair in columns]
            for record in records:
                day = date.fromisoformat(str(record["date"])[:10])
                for (currency, unit, inverse), pair, value in zip(
                    parsed, columns, record.get("values", []), strict=False
                ):
                    price = _decimal(value)
                    if price is not None:
                        fixings.append(Fixing(currency, day, price, unit, inverse, pair))
            page += 1
            if page > 200:
                raise FxFormatChanged("CcprHisNew: more than 200 pages", system=self.system)
        return fixings

    def _json(self, response: requests.Response) -> dict:
        try:
            body = response.json()
        except ValueError as exc:
            raise FxFormatChanged(
                "CFETS answered something that is not JSON", system=self.system
            ) from exc
        head = body.get("head") if isinstance(body, dict) else None
        if not isinstance(head, dict):
            raise FxFormatChanged("CFETS answer has no head", system=self.system)
        if str(head.get("rep_code")) != "200":
            raise FxSourceUnavailable(
                f"CFETS answered rep_code {head.get('rep_code')}",
                system=self.system,
                code=head.get("rep_code"),
                remote_message=str(head.get("rep_message", "")),
            )
        return body


class EcbClient(_HttpSource):
    """ECB euro reference rates (~16:00 CET on TARGET days) as CNY cross rates:
    CNY per unit of X = rate(CNY) / rate(X), both quoted per 1 EUR."""

    def latest(self) -> list[Fixing]:
        return _cross_to_cny(self._xml_days(self._get("ecb.daily", ECB_DAILY_PATH).content))

    def history(self, *, start: date, end: date, today: date | None = None) -> list[Fixing]:
        today = today or datetime.now().astimezone().date()
        if (today - start).days <= ECB_90D_WINDOW_DAYS:
            days = self._xml_days(self._get("ecb.history_90d", ECB_90D_PATH).content)
        else:
            days = self._zip_days(self._get("ecb.history", ECB_HISTORY_ZIP_PATH).content)
        wanted = {day: rates for day, rates in days.items() if start <= day <= end}
        return _cross_to_cny(wanted)

    def _xml_days(self, content: bytes) -> dict[date, dict[str, Decimal]]:
        try:
            root = ElementTree.fromstring(content)
        except ElementTree.ParseError as exc:
            raise FxFormatChanged(
                "ECB answered XML that cannot be parsed", system=self.system
            ) from exc
        days: dict[date, dict[str, Decimal]] = {}
        for cube in root.iter(f"{_ECB_NS}Cube"):
            if "time" not in cube.attrib:
                continue
            day = date.fromisoformat(cube.attrib["time"])
            rates = {}
            for child in cube:
                value = _decimal(child.attrib.get("rate", ""))
                if value is not None:
                    rates[child.attrib["currency"].upper()] = value
            days[day] = rates
        if not days:
            raise FxFormatChanged("ECB XML holds no dated Cube", system=self.system)
        return days

    def _zip_days(self, content: bytes) -> dict[date, dict[str, Decimal]]:
        try:
            with zipfile.ZipFile(io.BytesIO(content)) as archive:
                name = next(n for n in archive.namelist() if n.lower().endswith(".csv"))
                text = archive.read(name).decode("utf-8-sig")
        except (zipfile.BadZipFile, StopIteration) as exc:
            raise FxFormatChanged(
                "ECB history is not a zip with a CSV", system=self.system
            ) from exc
        reader = csv.reader(io.StringIO(text))
        header = [column.strip().upper() for column in next(reader, [])]
        if not header or header[0] != "DATE":
            raise FxFormatChanged("ECB history CSV has no Date column", system=self.system)
        days: dict[date, dict[str, Decimal]] = {}
        for row in reader:
            if not row or not row[0].strip():
                continue
            rates = {}
            for currency, value in zip(header[1:], row[1:], strict=False):
                number = _decimal(value)
                if currency and number is not None:
                    rates[currency] = number
            days[date.fromisoformat(row[0].strip())] = rates
        return days


def _cross_to_cny(days: dict[date, dict[str, Decimal]]) -> list[Fixing]:
    fixings = []
    for day, rates in sorted(days.items()):
        cny = rates.get("CNY")
        if cny is None:
            continue
        fixings.append(Fixing("EUR", day, cny, 1, False, "ECB EUR/CNY"))
        for currency, per_eur in sorted(rates.items()):
            if currency == "CNY":
                continue
            price = (cny / per_eur).quantize(ECB_CROSS_PLACES, rounding=ROUND_HALF_UP)
            fixings.append(Fixing(currency, day, price, 1, False, f"ECB {currency}/CNY cross"))
    return fixings


def client_for(source) -> CfetsClient | EcbClient:
    """The client of an FxSource row."""
    from .models import FxSourceKind

    cls = CfetsClient if source.kind == FxSourceKind.CFETS else EcbClient
    return cls(base_url=source.base_url, timeout=source.timeout_seconds, verify=source.verify_tls)
