"""The simulated K3Cloud WebAPI endpoint: POST /sandbox/kingdee/k3cloud/<Service>.common.kdsvc.

Dispatches on the last dotted segment of the service name (case-insensitive), accepts the named
(`{"formid", "data"}`) and positional (`{"parameters": [...]}`) envelopes with `data` as an
object or a JSON string, authenticates like the real server (auth.py), injects the faults of
sandbox.faults("kingdee"), and answers with the real envelopes (HTTP 200 for business errors).
"""

import json
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from sandbox import faults

from . import auth, conf, forms, query, services
from .filters import FilterSyntaxError
from .models import KdSession

SYSTEM = "kingdee"
SUFFIX = ".common.kdsvc"
WRITES = {"save", "batchsave", "submit", "audit", "unaudit", "delete", "push"}
QUERIES = {"executebillquery", "billquery"}
LOGINS = {
    "validateuser": ("acctid", "username", "password", "lcid"),
    "validateuser2": ("acctid", "username", "password", "iskickoff", "lcid"),
    "loginbyappsecret": ("acctid", "username", "appid", "appsecret", "lcid"),
    "loginbyappsecret2": ("acctid", "username", "appid", "appsecret", "iskickoff", "lcid"),
    "loginbysign": ("acctid", "username", "appid", "timestamp", "sign", "lcid"),
    "loginbysign2": ("acctid", "username", "appid", "timestamp", "sign", "iskickoff", "lcid"),
}
CONTEXT_LOST = "会话信息已丢失，请重新登录"


def _status(code: int, message: str, field_name: str | None = None) -> dict:
    return {
        "Result": {
            "ResponseStatus": {
                "ErrorCode": 500,
                "IsSuccess": False,
                "Errors": [{"FieldName": field_name, "Message": message, "DIndex": 0}],
                "SuccessEntitys": [],
                "SuccessMessages": [],
                "MsgCode": code,
            }
        }
    }


def _answer(op: str, body: Any) -> JsonResponse:
    # ExecuteBillQuery wraps errors in the row structure: [[{"Result": {...}}]]
    # (docs/protocols/kingdee.md §2.6).
    if op == "executebillquery" and isinstance(body, dict):
        body = [[body]]
    return JsonResponse(body, safe=False, json_dumps_params={"ensure_ascii": False})


def _body(request: HttpRequest) -> Any:
    """The request envelope: a JSON body, or a form-encoded one (`data=<json>`, or `formid` +
    `data`, as two public clients send it; docs/protocols/kingdee.md §1.1)."""
    content_type = (request.content_type or "").lower()
    if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = request.POST.dict()
        if not form:
            raise ValueError("the form-encoded body has no fields")
        return form
    return json.loads(request.body.decode("utf-8") or "{}")


def _parse(request: HttpRequest, op: str) -> tuple[str, Any, list | None]:
    """(formid, data, positional parameters) of a request in either envelope style."""
    raw = _body(request)
    if not isinstance(raw, dict):
        raise ValueError("the request body must be a JSON object")
    lowered = {str(k).lower(): v for k, v in raw.items()}
    formid, data, positional = "", None, None
    if isinstance(lowered.get("parameters"), list):
        positional = lowered["parameters"]
        if op in QUERIES:
            data = positional[0] if positional else None
        elif op not in LOGINS:
            formid = str(positional[0]) if positional else ""
            data = positional[1] if len(positional) > 1 else None
    else:
        formid = str(lowered.get("formid") or "")
        data = lowered.get("data")
        if op in LOGINS:
            positional = [lowered.get(name) for name in LOGINS[op]]
    if isinstance(data, str):
        data = json.loads(data) if data.strip() else {}
    return formid, data if data is not None else {}, positional


def _set_session_cookies(response: HttpResponse, session: KdSession) -> None:
    response.set_cookie(auth.SESSION_COOKIE, session.session_id, path="/")
    response.set_cookie("ASP.NET_SessionId", session.session_id.replace("-", "")[:24], path="/")


@csrf_exempt
def service(request: HttpRequest, service_name: str) -> HttpResponse:
    if request.method != "POST":
        return HttpResponse("Method Not Allowed", status=405, content_type="text/plain")
    if not service_name.lower().endswith(SUFFIX):
        return HttpResponse("Not Found", status=404, content_type="text/plain")
    op = service_name[: -len(SUFFIX)].rsplit(".", 1)[-1].lower()
    settings = conf.current()
    fault = faults.current(SYSTEM)
    faults.delay(fault)
    if faults.roll(fault.error_rate):
        return HttpResponse(
            "<html><body><h1>Server Error</h1><p>500 - Internal server error.</p></body></html>",
            status=500,
            content_type="text/html",
        )
    if faults.roll(fault.busy_rate):
        return HttpResponse(
            "HTTP Error 503. The service is unavailable.", status=503, content_type="text/html"
        )
    try:
        formid, data, positional = _parse(request, op)
    except (ValueError, UnicodeDecodeError) as exc:
        return _answer(op, _status(services.MSG_PARAMETER, f"请求数据包不是有效的JSON：{exc}"))

    session_id = request.headers.get(auth.SESSION_COOKIE) or request.COOKIES.get(
        auth.SESSION_COOKIE, ""
    )
    if session_id and faults.roll(fault.session_expiry_rate):
        KdSession.objects.filter(session_id=session_id).delete()

    if op in LOGINS:
        result_type, message, session = auth.login(op, positional or [], settings)
        response = JsonResponse(
            auth.login_answer(result_type, message, session, settings),
            json_dumps_params={"ensure_ascii": False},
        )
        if session is not None:
            _set_session_cookies(response, session)
        return response
    if op == "logout":
        KdSession.objects.filter(session_id=session_id).delete()
        return JsonResponse(True, safe=False)

    session = auth.live_session(session_id, settings)
    new_session = None
    if session is None:
        try:
            who = auth.verify_signature(request.headers, request.path, settings)
        except auth.WrongAccountSet:
            return HttpResponse(
                "Fail to verify thirty passport", status=500, content_type="text/plain"
            )
        if who is not None:
            session = new_session = auth.open_session(who[0], who[1], "signature")
    if session is None:
        return _answer(op, _status(services.MSG_CONTEXT_LOST, CONTEXT_LOST))
    if faults.roll(fault.rate_limit_rate):
        response = _answer(op, _status(14, "接口调用次数超出限制，请稍后再试。"))
    else:
        response = _dispatch(op, formid, data, settings)
        if op in WRITES and faults.roll(fault.timeout_after_commit_rate):
            faults.stall(fault)  # committed; the client gives up before this answer arrives
    if new_session is not None:
        _set_session_cookies(response, new_session)
    return response


def _dispatch(op: str, formid: str, data: Any, settings: conf.SandboxSettings) -> HttpResponse:
    if not isinstance(data, dict):
        return _answer(op, _status(services.MSG_PARAMETER, "data数据包格式不正确。"))
    if op in QUERIES:
        return _query(op, data)
    if op not in WRITES and op != "view":
        return _answer(op, _status(services.MSG_EXCEPTION, f"服务“{op}”在模拟器中未实现。"))
    if not formid:
        return _answer(op, _status(5, "表单Id（formid）不能为空。"))
    spec = forms.get(formid)
    if spec is None or spec.kind == "inventory":
        return _answer(
            op, _status(services.MSG_EXCEPTION, f"标识为“{formid}”的业务对象不存在，或者被删除。")
        )
    if op == "view":
        found = services.view(spec, data)
        if found is None:
            return _answer(op, _status(services.MSG_NOT_FOUND, "数据不存在或已被删除。"))
        ok = services.Outcome().envelope()["Result"]["ResponseStatus"]
        return _answer(op, {"Result": {"ResponseStatus": ok, "Result": found}})
    if op in ("save", "batchsave"):
        lowered = {str(k).lower(): v for k, v in data.items()}
        model = lowered.get("model")
        if op == "save":
            if not isinstance(model, dict):
                return _answer(
                    op, _status(services.MSG_PARAMETER, "参数Model必须是一个表单数据包对象。")
                )
            models = [model]
        else:
            models = (
                model if isinstance(model, list) else [model] if isinstance(model, dict) else []
            )
            if not models:
                return _answer(op, _status(services.MSG_PARAMETER, "参数Model不能为空。"))
            if len(models) > settings.batch_max_models:
                return _answer(
                    op,
                    _status(
                        services.MSG_PARAMETER,
                        f"BatchSave一次最多{settings.batch_max_models}个数据包。",
                    ),
                )
        outcome = services.save_models(spec, models, services.SaveOptions.from_data(data))
        if settings.success_envelope == "legacy" and not outcome.errors:
            return _answer(op, outcome.legacy_envelope())
        return _answer(op, outcome.envelope(single_save=op == "save"))
    if op == "push":
        return _answer(op, services.push(spec, data).envelope())
    outcome = services.run_operation(spec, op, data)
    return _answer(op, outcome.envelope())


def _query(op: str, data: dict) -> HttpResponse:
    try:
        rows = query.execute(data)
    except query.UnknownForm as exc:
        return _answer(
            op, _status(services.MSG_EXCEPTION, f"标识为“{exc}”的业务对象不存在，或者被删除。")
        )
    except query.UnknownField as exc:
        return _answer(
            op, _status(services.MSG_FIELD_MISSING, f"元数据中标识为{exc.key}的字段不存在")
        )
    except query.QueryParameterError as exc:
        return _answer(op, _status(services.MSG_PARAMETER, str(exc)))
    except FilterSyntaxError as exc:
        return _answer(op, _status(services.MSG_EXCEPTION, str(exc)))
    if op == "billquery":
        keys = query.requested_keys(data)
        return _answer(op, [dict(zip(keys, row, strict=False)) for row in rows])
    return _answer(op, rows)
