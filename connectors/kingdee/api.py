"""Kingdee Cloud Galaxy (金蝶云星空) K3Cloud WebAPI: the typed calls (docs/protocols/kingdee.md).

One KingdeeClient per connection and process (`client_for`), on top of the session and the
HTTP call of `transport.py` (one pooled requests.Session with TLS verification on). Writes
return a SaveResult that lists successes and per-record errors by DIndex (a partly failed batch
does not raise). Failures of the call itself raise the typed errors of connectors.errors:

- TransientError: nothing was done (connection refused, read-only call timed out, HTTP 5xx on a
  read, MsgCode 6/13); RateLimited: MsgCode 14 / HTTP 429;
- UnknownOutcome: a write was sent and no usable answer came back (timeout, reset, HTTP 5xx,
  `response_error:`): before sending it again, ask Kingdee whether it landed (lookup_bills);
- AuthError: credentials or account set rejected (after one fresh login / re-sign);
- BusinessError: the call was rejected as a whole (unknown form or field, permissions...).

IsAutoSubmitAndAudit and a failing audit (e.g. insufficient stock): one public source (a
Kingdee practitioner's note on cnblogs, 2024) says Save, Submit and Audit then run in ONE
transaction, so the model is not saved at all and appears only in Errors under its DIndex. The
sandbox does this by default. Should a server keep the bill (saved and submitted, status B),
the same DIndex appears in both lists: SaveResult.saved_with_errors names those records; their
bill exists and only Audit has to be retried. Either way the engine must look the bill up
(lookup_bills) before saving it again.
"""

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from connectors.errors import TransientError, UnknownOutcome
from core.messages import gettext as _

from .errors import (
    CALL_LEVEL_CODES,
    RETRYABLE_CODES,
    SYSTEM,
    MsgCode,
    RecordKind,
    call_level_error,
    classify,
)
from .models import KingdeeConnection
from .transport import DYNAMIC_FORM, KingdeeTransport, _bool, _int, _messages, _response_status


@dataclass(frozen=True)
class SavedEntity:
    """One object Kingdee saved / processed: its internal id, its number and its DIndex."""

    id: int
    number: str
    dindex: int


@dataclass(frozen=True)
class RecordError:
    """One message of ResponseStatus.Errors, classified for the engine."""

    dindex: int | None
    field_name: str
    message: str
    code: int | None
    kind: str

    @property
    def retryable(self) -> bool:
        """True when the same request may simply be sent again later (busy, locked)."""
        return self.code in RETRYABLE_CODES


@dataclass
class SaveResult:
    """The answer of Save / BatchSave / Submit / Audit / UnAudit / Delete."""

    successes: list[SavedEntity] = field(default_factory=list)
    errors: list[RecordError] = field(default_factory=list)
    msg_code: int = 0
    need_return_data: list[dict] = field(default_factory=list)
    # Audit fills SuccessMessages ("…审核成功！"); kept for the events, never parsed for ids.
    success_messages: list[str] = field(default_factory=list)
    # IsSuccess as Kingdee reported it: true with no SuccessEntitys is an older build's
    # success; its objects are confirmed by number (lookup_bills), never an unknown outcome.
    reported_success: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors

    def success_for(self, dindex: int) -> SavedEntity | None:
        return next((s for s in self.successes if s.dindex == dindex), None)

    def success_for_number(self, number: str) -> SavedEntity | None:
        """The success whose Number is this bill no. (an older build that answers only
        `IsSuccess, Id, Number` gives no DIndex: docs/protocols/kingdee.md §2.1)."""
        return next((s for s in self.successes if number and s.number == number), None)

    def saved(self, dindex: int, number: str) -> SavedEntity | None:
        """BatchSave: the success of model `dindex`, found by DIndex, else by its number."""
        hit = self.success_for(dindex)
        if hit is not None and (not number or not hit.number or hit.number == number):
            return hit
        return self.success_for_number(number)

    def errors_for(self, dindex: int) -> list[RecordError]:
        return [e for e in self.errors if e.dindex == dindex]

    @property
    def failed_dindexes(self) -> set[int]:
        return {e.dindex for e in self.errors if e.dindex is not None}

    @property
    def saved_with_errors(self) -> list[SavedEntity]:
        """Saved objects that also have errors (e.g. saved, but the automatic audit failed)."""
        failed = self.failed_dindexes
        return [s for s in self.successes if s.dindex in failed]


@dataclass(frozen=True)
class BillRef:
    """A bill found by lookup_bills."""

    id: int
    number: str
    status: str
    key: str


# Primary key of the forms whose key is not FID (docs/protocols/kingdee.md §2.6, §4).
PRIMARY_KEYS = {
    "BD_MATERIAL": "FMATERIALID",
    "BD_CUSTOMER": "FCUSTID",
    "BD_SUPPLIER": "FSupplierId",
    "BD_STOCK": "FStockId",
    "BD_CURRENCY": "FCurrencyId",
    "BD_RATETYPE": "FRateTypeId",
    "BD_ACCOUNT": "FAcctID",
    "BOS_BILLTYPE": "FBillTypeID",
    "GL_VOUCHER": "FVOUCHERID",
}


def primary_key(form_id: str) -> str:
    return PRIMARY_KEYS.get((form_id or "").upper(), "FID")


def unique_order(
    form_id: str, order_string: str, field_keys: list[str], entry_key: str = ""
) -> str:
    """`order_string` with the form's primary key (and the entry id when entry rows are read)
    appended unless already there, so every page boundary falls on a unique sort key."""
    parts = [p.strip() for p in (order_string or "").split(",") if p.strip()]
    named = {p.split()[0].lower() for p in parts}
    if not entry_key:
        entry_key = next(
            (k[: -len("_FEntryID")] for k in field_keys if k.lower().endswith("_fentryid")), ""
        )
    wanted = [primary_key(form_id)] + ([f"{entry_key}_FEntryID"] if entry_key else [])
    parts += [f"{key} ASC" for key in wanted if key.lower() not in named]
    return ", ".join(parts)


def quote(value: Any) -> str:
    """A FilterString literal: 'text' with embedded quotes doubled."""
    return "'" + str(value).replace("'", "''") + "'"


class KingdeeClient(KingdeeTransport):
    """The K3Cloud WebAPI of one KingdeeConnection."""

    # -- writes ----------------------------------------------------------------------------
    def _write(
        self, operation: str, form_id: str, data: dict, *, keys: dict, single: bool = False
    ) -> SaveResult:
        answer = self._call(
            f"{DYNAMIC_FORM}.{operation}",
            {"formid": form_id, "data": data},
            write=True,
            operation=operation,
            keys={"form_id": form_id, **keys},
        )
        return self._save_result(answer, operation=operation, form_id=form_id, single=single)

    def _save_result(
        self, answer: Any, *, operation: str, form_id: str, single: bool = False
    ) -> SaveResult:
        status = _response_status(answer)
        if status is None:
            raise UnknownOutcome(
                _(
                    "Kingdee's answer to %(operation)s has no ResponseStatus: the outcome is "
                    "unknown."
                )
                % {"operation": operation},
                system=SYSTEM,
                operation=operation,
                remote_message=str(answer)[:500],
            )
        msg_code = _int(status.get("MsgCode"), 0) or 0
        successes = [
            SavedEntity(
                id=_int(item.get("Id"), 0) or 0,
                number=str(item.get("Number") or ""),
                dindex=_int(item.get("DIndex"), 0) or 0,
            )
            for item in status.get("SuccessEntitys") or []
        ]
        errors = [
            RecordError(
                dindex=_int(item.get("DIndex"), None),
                field_name=str(item.get("FieldName") or ""),
                message=str(item.get("Message") or ""),
                code=msg_code,
                kind=classify(str(item.get("Message") or "")).value,
            )
            for item in status.get("Errors") or []
        ]
        failed = not _bool(status.get("IsSuccess"))
        result = answer.get("Result") if isinstance(answer, dict) else None
        if not failed and not successes and isinstance(result, dict) and result.get("Number"):
            # An older build: {"IsSuccess": true}, "Id", "Number" and no SuccessEntitys. A
            # success, matched by Number (one model: DIndex 0; otherwise unknown).
            successes.append(
                SavedEntity(
                    id=_int(result.get("Id"), 0) or 0,
                    number=str(result.get("Number")),
                    dindex=0 if single else -1,
                )
            )
        if (
            failed
            and not successes
            and (msg_code in CALL_LEVEL_CODES or msg_code in RETRYABLE_CODES)
        ):
            raise call_level_error(
                msg_code, _messages(status), operation=operation, form_id=form_id
            )
        if failed and not errors:
            errors.append(
                RecordError(
                    dindex=None,
                    field_name="",
                    message=_("Kingdee reported a failure without a message."),
                    code=msg_code,
                    kind=RecordKind.OTHER.value,
                )
            )
        need_return = []
        if isinstance(result, dict) and isinstance(result.get("NeedReturnData"), list):
            need_return = [r for r in result["NeedReturnData"] if isinstance(r, dict)]
        messages = [
            str(item.get("Message") or "")
            for item in status.get("SuccessMessages") or []
            if isinstance(item, dict)
        ]
        return SaveResult(successes, errors, msg_code, need_return, messages, not failed)

    def batch_save(
        self,
        form_id: str,
        models: list[dict],
        *,
        auto_submit_audit: bool = False,
        need_update_fields: list[str] | None = None,
        need_return_fields: list[str] | None = None,
        is_delete_entry: bool = True,
        validate_base_data: bool = True,
        interaction_flags: str = "",
        batch_count: int | None = None,
    ) -> SaveResult:
        """BatchSave: each model saved on its own; results matched back by DIndex."""
        data = self._save_options(
            auto_submit_audit=auto_submit_audit,
            need_update_fields=need_update_fields,
            need_return_fields=need_return_fields,
            is_delete_entry=is_delete_entry,
            validate_base_data=validate_base_data,
            interaction_flags=interaction_flags,
        )
        data["Model"] = models
        if batch_count:
            data["BatchCount"] = batch_count
        numbers = [str(m.get("FBillNo") or m.get("FNumber") or "") for m in models][:100]
        return self._write(
            "BatchSave", form_id, data, keys={"numbers": numbers}, single=len(models) == 1
        )

    def save(
        self,
        form_id: str,
        model: dict,
        *,
        auto_submit_audit: bool = False,
        need_update_fields: list[str] | None = None,
        need_return_fields: list[str] | None = None,
        is_delete_entry: bool = True,
        validate_base_data: bool = True,
        interaction_flags: str = "",
    ) -> SaveResult:
        """Save one object (create when its PK is 0/absent, else update)."""
        data = self._save_options(
            auto_submit_audit=auto_submit_audit,
            need_update_fields=need_update_fields,
            need_return_fields=need_return_fields,
            is_delete_entry=is_delete_entry,
            validate_base_data=validate_base_data,
            interaction_flags=interaction_flags,
        )
        data["Model"] = model
        number = str(model.get("FBillNo") or model.get("FNumber") or "")
        return self._write(
            "Save", form_id, data, keys={"numbers": [number] if number else []}, single=True
        )

    @staticmethod
    def _save_options(
        *,
        auto_submit_audit: bool,
        need_update_fields: list[str] | None,
        need_return_fields: list[str] | None,
        is_delete_entry: bool,
        validate_base_data: bool,
        interaction_flags: str,
    ) -> dict:
        return {
            "NeedUpDateFields": list(need_update_fields or []),
            "NeedReturnFields": list(need_return_fields or []),
            "IsDeleteEntry": is_delete_entry,
            "IsVerifyBaseDataField": validate_base_data,
            "IsEntryBatchFill": True,
            "ValidateFlag": True,
            "NumberSearch": True,
            "InterationFlags": interaction_flags,
            "IsAutoSubmitAndAudit": auto_submit_audit,
        }

    def _operation(
        self, operation: str, form_id: str, numbers: list[str] | None, ids: list[int] | None
    ) -> SaveResult:
        if not numbers and not ids:
            raise ValueError("give numbers or ids")
        data: dict[str, Any] = {"CreateOrgId": 0, "Numbers": [], "Ids": ""}
        if ids:
            data["Ids"] = ",".join(str(int(i)) for i in ids)
        else:
            data["Numbers"] = [str(n) for n in numbers or []]
        shown = [str(n) for n in (numbers or ids or [])][:100]
        return self._write(operation, form_id, data, keys={"numbers": shown})

    def submit(
        self, form_id: str, *, numbers: list[str] | None = None, ids: list[int] | None = None
    ) -> SaveResult:
        return self._operation("Submit", form_id, numbers, ids)

    def audit(
        self, form_id: str, *, numbers: list[str] | None = None, ids: list[int] | None = None
    ) -> SaveResult:
        return self._operation("Audit", form_id, numbers, ids)

    def unaudit(
        self, form_id: str, *, numbers: list[str] | None = None, ids: list[int] | None = None
    ) -> SaveResult:
        return self._operation("UnAudit", form_id, numbers, ids)

    def delete(
        self, form_id: str, *, numbers: list[str] | None = None, ids: list[int] | None = None
    ) -> SaveResult:
        return self._operation("Delete", form_id, numbers, ids)

    def push(
        self,
        form_id: str,
        *,
        numbers: list[str],
        target_form_id: str,
        rule_id: str = "",
        enable_default_rule: bool = False,
    ) -> SaveResult:
        """Push (下推) source bills into target bills linked to them (docs/protocols/kingdee.md
        §2.8); the targets are saved, not submitted."""
        data = {
            "Ids": "",
            "Numbers": [str(n) for n in numbers],
            "EntryIds": "",
            "RuleId": rule_id,
            "TargetBillTypeId": "",
            "TargetOrgId": 0,
            "TargetFormId": target_form_id,
            "IsEnableDefaultRule": "true" if enable_default_rule else "false",
            "IsDraftWhenSaveFail": "false",
            "CustomParams": {},
        }
        return self._write("Push", form_id, data, keys={"numbers": data["Numbers"][:100]})

    # -- reads -----------------------------------------------------------------------------
    def view(
        self, form_id: str, *, number: str | None = None, id: int | None = None
    ) -> dict | None:
        """The whole object (ORM property names), or None when Kingdee has no such object."""
        if not number and not id:
            raise ValueError("give a number or an id")
        data = {"CreateOrgId": 0, "Number": number or "", "Id": str(id or ""), "IsSortBySeq": False}
        answer = self._call(
            f"{DYNAMIC_FORM}.View",
            {"formid": form_id, "data": data},
            write=False,
            operation="View",
            keys={"form_id": form_id, "numbers": [number or str(id)]},
        )
        status = _response_status(answer) or {}
        if _bool(status.get("IsSuccess")):
            return answer["Result"].get("Result")
        code = _int(status.get("MsgCode"), 0) or 0
        text = _messages(status)
        if code == MsgCode.NOT_FOUND or "不存在" in text:
            return None
        raise call_level_error(code, text, operation="View", form_id=form_id)

    def execute_bill_query(
        self,
        form_id: str,
        field_keys: list[str],
        filter_string: str = "",
        order_string: str = "",
        start_row: int = 0,
        limit: int = 0,
        top_row_count: int = 0,
    ) -> list[list]:
        """ExecuteBillQuery: rows as lists in field_keys order (numbers with fractions as
        Decimal, dates as 'yyyy-MM-ddTHH:mm:ss' text)."""
        data = {
            "FormId": form_id,
            "FieldKeys": ",".join(field_keys),
            "FilterString": filter_string,
            "OrderString": order_string,
            "TopRowCount": top_row_count,
            "StartRow": start_row,
            "Limit": limit,
            "SubSystemId": "",
        }
        answer = self._call(
            f"{DYNAMIC_FORM}.ExecuteBillQuery",
            {"data": data},
            write=False,
            operation="ExecuteBillQuery",
            keys={"form_id": form_id},
        )
        status = _response_status(answer)
        if status is not None:
            code = _int(status.get("MsgCode"), MsgCode.EXCEPTION) or MsgCode.EXCEPTION
            raise call_level_error(
                code, _messages(status), operation="ExecuteBillQuery", form_id=form_id
            )
        if not isinstance(answer, list):
            raise TransientError(
                _("Kingdee answered ExecuteBillQuery with something that is not a list of rows."),
                system=SYSTEM,
                remote_message=str(answer)[:500],
            )
        return answer

    def iter_bill_query(
        self,
        form_id: str,
        field_keys: list[str],
        filter_string: str = "",
        order_string: str = "",
        page_size: int = 2000,
        entry_key: str = "",
    ) -> Iterator[dict[str, Any]]:
        """Every row, page by page (StartRow += page size until a short page), as dicts keyed
        by field key. The OrderString is made unique (docs/protocols/kingdee.md §2.6): the
        form's primary key is appended, and the entry id too when entry fields are read
        (`entry_key`, or a `<Entry>_FEntryID` among the keys): paging on a sort key that is not
        unique loses rows silently."""
        order_string = unique_order(form_id, order_string, field_keys, entry_key)
        start = 0
        while True:
            page = self.execute_bill_query(
                form_id,
                field_keys,
                filter_string=filter_string,
                order_string=order_string,
                start_row=start,
                limit=page_size,
            )
            for row in page:
                yield dict(zip(field_keys, row, strict=False))
            if len(page) < page_size:
                return
            start += page_size

    def lookup_bills(
        self, form_id: str, *, key_field: str = "FBillNo", values: list[str], chunk: int = 200
    ) -> dict[str, BillRef]:
        """Which of these keys (bill nos. or a custom field such as F_PAEZ_PlatformOrderNo)
        already exist in Kingdee: the question to ask before resending an unknown write."""
        found: dict[str, BillRef] = {}
        unique = list(dict.fromkeys(str(v) for v in values if v not in (None, "")))
        pk_key = primary_key(form_id)
        for index in range(0, len(unique), chunk):
            part = unique[index : index + chunk]
            keys = [pk_key, "FBillNo", "FDocumentStatus", key_field]
            rows = self.execute_bill_query(
                form_id,
                keys,
                filter_string=f"{key_field} in ({','.join(quote(v) for v in part)})",
                order_string=f"{pk_key} ASC",
            )
            for pk, number, status, key in rows:
                found.setdefault(str(key), BillRef(int(pk), str(number), str(status), str(key)))
        return found

    def finish_bills(self, form_id: str, bills: dict[str, str]) -> dict[str, list[RecordError]]:
        """Submit (those still Z/A/D) and audit saved bills {number: status}; per number the
        errors ([] = audited).

        Results are matched by Number, never by position: a server answers in its own (id)
        order and skips a number it does not find (docs/protocols/kingdee.md §2.4). A number
        without a success entry is confirmed by reading FDocumentStatus by FBillNo."""
        numbers = list(bills)
        if not numbers:
            return {}
        created = [n for n in numbers if bills[n] in ("Z", "A", "D")]
        answers = []
        if created:
            answers.append(self.submit(form_id, numbers=created))
        answers.append(self.audit(form_id, numbers=numbers))
        audited = {s.number for s in answers[-1].successes if s.number}
        errors = [e for answer in answers for e in answer.errors]
        out: dict[str, list[RecordError]] = {n: [] for n in numbers if n in audited}
        rest = [n for n in numbers if n not in audited]
        if rest:
            found = self.lookup_bills(form_id, key_field="FBillNo", values=rest)
            for number in rest:
                ref = found.get(number)
                if ref is not None and ref.status == "C":
                    out[number] = []
                    continue
                mine = [e for e in errors if number in e.message] or errors
                out[number] = mine or [
                    RecordError(
                        dindex=None,
                        field_name="FDocumentStatus",
                        message=_("Bill %(no)s is not audited in Kingdee (status %(status)s).")
                        % {"no": number, "status": ref.status if ref else _("not found")},
                        code=None,
                        kind=RecordKind.WRONG_STATUS.value,
                    )
                ]
        return out

    def inventory(
        self,
        *,
        material_numbers: list[str] | None = None,
        stock_numbers: list[str] | None = None,
        org_number: str | None = None,
        page_size: int = 2000,
    ) -> dict[tuple[str, str, str], Decimal]:
        """On-hand quantity in base unit per (material, warehouse, stock org), from
        STK_Inventory, summed over lots, bins, statuses and owners."""
        clauses = []
        if org_number:
            clauses.append(f"FStockOrgId.FNumber = {quote(org_number)}")
        if stock_numbers:
            clauses.append(f"FStockId.FNumber in ({','.join(quote(s) for s in stock_numbers)})")
        if material_numbers:
            clauses.append(
                f"FMaterialId.FNumber in ({','.join(quote(m) for m in material_numbers)})"
            )
        keys = ["FMaterialId.FNumber", "FStockId.FNumber", "FStockOrgId.FNumber", "FBaseQty"]
        totals: dict[tuple[str, str, str], Decimal] = {}
        for row in self.iter_bill_query(
            "STK_Inventory",
            keys,
            filter_string=" and ".join(clauses),
            order_string="FID ASC",
            page_size=page_size,
        ):
            key = (str(row[keys[0]]), str(row[keys[1]]), str(row[keys[2]]))
            totals[key] = totals.get(key, Decimal("0")) + Decimal(str(row["FBaseQty"] or 0))
        return totals


_clients: dict[int, tuple[tuple, KingdeeClient]] = {}
_clients_lock = threading.Lock()


def _fingerprint(connection: KingdeeConnection) -> tuple:
    return (
        connection.server_url,
        connection.acct_id,
        connection.username,
        connection.app_id,
        connection.auth_mode,
        connection.lcid,
        connection.org_number,
        connection.verify_tls,
        connection.timeout_seconds,
        connection.updated_at,
    )


def client_for(connection: KingdeeConnection) -> KingdeeClient:
    """The process's client for this connection (one pooled session each); a changed
    connection gets a fresh client."""
    fingerprint = _fingerprint(connection)
    with _clients_lock:
        cached = _clients.get(connection.pk)
        if cached and cached[0] == fingerprint:
            return cached[1]
        client = KingdeeClient(connection)
        _clients[connection.pk] = (fingerprint, client)
        return client


def clear_clients() -> None:
    """Drop every cached client (tests, and after a connection is deleted)."""
    with _clients_lock:
        for _fp, client in _clients.values():
            client.http.close()
        _clients.clear()
