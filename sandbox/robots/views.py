"""Simulated robot receivers: they check what the real robots check, in the same order,
and answer with the real envelopes and codes (docs/protocols/alerts-fx-customs.md §1).

DingTalk  POST /sandbox/robots/dingtalk/robot/send?access_token=…[&timestamp=…&sign=…]
Feishu    POST /sandbox/robots/feishu/open-apis/bot/v2/hook/<hook id>
WeCom     POST /sandbox/robots/wecom/cgi-bin/webhook/send?key=…
Inbox     GET  /sandbox/robots/inbox/  (HTML; ?format=json for machines; ?robot=<token>)

Every request is recorded (accepted or not) so a person or a test can see what arrived.
The signature is verified by code written here, independently of the portal's client.
Fault injection: system "robots" (error_rate -> HTTP 500, busy_rate -> vendor busy code,
rate_limit_rate -> the over-limit answer, timeout_after_commit_rate -> recorded then stall).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from sandbox import faults

from .models import VENDOR_LIMITS, ReceivedMessage, RobotVendor, SandboxRobot

MAX_BODY_BYTES = 20_000
SKEW_MS = 3_600_000  # DingTalk and Feishu accept a timestamp within one hour


class Refusal(Exception):
    """The robot answers with an error code (HTTP 200, as the real robots do)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Parsed:
    """What the inbox records of a message."""

    msgtype: str = ""
    title: str = ""
    content: str = ""
    at_mobiles: list = field(default_factory=list)
    at_user_ids: list = field(default_factory=list)
    at_all: bool = False
    searchable: str = ""  # the text a keyword rule looks at


def _answer(vendor: str, code: int, message: str) -> JsonResponse:
    if vendor == RobotVendor.FEISHU:
        body = {"code": code, "msg": message, "data": {}}
        if code == 0:
            body.update({"StatusCode": 0, "StatusMessage": "success"})
        return JsonResponse(body, json_dumps_params={"ensure_ascii": False})
    return JsonResponse(
        {"errcode": code, "errmsg": message}, json_dumps_params={"ensure_ascii": False}
    )


def _load_json(raw: bytes) -> dict | None:
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return body if isinstance(body, dict) else None


def _strings(value: Any, *, skip: set[str]) -> list[str]:
    """Every string inside a JSON value, except under keys in `skip` (e.g. href)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item, skip=skip)]
    if isinstance(value, dict):
        return [s for k, v in value.items() if k not in skip for s in _strings(v, skip=skip)]
    return []


# --- DingTalk ---------------------------------------------------------------------------
def _dingtalk_verify(robot: SandboxRobot, request: HttpRequest, body: dict | None) -> None:
    if not robot.secret:
        return
    timestamp = request.GET.get("timestamp", "")
    sign = request.GET.get("sign", "")  # Django has URL-decoded it once, as DingTalk does
    if not timestamp.isdigit() or not sign:
        raise Refusal(310000, "sign not match, more: [sign or timestamp missing]")
    if abs(int(time.time() * 1000) - int(timestamp)) > SKEW_MS:
        raise Refusal(310000, "sign not match, more: [timestamp is more than 1 hour off]")
    expected = base64.b64encode(
        hmac.new(
            robot.secret.encode(), f"{timestamp}\n{robot.secret}".encode(), hashlib.sha256
        ).digest()
    ).decode()
    if not hmac.compare_digest(expected, sign):
        raise Refusal(310000, "sign not match")


def _dingtalk_parse(body: dict) -> Parsed:
    msgtype = body.get("msgtype", "")
    inner = body.get(msgtype) if isinstance(body.get(msgtype), dict) else None
    if msgtype not in ("text", "markdown", "link", "actionCard", "feedCard") or inner is None:
        raise Refusal(40008, "invalid message type")  # exact code for this case is [U]
    at = body.get("at") if isinstance(body.get("at"), dict) else {}
    title = str(inner.get("title", ""))
    content = str(inner.get("content") or inner.get("text") or "")
    return Parsed(
        msgtype=msgtype,
        title=title,
        content=content,
        at_mobiles=list(at.get("atMobiles") or []),
        at_user_ids=list(at.get("atUserIds") or at.get("atDingtalkIds") or []),
        at_all=bool(at.get("isAtAll")),
        searchable=" ".join(_strings(inner, skip={"messageUrl", "picUrl", "singleURL"})),
    )


# --- Feishu -------------------------------------------------------------------------------
def _feishu_verify(robot: SandboxRobot, request: HttpRequest, body: dict | None) -> None:
    if not robot.secret:
        return
    body = body or {}
    timestamp, sign = str(body.get("timestamp", "")), str(body.get("sign", ""))
    refusal = Refusal(
        19021, "sign match fail or timestamp is not within one hour from current time"
    )
    if not timestamp.isdigit() or abs(int(time.time()) - int(timestamp)) > SKEW_MS // 1000:
        raise refusal
    key = f"{timestamp}\n{robot.secret}".encode()
    expected = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
    if not hmac.compare_digest(expected, sign):
        raise refusal


def _feishu_parse(body: dict) -> Parsed:
    msgtype = str(body.get("msg_type", ""))
    if msgtype == "interactive":
        payload = body.get("card")
    elif msgtype in ("text", "post", "image", "share_chat"):
        payload = body.get("content")
    else:
        payload = None
    if not isinstance(payload, dict):
        raise Refusal(9499, "Bad Request")
    strings = _strings(payload, skip={"href", "tag", "template", "image_key", "user_id"})
    title = ""
    if msgtype == "interactive":
        title = str(payload.get("header", {}).get("title", {}).get("content", ""))
    text = "\n".join(strings)
    users = [u for u in _mentions(text) if u != "all"]
    return Parsed(
        msgtype=msgtype,
        title=title,
        content=text,
        at_user_ids=users,
        at_all="<at id=all>" in text or 'user_id="all"' in text,
        searchable=text,
    )


def _mentions(text: str) -> list[str]:
    found = []
    for chunk in text.split("<at id=")[1:]:
        found.append(chunk.split(">", 1)[0].strip('"'))
    return found


# --- WeCom --------------------------------------------------------------------------------
def _wecom_parse(body: dict) -> Parsed:
    msgtype = str(body.get("msgtype", ""))
    inner = body.get(msgtype)
    if msgtype not in ("text", "markdown", "markdown_v2", "image", "news", "file", "template_card"):
        raise Refusal(40008, "invalid message type")
    if not isinstance(inner, dict):
        raise Refusal(40008, "invalid message type")
    content = str(inner.get("content", ""))
    limit = 2048 if msgtype == "text" else 4096
    if len(content.encode()) > limit:
        # Seen for markdown (dromara/domain-admin#152); assumed the same for text.
        raise Refusal(40058, f"{msgtype}.content exceed max length {limit}")
    mentioned = list(inner.get("mentioned_list") or [])
    return Parsed(
        msgtype=msgtype,
        title=content.split("\n", 1)[0].lstrip("# "),
        content=content,
        at_mobiles=list(inner.get("mentioned_mobile_list") or []),
        at_user_ids=[u for u in mentioned if u != "@all"],
        at_all="@all" in mentioned,
        searchable=content,
    )


# --- the common receiver ------------------------------------------------------------------
_UNKNOWN_TOKEN = {
    RobotVendor.DINGTALK: (300001, "token is not exist"),
    # Text seen in sansan0/TrendRadar#278; the code 19001 is [U].
    RobotVendor.FEISHU: (19001, "param invalid: incoming webhook access token invalid"),
    RobotVendor.WECOM: (93000, "invalid webhook url, please check"),
}
_TOO_FAST = {
    RobotVendor.DINGTALK: (130101, "send too fast, exceed 20 times per minute"),
    RobotVendor.FEISHU: (11232, "frequency limited"),
    RobotVendor.WECOM: (45009, "api freq out of limit"),
}
_KEYWORD = {
    RobotVendor.DINGTALK: (310000, "keywords not in content"),
    RobotVendor.FEISHU: (19024, "Key Words Not Found"),
    RobotVendor.WECOM: (93000, "keywords not in content"),
}
_BUSY = {
    RobotVendor.DINGTALK: (-1, "系统繁忙"),
    RobotVendor.FEISHU: (-1, "internal error"),
    RobotVendor.WECOM: (-1, "system busy"),
}
_TOO_BIG = {
    RobotVendor.DINGTALK: (460101, "message too long, exceed 20000 bytes"),
    RobotVendor.FEISHU: (9499, "Bad Request"),
    RobotVendor.WECOM: (40058, "content exceed max length"),
}
_BAD_JSON = {
    RobotVendor.DINGTALK: (40035, "缺少参数 json"),
    RobotVendor.FEISHU: (9499, "Bad Request"),
    RobotVendor.WECOM: (40035, "invalid json"),
}
_VERIFY = {RobotVendor.DINGTALK: _dingtalk_verify, RobotVendor.FEISHU: _feishu_verify}
_PARSE = {
    RobotVendor.DINGTALK: _dingtalk_parse,
    RobotVendor.FEISHU: _feishu_parse,
    RobotVendor.WECOM: _wecom_parse,
}


def _record(vendor: str, robot: SandboxRobot | None, *, code: int, message: str, **kw) -> None:
    ReceivedMessage.objects.create(
        vendor=vendor, robot=robot, accepted=code == 0, errcode=code, errmsg=message[:200], **kw
    )


def _receive(request: HttpRequest, vendor: str, token: str) -> HttpResponse:
    profile = faults.current("robots")
    faults.delay(profile)
    raw = request.body
    body = _load_json(raw)
    stored = dict(body or {})
    if "sign" in stored:
        stored["sign"] = "***"
    common = {"body": stored, "size_bytes": len(raw)}
    robot = SandboxRobot.objects.filter(vendor=vendor, token=token).first() if token else None

    if faults.roll(profile.error_rate):
        _record(vendor, robot, code=500, message="injected server error", **common)
        return HttpResponse("injected server error", status=500)
    try:
        if not token and vendor == RobotVendor.DINGTALK:
            raise Refusal(40035, "缺少参数 access_token")
        if robot is None:
            raise Refusal(*_UNKNOWN_TOKEN[vendor])
        if len(raw) > MAX_BODY_BYTES:
            raise Refusal(*_TOO_BIG[vendor])
        if vendor in _VERIFY:
            _VERIFY[vendor](robot, request, body)
        if body is None:
            raise Refusal(*_BAD_JSON[vendor])
        parsed = _PARSE[vendor](body)
        if robot.keywords and not any(k in parsed.searchable for k in robot.keywords):
            raise Refusal(*_KEYWORD[vendor])
        if faults.roll(profile.busy_rate):
            raise Refusal(*_BUSY[vendor])
        if faults.roll(profile.rate_limit_rate):
            raise Refusal(*_TOO_FAST[vendor])
    except Refusal as refusal:
        _record(vendor, robot, code=refusal.code, message=refusal.message, **common)
        return _answer(vendor, refusal.code, refusal.message)

    details = {
        "signature_checked": bool(robot.secret) and vendor != RobotVendor.WECOM,
        "msgtype": parsed.msgtype,
        "title": parsed.title[:200],
        "content": parsed.content,
        "at_mobiles": parsed.at_mobiles,
        "at_user_ids": parsed.at_user_ids,
        "at_all": parsed.at_all,
    }
    with transaction.atomic():
        # The per-robot limit is counted under a row lock, so parallel posts cannot slip by.
        robot = SandboxRobot.objects.select_for_update().get(pk=robot.pk)
        now = timezone.now()
        per_minute, penalty = VENDOR_LIMITS[RobotVendor(vendor)]
        recent = robot.messages.filter(accepted=True, received_at__gte=now - timedelta(minutes=1))
        too_fast = robot.throttled_until is not None and robot.throttled_until > now
        if not too_fast and recent.count() >= per_minute:
            too_fast = True
            if penalty:
                robot.throttled_until = now + timedelta(seconds=penalty)
                robot.save(update_fields=["throttled_until"])
        if not too_fast and vendor == RobotVendor.FEISHU:
            too_fast = recent.filter(received_at__gte=now - timedelta(seconds=1)).count() >= 5
        code, message = _TOO_FAST[vendor] if too_fast else (0, "ok")
        if vendor == RobotVendor.FEISHU and not too_fast:
            message = "success"
        _record(vendor, robot, code=code, message=message, **common, **details)
    if code == 0 and faults.roll(profile.timeout_after_commit_rate):
        faults.stall(profile)
    return _answer(vendor, code, message)


@csrf_exempt
@require_POST
def dingtalk_send(request: HttpRequest) -> HttpResponse:
    return _receive(request, RobotVendor.DINGTALK, request.GET.get("access_token", ""))


@csrf_exempt
@require_POST
def feishu_hook(request: HttpRequest, token: str) -> HttpResponse:
    return _receive(request, RobotVendor.FEISHU, token)


@csrf_exempt
@require_POST
def wecom_send(request: HttpRequest) -> HttpResponse:
    return _receive(request, RobotVendor.WECOM, request.GET.get("key", ""))


@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    """What the simulated robots received, newest first (a person's page; JSON for machines)."""
    messages = ReceivedMessage.objects.select_related("robot")
    token = request.GET.get("robot", "")
    if token:
        messages = messages.filter(robot__token=token)
    try:
        limit = min(int(request.GET.get("limit", "200")), 1000)
    except ValueError:
        limit = 200
    rows = list(messages[:limit])
    if request.GET.get("format") == "json":
        return JsonResponse(
            {
                "count": messages.count(),
                "messages": [
                    {
                        "id": m.pk,
                        "vendor": m.vendor,
                        "robot": m.robot.token if m.robot else "",
                        "received_at": m.received_at.isoformat(),
                        "accepted": m.accepted,
                        "errcode": m.errcode,
                        "errmsg": m.errmsg,
                        "signature_checked": m.signature_checked,
                        "msgtype": m.msgtype,
                        "title": m.title,
                        "content": m.content,
                        "at_mobiles": m.at_mobiles,
                        "at_user_ids": m.at_user_ids,
                        "at_all": m.at_all,
                    }
                    for m in rows
                ],
            },
            json_dumps_params={"ensure_ascii": False},
        )
    robots = SandboxRobot.objects.all()
    return render(
        request,
        "sandbox_robots/inbox.html",
        {"messages": rows, "robots": robots, "selected": token},
    )
