"""Kingdee's error vocabulary: MsgCode values and the classification of record messages.

Kingdee answers business failures with HTTP 200 and Chinese messages; the sync engine needs to
know what kind of problem a record has, so `classify` maps a message to one of RecordKind.
The patterns come from messages seen in public code (docs/protocols/kingdee.md §3.2) and the
sandbox.
"""

import re
from enum import IntEnum, StrEnum

from django.utils.translation import gettext_noop

from connectors.errors import AuthError, BusinessError, RateLimited, TransientError
from core.messages import gettext as _

SYSTEM = "kingdee"


class MsgCode(IntEnum):
    OK = 0
    CONTEXT_LOST = 1
    NO_PERMISSION = 2
    EMPTY_OPERATION = 3
    EXCEPTION = 4
    EMPTY_FORM_ID = 5
    DATABASE = 6
    LICENCE = 7
    PARAMETER = 8
    FIELD_MISSING = 9
    NOT_FOUND = 10
    VALIDATION = 11
    NOT_ALLOWED = 12
    NETWORK_CONTROL = 13
    CALL_LIMIT = 14
    ADMIN_LOGIN_FORBIDDEN = 15


# Codes that concern the whole call (configuration, permissions), never one record.
CALL_LEVEL_CODES = frozenset(
    {
        MsgCode.NO_PERMISSION,
        MsgCode.EMPTY_OPERATION,
        MsgCode.EXCEPTION,
        MsgCode.EMPTY_FORM_ID,
        MsgCode.LICENCE,
        MsgCode.PARAMETER,
        MsgCode.ADMIN_LOGIN_FORBIDDEN,
    }
)
# Codes after which the same request may simply be sent again later.
RETRYABLE_CODES = frozenset({MsgCode.DATABASE, MsgCode.NETWORK_CONTROL, MsgCode.CALL_LIMIT})


class RecordKind(StrEnum):
    INSUFFICIENT_STOCK = "insufficient_stock"
    UNKNOWN_BASE_DATA = "unknown_base_data"
    DUPLICATE_BILL_NO = "duplicate_bill_no"
    MISSING_FIELD = "missing_field"
    INVALID_VALUE = "invalid_value"
    WRONG_STATUS = "wrong_status"
    OTHER = "other"


_RULES: tuple[tuple[RecordKind, re.Pattern], ...] = (
    (
        RecordKind.INSUFFICIENT_STOCK,
        re.compile(r"负库存|库存不足|更新库存不成功|库存数量不足|可用库存"),
    ),
    (
        RecordKind.DUPLICATE_BILL_NO,
        re.compile(r"唯一性|已经被使用|编码重复|单据编号.*重复|已存在相同"),
    ),
    (
        RecordKind.UNKNOWN_BASE_DATA,
        re.compile(r"基础资料.*(不存在|未审核|禁用)|的值.*(不存在|未审核|已禁用)|不存在或已禁用"),
    ),
    (RecordKind.MISSING_FIELD, re.compile(r"必填|必录|不能为空|至少需要")),
    (
        RecordKind.WRONG_STATUS,
        re.compile(
            r"状态|已审核|未审核|审核中|不允许(修改|删除|提交|审核|反审核)|已被其他用户修改"
        ),
    ),
    (RecordKind.INVALID_VALUE, re.compile(r"无效|不是有效|格式不正确|必须大于|超出|不合法|精度")),
)


def classify(message: str) -> RecordKind:
    """The kind of problem a Kingdee record message describes (first matching rule wins)."""
    for kind, pattern in _RULES:
        if pattern.search(message or ""):
            return kind
    return RecordKind.OTHER


# Marked for translation here, translated where raised (gettext(AUTH_HINT)).
AUTH_HINT = gettext_noop(
    "Kingdee rejected the credentials (MsgCode 1). Check the user name, app id, app secret and "
    "language id of the connection against Kingdee's third-party login authorisation "
    "(第三方系统登录授权) and that the authorisation is enabled; retrying will not help."
)
ACCT_HINT = gettext_noop(
    "Kingdee does not know this account set (Fail to verify thirty passport): check the account "
    "set (data centre) id of the connection."
)


def call_level_error(code: int, message: str, *, operation: str, form_id: str = "") -> Exception:
    """The typed exception for a failure that concerns the whole call."""
    extra = {"system": SYSTEM, "code": code, "remote_message": message, "operation": operation}
    if form_id:
        extra["form_id"] = form_id
    if code == MsgCode.CONTEXT_LOST:
        return AuthError(_(AUTH_HINT), **extra)
    if code == MsgCode.CALL_LIMIT:
        return RateLimited(
            _("Kingdee call limit reached (MsgCode 14): %(message)s") % {"message": message},
            **extra,
        )
    if code in (MsgCode.NETWORK_CONTROL, MsgCode.DATABASE):
        return TransientError(
            _("Kingdee is busy (MsgCode %(code)s): %(message)s")
            % {"code": code, "message": message},
            **extra,
        )
    return BusinessError(
        _("Kingdee rejected the %(operation)s call (MsgCode %(code)s): %(message)s")
        % {"operation": operation, "code": code, "message": message},
        errors=[{"code": code, "message": message}],
        **extra,
    )
