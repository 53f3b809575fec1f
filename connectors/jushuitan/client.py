"""Jushuitan (聚水潭) open-platform client: signing, tokens, rate limit, paging, typed errors.

Wire protocol: docs/protocols/jushuitan.md (§ numbers below). Every call is a signed form POST;
the answer is `{"code", "msg", "data"}`. `call()` returns `data` or raises a typed error
from connectors.errors, keeping Jushuitan's code and msg. The client knows no flows.
"""

from __future__ import annotations

import logging
import random
import secrets
import string
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import requests
from django.utils import timezone
from django.utils.translation import gettext_noop

from connectors.errors import (
    AuthError,
    BusinessError,
    ConnectorError,
    DestinationRefused,
    RateLimited,
    TransientError,
    UnknownOutcome,
)
from connectors.observe import remote_call
from connectors.ratelimit import Window, get_limiter
from core import netguard
from core.logging import mask_text
from core.messages import gettext as _

from .choices import WindowBegin
from .signing import dump_biz, sign

logger = logging.getLogger(__name__)

SYSTEM = "jushuitan"
BEIJING = ZoneInfo("Asia/Shanghai")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

TOKEN_INIT_PATH = "/openWeb/auth/getInitToken"  # noqa: S105
TOKEN_EXCHANGE_PATH = "/openWeb/auth/accessToken"  # noqa: S105
TOKEN_REFRESH_PATH = "/openWeb/auth/refreshToken"  # noqa: S105

CODE_TOKEN_INVALID = 100
CODE_STALE_TIMESTAMP = 180
# Sources disagree whether a stale timestamp is 140 or 180 (docs/protocols/jushuitan.md §1.6):
# a 140 whose message names the timestamp is treated like 180.
CODE_BAD_PARAMETER = 140
CODE_REFRESH_FORBIDDEN = 150
RATE_LIMIT_CODES = frozenset({199, 200})
AUTH_CODES = frozenset({10, 110, 120, 21024})
TRANSIENT_CODES = frozenset({150})

# What a person should do about each code (docs/protocols/jushuitan.md §1.6).
_CODE_HINTS = {
    10: gettext_noop("The signature was rejected: check the app secret of the connection."),
    120: gettext_noop("The signature was rejected: check the app secret of the connection."),
    100: gettext_noop("The access token is invalid or expired: refresh the token (admin action)."),
    110: gettext_noop(
        "This server's IP address is not on the app's whitelist in the Jushuitan console."
    ),
    130: gettext_noop("A required parameter is missing in the request."),
    140: gettext_noop("A parameter is invalid (page size, time window or value)."),
    150: gettext_noop(
        "Jushuitan had an internal error; the call will be retried. From refreshToken it means "
        "the merchant must authorise the app again."
    ),
    160: gettext_noop("Jushuitan refused to save the document (business rule)."),
    170: gettext_noop("The shop does not exist or does not belong to this company."),
    180: gettext_noop("The server clock differs from Jushuitan's by more than 10 minutes."),
    190: gettext_noop("The app has no permission for this API: add it to the app's API package."),
    199: gettext_noop("Too many calls per second."),
    200: gettext_noop("Too many calls per minute."),
    21024: gettext_noop(
        "Only self-developed apps may obtain a token this way: authorise the ISV app."
    ),
}


def stale_timestamp(envelope: dict) -> bool:
    """180, or a 140 whose message names the timestamp (§1.6: sources disagree on the code)."""
    code = envelope.get("code")
    if code == CODE_STALE_TIMESTAMP:
        return True
    text = str(envelope.get("msg") or "").lower()
    return code == CODE_BAD_PARAMETER and ("timestamp" in text or "时间戳" in text)


def to_beijing(moment: datetime) -> str:
    """An aware datetime as Jushuitan writes times: `YYYY-MM-DD HH:mm:ss` in Beijing time."""
    return moment.astimezone(BEIJING).strftime(TIME_FORMAT)


def parse_time(value: Any) -> datetime | None:
    """Lenient parse of a Jushuitan time (Beijing, optional .fff) into an aware datetime."""
    if not value:
        return None
    text = str(value).strip().replace("T", " ")
    for fmt in (TIME_FORMAT + ".%f", TIME_FORMAT, "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=BEIJING)
        except ValueError:
            continue
    return None


@dataclass(frozen=True)
class Endpoint:
    """A query endpoint: where its rows are and how far it may be asked at once.

    docs/protocols/jushuitan.md §2.2, §2.4."""

    path: str
    list_key: str = "datas"
    max_page_size: int = 50
    max_window: timedelta | None = timedelta(days=7)
    key_fields: tuple[str, ...] = ("io_id",)


ENDPOINTS: dict[str, Endpoint] = {
    "orders": Endpoint("/open/orders/single/query", "orders", 100, key_fields=("o_id",)),
    "sales_out": Endpoint("/open/orders/out/simple/query", "datas", 50),
    "refunds": Endpoint("/open/refund/single/query", "datas", 50, key_fields=("as_id",)),
    # Goods actually received back (退仓单 per receipt batch, docId=40) [S].
    "aftersale_received": Endpoint("/open/aftersale/received/query", "datas", 50),
    "skus": Endpoint("/open/sku/query", "datas", 50, key_fields=("sku_id",)),
    "inventory": Endpoint("/open/inventory/query", "inventorys", 100, key_fields=("sku_id",)),
    "stock_counts": Endpoint("/open/inventory/count/query", "datas", 50),
    "purchase_in": Endpoint("/open/purchasein/query", "datas", 50),
    "purchase_out": Endpoint("/open/purchaseout/query", "datas", 50),
    "allocations": Endpoint("/open/allocate/query", "datas", 50),
    "other_inout": Endpoint("/open/other/inout/query", "datas", 50),
    "shops": Endpoint("/open/shops/query", "datas", 100, None, key_fields=("shop_id",)),
    # Max page size undocumented (default 30) [U]: 30 is what the docs promise.
    "warehouses": Endpoint("/open/wms/partner/query", "datas", 30, None, ("wms_co_id",)),
    "suppliers": Endpoint(
        "/open/supplier/query", "datas", 500, timedelta(days=1), key_fields=("supplier_id",)
    ),
}


# Every status a purchase-in can have (§3.8), for lookups by external id.
ALL_PURCHASE_IN_STATUSES = (
    "WaitConfirm",
    "Confirmed",
    "OuterConfirming",
    "Archive",
    "Cancelled",
    "Delete",
)


@dataclass(frozen=True)
class RowResult:
    """One record of an upload answer: did it land, under which Jushuitan id."""

    key: str
    ok: bool
    remote_id: str
    message: str
    raw: dict
    # Neither a success flag nor an id: the write may or may not have landed.
    unknown: bool = False


def success_flag(value: Any) -> bool | None:
    """A row's is_success / issuccess as Jushuitan writes it: a bool, or a string / number
    ("true", "false", "1", "0", 1, 0). None when absent or unreadable (docs/protocols/
    jushuitan.md §1.5: the public SDK types the flag as a string)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "1", "yes", "y"):
            return True
        if text in ("false", "0", "no", "n"):
            return False
    return None


def _row_results(rows: Iterable[dict], key_field: str, id_field: str) -> list[RowResult]:
    """Per-record results of an upload. The flag decides; a row without a readable flag but
    with an id landed; a row with neither is an unknown outcome (`ok` False, `unknown`)."""
    results = []
    for row in rows:
        if not isinstance(row, dict):
            continue
        raw_flag = row.get("issuccess", row.get("is_success"))
        flag = success_flag(raw_flag)
        remote_id = str(row.get(id_field) or "")
        if flag is None:
            flag = True if remote_id else None
        results.append(
            RowResult(
                key=str(row.get(key_field, "")),
                ok=bool(flag),
                remote_id=remote_id,
                message=str(row.get("msg") or row.get("message") or ""),
                raw=row,
                unknown=flag is None,
            )
        )
    return results


def _version(row: dict) -> int:
    try:
        return int(row.get("ts") or 0)
    except (TypeError, ValueError):
        return 0


def _chunks(items: list, size: int) -> Iterator[list]:
    for index in range(0, len(items), size):
        yield items[index : index + size]


class JushuitanClient:
    """One Jushuitan connection's API. Thread-safe; use `client_for(connection)`."""

    rate_limit_retries = 5
    # How often a row-version walk met a page not in ascending ts (preflight / tests read it).
    ts_fallbacks = 0
    # A read that fails in transit (timeout, 5xx) is asked again this many times.
    read_retries = 2
    read_backoff = 0.5
    rate_limit_backoff = 0.5
    limiter_timeout = 120.0

    def __init__(self, connection, *, session: requests.Session | None = None) -> None:
        self.connection = connection
        self.session = session or _shared_session()
        self._refresh_lock = threading.Lock()

    # --- transport -------------------------------------------------------------------------
    @property
    def limiter_key(self) -> str:
        return f"jushuitan:{self.connection.app_key}:{self.connection.company_id or '-'}"

    def _windows(self) -> tuple[Window, ...]:
        return (
            Window(self.connection.rate_per_second, 1.0),
            Window(self.connection.rate_per_minute, 60.0),
        )

    def _post(self, path: str, form: dict[str, str], *, write: bool, keys: dict) -> dict:
        """Send one signed form; return the decoded envelope (any code)."""
        url = self.connection.api_root + path
        get_limiter().acquire(
            self.limiter_key, windows=self._windows(), timeout=self.limiter_timeout
        )
        started = time.monotonic()
        status: int | None = None
        envelope: Any = None
        error = ""
        try:
            try:
                answer = self.session.post(
                    url,
                    data={k: v.encode("utf-8") for k, v in form.items()},
                    headers={"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"},
                    timeout=(10, self.connection.timeout_seconds),
                    verify=self.connection.verify_tls,
                    allow_redirects=False,
                )
            except netguard.DestinationRefused as exc:
                error = f"refused: {exc.message}"
                raise DestinationRefused(exc.message, system=SYSTEM) from exc
            except requests.ConnectTimeout as exc:
                error = f"connect timeout: {exc}"
                raise TransientError(
                    _("Jushuitan could not be reached (connect timeout)."), system=SYSTEM
                ) from exc
            except requests.Timeout as exc:
                error = f"timeout: {exc}"
                cls = UnknownOutcome if write else TransientError
                raise cls(
                    _("Jushuitan did not answer within %(s)s s.")
                    % {"s": self.connection.timeout_seconds},
                    system=SYSTEM,
                    path=path,
                ) from exc
            except requests.ConnectionError as exc:
                error = f"connection: {exc}"
                # A reset after sending may hide a landed write.
                cls = UnknownOutcome if write else TransientError
                raise cls(_("The connection to Jushuitan failed."), system=SYSTEM) from exc
            status = answer.status_code
            if 300 <= status < 400:
                error = f"HTTP {status}: redirect"
                raise BusinessError(
                    _(
                        "Jushuitan answered with a redirect (HTTP %(status)s to %(location)s); "
                        "the portal does not follow redirects: set the connection's base URL "
                        "to the final address."
                    )
                    % {"status": status, "location": mask_text(answer.headers.get("Location", ""))},
                    system=SYSTEM,
                    code=status,
                )
            if status >= 500 or status in (408, 429):
                error = f"HTTP {status}"
                cls = UnknownOutcome if write and status >= 500 else TransientError
                raise cls(
                    _("Jushuitan answered HTTP %(status)s.") % {"status": status},
                    system=SYSTEM,
                    code=status,
                )
            try:
                envelope = answer.json()
            except ValueError as exc:
                error = f"HTTP {status}: not JSON"
                if status >= 400:
                    raise BusinessError(
                        _("Jushuitan answered HTTP %(status)s.") % {"status": status},
                        system=SYSTEM,
                        code=status,
                        remote_message=answer.text[:200],
                    ) from exc
                cls = UnknownOutcome if write else TransientError
                raise cls(_("Jushuitan's answer was not JSON."), system=SYSTEM) from exc
            if not isinstance(envelope, dict) or "code" not in envelope:
                error = "no envelope"
                raise BusinessError(
                    _("Jushuitan's answer has no code."), system=SYSTEM, code=status
                )
            return envelope
        finally:
            self._observe(path, url, form, envelope, status, started, error, keys)

    def _observe(self, path, url, form, envelope, status, started, error, keys) -> None:
        shown = {
            k: ("***" if k in ("access_token", "sign", "refresh_token") else v)
            for k, v in form.items()
        }
        shown = {k: mask_text(v) for k, v in shown.items()}
        if isinstance(envelope, dict) and envelope.get("code") not in (0, None):
            error = error or f"code {envelope.get('code')}: {envelope.get('msg')}"
        response = envelope
        if isinstance(envelope, dict) and isinstance(envelope.get("data"), dict):
            data = envelope["data"]
            if "access_token" in data or "refresh_token" in data:
                response = {
                    **envelope,
                    "data": {k: "***" if "token" in k else v for k, v in data.items()},
                }
        try:
            remote_call.send(
                sender=JushuitanClient,
                system=SYSTEM,
                operation=path,
                url=url,
                request=shown,
                response=response,
                status=status,
                duration_ms=round((time.monotonic() - started) * 1000, 1),
                error=error,
                keys=keys,
                connection_id=self.connection.pk,
            )
        except Exception:  # an observer must never break a call
            logger.exception("remote_call receiver failed for %s", path)

    # --- tokens ----------------------------------------------------------------------------
    def request_token(self, path: str, fields: dict[str, str]) -> dict:
        """POST a token endpoint (docs/protocols/jushuitan.md §1.4): signed like a business call,
        without token/biz."""
        form = {
            "app_key": self.connection.app_key,
            "timestamp": str(int(time.time())),
            "charset": "utf-8",
            **fields,
        }
        form["sign"] = sign(form, self.connection.app_secret)
        envelope = self._post(path, form, write=False, keys={})
        if envelope.get("code") != 0:
            raise self._error(envelope, path)
        return envelope.get("data") or {}

    def get_init_token(self) -> dict:
        """A self-developed app's token: `code` is any 6 random characters.

        docs/protocols/jushuitan.md §1.4."""
        code = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(6))
        return self.request_token(
            TOKEN_INIT_PATH, {"grant_type": "authorization_code", "code": code}
        )

    def exchange_code(self, code: str) -> dict:
        """An ISV app's token from the authorisation `code` of the merchant's consent."""
        return self.request_token(
            TOKEN_EXCHANGE_PATH, {"grant_type": "authorization_code", "code": code}
        )

    def refresh_access_token(self, refresh_token: str) -> dict:
        return self.request_token(
            TOKEN_REFRESH_PATH,
            {"grant_type": "refresh_token", "refresh_token": refresh_token, "scope": "all"},
        )

    def _ensure_token(self, *, force: bool = False, failed_token: str = "") -> None:
        from . import services  # services import this module

        with self._refresh_lock:
            self.connection.refresh_from_db()
            if force and self.connection.access_token == failed_token:
                services.token_refresh(connection=self.connection)
            elif not force:
                services.token_ensure_fresh(connection=self.connection)

    # --- business calls ----------------------------------------------------------------------
    def call(self, path: str, biz: Any = None, *, write: bool = False) -> Any:
        """One business call: returns the envelope's `data`, or raises a typed error.

        Code 100 refreshes the token once and retries; 180 retries once with a fresh
        timestamp; 199/200 back off (exponential, jitter) and retry; a read that fails in
        transit is asked again (read_retries); anything else raises.
        """
        biz_text = dump_biz(biz)
        keys = _search_keys(biz)
        refreshed = stale_retried = False
        rate_tries = read_tries = 0
        if not self.connection.access_token or self._expired():
            self._ensure_token()
        while True:
            token = self.connection.access_token
            form = {
                "app_key": self.connection.app_key,
                "access_token": token,
                "timestamp": str(int(time.time())),
                "version": "2",
                "charset": "utf-8",
                "biz": biz_text,
            }
            form["sign"] = sign(form, self.connection.app_secret)
            try:
                envelope = self._post(path, form, write=write, keys=keys)
            except TransientError:
                # A read is idempotent: ask the same page again, a little later. A write is
                # never repeated here: the engine checks whether it landed first.
                if write or read_tries >= self.read_retries:
                    raise
                read_tries += 1
                time.sleep(self.read_backoff * (2 ** (read_tries - 1)) * random.uniform(1, 1.5))
                continue
            code = envelope.get("code")
            if code == 0 or envelope.get("issuccess") is True:
                return envelope.get("data")
            if code == CODE_TOKEN_INVALID and not refreshed:
                refreshed = True
                self._ensure_token(force=True, failed_token=token)
                continue
            if stale_timestamp(envelope) and not stale_retried:
                stale_retried = True
                continue
            if code in RATE_LIMIT_CODES and rate_tries < self.rate_limit_retries:
                pause = self.rate_limit_backoff * (2**rate_tries)
                rate_tries += 1
                time.sleep(pause + random.uniform(0, pause / 2))
                continue
            raise self._error(envelope, path)

    def _expired(self) -> bool:
        expires = self.connection.token_expires_at
        return bool(expires and expires <= timezone.now())

    @staticmethod
    def _error(envelope: dict, path: str) -> ConnectorError:
        code = envelope.get("code")
        remote = str(envelope.get("msg") or "")
        hint = _CODE_HINTS.get(
            CODE_STALE_TIMESTAMP if stale_timestamp(envelope) else code,
            gettext_noop("Jushuitan rejected the request."),
        )
        message = _("Jushuitan %(path)s: code %(code)s %(msg)s. %(hint)s") % {
            "path": path,
            "code": code,
            "msg": remote,
            "hint": _(hint),
        }
        kw = {"system": SYSTEM, "code": code, "remote_message": remote, "path": path}
        if code in RATE_LIMIT_CODES:
            return RateLimited(message, retry_after=1.0 if code == 199 else 60.0, **kw)
        if code in TRANSIENT_CODES or stale_timestamp(envelope):
            return TransientError(message, **kw)
        if code == CODE_TOKEN_INVALID or code in AUTH_CODES:
            return AuthError(message, **kw)
        return BusinessError(message, **kw)

    # --- paging ------------------------------------------------------------------------------
    def iter_pages(
        self,
        path: str,
        *,
        biz: dict | None = None,
        page_size: int = 50,
        list_key: str = "datas",
    ) -> Iterator[list[dict]]:
        """Page one query (no window logic) until has_next is false or a page is short."""
        page_index = 1
        while True:
            data = self.call(
                path, {**(biz or {}), "page_index": page_index, "page_size": page_size}
            )
            rows = (data or {}).get(list_key) or []
            yield rows
            if not rows or len(rows) < page_size or not (data or {}).get("has_next", True):
                return
            page_index += 1

    def iter_window(
        self,
        path: str,
        *,
        start: datetime,
        end: datetime,
        time_fields: tuple[str, str] = ("modified_begin", "modified_end"),
        max_window: timedelta | None = timedelta(days=7),
        overlap: timedelta = timedelta(minutes=10),
        page_size: int = 50,
        biz: dict | None = None,
        list_key: str = "datas",
        key_fields: tuple[str, ...] = ("io_id",),
        row_time_field: str = "modified",
    ) -> Iterator[dict]:
        """Stream every row modified in [start - overlap, end], each version once.

        The range is cut into windows no longer than `max_window`; each window starts
        `overlap` before the previous one ended, so a row committed late at a boundary is
        still seen. Inside a window the pager moves a time cursor to the newest `modified`
        it has seen and restarts at page 1 (a keyset walk), so rows that change while we
        page cannot shift unseen rows past us; pages whose rows share one second are
        stepped by page_index. Rows are deduplicated by `key_fields` + version (`ts`, else
        `modified`): the same version is yielded once per walk, a newer one again.
        """
        if end <= start:
            return
        seen: set[tuple] = set()
        # A second short of the longest window: the walk may begin one second early (_begin).
        span = (max_window - timedelta(seconds=1)) if max_window else (end - start + overlap)
        if max_window is not None and overlap >= max_window:
            raise ValueError("overlap must be shorter than the window")
        win_start = start - overlap
        while win_start < end:
            win_end = min(win_start + span, end)
            yield from self._walk_window(
                path,
                win_start,
                win_end,
                time_fields=time_fields,
                page_size=page_size,
                biz=biz,
                list_key=list_key,
                key_fields=key_fields,
                row_time_field=row_time_field,
                seen=seen,
            )
            if win_end >= end:
                return
            win_start = win_end - overlap

    def _walk_window(
        self,
        path,
        win_start,
        win_end,
        *,
        time_fields,
        page_size,
        biz,
        list_key,
        key_fields,
        row_time_field,
        seen,
    ) -> Iterator[dict]:
        cursor = self._begin(win_start)
        page_index = 1
        keyset = True
        while True:
            query = {
                **(biz or {}),
                time_fields[0]: to_beijing(cursor),
                time_fields[1]: to_beijing(win_end),
                "page_index": page_index,
                "page_size": page_size,
            }
            data = self.call(path, query) or {}
            rows = data.get(list_key) or []
            newest = None
            previous = None
            for row in rows:
                version = row.get("ts") or row.get(row_time_field)
                key = (*(row.get(f) for f in key_fields), version)
                if key not in seen:
                    seen.add(key)
                    yield row
                moment = parse_time(row.get(row_time_field))
                if moment is not None:
                    if previous is not None and moment < previous:
                        keyset = False  # not sorted by time: plain page stepping is safer
                    previous = moment
                    newest = moment if newest is None or moment > newest else newest
            if not rows or len(rows) < page_size or not data.get("has_next", True):
                return
            restart = self._begin(newest)
            if keyset and restart is not None and restart > cursor:
                cursor, page_index = restart, 1
            else:
                page_index += 1

    def _begin(self, moment):
        """The `modified_begin` that reads the rows of `moment`'s second and later: the second
        itself when the tenant is known to include it, else one second earlier, so rows of
        that second are not lost (docs/protocols/jushuitan.md §2.4)."""
        if moment is None or self.connection.window_begin == WindowBegin.INCLUSIVE:
            return moment
        return moment - timedelta(seconds=1)

    def iter_ts(
        self,
        path: str,
        *,
        start_ts: int,
        page_size: int = 50,
        biz: dict | None = None,
        list_key: str = "datas",
        ts_field: str = "start_ts",
        key_fields: tuple[str, ...] = ("io_id",),
    ) -> Iterator[dict]:
        """Stream rows with row version ts >= start_ts (docs/protocols/jushuitan.md §2.5).

        With a cursor only the cursor and paging are sent ("其它条件都不传"); `biz` is for
        queries that need a fixed scope and should normally be empty. While every page comes
        in ascending `ts`, the walk stays on page 1 and moves the cursor to the page's highest
        `ts` (pattern b). Row order with a cursor is undocumented [U]: as soon as a page is not
        ascending, the walk keeps the cursor it had and steps `page_index` instead (pattern a)
        until the last page, so no row is skipped; those rows are then yielded in ascending
        `ts`, because the caller resumes from the highest version it has seen.
        """
        cursor = int(start_ts)
        seen: set[tuple] = set()

        def fresh(rows: list[dict]) -> list[dict]:
            out = []
            for row in rows:
                key = (*(row.get(f) for f in key_fields), row.get("ts"))
                if key not in seen:
                    seen.add(key)
                    out.append(row)
            return out

        while True:
            data = self._ts_page(path, biz, ts_field, cursor, 1, page_size)
            rows = data.get(list_key) or []
            versions = [_version(r) for r in rows]
            if versions != sorted(versions):
                self.ts_fallbacks += 1
                yield from self._ts_stepping(
                    path, biz, ts_field, cursor, page_size, list_key, rows, data, fresh
                )
                return
            new = fresh(rows)
            yield from new
            top = max(versions, default=cursor)
            if not rows or len(rows) < page_size or not new or top <= cursor:
                return
            if not data.get("has_next", True):
                return
            cursor = top

    def _ts_page(self, path, biz, ts_field, cursor, page_index, page_size) -> dict:
        query = {
            **(biz or {}),
            ts_field: cursor,
            "is_get_total": False,
            "page_index": page_index,
            "page_size": page_size,
        }
        return self.call(path, query) or {}

    def _ts_stepping(
        self, path, biz, ts_field, cursor, page_size, list_key, first_rows, first_data, fresh
    ) -> Iterator[dict]:
        """Pattern a: the same start_ts, pages 2, 3, … until the last; rows out in ts order."""
        buffered = list(first_rows)
        data, rows, page_index = first_data, first_rows, 1
        while rows and len(rows) >= page_size and data.get("has_next", True):
            page_index += 1
            data = self._ts_page(path, biz, ts_field, cursor, page_index, page_size)
            rows = data.get(list_key) or []
            buffered.extend(rows)
        buffered.sort(key=_version)
        yield from fresh(buffered)

    def iter_ids(
        self,
        path: str,
        *,
        ids_field: str,
        ids: Iterable,
        chunk: int,
        biz: dict | None = None,
        list_key: str = "datas",
        page_size: int = 50,
        as_string: bool = False,
    ) -> Iterator[dict]:
        """Look documents up by their ids, `chunk` ids per call (the API's list limit)."""
        for part in _chunks(list(ids), chunk):
            value: Any = ",".join(str(i) for i in part) if as_string else part
            for rows in self.iter_pages(
                path,
                biz={**(biz or {}), ids_field: value},
                page_size=page_size,
                list_key=list_key,
            ):
                yield from rows

    def read(
        self,
        name: str,
        *,
        start: datetime,
        end: datetime,
        overlap: timedelta | None = None,
        **filters: Any,
    ) -> Iterator[dict]:
        """A named query (ENDPOINTS) through iter_window at its maximum page and window."""
        spec = ENDPOINTS[name]
        return self.iter_window(
            spec.path,
            start=start,
            end=end,
            max_window=spec.max_window,
            overlap=timedelta(minutes=10) if overlap is None else overlap,
            page_size=spec.max_page_size,
            biz=filters or None,
            list_key=spec.list_key,
            key_fields=spec.key_fields,
        )

    # --- named readers ------------------------------------------------------------------------
    def orders(self, *, start: datetime, end: datetime, **filters: Any) -> Iterator[dict]:
        """Orders (订单) modified in the range; filters e.g. status="Sent", shop_id=10001."""
        return self.read("orders", start=start, end=end, **filters)

    def orders_since(self, start_ts: int) -> Iterator[dict]:
        """Orders whose row version is >= start_ts (docs/protocols/jushuitan.md §2.5), at the
        largest page. Only the cursor and paging are sent (§2.5): the caller re-checks status
        itself."""
        endpoint = ENDPOINTS["orders"]
        return self.iter_ts(
            endpoint.path,
            start_ts=start_ts,
            page_size=endpoint.max_page_size,
            list_key=endpoint.list_key,
            key_fields=("o_id",),
        )

    def sales_outs(self, *, start: datetime, end: datetime, **filters: Any) -> Iterator[dict]:
        """Sales-out documents (销售出库单), one per shipment io_id; e.g. status="Confirmed"."""
        return self.read("sales_out", start=start, end=end, **filters)

    def sales_outs_since(self, start_ts: int) -> Iterator[dict]:
        """Sales-out documents whose row version is >= start_ts (cursor and paging only)."""
        endpoint = ENDPOINTS["sales_out"]
        return self.iter_ts(endpoint.path, start_ts=start_ts, page_size=endpoint.max_page_size)

    def received_returns(self, *, start: datetime, end: datetime, **filters: Any) -> Iterator[dict]:
        """Goods received back for after-sales (实际收货), one row per receipt io_id."""
        return self.read("aftersale_received", start=start, end=end, **filters)

    def received_returns_since(self, start_ts: int) -> Iterator[dict]:
        endpoint = ENDPOINTS["aftersale_received"]
        return self.iter_ts(endpoint.path, start_ts=start_ts, page_size=endpoint.max_page_size)

    def refunds(self, *, start: datetime, end: datetime, **filters: Any) -> Iterator[dict]:
        """After-sales (售后单); e.g. status="Confirmed"."""
        return self.read("refunds", start=start, end=end, **filters)

    def skus(self, *, start: datetime, end: datetime, **filters: Any) -> Iterator[dict]:
        return self.read("skus", start=start, end=end, **filters)

    def inventory(self, *, start: datetime, end: datetime, **filters: Any) -> Iterator[dict]:
        """Stock per SKU (库存); pass wms_co_id for one warehouse, none for the total."""
        return self.read("inventory", start=start, end=end, **filters)

    def stock_counts(self, *, start: datetime, end: datetime, **filters: Any) -> Iterator[dict]:
        """Stock-count documents (盘点单); items[].qty is the signed gain/loss."""
        return self.read("stock_counts", start=start, end=end, **filters)

    def purchase_ins(self, *, start: datetime, end: datetime, **filters: Any) -> Iterator[dict]:
        return self.read("purchase_in", start=start, end=end, **filters)

    def purchase_outs(self, *, start: datetime, end: datetime, **filters: Any) -> Iterator[dict]:
        return self.read("purchase_out", start=start, end=end, **filters)

    def allocations(self, *, start: datetime, end: datetime, **filters: Any) -> Iterator[dict]:
        """Transfers (调拨单): each leg is its own document, linked by link_io_id."""
        return self.read("allocations", start=start, end=end, **filters)

    def other_inouts(self, *, start: datetime, end: datetime, **filters: Any) -> Iterator[dict]:
        return self.read("other_inout", start=start, end=end, **filters)

    def suppliers(self, *, start: datetime, end: datetime, **filters: Any) -> Iterator[dict]:
        """Suppliers (供应商) modified in the range (windows of at most one day)."""
        return self.read("suppliers", start=start, end=end, **filters)

    def shops(self) -> Iterator[dict]:
        spec = ENDPOINTS["shops"]
        for rows in self.iter_pages(spec.path, page_size=spec.max_page_size):
            yield from rows

    def warehouses(self) -> Iterator[dict]:
        """Partner / branch warehouses (wms_co_id) of the company."""
        spec = ENDPOINTS["warehouses"]
        for rows in self.iter_pages(spec.path, page_size=spec.max_page_size):
            yield from rows

    def orders_by_so_ids(self, so_ids: Iterable[str], **filters: Any) -> list[dict]:
        """Orders by platform order no. (≤20 per call): the existence check before re-sending."""
        return list(
            self.iter_ids(
                ENDPOINTS["orders"].path,
                ids_field="so_ids",
                ids=so_ids,
                chunk=20,
                biz=filters,
                list_key="orders",
                page_size=100,
            )
        )

    def orders_by_o_ids(self, o_ids: Iterable, **filters: Any) -> list[dict]:
        """Orders by internal order no. (o_ids, 20 per call), e.g. with is_get_cbfinance."""
        return list(
            self.iter_ids(
                ENDPOINTS["orders"].path,
                ids_field="o_ids",
                ids=o_ids,
                chunk=20,
                biz=filters,
                list_key="orders",
                page_size=100,
            )
        )

    def sales_outs_by_io_ids(self, io_ids: Iterable, **filters: Any) -> list[dict]:
        """Sales-out documents by io_id (≤50 per call), e.g. with is_get_cbfinance."""
        spec = ENDPOINTS["sales_out"]
        return list(
            self.iter_ids(
                spec.path,
                ids_field="io_ids",
                ids=io_ids,
                chunk=50,
                biz=filters,
                page_size=spec.max_page_size,
            )
        )

    def documents_by_external_ids(self, name: str, external_ids: Iterable[str]) -> list[dict]:
        """Warehouse documents by the caller's external no. (`so_ids`), e.g. to check that a
        write whose answer was lost has landed: name in purchase_in, purchase_out,
        allocations, other_inout, sales_out. Purchase-in sends `statuss` with every status:
        without it the query returns Confirmed only (§3.8), and an unconfirmed document
        would be written again."""
        spec = ENDPOINTS[name]
        biz = {"statuss": list(ALL_PURCHASE_IN_STATUSES)} if name == "purchase_in" else None
        return list(
            self.iter_ids(
                spec.path,
                ids_field="so_ids",
                ids=external_ids,
                chunk=30,
                biz=biz,
                list_key=spec.list_key,
                page_size=spec.max_page_size,
            )
        )

    def stock_counts_by_io_ids(self, io_ids: Iterable[str]) -> list[dict]:
        spec = ENDPOINTS["stock_counts"]
        return list(
            self.iter_ids(
                spec.path, ids_field="io_ids", ids=io_ids, chunk=50, page_size=50, as_string=True
            )
        )

    def skus_by_ids(self, sku_ids: Iterable[str]) -> list[dict]:
        spec = ENDPOINTS["skus"]
        return list(
            self.iter_ids(
                spec.path, ids_field="sku_ids", ids=sku_ids, chunk=20, page_size=50, as_string=True
            )
        )

    def suppliers_by_codes(self, codes: Iterable[str]) -> list[dict]:
        spec = ENDPOINTS["suppliers"]
        return list(
            self.iter_ids(spec.path, ids_field="supplier_codes", ids=codes, chunk=50, page_size=500)
        )

    def inventory_by_skus(
        self, sku_ids: Iterable[str], *, wms_co_id: int | None = None
    ) -> list[dict]:
        biz = {"wms_co_id": wms_co_id} if wms_co_id is not None else None
        return list(
            self.iter_ids(
                ENDPOINTS["inventory"].path,
                ids_field="sku_ids",
                ids=sku_ids,
                chunk=100,
                biz=biz,
                list_key="inventorys",
                page_size=100,
                as_string=True,
            )
        )

    # --- writers (idempotent by the external id the API keys on) -------------------------------
    def upload_skus(self, items: list[dict], *, batch: int = 50) -> list[RowResult]:
        """Create or update SKUs (商品资料); the key is sku_id."""
        results: list[RowResult] = []
        for part in _chunks(items, batch):
            data = self.call("/open/jushuitan/itemsku/upload", {"items": part}, write=True) or {}
            results += _row_results(data.get("datas") or [], "sku_id", "sku_id")
        return results

    def upload_suppliers(self, suppliers: list[dict], *, batch: int = 50) -> list[RowResult]:
        """Create or update suppliers; the key is supplier_code (remote id = supplier_id)."""
        results: list[RowResult] = []
        for part in _chunks(suppliers, batch):
            data = self.call("/open/supplier/upload", part, write=True) or {}
            results += _row_results(data.get("datas") or [], "supplier_code", "id")
        return results

    def _create_batch(self, path: str, docs: list[dict], batch: int) -> list[RowResult]:
        """createbatch routes (§3.8, §3.9): the public SDK answers one object
        `{external_id, io_id, is_success, msg}` (+ request_id) for a request array, so each
        call carries `batch` documents (1 by default) and answers are matched by external_id;
        a document without a matching answer is an unknown outcome."""
        results: list[RowResult] = []
        for part in _chunks(docs, batch):
            data = self.call(path, part, write=True)
            if isinstance(data, list):
                rows = data
            elif isinstance(data, dict) and isinstance(data.get("datas"), list):
                rows = data["datas"]
            elif isinstance(data, dict) and isinstance(data.get("data"), dict | list):
                inner = data["data"]
                rows = inner if isinstance(inner, list) else [inner]
            else:
                rows = [data] if isinstance(data, dict) else []
            by_key = {r.key: r for r in _row_results(rows, "external_id", "io_id") if r.key}
            if len(part) == 1 and not by_key and rows:
                # One document, one answer without its external_id: it is that document's.
                [only] = _row_results(rows[:1], "external_id", "io_id")
                by_key = {str(part[0].get("external_id", "")): only}
            for doc in part:
                key = str(doc.get("external_id", ""))
                results.append(
                    by_key.get(key)
                    or RowResult(key=key, ok=False, remote_id="", message="", raw={}, unknown=True)
                )
        return results

    def create_purchase_ins(self, docs: list[dict], *, batch: int = 1) -> list[RowResult]:
        """Purchase-in (采购入库) documents; the key is external_id (a repeat returns the
        same io_id)."""
        return self._create_batch("/open/webapi/wmsapi/purchasein/createbatch", docs, batch)

    def create_purchase_outs(self, docs: list[dict], *, batch: int = 1) -> list[RowResult]:
        """Purchase-out / return to supplier (采购退货); the key is external_id."""
        return self._create_batch("/open/webapi/wmsapi/purchaseout/createbatch", docs, batch)

    def _single(self, path: str, doc: dict, key_field: str) -> RowResult:
        data = self.call(path, doc, write=True) or {}
        inner = data.get("data") if isinstance(data.get("data"), dict) else data
        flag = success_flag(inner.get("issuccess", inner.get("is_success")))
        remote_id = str(inner.get("io_id") or "")
        if flag is None:
            flag = True if remote_id else None
        return RowResult(
            key=str(doc.get(key_field, "")),
            ok=bool(flag),
            remote_id=remote_id,
            message=str(inner.get("msg") or ""),
            raw=inner,
            unknown=flag is None,
        )

    def upload_transfer(self, doc: dict) -> RowResult:
        """A transfer between sub-warehouses of one company (调拨); the key is so_id."""
        return self._single("/open/jushuitan/allocate/in/upload", doc, "so_id")

    def upload_cross_transfers(self, docs: list[dict]) -> list[RowResult]:
        """Transfers between companies / partner warehouses (跨仓调拨); the key is so_id."""
        data = self.call("/open/allocate/kc/upload", docs, write=True) or {}
        return _row_results(data.get("datas") or [], "so_id", "io_id")

    def upload_inventory(self, doc: dict) -> RowResult:
        """Inventory check (type=check, absolute) or adjustment (type=adjust, delta); creates
        a stock-count document. The key is so_id: a repeat is ignored, the first wins."""
        return self._single("/open/jushuitan/inventoryv2/upload", doc, "so_id")

    def upload_other_inout(self, doc: dict) -> RowResult:
        """Other in / out (其它出入库), type in|out; the key is external_id."""
        return self._single("/open/jushuitan/otherinout/upload", doc, "external_id")

    def upload_orders(self, orders: list[dict], *, batch: int = 50) -> list[RowResult]:
        """Orders of a self-run shop (≤50 per call); the key is (shop_id, so_id)."""
        results: list[RowResult] = []
        for part in _chunks(orders, batch):
            data = self.call("/open/jushuitan/orders/upload", part, write=True) or {}
            results += _row_results(data.get("datas") or [], "so_id", "o_id")
        return results

    def upload_shipments(self, items: list[dict]) -> list[RowResult]:
        """Mark orders shipped (发货) with carrier and tracking no. (o_id or shop_id+so_id)."""
        data = self.call("/open/order/sent/upload", {"items": items}, write=True)
        rows = data if isinstance(data, list) else (data or {}).get("datas") or []
        return _row_results(rows, "so_id", "o_id")

    def upload_after_sales(self, docs: list[dict]) -> list[RowResult]:
        """After-sales (售后单); the key is (shop_id, outer_as_id)."""
        data = self.call("/open/aftersale/upload", docs, write=True) or {}
        return _row_results(data.get("datas") or [], "outer_as_id", "as_id")


def _search_keys(biz: Any) -> dict:
    """Business keys of a call for log search (O3): order nos., SKUs, external ids."""
    found: dict[str, list] = {}
    wanted = ("so_id", "so_ids", "external_id", "sku_id", "io_id", "o_id", "supplier_code")

    def visit(value: Any, depth: int) -> None:
        if depth > 3:
            return
        if isinstance(value, dict):
            for key, inner in value.items():
                if key in wanted and isinstance(inner, str | int):
                    found.setdefault(key.removesuffix("s"), []).append(inner)
                elif key in wanted and isinstance(inner, list):
                    found.setdefault(key.removesuffix("s"), []).extend(inner[:50])
                else:
                    visit(inner, depth + 1)
        elif isinstance(value, list):
            for inner in value[:200]:
                visit(inner, depth + 1)

    visit(biz, 0)
    return {k: v[:200] for k, v in found.items()}


_session_lock = threading.RLock()
_session: requests.Session | None = None
_clients: dict[int, tuple[float, JushuitanClient]] = {}


def _shared_session() -> requests.Session:
    """One pooled Session per process (connection reuse across calls and threads)."""
    global _session
    with _session_lock:
        if _session is None:
            # Every connection passes the SSRF guard after DNS (core.netguard).
            _session = netguard.guarded_session(pool_connections=8, pool_maxsize=32)
        return _session


def client_for(connection) -> JushuitanClient:
    """The per-process client of a connection, rebuilt when the connection row changes."""
    stamp = connection.updated_at.timestamp() if connection.updated_at else 0.0
    with _session_lock:
        hit = _clients.get(connection.pk)
        if hit and hit[0] >= stamp:
            return hit[1]
        client = JushuitanClient(connection)
        _clients[connection.pk] = (stamp, client)
        return client


def forget_clients() -> None:
    """Drop the cached clients and close the pooled connections (tests, connection edits)."""
    global _session
    with _session_lock:
        _clients.clear()
        if _session is not None:
            _session.close()
            _session = None
