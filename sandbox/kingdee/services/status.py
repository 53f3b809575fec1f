"""Submit / Audit / UnAudit / Delete of the simulated K3Cloud (docs/protocols/kingdee.md §2.4):
the status transitions, with the stock ledger and costing on audit and unaudit.
"""

from typing import Any

from django.db import transaction
from django.utils import timezone

from .. import costing, forms
from ..models import EDITABLE_STATUSES, KdBaseData, KdBill
from .common import _number_of
from .ledger import _apply_stock
from .outcome import MSG_NOT_FOUND, MSG_PARAMETER, Message, ModelRejected, Outcome, _status_message

_TRANSITIONS = {
    "submit": (("A", "D"), "B", "提交"),
    "audit": (("B",), "C", "审核"),
    "unaudit": (("C",), "D", "反审核"),
}


def run_operation(spec: forms.FormSpec, operation: str, data: dict) -> Outcome:
    """Submit / Audit / UnAudit / Delete the objects named by Ids (wins) or Numbers."""
    lowered = {str(k).lower(): v for k, v in data.items()}
    ids = lowered.get("ids")
    numbers = lowered.get("numbers") or []
    if isinstance(numbers, str):
        numbers = [n for n in numbers.split(",") if n.strip()]
    targets: list[tuple[str, Any]] = []
    if ids not in (None, "", []):
        raw = ids if isinstance(ids, list) else str(ids).split(",")
        targets = [("id", str(x).strip()) for x in raw if str(x).strip()]
    else:
        targets = [("number", str(n).strip()) for n in numbers]
    outcome = Outcome()
    if not targets:
        outcome.errors.append(
            Message("请传入需要操作的单据编码或内码（Numbers/Ids）。", None, 0, MSG_PARAMETER)
        )
        return outcome
    model = KdBaseData if spec.kind == "base" else KdBill
    # The server processes the objects it finds in its own (id) order: DIndex counts those, and
    # a number or id it does not find is skipped without a message (docs/protocols/kingdee.md
    # §2.4: one public sample). Only a call that finds nothing at all is answered with an error.
    rows = model.objects.filter(form_id=spec.form_id)
    ids = [int(ident) for kind, ident in targets if kind == "id" and ident.isdigit()]
    numbers = [ident for kind, ident in targets if kind == "number"]
    found = list(
        rows.filter(pk__in=ids)
        if ids
        else rows.filter(
            **({"number__in": numbers} if spec.kind == "base" else {"bill_no__in": numbers})
        )
    )
    found.sort(key=lambda row: row.pk)
    if not found:
        shown = "、".join(ident for _kind, ident in targets)
        outcome.errors.append(
            Message(f"{spec.name}“{shown}”不存在或已被删除。", None, 0, MSG_NOT_FOUND)
        )
        return outcome
    action = {"submit": "提交", "audit": "审核", "unaudit": "反审核", "delete": "删除"}[operation]
    for dindex, row in enumerate(found):
        try:
            with transaction.atomic():
                row = model.objects.select_for_update().get(pk=row.pk)
                if operation == "delete":
                    if row.document_status not in EDITABLE_STATUSES:
                        raise ModelRejected(
                            [
                                _status_message(
                                    spec, _number_of(row), row.document_status, "删除", dindex
                                )
                            ]
                        )
                    pk, number = row.pk, _number_of(row)
                    row.delete()
                    outcome.successes.append({"Id": pk, "Number": number, "DIndex": dindex})
                    continue
                _transition(spec, row, operation, dindex)
        except ModelRejected as rejected:
            outcome.errors.extend(rejected.messages)
            continue
        outcome.successes.append({"Id": row.pk, "Number": _number_of(row), "DIndex": dindex})
        if operation == "audit":
            outcome.success_messages.append(
                {
                    "FieldName": None,
                    "Message": f"单据编号为“{_number_of(row)}”的{spec.name}，{action}成功！",
                    "DIndex": dindex,
                }
            )
    return outcome


def _transition(spec, row: KdBill | KdBaseData, operation: str, dindex: int) -> None:
    allowed, target, action = _TRANSITIONS[operation]
    if row.document_status not in allowed:
        raise ModelRejected(
            [_status_message(spec, _number_of(row), row.document_status, action, dindex)]
        )
    if isinstance(row, KdBill) and operation == "audit":
        _apply_stock(spec, row, reverse=False, dindex=dindex)
        costing.value_audit(spec, row)
    elif isinstance(row, KdBill) and operation == "unaudit":
        costing.value_reverse(spec, row)
        _apply_stock(spec, row, reverse=True, dindex=dindex)
    row.document_status = target
    if operation == "audit":
        row.approved_at = timezone.now()
    elif operation == "unaudit":
        row.approved_at = None
    row.save(update_fields=["document_status", "approved_at", "modified_at"])
