"""Group robot clients, exactly per docs/protocols/alerts-fx-customs.md §1.

One client per vendor; all take the same RobotMessage (title, markdown body, mentions):
- DingTalk: POST <webhook>&timestamp=<ms>&sign=<base64 HMAC-SHA256(secret, ts\\nsecret)>,
  re-signed on every request; markdown or text; @ via at.atMobiles / atUserIds / isAtAll.
- Feishu: timestamp (seconds) and sign (HMAC-SHA256 keyed with ts\\nsecret over an empty
  message) in the JSON body; an interactive card with lark_md and <at id=…></at>.
- WeCom: no signing (the key in the URL is the credential); markdown, or text when mobiles
  or @all must be mentioned (markdown cannot mention by mobile).
Answers are checked by code, never by text; errors are typed (connectors.errors) and every
call sends connectors.observe.remote_call with the token, key and signature masked.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import requests
from django.conf import settings

from connectors.errors import RateLimited, TransientError, UnknownOutcome
from connectors.observe import remote_call
from core import netguard
from core.messages import gettext as _

from .choices import RobotKind
from .errors import RobotConfigurationError, RobotMessageRejected
from .models import mask_webhook_url
from .validators import ensure_public_destination

TRUNCATED = "\n\n…"


def dingtalk_sign(*, secret: str, timestamp_ms: int) -> str:
    """DingTalk 加签: base64(HMAC-SHA256(key=secret, msg=f"{ts}\\n{secret}")), not URL-encoded."""
    string_to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), string_to_sign, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def feishu_sign(*, secret: str, timestamp_s: int) -> str:
    """Feishu signature: base64(HMAC-SHA256(key=f"{ts}\\n{secret}", msg=b""))."""
    key = f"{timestamp_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


@dataclass(frozen=True)
class RobotMessage:
    """What every vendor receives: a title, a markdown body and whom to @."""

    title: str
    markdown: str
    mobiles: tuple[str, ...] = ()
    user_ids: tuple[str, ...] = ()
    at_all: bool = False
    as_text: bool = False  # plain text instead of markdown (DingTalk / WeCom)


@dataclass
class RobotAnswer:
    """A successful answer: the vendor's JSON and the HTTP status."""

    status: int
    body: dict = field(default_factory=dict)


def fit_bytes(text: str, budget: int) -> str:
    """`text` cut to at most `budget` UTF-8 bytes (on a character boundary), marked if cut."""
    raw = text.encode()
    if len(raw) <= budget:
        return text
    keep = max(budget - len(TRUNCATED.encode()), 0)
    return raw[:keep].decode(errors="ignore") + TRUNCATED


# One keep-alive session per thread (connection reuse); all of them can be closed at once.
_sessions = threading.local()
_every_session: list[requests.Session] = []
_sessions_lock = threading.Lock()


def _session() -> requests.Session:
    session = getattr(_sessions, "session", None)
    if session is None:
        # Every connection passes the SSRF guard after DNS, with the robots' allowance.
        session = netguard.guarded_session(setting=netguard.ROBOT_SETTING)
        session.headers["Content-Type"] = "application/json; charset=utf-8"
        _sessions.session = session
        with _sessions_lock:
            _every_session.append(session)
    return session


def close_sessions() -> None:
    """Close every kept-alive robot connection (e.g. before a worker or a test server stops)."""
    with _sessions_lock:
        sessions = list(_every_session)
    for session in sessions:
        session.close()


def _rate_limit_codes(kind: str, confirmed: set[int]) -> set[int]:
    codes = set(confirmed)
    for item in settings.ROBOT_EXTRA_RATE_LIMIT_CODES:
        vendor, _sep, code = item.partition(":")
        if vendor == kind and code.lstrip("-").isdigit():
            codes.add(int(code))
    return codes


class RobotClient(ABC):
    """Posts one message to one robot; subclasses supply the vendor's payload and codes."""

    kind: ClassVar[str]
    # Largest message text sent, in UTF-8 bytes (the vendor limit minus the envelope).
    max_text_bytes: ClassVar[int]
    # What a digest may fill, leaving room for the title and the @-mentions, so that no
    # digest is ever cut (every alert it carries stays listed).
    digest_budget: ClassVar[int]
    code_key: ClassVar[str] = "errcode"
    message_key: ClassVar[str] = "errmsg"
    config_codes: ClassVar[set[int]] = set()
    too_long_codes: ClassVar[set[int]] = set()
    confirmed_rate_limit_codes: ClassVar[set[int]] = set()

    def __init__(
        self,
        *,
        webhook_url: str,
        secret: str = "",
        keyword: str = "",
        timeout: float | None = None,
    ) -> None:
        self.webhook_url = webhook_url
        self.secret = secret
        self.keyword = keyword
        self.timeout = timeout if timeout is not None else settings.ROBOT_TIMEOUT_SECONDS

    # --- vendor specifics -----------------------------------------------------------
    @abstractmethod
    def build(self, message: RobotMessage, *, now: float) -> tuple[dict, dict]:
        """(query params to add, JSON body) for `message` signed at `now`."""

    def mask_body(self, body: dict) -> dict:
        return body

    # --- common ---------------------------------------------------------------------
    def with_keyword(self, message: RobotMessage) -> RobotMessage:
        """Keyword security: a message lacking the robot's keyword gets it in front."""
        if not self.keyword or self.keyword in message.title + message.markdown:
            return message
        return RobotMessage(
            title=f"[{self.keyword}] {message.title}",
            markdown=f"[{self.keyword}] {message.markdown}",
            mobiles=message.mobiles,
            user_ids=message.user_ids,
            at_all=message.at_all,
            as_text=message.as_text,
        )

    def send(self, message: RobotMessage) -> RobotAnswer:
        """Post `message`; return the answer or raise a typed connectors.errors error."""
        message = self.with_keyword(message)
        params, body = self.build(message, now=time.time())
        masked_url = mask_webhook_url(self.webhook_url)
        started = time.monotonic()
        status: int | None = None
        answer: Any = ""
        error = ""
        try:
            try:
                ensure_public_destination(self.webhook_url)
            except ValueError as exc:
                raise RobotConfigurationError(
                    _("The portal will not call this webhook: %(reason)s.") % {"reason": exc},
                    system=self.kind,
                ) from exc
            data = json.dumps(body, ensure_ascii=False).encode()
            try:
                response = _session().post(
                    self.webhook_url,
                    params=params,  # requests encodes the raw base64 sign exactly once
                    data=data,
                    timeout=self.timeout,
                    allow_redirects=False,
                )
            except netguard.DestinationRefused as exc:
                raise RobotConfigurationError(
                    _("The portal will not call this webhook: %(reason)s.")
                    % {"reason": exc.message},
                    system=self.kind,
                ) from exc
            except requests.Timeout as exc:
                raise UnknownOutcome(
                    _("The robot did not answer in time; the message may have been posted."),
                    system=self.kind,
                ) from exc
            except requests.RequestException as exc:
                raise TransientError(
                    _("The robot could not be reached: %(error)s.")
                    % {"error": exc.__class__.__name__},
                    system=self.kind,
                ) from exc
            status = response.status_code
            try:
                answer = response.json()
            except ValueError:
                answer = response.text[:500]
            self.check(status=status, answer=answer, headers=response.headers)
            return RobotAnswer(status=status, body=answer)
        except Exception as exc:
            error = f"{exc.__class__.__name__}: {getattr(exc, 'message', exc)}"
            raise
        finally:
            remote_call.send(
                sender=type(self),
                system=self.kind,
                operation="robot.send",
                url=masked_url,
                request=self.mask_body(body),
                response=answer,
                status=status,
                duration_ms=round((time.monotonic() - started) * 1000, 1),
                error=error,
                keys={},
            )

    def check(self, *, status: int, answer: Any, headers: Any) -> None:
        """Raise the typed error the answer means (codes only, never the text)."""
        if 300 <= status < 400:
            # DingTalk reportedly redirects while a robot is throttled [U].
            raise RateLimited(
                _("The robot redirected the request (throttled)."),
                system=self.kind,
                code=status,
                retry_after=float(settings.ROBOT_THROTTLE_SECONDS),
            )
        if status >= 500:
            raise TransientError(
                _("The robot answered HTTP %(status)s.") % {"status": status},
                system=self.kind,
                code=status,
            )
        if not isinstance(answer, dict):
            raise TransientError(
                _("The robot answered HTTP %(status)s without JSON.") % {"status": status},
                system=self.kind,
                code=status,
                remote_message=str(answer)[:200],
            )
        code = answer.get(self.code_key, answer.get("StatusCode"))
        text = str(answer.get(self.message_key, answer.get("StatusMessage", "")))
        if code in (0, "0") and status < 400:
            return
        try:
            code = int(code)
        except (TypeError, ValueError):
            raise TransientError(
                _("The robot answered HTTP %(status)s without a result code.") % {"status": status},
                system=self.kind,
                code=status,
                remote_message=text,
            ) from None
        kw = {"system": self.kind, "code": code, "remote_message": text}
        if code in _rate_limit_codes(self.kind, self.confirmed_rate_limit_codes):
            raise RateLimited(
                _("The robot says messages are sent too fast."),
                retry_after=float(self.retry_after_for(code)),
                **kw,
            )
        if code in self.config_codes:
            raise RobotConfigurationError(
                _("The robot rejected the channel's configuration (%(code)s: %(text)s).")
                % {"code": code, "text": text},
                **kw,
            )
        if code in self.too_long_codes:
            raise RobotMessageRejected(
                _("The robot says the message is too long (%(text)s).") % {"text": text}, **kw
            )
        if code == -1 or status >= 500:
            raise TransientError(
                _("The robot is busy (%(code)s: %(text)s).") % {"code": code, "text": text}, **kw
            )
        raise RobotMessageRejected(
            _("The robot rejected the message (%(code)s: %(text)s).")
            % {"code": code, "text": text},
            **kw,
        )

    def retry_after_for(self, code: int) -> int:
        return settings.ROBOT_THROTTLE_SECONDS


class DingTalkRobotClient(RobotClient):
    kind = RobotKind.DINGTALK
    max_text_bytes = 18_000  # the body must stay below 20 000 bytes (460101)
    digest_budget = 16_000
    config_codes = {310000, 300001, 300005, 40035}
    too_long_codes = {460101, 101002}
    confirmed_rate_limit_codes = {130101}

    def build(self, message: RobotMessage, *, now: float) -> tuple[dict, dict]:
        mentions = " ".join(f"@{mobile}" for mobile in message.mobiles)
        text = fit_bytes(message.markdown, self.max_text_bytes - len(mentions.encode()) - 4)
        if mentions:
            text = f"{text}\n\n{mentions}"
        at = {
            "atMobiles": list(message.mobiles),
            "atUserIds": list(message.user_ids),
            "isAtAll": message.at_all,
        }
        if message.as_text:
            body = {"msgtype": "text", "text": {"content": text}, "at": at}
        else:
            body = {
                "msgtype": "markdown",
                "markdown": {"title": message.title[:100], "text": text},
                "at": at,
            }
        params: dict[str, str] = {}
        if self.secret:
            timestamp_ms = int(now * 1000)
            params = {
                "timestamp": str(timestamp_ms),
                "sign": dingtalk_sign(secret=self.secret, timestamp_ms=timestamp_ms),
            }
        return params, body


class FeishuRobotClient(RobotClient):
    kind = RobotKind.FEISHU
    max_text_bytes = 18_000  # body <= 20 KB (9499)
    digest_budget = 16_000
    code_key = "code"
    message_key = "msg"
    config_codes = {19001, 19021, 19022, 19024}
    too_long_codes = {9499}
    confirmed_rate_limit_codes = {11232}

    def build(self, message: RobotMessage, *, now: float) -> tuple[dict, dict]:
        mentions = "".join(f"<at id={uid}></at>" for uid in message.user_ids)
        if message.at_all:
            mentions += "<at id=all></at>"
        text = fit_bytes(message.markdown, self.max_text_bytes - len(mentions.encode()) - 4)
        if mentions:
            text = f"{text}\n{mentions}"
        body: dict[str, Any] = {
            "msg_type": "interactive",
            "card": {
                "header": {
                    "title": {"tag": "plain_text", "content": message.title[:100]},
                    "template": "red",
                },
                "elements": [{"tag": "div", "text": {"tag": "lark_md", "content": text}}],
            },
        }
        if self.secret:
            timestamp_s = int(now)
            body = {
                "timestamp": str(timestamp_s),
                "sign": feishu_sign(secret=self.secret, timestamp_s=timestamp_s),
                **body,
            }
        return {}, body

    def mask_body(self, body: dict) -> dict:
        return {**body, "sign": "***"} if "sign" in body else body

    def retry_after_for(self, code: int) -> int:
        return 60  # Feishu 11232: a short jittered back-off is enough (no 10-minute penalty)


class WeComRobotClient(RobotClient):
    kind = RobotKind.WECOM
    max_text_bytes = 4000  # markdown content <= 4096 bytes
    max_plain_bytes = 2000  # text content <= 2048 bytes
    digest_budget = 1_700  # a digest with @mobile goes as text: title + list within 2000
    config_codes = {93000}
    too_long_codes = {40058}
    confirmed_rate_limit_codes: ClassVar[set[int]] = set()  # 45009 is [U]: see settings

    def build(self, message: RobotMessage, *, now: float) -> tuple[dict, dict]:
        if message.as_text or message.mobiles or message.at_all:
            mentioned = list(message.user_ids) + (["@all"] if message.at_all else [])
            content = fit_bytes(f"{message.title}\n{message.markdown}", self.max_plain_bytes)
            body = {
                "msgtype": "text",
                "text": {
                    "content": content,
                    "mentioned_list": mentioned,
                    "mentioned_mobile_list": list(message.mobiles),
                },
            }
        else:
            mentions = "".join(f"<@{uid}>" for uid in message.user_ids)
            budget = self.max_text_bytes - len(mentions.encode()) - len(message.title.encode()) - 8
            content = f"## {message.title}\n{fit_bytes(message.markdown, budget)}"
            if mentions:
                content = f"{content}\n{mentions}"
            body = {"msgtype": "markdown", "markdown": {"content": content}}
        return {}, body


CLIENTS: dict[str, type[RobotClient]] = {
    RobotKind.DINGTALK: DingTalkRobotClient,
    RobotKind.FEISHU: FeishuRobotClient,
    RobotKind.WECOM: WeComRobotClient,
}


def client_for(channel) -> RobotClient:
    """The client of a RobotChannel row."""
    return CLIENTS[channel.kind](
        webhook_url=channel.webhook_url, secret=channel.secret, keyword=channel.keyword
    )
