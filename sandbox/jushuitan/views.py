"""The simulated open API's single entry point: checks in the order of docs/protocols/jushuitan.md
§4, then dispatches to sandbox.jushuitan.api. Every answer is HTTP 200 with the real envelope,
except injected server errors."""

from __future__ import annotations

import json
import time
import uuid

from django.core.cache import cache
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from sandbox import faults

from . import api, services
from .models import ApiApp, ApiSettings, ApiToken
from .services import ApiError

SYSTEM = "jushuitan"
TOKEN_PATHS = {
    "/openWeb/auth/getInitToken": "init",
    "/openWeb/auth/accessToken": "exchange",
    "/openWeb/auth/refreshToken": "refresh",
}
_BUSINESS_REQUIRED = ("app_key", "access_token", "timestamp", "version", "charset", "sign")
_TOKEN_REQUIRED = ("app_key", "timestamp", "grant_type", "charset", "sign")


def envelope(code: int, msg: str, data=None, **extra) -> JsonResponse:
    return JsonResponse(
        {"code": code, "msg": msg, "data": data, **extra},
        json_dumps_params={"ensure_ascii": False},
    )


def _check_common(request: HttpRequest, required: tuple[str, ...]) -> dict[str, str]:
    if request.method != "POST":
        raise ApiError(130, "请求方式错误: 仅支持 POST")
    if "application/x-www-form-urlencoded" not in request.content_type:
        raise ApiError(130, "请求格式错误: Content-Type 应为 application/x-www-form-urlencoded")
    form = {key: request.POST.get(key, "") for key in request.POST}
    for name in required:
        if not form.get(name):
            raise ApiError(130, f"入参缺少{name}")
    if form.get("charset", "").lower() != "utf-8":
        raise ApiError(140, "参数不符合规范: charset 只能为 utf-8")
    if "version" in required and form.get("version") != "2":
        raise ApiError(140, "参数不符合规范: version 只能为 2")
    try:
        skew = abs(time.time() - int(form["timestamp"]))
    except ValueError as exc:
        raise ApiError(140, "参数不符合规范: timestamp 应为秒级时间戳") from exc
    if skew > ApiSettings.load().timestamp_skew_seconds:
        raise ApiError(180, "timestamp 已过期，请校准服务器时间")
    return form


def _check_sign(form: dict[str, str]) -> ApiApp:
    app = ApiApp.objects.filter(app_key=form["app_key"]).first()
    # An unknown app key fails the signature check, as the real API does (no secret to check).
    expected = compute_sign(form, app.app_secret) if app else ""
    if not app or expected != form["sign"].lower():
        raise ApiError(120, "验证失败!无效签名")
    return app


def compute_sign(form: dict[str, str], secret: str) -> str:
    import hashlib

    joined = "".join(f"{k}{form[k]}" for k in sorted(form) if k != "sign" and form[k] != "")
    return hashlib.md5((secret + joined).encode("utf-8")).hexdigest()  # noqa: S324


def _rate_limit(app: ApiApp, token: str, settings: ApiSettings) -> None:
    """Fixed one-second and one-minute windows per (app, token), shared through the cache."""
    if not settings.rate_limit_enabled:
        return
    now = int(time.time())
    for span, limit, code, msg in (
        (1, settings.per_second, 199, "接口调用太频繁，请稍后再试（超过每秒并发限制）"),
        (60, settings.per_minute, 200, "接口调用次数超过每分钟限制"),
    ):
        key = f"sbjst:rate:{app.app_key}:{token}:{span}:{now // span}"
        cache.add(key, 0, timeout=span + 1)
        try:
            count = cache.incr(key)
        except ValueError:
            cache.set(key, 1, timeout=span + 1)
            count = 1
        if count > limit:
            raise ApiError(code, msg)


def _token_endpoint(request: HttpRequest, kind: str) -> JsonResponse:
    required = _TOKEN_REQUIRED + (("refresh_token",) if kind == "refresh" else ("code",))
    form = _check_common(request, required)
    app = _check_sign(form)
    if kind == "init" and not app.self_developed:
        raise ApiError(21024, "仅支持自有应用")
    if kind == "refresh":
        if not app.self_developed:
            raise ApiError(150, "服务商应用不支持刷新token，请重新授权")
        if form.get("grant_type") != "refresh_token":
            raise ApiError(140, "参数不符合规范: grant_type 应为 refresh_token")
        token = services.refresh_token(app=app, refresh_token=form["refresh_token"])
    else:
        if form.get("grant_type") != "authorization_code":
            raise ApiError(140, "参数不符合规范: grant_type 应为 authorization_code")
        if len(form["code"]) < 6:
            raise ApiError(140, "参数不符合规范: code 为6位字符")
        token = services.issue_token(app=app)
    return envelope(0, "执行成功", services.token_payload(token))


def _business(request: HttpRequest, path: str, fault) -> JsonResponse:
    form = _check_common(request, _BUSINESS_REQUIRED)
    app = _check_sign(form)
    token = ApiToken.objects.filter(app=app, access_token=form["access_token"]).first()
    if (
        token is None
        or token.expires_at <= timezone.now()
        or faults.roll(fault.session_expiry_rate)
    ):
        raise ApiError(100, "access_token已失效，请刷新或重新获取")
    settings = ApiSettings.load()
    _rate_limit(app, token.access_token, settings)
    if faults.roll(fault.rate_limit_rate):
        raise ApiError(199, "接口调用太频繁，请稍后再试（超过每秒并发限制）")
    if faults.roll(fault.busy_rate):
        raise ApiError(150, "系统内部错误，请稍后重试")
    handler = api.HANDLERS.get(path)
    if handler is None or path in (settings.denied_paths or []):
        raise ApiError(190, "接口不存在或没有权限")
    try:
        biz = json.loads(form.get("biz") or "{}")
    except ValueError as exc:
        raise ApiError(140, "参数不符合规范: biz 不是合法的JSON") from exc
    data = handler(biz)
    extra = {"issuccess": True} if path == "/open/jushuitan/inventoryv2/upload" else {}
    if path.startswith("/open/webapi/"):
        extra["request_id"] = uuid.uuid4().hex  # the /open/webapi/ routes add one (§1.5)
    answer = envelope(0, "执行成功", data, **extra)
    if path in api.WRITES and faults.roll(fault.timeout_after_commit_rate):
        faults.stall(fault)  # committed, but the client gives up before the answer
    return answer


@csrf_exempt
def endpoint(request: HttpRequest, path: str) -> JsonResponse:
    path = "/" + path.strip("/")
    fault = faults.current(SYSTEM)
    faults.delay(fault)
    if faults.roll(fault.error_rate):
        return JsonResponse({"message": "Internal Server Error"}, status=502)
    try:
        kind = TOKEN_PATHS.get(path)
        if kind:
            return _token_endpoint(request, kind)
        return _business(request, path, fault)
    except ApiError as exc:
        return envelope(exc.code, exc.msg)
