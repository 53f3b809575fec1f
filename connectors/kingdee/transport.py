"""Kingdee Cloud Galaxy (金蝶云星空) K3Cloud WebAPI transport (docs/protocols/kingdee.md).

The session (login modes and header signing), the HTTP round trip and its recording through
`connectors.observe.remote_call`, the retries of reads, and the mapping of transport failures
to the typed errors of connectors.errors. The typed calls (Save, Audit, queries...) are on
`api.KingdeeClient`; `client.py` is the public entry.
"""

import json
import random
import threading
import time
from decimal import Decimal
from typing import Any

import requests
from urllib3.exceptions import NewConnectionError

from connectors.errors import (
    AuthError,
    BusinessError,
    DestinationRefused,
    RateLimited,
    TransientError,
    UnknownOutcome,
)
from connectors.observe import remote_call
from core import netguard
from core.logging import mask_text
from core.messages import gettext as _

from . import signing
from .errors import ACCT_HINT, AUTH_HINT, SYSTEM, MsgCode
from .models import KingdeeAuthMode, KingdeeConnection

DYNAMIC_FORM = "Kingdee.BOS.WebApi.ServicesStub.DynamicFormService"
AUTH_SERVICE = "Kingdee.BOS.WebApi.ServicesStub.AuthService"
SESSION_COOKIE = "kdservice-sessionid"
MAX_OBSERVED_CHARS = 4000
LOGIN_OK = (1, -5)  # Success; DealWithForm is accepted as logged in by Kingdee's own clients


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def _int(value: Any, default: int | None = 0) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _response_status(answer: Any) -> dict | None:
    """ResponseStatus wherever the build put it: {"Result": {...}}, top level, or [[{...}]]."""
    if isinstance(answer, list):
        if answer and isinstance(answer[0], list) and answer[0] and isinstance(answer[0][0], dict):
            return _response_status(answer[0][0])
        if answer and isinstance(answer[0], dict) and "Result" in answer[0]:
            return _response_status(answer[0])
        return None
    if not isinstance(answer, dict):
        return None
    result = answer.get("Result")
    if isinstance(result, dict) and isinstance(result.get("ResponseStatus"), dict):
        return result["ResponseStatus"]
    if isinstance(answer.get("ResponseStatus"), dict):
        return answer["ResponseStatus"]
    return None


def _context_lost(answer: Any) -> bool:
    status = _response_status(answer)
    if status is None:
        return False
    if _int(status.get("MsgCode"), None) == MsgCode.CONTEXT_LOST:
        return True
    messages = " ".join(str(e.get("Message", "")) for e in status.get("Errors") or [])
    return not _bool(status.get("IsSuccess")) and "会话信息已丢失" in messages


def _messages(status: dict) -> str:
    return "; ".join(str(e.get("Message") or "") for e in status.get("Errors") or []) or _(
        "Kingdee reported a failure without a message."
    )


class KingdeeTransport:
    """The signed / logged-in HTTP calls of one KingdeeConnection; the typed calls are on
    `api.KingdeeClient`."""

    # A read that fails in transit is asked again this many times (backoff in seconds).
    read_retries = 2
    read_backoff = 0.5

    def __init__(
        self,
        connection: KingdeeConnection,
        *,
        timeout: float | None = None,
        http: requests.Session | None = None,
    ) -> None:
        self.connection = connection
        self.timeout = float(timeout or connection.timeout_seconds or 30)
        self.base_url = connection.server_url.rstrip("/") + "/"
        self.http = http or requests.Session()
        self.http.verify = connection.verify_tls
        # Every connection passes the SSRF guard after DNS (core.netguard); no redirect is
        # followed (a 3xx is reported as a wrong server URL, never re-posted elsewhere).
        netguard.guard_session(self.http, pool_connections=2, pool_maxsize=16)
        self.http.headers.update(
            {
                "Content-Type": "application/json",
                "Accept-Charset": "utf-8",
                "User-Agent": signing.USER_AGENT,
            }
        )
        self._lock = threading.Lock()

    def service_url(self, service: str) -> str:
        return f"{self.base_url}{service}.common.kdsvc"

    @property
    def session_id(self) -> str:
        return self.http.cookies.get(SESSION_COOKIE) or ""

    def reset_session(self) -> None:
        """Forget the server session (cookies); the next call signs in again."""
        self.http.cookies.clear()

    def _headers(self, url: str) -> dict[str, str]:
        headers: dict[str, str] = {}
        conn = self.connection
        if conn.auth_mode == KingdeeAuthMode.SIGNATURE:
            headers.update(
                signing.signature_headers(
                    url=url,
                    acct_id=conn.acct_id,
                    username=conn.username,
                    app_id=conn.app_id,
                    app_secret=conn.app_secret,
                    lcid=conn.lcid,
                    org_number=conn.org_number or 0,
                    timestamp=int(time.time()),
                )
            )
        if self.session_id:
            headers[SESSION_COOKIE] = self.session_id
        return headers

    def _exchange(
        self,
        service: str,
        body: dict,
        *,
        write: bool,
        operation: str,
        keys: dict | None = None,
        observed: dict | None = None,
    ) -> Any:
        """One HTTP round trip: the parsed JSON answer, or a typed error."""
        url = self.service_url(service)
        payload = json.dumps(body, ensure_ascii=False, default=str).encode("utf-8")
        started = time.monotonic()
        status_code: int | None = None
        text = ""
        error = ""
        try:
            try:
                response = self.http.post(
                    url,
                    data=payload,
                    headers=self._headers(url),
                    timeout=(min(10.0, self.timeout), self.timeout),
                    allow_redirects=False,
                )
            except netguard.DestinationRefused as exc:
                raise DestinationRefused(exc.message, system=SYSTEM, operation=operation) from exc
            except requests.exceptions.SSLError as exc:
                raise TransientError(
                    _("The TLS certificate of the Kingdee server could not be verified."),
                    system=SYSTEM,
                    operation=operation,
                    remote_message=str(exc),
                ) from exc
            except requests.exceptions.ConnectTimeout as exc:
                raise TransientError(
                    _("Kingdee could not be reached (connect timeout)."),
                    system=SYSTEM,
                    operation=operation,
                ) from exc
            except requests.exceptions.Timeout as exc:
                raise self._lost(write, operation, _("Kingdee did not answer in time.")) from exc
            except requests.exceptions.ConnectionError as exc:
                reason = getattr(exc.args[0], "reason", None) if exc.args else None
                if isinstance(reason, NewConnectionError) or not write:
                    raise TransientError(
                        _("Kingdee could not be reached."),
                        system=SYSTEM,
                        operation=operation,
                        remote_message=str(exc),
                    ) from exc
                raise self._lost(write, operation, _("The connection to Kingdee broke.")) from exc
            status_code = response.status_code
            text = response.text
            return self._parse(status_code, text, write=write, operation=operation)
        except Exception as exc:
            error = str(exc)
            raise
        finally:
            shown = observed if observed is not None else body
            remote_call.send(
                sender=type(self),
                system=SYSTEM,
                operation=operation,
                url=url,
                request=mask_text(
                    json.dumps(shown, ensure_ascii=False, default=str), MAX_OBSERVED_CHARS
                ),
                response=mask_text(text, MAX_OBSERVED_CHARS),
                status=status_code,
                duration_ms=round((time.monotonic() - started) * 1000, 1),
                error=mask_text(error),
                keys=keys or {},
            )

    def _lost(self, write: bool, operation: str, message: str) -> TransientError:
        if write:
            return UnknownOutcome(
                _("%(message)s The write may or may not have landed: look it up before resending.")
                % {"message": message},
                system=SYSTEM,
                operation=operation,
            )
        return TransientError(message, system=SYSTEM, operation=operation)

    def _parse(self, status_code: int, text: str, *, write: bool, operation: str) -> Any:
        if 300 <= status_code < 400:
            raise BusinessError(
                _(
                    "Kingdee answered with a redirect (HTTP %(status)s); the portal does not "
                    "follow redirects: set the connection's server URL to the final address."
                )
                % {"status": status_code},
                system=SYSTEM,
                code=status_code,
                operation=operation,
            )
        if status_code not in (200, 206):
            if "thirty passport" in text:
                raise AuthError(_(ACCT_HINT), system=SYSTEM, code=status_code, remote_message=text)
            if status_code == 429:
                raise RateLimited(
                    _("Kingdee asked to slow down (HTTP 429)."), system=SYSTEM, code=status_code
                )
            if status_code >= 500:
                raise self._lost(
                    write,
                    operation,
                    _("Kingdee answered HTTP %(status)s.") % {"status": status_code},
                )
            raise BusinessError(
                _("Kingdee answered HTTP %(status)s: check the server URL of the connection.")
                % {"status": status_code},
                system=SYSTEM,
                code=status_code,
                remote_message=text[:500],
                operation=operation,
            )
        if text.startswith("response_error:"):
            raise self._lost(write, operation, _("Kingdee failed while serving the call."))
        try:
            return json.loads(text, parse_float=Decimal)
        except ValueError as exc:
            raise self._lost(
                write, operation, _("Kingdee answered something that is not JSON.")
            ) from exc

    def _call(
        self,
        service: str,
        body: dict,
        *,
        write: bool,
        operation: str,
        keys: dict | None = None,
    ) -> Any:
        """A call with session handling: on MsgCode 1 sign in again and replay once. A read
        that fails in transit (timeout, 5xx, server busy) is asked again `read_retries`
        times with backoff; a write never is (the engine checks whether it landed)."""
        if self.connection.auth_mode != KingdeeAuthMode.SIGNATURE and not self.session_id:
            self.login()
        for attempt in range(self.read_retries + 1):
            try:
                answer = self._exchange(service, body, write=write, operation=operation, keys=keys)
                break
            except TransientError:
                if write or attempt >= self.read_retries:
                    raise
                time.sleep(self.read_backoff * (2**attempt) * random.uniform(1, 1.5))
        if not _context_lost(answer):
            return answer
        # MsgCode 1: nothing was done. Session-login modes log in again; under header signing
        # the stale session is dropped and the request re-signed. Once only.
        self.reset_session()
        if self.connection.auth_mode != KingdeeAuthMode.SIGNATURE:
            self.login()
        answer = self._exchange(service, body, write=write, operation=operation, keys=keys)
        if _context_lost(answer):
            raise AuthError(
                _(AUTH_HINT),
                system=SYSTEM,
                code=MsgCode.CONTEXT_LOST,
                remote_message=_messages(_response_status(answer) or {}),
                operation=operation,
            )
        return answer

    # -- authentication --------------------------------------------------------------------
    def login(self) -> dict:
        """Open a session with the connection's login service (session-login modes).

        Under header signing there is no login call: the first signed request opens the
        session, so this returns {}.
        """
        conn = self.connection
        mode = conn.auth_mode
        if mode == KingdeeAuthMode.SIGNATURE:
            return {}
        with self._lock:
            if mode == KingdeeAuthMode.VALIDATE_USER:
                service = "ValidateUser"
                params = [conn.acct_id, conn.username, conn.password, conn.lcid]
                shown = [conn.acct_id, conn.username, "***", conn.lcid]
            elif mode == KingdeeAuthMode.LOGIN_BY_SIGN:
                service = "LoginBySign"
                ts = int(time.time())
                sign = signing.login_sign(
                    acct_id=conn.acct_id,
                    username=conn.username,
                    app_id=conn.app_id,
                    app_secret=conn.app_secret,
                    timestamp=ts,
                )
                params = [conn.acct_id, conn.username, conn.app_id, ts, sign, conn.lcid]
                shown = [conn.acct_id, conn.username, conn.app_id, ts, "***", conn.lcid]
            else:
                service = "LoginByAppSecret"
                params = [conn.acct_id, conn.username, conn.app_id, conn.app_secret, conn.lcid]
                shown = [conn.acct_id, conn.username, conn.app_id, "***", conn.lcid]
            self.reset_session()
            answer = self._exchange(
                f"{AUTH_SERVICE}.{service}",
                {"parameters": params},
                write=False,
                operation="login",
                observed={"parameters": shown},
            )
        if (
            not isinstance(answer, dict)
            or _int(answer.get("LoginResultType"), None) not in LOGIN_OK
        ):
            message = answer.get("Message") if isinstance(answer, dict) else str(answer)
            raise AuthError(
                _(
                    "Kingdee refused the login (%(service)s): %(message)s. Check the account set "
                    "id, user, password or app id / secret of the connection."
                )
                % {"service": service, "message": message or _("no reason given")},
                system=SYSTEM,
                code=answer.get("LoginResultType") if isinstance(answer, dict) else None,
                remote_message=str(message or ""),
            )
        session_id = answer.get("KDSVCSessionId") or ""
        if session_id and not self.session_id:
            host = requests.utils.urlparse(self.base_url).hostname or ""
            self.http.cookies.set(SESSION_COOKIE, session_id, domain=host, path="/")
        return answer
