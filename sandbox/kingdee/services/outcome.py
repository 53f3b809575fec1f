"""What a call to the simulated K3Cloud answers: the MsgCode values, one message, the outcome of
a call as the real envelope (docs/protocols/kingdee.md §2.1, §3.1), and the messages the
forms share (duplicate number, status does not allow the action).
"""

from dataclasses import dataclass, field
from typing import Any

# MsgCode values (docs/protocols/kingdee.md §3.1)
MSG_OK, MSG_CONTEXT_LOST, MSG_EXCEPTION, MSG_PARAMETER = 0, 1, 4, 8
MSG_FIELD_MISSING, MSG_NOT_FOUND, MSG_VALIDATION, MSG_NOT_ALLOWED = 9, 10, 11, 12

_STATUS_LABEL = {"Z": "暂存", "A": "创建", "B": "审核中", "C": "已审核", "D": "重新审核"}


@dataclass
class Message:
    """One entry of ResponseStatus.Errors."""

    message: str
    field_name: str | None = None
    dindex: int = 0
    code: int = MSG_VALIDATION

    def as_json(self) -> dict:
        return {"FieldName": self.field_name, "Message": self.message, "DIndex": self.dindex}


@dataclass
class Outcome:
    """What one call did: the entities that succeeded and the messages of those that did not."""

    successes: list[dict] = field(default_factory=list)
    errors: list[Message] = field(default_factory=list)
    need_return: list[dict] = field(default_factory=list)
    success_messages: list[dict] = field(default_factory=list)

    def envelope(self, *, single_save: bool = False) -> dict:
        """The answer as real servers send it (docs/protocols/kingdee.md §2.1): a success
        carries no ErrorCode; a failure carries ErrorCode 500 and the first error's MsgCode."""
        ok = not self.errors
        status: dict[str, Any] = {} if ok else {"ErrorCode": 500}
        status.update(
            {
                "IsSuccess": ok,
                "Errors": [e.as_json() for e in self.errors],
                "SuccessEntitys": self.successes,
                "SuccessMessages": self.success_messages,
                "MsgCode": MSG_OK if ok else self.errors[0].code,
            }
        )
        result: dict[str, Any] = {"ResponseStatus": status}
        if single_save:
            first = self.successes[0] if self.successes else {}
            result["Id"] = first.get("Id", "")
            result["Number"] = first.get("Number", "")
        result["NeedReturnData"] = self.need_return or [{}]
        return {"Result": result}

    def legacy_envelope(self) -> dict:
        """An older build's success: `{"IsSuccess": true}` and the last object's Id and
        Number, no SuccessEntitys (docs/protocols/kingdee.md §2.1)."""
        last = self.successes[-1] if self.successes else {}
        return {
            "Result": {
                "ResponseStatus": {"IsSuccess": True},
                "Id": last.get("Id", ""),
                "Number": last.get("Number", ""),
            }
        }


class ModelRejected(Exception):
    """One model / object failed; its messages go to the answer and its savepoint rolls back."""

    def __init__(self, messages: list[Message]) -> None:
        super().__init__("; ".join(m.message for m in messages))
        self.messages = messages


def _field_missing(key: str, dindex: int) -> Message:
    return Message(f"元数据中标识为{key}的字段不存在", key, dindex, MSG_FIELD_MISSING)


def _duplicate(number: str, field_name: str, dindex: int) -> Message:
    return Message(
        f"违反字段唯一性要求：编码唯一。[{number}]在当前系统中已经被使用。", field_name, dindex
    )


def _status_message(spec, number: str, status: str, action: str, dindex: int) -> Message:
    label = _STATUS_LABEL.get(status, status)
    return Message(
        f"{spec.name}“{number}”当前状态为“{label}”，不允许{action}。", None, dindex, MSG_NOT_ALLOWED
    )
