"""Authentication as the real server does it (docs/protocols/kingdee.md §1.2 - §1.5).

A live `kdservice-sessionid` (header or cookie) is honoured without checking anything else.
Otherwise the SDK signature headers are verified and, when they are good, a session is opened
silently; the login services open one explicitly. Everything else is MsgCode 1.
This is an independent implementation of the signature (the client has its own); the tests
hold both to the test vectors of docs/protocols/kingdee.md §1.2 and to the official SDK.
"""

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

from django.utils import timezone

from .conf import SandboxSettings
from .models import KdSession

SESSION_COOKIE = "kdservice-sessionid"
_XOR_MASK = b"0054f397c6234378b09ca7d3e5debce7"[:24]


class WrongAccountSet(Exception):
    """The account set id is unknown: the real server answers non-200 'Fail to verify thirty
    passport' (sic)."""


def hmac_b64(key: str, message: str) -> str:
    digest = hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()
    return base64.b64encode(digest.encode()).decode()


def gateway_secret(app_id: str) -> str:
    parts = app_id.split("_")
    if len(parts) != 2 or len(parts[1]) != 32:
        return ""
    raw = base64.b64decode(parts[1])
    return base64.b64encode(bytes(a ^ b for a, b in zip(raw, _XOR_MASK, strict=False))).decode()


def encoded_path(path: str) -> str:
    return quote(path, encoding="utf-8").replace("/", "%2F")


@dataclass(frozen=True)
class Identity:
    session: KdSession
    new: bool  # a Set-Cookie is due


def live_session(session_id: str, settings: SandboxSettings) -> KdSession | None:
    if not session_id:
        return None
    row = KdSession.objects.filter(session_id=session_id).first()
    if row is None:
        return None
    idle = timezone.now() - row.last_seen_at
    if idle > timedelta(seconds=settings.session_idle_seconds):
        row.delete()
        return None
    KdSession.objects.filter(pk=row.pk).update(last_seen_at=timezone.now())
    return row


def open_session(acct_id: str, username: str, opened_by: str) -> KdSession:
    return KdSession.objects.create(
        session_id=str(uuid.uuid4()),
        acct_id=acct_id,
        username=username,
        opened_by=opened_by,
        last_seen_at=timezone.now(),
    )


def verify_signature(headers, path: str, settings: SandboxSettings) -> tuple[str, str] | None:
    """(acct_id, user) when the SDK headers are present and valid; None when they are absent or
    wrong. Raises WrongAccountSet for an unknown account set."""
    app_key = headers.get("X-Kd-Appkey", "")
    app_data_b64 = headers.get("X-Kd-Appdata", "")
    signature = headers.get("X-Kd-Signature", "")
    if not (app_key and app_data_b64 and signature):
        return None
    try:
        app_data = base64.b64decode(app_data_b64).decode("utf-8")
        acct_id, user, lcid, _org = app_data.split(",", 3)
    except (ValueError, UnicodeDecodeError):
        return None
    if acct_id != settings.acct_id:
        raise WrongAccountSet(acct_id)
    if app_key != settings.app_id or user != settings.username:
        return None
    if not lcid.isdigit() or int(lcid) not in settings.lcids:
        return None
    expected = hmac_b64(settings.app_secret, app_key + app_data)
    if not hmac.compare_digest(expected, signature):
        return None
    gateway = headers.get("X-Api-Signature", "")
    if gateway and settings.verify_gateway_signature:
        ts = headers.get("x-api-timestamp", "")
        nonce = headers.get("x-api-nonce", "")
        message = f"POST\n{encoded_path(path)}\n\nx-api-nonce:{nonce}\nx-api-timestamp:{ts}\n"
        if not hmac.compare_digest(hmac_b64(gateway_secret(app_key), message), gateway):
            return None
    return acct_id, user


def login_sign(acct_id: str, user: str, app_id: str, app_secret: str, timestamp: str) -> str:
    parts = sorted([acct_id, user, app_id, app_secret, timestamp])
    return hashlib.sha256("".join(parts).encode("utf-8")).hexdigest()


def login(
    service: str, params: list, settings: SandboxSettings
) -> tuple[int, str, KdSession | None]:
    """(LoginResultType, Message, session) for ValidateUser / LoginByAppSecret / LoginBySign."""
    service = service.lower()
    values = [str(p) if p is not None else "" for p in params]
    values += [""] * (6 - len(values))
    acct_id, user = values[0], values[1]
    if acct_id != settings.acct_id:
        return -1, f"数据中心“{acct_id}”不存在，请检查账套ID。", None
    ok = False
    if service in ("validateuser", "validateuser2"):
        ok = user == settings.username and hmac.compare_digest(values[2], settings.password)
    elif service in ("loginbyappsecret", "loginbyappsecret2"):
        ok = (
            user == settings.username
            and values[2] == settings.app_id
            and hmac.compare_digest(values[3], settings.app_secret)
        )
    elif service in ("loginbysign", "loginbysign2"):
        expected = login_sign(acct_id, user, settings.app_id, settings.app_secret, values[3])
        ok = user == settings.username and values[2] == settings.app_id
        ok = ok and hmac.compare_digest(expected, values[4].lower())
    if not ok:
        return 0, "用户名或密码错误，或第三方系统登录授权未启用。", None
    return 1, "", open_session(acct_id, user, service)


def login_answer(result_type: int, message: str, session: KdSession | None, settings) -> dict:
    context = None
    if session is not None:
        context = {
            "UserLocale": "zh-CN",
            "DBid": settings.acct_id,
            "SessionId": session.session_id,
            "UserId": 100001,
            "UserName": session.username,
            "DataCenterNumber": settings.acct_id,
            "DataCenterName": settings.acct_name,
            "DisplayVersion": "9.0.553.10",
            "UserToken": str(uuid.uuid5(uuid.NAMESPACE_URL, session.session_id)),
            "CurrentOrganizationInfo": {
                "ID": 1,
                "AcctOrgType": "1",
                "Name": "跨境电商事业部",
                "FunctionIds": [101, 102, 103, 104],
            },
            "UseLanguages": [
                {"LocaleId": 2052, "LocaleName": "中文(简体)", "Alias": "CN", "LicenseType": 0}
            ],
            "ClientType": 32,
            "DatabaseType": 3,
            "IsDeployAsPublicCloud": False,
        }
    return {
        "Message": message or None,
        "MessageCode": "CheckPasswordPolicy" if session else None,
        "LoginResultType": result_type,
        "Context": context,
        "KDSVCSessionId": session.session_id if session else None,
        "FormId": None,
        "RedirectFormParam": None,
        "FormInputObject": None,
        "ErrorStackTrace": None,
        "Lcid": 0,
        "AccessToken": None,
        "CustomParam": {},
        "KdAccessResult": None,
        "IsSuccessByAPI": session is not None,
    }
