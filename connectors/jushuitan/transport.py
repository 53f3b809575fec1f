"""Jushuitan (聚水潭) open-platform transport: signing, tokens, rate limit, retries, the HTTP call.

Wire protocol: docs/protocols/jushuitan.md (§ numbers below). Every call is a signed form POST;
the answer is `{"code", "msg", "data"}`. `call()` returns `data` or raises a typed error
from connectors.errors, keeping Jushuitan's code and msg; every round trip is recorded through
`connectors.observe.remote_call`. The access token comes from a TokenProvider (the token
services of `connectors.jushuitan.services`, registered by the app at start-up), so this module
imports no services. The typed business calls are in `api.py`.
"""

from __future__ import annotations

import logging
import random
import secrets
import string
import threading
import time
from typing import Any, Protocol

import requests
from django.core.exceptions import ImproperlyConfigured
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

from .signing import dump_biz, sign

logger = logging.getLogger(__name__)

SYSTEM = "jushuitan"

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


class TokenProvider(Protocol):
    """Where a client gets its access token (docs/protocols/jushuitan.md §1.4). Both methods
    leave the token on `connection` (access_token, token_expires_at) or raise a typed error."""

    def ensure_fresh(self, connection) -> None:
        """A usable token: obtain one when it is missing or about to expire."""

    def refresh(self, connection) -> None:
        """A new token now: Jushuitan rejected the current one (code 100)."""


_default_tokens: TokenProvider | None = None


def use_token_provider(provider: TokenProvider) -> None:
    """The provider of every client built without one (`JushuitanConfig.ready` registers the
    token services)."""
    global _default_tokens
    _default_tokens = provider


class JushuitanTransport:
    """One Jushuitan connection's signed calls. Thread-safe; the typed calls are on
    `api.JushuitanClient`."""

    rate_limit_retries = 5
    # A read that fails in transit (timeout, 5xx) is asked again this many times.
    read_retries = 2
    read_backoff = 0.5
    rate_limit_backoff = 0.5
    limiter_timeout = 120.0

    def __init__(
        self,
        connection,
        *,
        session: requests.Session | None = None,
        tokens: TokenProvider | None = None,
    ) -> None:
        self.connection = connection
        self.session = session or _shared_session()
        self.tokens = tokens
        self._refresh_lock = threading.Lock()

    @property
    def token_provider(self) -> TokenProvider:
        tokens = self.tokens or _default_tokens
        if tokens is None:
            raise ImproperlyConfigured(
                "No Jushuitan token provider: pass tokens= or add connectors.jushuitan to "
                "INSTALLED_APPS."
            )
        return tokens

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
                sender=type(self),
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
        """Ask the token provider for a usable token (`force`: Jushuitan rejected
        `failed_token`, unless another thread has replaced it meanwhile)."""
        tokens = self.token_provider
        with self._refresh_lock:
            self.connection.refresh_from_db()
            if force and self.connection.access_token == failed_token:
                tokens.refresh(self.connection)
            elif not force:
                tokens.ensure_fresh(self.connection)

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


def _shared_session() -> requests.Session:
    """One pooled Session per process (connection reuse across calls and threads)."""
    global _session
    with _session_lock:
        if _session is None:
            # Every connection passes the SSRF guard after DNS (core.netguard).
            _session = netguard.guarded_session(pool_connections=8, pool_maxsize=32)
        return _session


def close_session() -> None:
    """Close the pooled connections of the shared Session (tests, connection edits)."""
    global _session
    with _session_lock:
        if _session is not None:
            _session.close()
            _session = None
