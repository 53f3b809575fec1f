"""The simulated K3Cloud's business rules: Save/BatchSave, Submit/Audit/UnAudit/Delete, View,
the stock ledger, numbering, and the demo seed.

Each model of a BatchSave and each object of a multi-object operation runs in its own
savepoint: a failed one does not roll back the others, and its messages carry its DIndex.
With IsAutoSubmitAndAudit, Save + Submit + Audit of one model are one transaction
(conf.AUTO_AUDIT_FAILURE="rollback", the default; see DESIGN notes in conf.py).
"""

import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from . import amounts, bos, conf, forms
from .models import (
    EDITABLE_STATUSES,
    DocumentStatus,
    KdBaseData,
    KdBill,
    KdBillCustomField,
    KdBillEntry,
    KdCustomField,
    KdNumberSequence,
    KdStockBalance,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")

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


# -- helpers ---------------------------------------------------------------------------------
def _lower(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k).lower(): _lower(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_lower(v) for v in value]
    return value


def _ref(value: Any) -> str:
    """The number inside a reference object ({"FNumber": "X"}), or a plain value as text."""
    if isinstance(value, dict):
        for key in ("fnumber", "fuserid", "fstaffnumber", "fname"):
            if value.get(key) not in (None, ""):
                return str(value[key]).strip()
        return ""
    if value is None:
        return ""
    return str(value).strip()


def _truthy(value: Any, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "" or isinstance(value, bool | dict | list):
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _parse_date(value: Any) -> datetime | None:
    text = str(value or "").strip().replace("T", " ")
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=SHANGHAI)


def split_model(spec: forms.FormSpec, model: dict) -> tuple[dict, list[dict] | None]:
    """Lower-case header keys with sub-heads flattened, and the entry rows (None if absent)."""
    header: dict[str, Any] = {}
    entries = None
    for key, value in model.items():
        low = str(key).lower()
        if spec.entry_key and low == spec.entry_key:
            entries = [_lower(row) for row in (value or []) if isinstance(row, dict)]
        elif low in forms.SUB_HEADS and isinstance(value, dict):
            header.update(_lower(value))
        else:
            header[low] = _lower(value)
    return header, entries


class _BaseDataCache:
    """Base-data lookups of one request, so a 500-model BatchSave asks each number once."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], KdBaseData | None] = {}

    def get(self, form_id: str, number: str) -> KdBaseData | None:
        key = (form_id, number)
        if key not in self.rows:
            self.rows[key] = (
                KdBaseData.objects.filter(form_id=form_id, number=number).order_by("id").first()
            )
        return self.rows[key]

    def allows_negative(self, stock_number: str) -> bool:
        row = self.get("BD_STOCK", stock_number)
        return bool(row and _truthy(row.fields.get("fallowminusqty"), False))

    def stock_name(self, stock_number: str) -> str:
        row = self.get("BD_STOCK", stock_number)
        return row.name if row else stock_number

    def usable(self, form_id: str, number: str) -> bool:
        row = self.get(form_id, number)
        return bool(
            row and row.document_status == DocumentStatus.AUDITED and row.forbid_status == "A"
        )


def _label(spec: forms.FormSpec, key: str) -> str:
    for known, label in spec.required_header + spec.required_entry:
        if known == key:
            return label
    return forms.canonical(key)


# -- Save ------------------------------------------------------------------------------------
@dataclass
class SaveOptions:
    need_update_fields: list[str]
    need_return_fields: list[str]
    is_delete_entry: bool
    verify_base_data: bool
    auto_submit_audit: bool

    @classmethod
    def from_data(cls, data: dict) -> "SaveOptions":
        lowered = {str(k).lower(): v for k, v in data.items()}
        return cls(
            need_update_fields=[str(k).lower() for k in lowered.get("needupdatefields") or []],
            need_return_fields=[str(k) for k in lowered.get("needreturnfields") or []],
            is_delete_entry=_truthy(lowered.get("isdeleteentry"), True),
            verify_base_data=_truthy(lowered.get("isverifybasedatafield"), False),
            auto_submit_audit=_truthy(lowered.get("isautosubmitandaudit"), False),
        )


def unknown_keys(spec: forms.FormSpec, model: Any, custom: dict[str, str]) -> list[str]:
    """The keys of a Save model the form's metadata does not have, as sent: standard keys of
    another level (FNote on the STK_InStock header) and custom fields not created in BOS."""
    if not isinstance(model, dict):
        return []
    unknown: list[str] = []

    def check(key: str, level: str) -> None:
        if spec.level_of(str(key).lower(), custom) != level and key not in unknown:
            unknown.append(key)

    for key, value in model.items():
        low = str(key).lower()
        if low in forms.SUB_HEADS and isinstance(value, dict):
            for inner in value:
                check(inner, "header")
        elif spec.entry_key and low == spec.entry_key:
            for row in value if isinstance(value, list) else []:
                for inner, cell in row.items() if isinstance(row, dict) else ():
                    if not isinstance(cell, list):  # sub-entries / link rows: not modelled
                        check(inner, "entry")
        else:
            check(key, "header")
    return unknown


def _field_missing(key: str, dindex: int) -> Message:
    return Message(f"元数据中标识为{key}的字段不存在", key, dindex, MSG_FIELD_MISSING)


def save_models(spec: forms.FormSpec, models: list[dict], options: SaveOptions) -> Outcome:
    cache = _BaseDataCache()
    custom = bos.custom_fields(spec.form_id)
    refused: dict[int, list[Message]] = {}
    asked = [k for k in options.need_return_fields if spec.level_of(k.lower(), custom) == ""]
    asked += [k for k in options.need_update_fields if spec.level_of(k, custom) == ""]
    for dindex, model in enumerate(models):
        keys = unknown_keys(spec, model, custom) + [k for k in asked if "." not in k]
        if keys:
            refused[dindex] = [_field_missing(k, dindex) for k in dict.fromkeys(keys)]
    if len(models) > 1 and not refused:
        bulk = _save_new_bills(spec, models, options, cache)
        if bulk is not None:
            return bulk
    outcome = Outcome()
    keep_submitted = conf.current().auto_audit_failure == "keep_submitted"
    for dindex, model in enumerate(models):
        if dindex in refused:
            outcome.errors.extend(refused[dindex])
            continue
        saved = None
        try:
            with transaction.atomic():
                saved = _save_one(spec, model, options, cache, dindex)
                if options.auto_submit_audit and spec.kind != "inventory":
                    _transition(spec, saved, "submit", dindex)
                    if not keep_submitted:
                        _transition(spec, saved, "audit", dindex)
        except ModelRejected as rejected:
            outcome.errors.extend(rejected.messages)
            continue
        if options.auto_submit_audit and keep_submitted:
            try:
                with transaction.atomic():
                    _transition(spec, saved, "audit", dindex)
            except ModelRejected as rejected:
                outcome.errors.extend(rejected.messages)
        saved.refresh_from_db()
        outcome.successes.append({"Id": saved.pk, "Number": _number_of(saved), "DIndex": dindex})
        outcome.need_return.append(_need_return(spec, saved, options.need_return_fields))
    return outcome


def _save_new_bills(
    spec: forms.FormSpec, models: list[dict], options: SaveOptions, cache: _BaseDataCache
) -> Outcome | None:
    """BatchSave of new bills with their own numbers, written in bulk.

    The same checks and outcome as saving model by model (each model succeeds or fails on
    its own, messages carry its DIndex), with a few queries per batch instead of some twenty
    per bill: the numbers already taken are read once, the stock rows of the batch are locked
    once and the balances run in memory model by model, and bills, rows and custom fields are
    inserted in bulk. Returns None when the batch needs the model-by-model path (updates,
    bills to be numbered, transfers and counts, or a parallel request taking a number)."""
    if not spec.is_bill or spec.stock_effect not in (forms.NONE, forms.IN, forms.OUT):
        return None
    prepared = []
    for dindex, model in enumerate(models):
        if not isinstance(model, dict):
            return None
        header, entries = split_model(spec, model)
        if _pk_of(spec, header) or not _ref(header.get("fbillno")):
            return None
        header.pop("fid", None)
        header.pop(spec.pk_key, None)
        prepared.append((dindex, model, header, [dict(row) for row in entries or []]))
    audit = options.auto_submit_audit
    keep_submitted = conf.current().auto_audit_failure == "keep_submitted"
    try:
        with transaction.atomic():
            return _write_new_bills(spec, prepared, options, cache, audit, keep_submitted)
    except IntegrityError:
        return None


def _write_new_bills(spec, prepared, options, cache, audit, keep_submitted) -> Outcome:
    outcome = Outcome()
    numbers = [_ref(header.get("fbillno")) for _d, _m, header, _r in prepared]
    taken = set(
        KdBill.objects.filter(form_id=spec.form_id, bill_no__in=numbers).values_list(
            "bill_no", flat=True
        )
    )
    accepted = []
    for dindex, model, header, rows in prepared:
        problems = _check_bill(spec, header, rows, options, cache, dindex)
        bill_no = _ref(header.get("fbillno"))
        if bill_no in taken:
            problems.append(_duplicate(bill_no, "FBillNo", dindex))
        if problems:
            outcome.errors.extend(problems)
            continue
        taken.add(bill_no)
        _derive_amounts(spec, header, rows, cache)
        values = _bill_values(spec, header, bill_no)
        accepted.append((dindex, model, header, rows, values))
    moves = audit and spec.stock_effect != forms.NONE
    sign = -1 if spec.stock_effect == forms.OUT else 1
    balances: dict[tuple[str, str, str], KdStockBalance] = {}
    if moves:
        keys = {
            (
                values["org_number"] or "100",
                _ref(row.get(spec.stock_key)),
                _ref(row.get("fmaterialid")),
            )
            for _d, _m, _h, rows, values in accepted
            for row in rows
        }
        balances = _lock_balances(keys)
    running = {key: balance.base_qty for key, balance in balances.items()}
    now = timezone.now()
    bills: list[KdBill] = []
    rows_of: list[tuple[KdBill, list[dict], list[Decimal]]] = []
    for dindex, model, _header, rows, values in accepted:
        status, approved, applied = (
            (DocumentStatus.AUDITED, now, []) if audit else (DocumentStatus.CREATED, None, [])
        )
        if moves:
            org = values["org_number"] or "100"
            trial = dict(running)
            negatives = []
            for seq, row in enumerate(rows, start=1):
                key = (org, _ref(row.get(spec.stock_key)), _ref(row.get("fmaterialid")))
                change = sign * (_decimal(row.get(spec.qty_key)) or Decimal("0"))
                trial[key] += change
                applied.append(change)
                if trial[key] < 0 and not cache.allows_negative(key[1]):
                    negatives.append((seq, key, trial[key]))
            if negatives:
                lines = ";".join(
                    f"{spec.name}={values['bill_no']},序号={seq},负库存={_plain(qty)},"
                    f"物料={key[2]},仓库={cache.stock_name(key[1])},批号="
                    for seq, key, qty in negatives
                )
                outcome.errors.append(
                    Message(
                        f"更新库存出现异常情况，更新库存不成功！出现负库存，库存更新不成功。{lines}",
                        None,
                        dindex,
                    )
                )
                if not keep_submitted:
                    continue  # Save + Submit + Audit roll back together
                status, approved, applied = DocumentStatus.SUBMITTED, None, []
            else:
                running = trial
        bill = KdBill(
            form_id=spec.form_id,
            model=model,
            document_status=status,
            approved_at=approved,
            **values,
        )
        bills.append(bill)
        rows_of.append((bill, rows, applied))
        outcome.successes.append({"Id": None, "Number": values["bill_no"], "DIndex": dindex})
        outcome.need_return.append(None)
    KdBill.objects.bulk_create(bills, batch_size=500)
    if any(bill.pk is None for bill in bills):  # a backend without RETURNING
        ids = dict(
            KdBill.objects.filter(
                form_id=spec.form_id, bill_no__in=[b.bill_no for b in bills]
            ).values_list("bill_no", "id")
        )
        for bill in bills:
            bill.pk = bill.id = ids[bill.bill_no]
    entries, custom = [], []
    for bill, rows, applied in rows_of:
        for seq, row in enumerate(rows, start=1):
            entries.append(
                KdBillEntry(
                    bill=bill,
                    applied_qty=applied[seq - 1] if applied else Decimal("0"),
                    **_entry_values(spec, seq, row),
                )
            )
        custom.extend(_custom_fields(spec, bill, bill.fields))
    KdBillEntry.objects.bulk_create(entries, batch_size=1000)
    KdBillCustomField.objects.bulk_create(custom, batch_size=1000)
    changed = []
    for key, balance in balances.items():
        if running[key] != balance.base_qty:
            balance.base_qty, balance.updated_at = running[key], now
            changed.append(balance)
    KdStockBalance.objects.bulk_update(changed, ["base_qty", "updated_at"])
    by_number = {bill.bill_no: bill for bill in bills}
    for index, success in enumerate(outcome.successes):
        bill = by_number[success["Number"]]
        success["Id"] = bill.pk
        outcome.need_return[index] = _need_return(spec, bill, options.need_return_fields)
    return outcome


def _lock_balances(keys) -> dict[tuple[str, str, str], KdStockBalance]:
    """The stock rows (org, warehouse, material) of a batch, created when missing and locked
    in a stable order (two batches touching the same rows cannot deadlock)."""
    if not keys:
        return {}
    KdStockBalance.objects.bulk_create(
        [KdStockBalance(org_number=o, stock_number=s, material_number=m) for o, s, m in keys],
        ignore_conflicts=True,
    )
    wanted = set(keys)
    query = KdStockBalance.objects.none()
    for org, stock, material in sorted(keys):
        query = query | KdStockBalance.objects.filter(
            org_number=org, stock_number=stock, material_number=material
        )
    rows = query.select_for_update().order_by("pk")
    return {
        (b.org_number, b.stock_number, b.material_number): b
        for b in rows
        if (b.org_number, b.stock_number, b.material_number) in wanted
    }


def _number_of(row: KdBill | KdBaseData) -> str:
    return row.bill_no if isinstance(row, KdBill) else row.number


def _need_return(spec: forms.FormSpec, row: KdBill | KdBaseData, keys: list[str]) -> dict:
    out = {}
    for key in keys:
        low = key.lower()
        if low in (spec.pk_key, "fid"):
            out[key] = row.pk
        elif low in ("fbillno", "fnumber"):
            out[key] = _number_of(row)
        elif low == "fdocumentstatus":
            out[key] = row.document_status
        else:
            out[key] = row.fields.get(low)
    return out


def _pk_of(spec: forms.FormSpec, header: dict) -> int:
    raw = header.get(spec.pk_key, header.get("fid"))
    value = _decimal(raw)
    return int(value) if value is not None and value > 0 else 0


def _save_one(spec, model, options, cache, dindex) -> KdBill | KdBaseData:
    if not isinstance(model, dict):
        raise ModelRejected([Message("Model数据包格式不正确。", None, dindex, MSG_PARAMETER)])
    header, entries = split_model(spec, model)
    if spec.kind == "base":
        return _save_base(spec, model, header, options, dindex)
    return _save_bill(spec, model, header, entries, options, cache, dindex)


def _save_base(spec, model, header, options, dindex) -> KdBaseData:
    pk = _pk_of(spec, header)
    org = _ref(header.get("fuseorgid")) or _ref(header.get("fcreateorgid")) or "100"
    if pk:
        row = KdBaseData.objects.filter(form_id=spec.form_id, pk=pk).first()
        if row is None:
            raise ModelRejected(
                [
                    Message(
                        f"{spec.name}数据不存在或已被删除（内码{pk}）。",
                        None,
                        dindex,
                        MSG_NOT_FOUND,
                    )
                ]
            )
        if row.document_status not in EDITABLE_STATUSES:
            raise ModelRejected(
                [_status_message(spec, row.number, row.document_status, "修改", dindex)]
            )
        merged = dict(row.fields)
        for key, value in header.items():
            if not options.need_update_fields or key in options.need_update_fields:
                merged[key] = value
        header = merged
    number = _ref(header.get("fnumber"))
    name = _ref(header.get("fname"))
    problems = [
        Message(f"字段“{label}”是必填项", forms.canonical(key), dindex)
        for key, label, value in (("fnumber", "编码", number), ("fname", "名称", name))
        if not value
    ]
    if problems:
        raise ModelRejected(problems)
    clash = KdBaseData.objects.filter(form_id=spec.form_id, org_number=org, number=number)
    if clash.exclude(pk=pk).exists():
        raise ModelRejected([_duplicate(number, "FNumber", dindex)])
    if pk:
        row.number, row.name, row.fields = number, name, header
        row.model = {**row.model, **model}
        row.save()
        return row
    return KdBaseData.objects.create(
        form_id=spec.form_id,
        number=number,
        name=name,
        org_number=org,
        forbid_status=str(header.get("fforbidstatus") or "A"),
        fields=header,
        model=model,
    )


def _duplicate(number: str, field_name: str, dindex: int) -> Message:
    return Message(
        f"违反字段唯一性要求：编码唯一。[{number}]在当前系统中已经被使用。", field_name, dindex
    )


def _status_message(spec, number: str, status: str, action: str, dindex: int) -> Message:
    label = _STATUS_LABEL.get(status, status)
    return Message(
        f"{spec.name}“{number}”当前状态为“{label}”，不允许{action}。", None, dindex, MSG_NOT_ALLOWED
    )


def _check_reference(spec, key, number, options, cache, prefix, dindex) -> Message | None:
    """None when the reference is usable; otherwise the message the real server gives."""
    if key.endswith("orgid"):
        if number in forms.ORGS:
            return None
        target_ok = False
        target_name = "组织机构"
    else:
        target = forms.REFERENCES[key]
        target_ok = cache.usable(target, number)
        target_name = forms.get(target).name
    if target_ok:
        return None
    if options.verify_base_data:
        return Message(
            f"{prefix}字段“{_label(spec, key)}”的值“{number}”对应的{target_name}基础资料"
            f"不存在、未审核或已禁用。",
            forms.canonical(key),
            dindex,
        )
    return Message("", forms.canonical(key), dindex)  # the field silently stays empty


def _save_bill(spec, model, header, entries, options, cache, dindex) -> KdBill:
    pk = _pk_of(spec, header)
    existing = None
    if pk:
        existing = KdBill.objects.filter(form_id=spec.form_id, pk=pk).first()
        if existing is None:
            raise ModelRejected(
                [Message(f"{spec.name}不存在或已被删除（内码{pk}）。", None, dindex, MSG_NOT_FOUND)]
            )
        if existing.document_status not in EDITABLE_STATUSES:
            # Unlocked fields of an audited bill may be saved, rows untouched: with
            # IsDeleteEntry true (the default) a payload without rows would delete them, which
            # an audited bill never allows (docs/protocols/kingdee.md §2.2).
            if _editable_after_audit(header, options) and (
                not options.is_delete_entry or not spec.entry_key
            ):
                return _update_unlocked_fields(spec, existing, header)
            raise ModelRejected(
                [_status_message(spec, existing.bill_no, existing.document_status, "修改", dindex)]
            )
        merged = dict(existing.fields)
        for key, value in header.items():
            if not options.need_update_fields or key in options.need_update_fields or key == "fid":
                merged[key] = value
        header = merged
    header.pop("fid", None)
    header.pop(spec.pk_key, None)
    rows = _merge_entries(spec, existing, entries, options)
    problems = _check_bill(spec, header, rows, options, cache, dindex)
    bill_no = _ref(header.get("fbillno")) or (existing.bill_no if existing else "")
    if (
        bill_no
        and KdBill.objects.filter(form_id=spec.form_id, bill_no=bill_no).exclude(pk=pk).exists()
    ):
        problems.append(_duplicate(bill_no, "FBillNo", dindex))
    if problems:
        raise ModelRejected(problems)
    if not bill_no:
        bill_no = _next_number(spec)
    _derive_amounts(spec, header, rows, cache)
    values = _bill_values(spec, header, bill_no)
    try:
        if existing is not None:
            for name, value in values.items():
                setattr(existing, name, value)
            existing.model = {**existing.model, **model}
            existing.save()
            bill = existing
        else:
            bill = KdBill.objects.create(form_id=spec.form_id, model=model, **values)
    except IntegrityError as exc:  # a parallel request took the number between check and write
        raise ModelRejected([_duplicate(bill_no, "FBillNo", dindex)]) from exc
    _write_entries(spec, bill, rows)
    _write_custom_fields(spec, bill, header)
    return bill


def _derive_amounts(spec, header: dict, rows: list[dict], cache: _BaseDataCache) -> None:
    """The amounts Kingdee derives on Save (sandbox/kingdee/amounts.py); a row naming a tax
    combination takes its rate from it, as choosing one in the client does (§4.20)."""
    for row in rows:
        number = _ref(row.get("ftaxcombination"))
        found = cache.get(forms.REFERENCES["ftaxcombination"], number) if number else None
        if found is not None and found.fields.get("ftaxrate") is not None:
            row["fentrytaxrate"] = str(found.fields["ftaxrate"])
    amounts.derive(spec.form_id, header, rows)


def _bill_values(spec, header: dict, bill_no: str) -> dict:
    """The stored columns of a bill whose header passed the checks (header gets its number
    and default bill type)."""
    header["fbillno"] = bill_no
    if not header.get("fbilltypeid") and spec.bill_type:
        header["fbilltypeid"] = {"fnumber": spec.bill_type}
    org = _ref(header.get(spec.org_key)) or _ref(header.get("fstockorgid"))
    return {
        "bill_no": bill_no,
        "bill_date": _parse_date(header.get("fdate")),
        "org_number": org,
        "fields": header,
    }


def _check_bill(spec, header: dict, rows: list[dict], options, cache, dindex) -> list[Message]:
    """Every message the server gives for a bill's references, required fields and rows
    (unusable references without IsVerifyBaseDataField are emptied, as the server does)."""
    problems: list[Message] = []
    # Header references and required fields.
    for key in [k for k in header if k in forms.REFERENCES or k.endswith("orgid")]:
        number = _ref(header[key])
        if number:
            bad = _check_reference(spec, key, number, options, cache, "", dindex)
            if bad is not None:
                if bad.message:
                    problems.append(bad)
                header[key] = {}
    for key, label in spec.required_header:
        if key == "fdate":
            if _parse_date(header.get("fdate")) is None:
                if header.get("fdate"):
                    problems.append(
                        Message(
                            f"字段“{label}”的值“{header.get('fdate')}”不是有效的日期格式。",
                            "FDate",
                            dindex,
                        )
                    )
                else:
                    problems.append(Message(f"字段“{label}”是必填项", "FDate", dindex))
        elif not _ref(header.get(key)) and not any(
            p.field_name == forms.canonical(key) for p in problems
        ):
            problems.append(Message(f"字段“{label}”是必填项", forms.canonical(key), dindex))
    # Entry rows.
    if spec.entry_key and not rows:
        problems.append(
            Message(
                f"单据体“{forms.canonical(spec.entry_key)}”至少需要录入一行分录。",
                forms.canonical(spec.entry_key),
                dindex,
            )
        )
    for seq, row in enumerate(rows, start=1):
        prefix = f"单据体实体第【{seq}】行分录，"
        for key in [k for k in row if k in forms.REFERENCES]:
            number = _ref(row[key])
            if number:
                bad = _check_reference(spec, key, number, options, cache, prefix, dindex)
                if bad is not None:
                    if bad.message:
                        problems.append(bad)
                    row[key] = {}
        for key, label in spec.required_entry:
            value = row.get(key)
            if key == spec.qty_key:
                qty = _decimal(value)
                if value in (None, ""):
                    problems.append(
                        Message(
                            f"单据体实体【明细信息】第【{seq}】行分录，【{label}】字段必录",
                            forms.canonical(key),
                            dindex,
                        )
                    )
                elif qty is None:
                    problems.append(
                        Message(
                            f"{prefix}【{label}】的值“{value}”不是有效的数值。",
                            forms.canonical(key),
                            dindex,
                        )
                    )
                elif qty < 0 or (
                    qty == 0 and spec.stock_effect in (forms.IN, forms.OUT, forms.TRANSFER)
                ):
                    problems.append(
                        Message(f"{prefix}【{label}】必须大于0。", forms.canonical(key), dindex)
                    )
            elif not _ref(value):
                if any(
                    p.field_name == forms.canonical(key) and prefix in p.message for p in problems
                ):
                    continue
                problems.append(
                    Message(
                        f"单据体实体【明细信息】第【{seq}】行分录，【{label}】字段必录",
                        forms.canonical(key),
                        dindex,
                    )
                )
    if spec.form_id == "GL_VOUCHER" and rows:
        problems.extend(_voucher_balance(rows, dindex))
    return problems


def _voucher_balance(rows: list[dict], dindex: int) -> list[Message]:
    """GL_VOUCHER: debits must equal credits (docs/protocols/kingdee.md §4.15)."""
    debit = sum((_decimal(r.get("fdebit")) or Decimal("0") for r in rows), Decimal("0"))
    credit = sum((_decimal(r.get("fcredit")) or Decimal("0") for r in rows), Decimal("0"))
    if debit == credit:
        return []
    return [
        Message(
            f"凭证借贷不平衡：借方合计{_plain(debit)}，贷方合计{_plain(credit)}。",
            "FDEBIT",
            dindex,
        )
    ]


def _editable_after_audit(header: dict, options) -> bool:
    """A Save on an audited bill is accepted only when NeedUpDateFields names fields that the
    tenant left unlocked after audit (conf EDITABLE_AFTER_AUDIT) and the model sets no other."""
    unlocked = conf.current().editable_after_audit
    wanted = {k for k in options.need_update_fields if k != "fid"}
    given = {k for k in header if k != "fid"}
    return bool(wanted) and wanted <= unlocked and given <= wanted


def _update_unlocked_fields(spec, bill: KdBill, header: dict) -> KdBill:
    fields = {k: v for k, v in header.items() if k != "fid"}
    bill.fields = {**bill.fields, **fields}
    bill.save(update_fields=["fields", "modified_at"])
    for key, value in fields.items():
        KdBillCustomField.objects.update_or_create(
            bill=bill, key=key, defaults={"form_id": spec.form_id, "value": str(_ref(value))[:255]}
        )
    return bill


def _merge_entries(
    spec, existing: KdBill | None, entries: list[dict] | None, options
) -> list[dict]:
    if existing is None:
        return [dict(row) for row in entries or []]
    current = {e.pk: dict(e.fields, fentryid=e.pk) for e in existing.entries.all()}
    if entries is None:
        return list(current.values())
    result: list[dict] = []
    mentioned = set()
    for row in entries:
        entry_id = int(_decimal(row.get("fentryid")) or 0)
        if entry_id and entry_id in current:
            mentioned.add(entry_id)
            merged = dict(current[entry_id])
            for key, value in row.items():
                if (
                    not options.need_update_fields
                    or key in options.need_update_fields
                    or key == "fentryid"
                ):
                    merged[key] = value
            result.append(merged)
        else:
            result.append({k: v for k, v in row.items() if k != "fentryid"})
    if not options.is_delete_entry:
        result = [row for pk, row in current.items() if pk not in mentioned] + result
    return result


def _write_entries(spec, bill: KdBill, rows: list[dict]) -> None:
    if not spec.entry_key:
        return
    keep = [int(_decimal(r.get("fentryid")) or 0) for r in rows]
    bill.entries.exclude(pk__in=[k for k in keep if k]).delete()
    existing = {e.pk: e for e in bill.entries.all()}
    new_rows = []
    for seq, row in enumerate(rows, start=1):
        values = _entry_values(spec, seq, row)
        entry_id = int(_decimal(row.get("fentryid")) or 0)
        if entry_id in existing:
            KdBillEntry.objects.filter(pk=entry_id).update(**values)
        else:
            new_rows.append(KdBillEntry(bill=bill, **values))
    KdBillEntry.objects.bulk_create(new_rows)


def _entry_values(spec, seq: int, row: dict) -> dict:
    return {
        "seq": seq,
        "material_number": _ref(row.get("fmaterialid")),
        "stock_number": _ref(row.get(spec.stock_key)),
        "dest_stock_number": _ref(row.get(spec.dest_stock_key)) if spec.dest_stock_key else "",
        "qty": _decimal(row.get(spec.qty_key)) or Decimal("0") if spec.qty_key else Decimal("0"),
        "fields": {k: v for k, v in row.items() if k != "fentryid"},
    }


def _custom_fields(spec, bill: KdBill, header: dict) -> list[KdBillCustomField]:
    return [
        KdBillCustomField(bill=bill, form_id=spec.form_id, key=key, value=str(_ref(value))[:255])
        for key, value in header.items()
        if forms.CUSTOM_FIELD.match(key) and not isinstance(value, list)
    ]


def _write_custom_fields(spec, bill: KdBill, header: dict) -> None:
    bill.custom_fields.all().delete()
    KdBillCustomField.objects.bulk_create(_custom_fields(spec, bill, header))


def _next_number(spec: forms.FormSpec) -> str:
    while True:
        sequence, _ = KdNumberSequence.objects.get_or_create(prefix=spec.prefix)
        KdNumberSequence.objects.filter(pk=sequence.pk).update(last_value=F("last_value") + 1)
        sequence.refresh_from_db()
        number = f"{spec.prefix}{sequence.last_value:06d}"
        if not KdBill.objects.filter(form_id=spec.form_id, bill_no=number).exists():
            return number


# -- Submit / Audit / UnAudit / Delete ---------------------------------------------------------
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
    if isinstance(row, KdBill) and operation in ("audit", "unaudit"):
        _apply_stock(spec, row, reverse=operation == "unaudit", dindex=dindex)
    row.document_status = target
    if operation == "audit":
        row.approved_at = timezone.now()
    elif operation == "unaudit":
        row.approved_at = None
    row.save(update_fields=["document_status", "approved_at", "modified_at"])


def _apply_stock(spec, bill: KdBill, *, reverse: bool, dindex: int) -> None:
    """Post the bill's quantities to the stock ledger (reverse them on UnAudit)."""
    if spec.stock_effect == forms.NONE:
        return
    org = bill.org_number or "100"
    entries = list(bill.entries.all())
    changes: list[tuple[KdBillEntry, str, Decimal]] = []  # (row, warehouse, signed change)
    for entry in entries:
        if reverse:
            changes.append((entry, entry.stock_number, -entry.applied_qty))
            if spec.stock_effect == forms.TRANSFER:
                changes.append((entry, entry.dest_stock_number, entry.applied_qty))
            continue
        if spec.stock_effect == forms.IN:
            changes.append((entry, entry.stock_number, entry.qty))
        elif spec.stock_effect == forms.OUT:
            changes.append((entry, entry.stock_number, -entry.qty))
        elif spec.stock_effect == forms.TRANSFER:
            changes.append((entry, entry.stock_number, -entry.qty))
            changes.append((entry, entry.dest_stock_number, entry.qty))
        else:  # stock count: the counted quantity becomes the book quantity
            balance = KdStockBalance.objects.filter(
                org_number=org,
                stock_number=entry.stock_number,
                material_number=entry.material_number,
            ).first()
            book = balance.base_qty if balance else Decimal("0")
            changes.append((entry, entry.stock_number, entry.qty - book))
    balances: dict[tuple[str, str], KdStockBalance] = {}
    for entry, stock, _change in changes:
        key = (stock, entry.material_number)
        if key not in balances:
            KdStockBalance.objects.get_or_create(
                org_number=org, stock_number=stock, material_number=entry.material_number
            )
            balances[key] = KdStockBalance.objects.select_for_update().get(
                org_number=org, stock_number=stock, material_number=entry.material_number
            )
    running = {key: b.base_qty for key, b in balances.items()}
    negatives = []
    for entry, stock, change in changes:
        key = (stock, entry.material_number)
        running[key] += change
        if running[key] < 0 and not _allows_negative(stock):
            negatives.append((entry, stock, running[key]))
    if negatives:
        lines = ";".join(
            f"{spec.name}={bill.bill_no},序号={entry.seq},负库存={_plain(qty)},"
            f"物料={entry.material_number},仓库={_stock_name(stock)},批号="
            for entry, stock, qty in negatives
        )
        raise ModelRejected(
            [
                Message(
                    f"更新库存出现异常情况，更新库存不成功！出现负库存，库存更新不成功。{lines}",
                    None,
                    dindex,
                )
            ]
        )
    for key, balance in balances.items():
        KdStockBalance.objects.filter(pk=balance.pk).update(base_qty=running[key])
    for entry in entries:
        if reverse:
            entry.applied_qty = Decimal("0")
        else:
            entry.applied_qty = sum(
                (c for e, s, c in changes if e.pk == entry.pk and s == entry.stock_number),
                Decimal("0"),
            )
    KdBillEntry.objects.bulk_update(entries, ["applied_qty"])


def _allows_negative(stock_number: str) -> bool:
    row = KdBaseData.objects.filter(form_id="BD_STOCK", number=stock_number).first()
    return bool(row and _truthy(row.fields.get("fallowminusqty"), False))


def _stock_name(stock_number: str) -> str:
    row = KdBaseData.objects.filter(form_id="BD_STOCK", number=stock_number).first()
    return row.name if row else stock_number


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


# -- View ------------------------------------------------------------------------------------
def view(spec: forms.FormSpec, data: dict) -> dict | None:
    """The View answer's inner object (ORM property names), or None when not found."""
    lowered = {str(k).lower(): v for k, v in data.items()}
    ident = str(lowered.get("id") or "").strip()
    number = str(lowered.get("number") or "").strip()
    model = KdBaseData if spec.kind == "base" else KdBill
    rows = model.objects.filter(form_id=spec.form_id)
    if ident:
        row = rows.filter(pk=int(ident)).first() if ident.isdigit() else None
    elif number:
        row = rows.filter(
            **({"number": number} if spec.kind == "base" else {"bill_no": number})
        ).first()
    else:
        row = None
    if row is None:
        return None
    cache = _BaseDataCache()
    out: dict[str, Any] = {"Id": row.pk, "FormId": spec.form_id}
    out["Number" if spec.kind == "base" else "BillNo"] = _number_of(row)
    out["DocumentStatus"] = row.document_status
    out["ApproveDate"] = _view_value("", row.approved_at, cache)
    out["ModifyDate"] = _view_value("", row.modified_at, cache)
    # What the metadata no longer has (a custom field deleted in BOS) is not in the answer.
    custom = bos.custom_fields(spec.form_id)
    spelled = bos.spellings(spec.form_id)

    def name(key: str) -> str:
        return spelled.get(key) or _orm_name(key)

    for key, value in row.fields.items():
        if spec.level_of(key, custom) == "header":
            out.setdefault(name(key), _view_value(key, value, cache))
    if isinstance(row, KdBill) and spec.entry_key:
        out[spec.view_entry] = [
            {
                "Id": entry.pk,
                "Seq": entry.seq,
                **{
                    name(k): _view_value(k, v, cache)
                    for k, v in entry.fields.items()
                    if spec.level_of(k, custom) == "entry"
                },
            }
            for entry in row.entries.all()
        ]
    return out


def _orm_name(key: str) -> str:
    name = forms.canonical(key)
    return name[1:] if name[:1] in ("F", "f") and not forms.CUSTOM_FIELD.match(key) else name


def _view_value(key: str, value: Any, cache: _BaseDataCache) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M:%S")
    if isinstance(value, dict):
        number = _ref(value)
        target = forms.REFERENCES.get(key)
        row = cache.get(target, number) if target and number else None
        return {
            "Id": row.pk if row else 0,
            "Number": number,
            "Name": [{"Key": 2052, "Value": row.name if row else ""}],
        }
    return value


# -- Demo seed -------------------------------------------------------------------------------
def seed_demo() -> dict[str, int]:
    """Create the demo world (org 100, warehouses, customers, suppliers, materials, opening
    stock) from sandbox.demo_catalogue. Idempotent: base data is upserted by number and opening
    stock is only written where no balance exists yet, so documents posted since are kept."""
    from sandbox import demo_catalogue as demo

    org = demo.ORG_NUMBER
    now = timezone.now()
    counts = {"warehouses": 0, "customers": 0, "suppliers": 0, "materials": 0, "balances": 0}
    currency = {
        "CNY": "PRE001",
        "HKD": "PRE002",
        "EUR": "PRE003",
        "JPY": "PRE004",
        "TWD": "PRE005",
        "GBP": "PRE006",
        "USD": "PRE007",
    }

    def upsert(form_id: str, number: str, name: str, model: dict) -> None:
        forbid = model.pop("FForbidStatus", "A")
        model = {
            "FNumber": number,
            "FName": name,
            "FCreateOrgId": {"FNumber": org},
            "FUseOrgId": {"FNumber": org},
            **model,
        }
        header, _ = split_model(forms.get(form_id), model)
        KdBaseData.objects.update_or_create(
            form_id=form_id,
            org_number=org,
            number=number,
            defaults={
                "name": name,
                "fields": header,
                "model": model,
                "document_status": DocumentStatus.AUDITED,
                "forbid_status": forbid,
                "approved_at": now,
            },
        )

    with transaction.atomic():
        for wh in demo.WAREHOUSES:
            upsert(
                "BD_STOCK",
                wh["stock_number"],
                wh["name"],
                {
                    "FStockProperty": "1",
                    "FAllowMinusQty": False,
                    "FDefStockStatusId": {"FNumber": "KCZT01_SYS"},
                },
            )
            counts["warehouses"] += 1
        for shop in demo.SHOPS:
            upsert(
                "BD_Customer",
                shop["customer_number"],
                shop["shop_name"],
                {
                    "FShortName": shop["platform"],
                    "FTRADINGCURRID": {"FNumber": currency.get(shop["currency"], "PRE001")},
                },
            )
            counts["customers"] += 1
        for supplier in demo.SUPPLIERS:
            upsert("BD_Supplier", supplier["supplier_code"], supplier["name"], {})
            counts["suppliers"] += 1
        for m in demo.MATERIALS:
            upsert(
                "BD_MATERIAL",
                m["number"],
                m["name"],
                {
                    "FSpecification": m["english_name"],
                    "FMaterialGroup": {"FNumber": "FG"},
                    "FDescription": m["english_name"],
                    "F_PAEZ_HSCode": m["hs_code"],
                    "F_PAEZ_EnName": m["english_name"],
                    "F_PAEZ_Brand": m["brand"],
                    "F_PAEZ_IsBattery": m["has_battery"],
                    "F_PAEZ_DeclaredPrice": float(m["declared_price"]),
                    "F_PAEZ_Supplier": {"FNumber": m["supplier_code"]},
                    # K1 values stock differences at this cost (finance unit_cost_field).
                    "F_PAEZ_UnitCost": str(m["unit_cost"]),
                    "SubHeadEntity": {
                        "FErpClsID": "1",
                        "FCategoryID": {"FNumber": "CHLB05_SYS"},
                        "FBaseUnitId": {"FNumber": m["unit"]},
                        "FGROSSWEIGHT": float(m["gross_weight"]),
                        "FNETWEIGHT": float(m["net_weight"]),
                        "FWEIGHTUNITID": {"FNumber": "kg"},
                        "FIsInventory": True,
                        "FIsSale": True,
                        "FIsPurchase": True,
                    },
                },
            )
            counts["materials"] += 1
        for form_id, rows in demo.KINGDEE_BASE_DATA.items():
            for number, name, extra in rows:
                upsert(form_id, number, name, dict(extra))
                counts[form_id] = counts.get(form_id, 0) + 1
        # The custom fields the demo tenant created in BOS (anything else is MsgCode 9).
        for form_id, fields in demo.KINGDEE_CUSTOM_FIELDS.items():
            for name, level, kind, length in fields:
                bos.declare(
                    form_id,
                    [f"{demo.KINGDEE_DEV_PREFIX}{name}"],
                    level=level,
                    field_type=kind,
                    length=length or 255,
                )
        counts["custom_fields"] = sum(len(v) for v in demo.KINGDEE_CUSTOM_FIELDS.values())
        stock_number = {wh["wms_co_id"]: wh["stock_number"] for wh in demo.WAREHOUSES}
        for (wms_co_id, sku), qty in demo.OPENING_STOCK.items():
            _, created = KdStockBalance.objects.get_or_create(
                org_number=org,
                stock_number=stock_number[wms_co_id],
                material_number=sku,
                defaults={"base_qty": Decimal(qty)},
            )
            counts["balances"] += int(created)
    return counts


def reset() -> None:
    """Forget every simulated document, balance, session and number (the demo seed stays
    available through seed_demo)."""
    from .models import KdSession

    with transaction.atomic():
        for model in (
            KdCustomField,
            KdBillCustomField,
            KdBillEntry,
            KdBill,
            KdStockBalance,
            KdBaseData,
            KdNumberSequence,
            KdSession,
        ):
            model.objects.all().delete()


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


# -- Push (下推) -------------------------------------------------------------------------------
# Conversion rules the simulated tenant knows: rule id -> (source form, target form). The ids
# are [U] (docs/protocols/kingdee.md §2.8): a flow setting names the tenant's own.
PUSH_RULES = {
    "AR_OutStockToReceivableMap": ("SAL_OUTSTOCK", "AR_receivable"),
    "AR_ReturnToReceivableMap": ("SAL_RETURNSTOCK", "AR_receivable"),
}
_SOURCE_TABLES = {
    "SAL_OUTSTOCK": "T_SAL_OUTSTOCKENTRY",
    "SAL_RETURNSTOCK": "T_SAL_RETURNSTOCKENTRY",
}


def push(spec: forms.FormSpec, data: dict) -> Outcome:
    """Push (下推) audited source bills named by Ids or Numbers into new target bills, linked
    row by row (FSourceBillNo, FSOURCETYPE and the link entity); a source already pushed in
    full is refused, as Kingdee refuses rows whose linked quantity is used up."""
    lowered = {str(k).lower(): v for k, v in data.items()}
    outcome = Outcome()
    rule, problem = _push_rule(spec, lowered)
    if problem:
        outcome.errors.append(Message(problem, None, 0, MSG_PARAMETER))
        return outcome
    target = forms.get(PUSH_RULES[rule][1])
    sources = _push_sources(spec, lowered)
    if not sources:
        outcome.errors.append(Message(f"{spec.name}不存在或已被删除。", None, 0, MSG_NOT_FOUND))
        return outcome
    cache = _BaseDataCache()
    for dindex, bill in enumerate(sources):
        try:
            with transaction.atomic():
                _check_pushable(spec, target, bill, dindex)
                model = _pushed_model(spec, bill, rule)
                saved = _save_one(target, model, SaveOptions.from_data({}), cache, dindex)
        except ModelRejected as rejected:
            outcome.errors.extend(rejected.messages)
            continue
        outcome.successes.append({"Id": saved.pk, "Number": saved.bill_no, "DIndex": dindex})
    return outcome


def _push_rule(spec: forms.FormSpec, data: dict) -> tuple[str, str]:
    rule = str(data.get("ruleid") or "").strip()
    target = str(data.get("targetformid") or "").strip()
    if rule:
        if rule not in PUSH_RULES or PUSH_RULES[rule][0].lower() != spec.form_id.lower():
            return "", f"转换规则“{rule}”不存在，或不适用于{spec.name}。"
        return rule, ""
    if not _truthy(data.get("isenabledefaultrule"), False) or not target:
        return "", "请指定转换规则（RuleId），或启用默认规则（IsEnableDefaultRule）并指定目标单据。"
    for rule_id, (source, target_form) in PUSH_RULES.items():
        if source == spec.form_id and target_form.lower() == target.lower():
            return rule_id, ""
    return "", f"{spec.name}没有到“{target}”的默认转换规则。"


def _push_sources(spec: forms.FormSpec, data: dict) -> list[KdBill]:
    rows = KdBill.objects.filter(form_id=spec.form_id)
    ids = data.get("ids")
    if ids not in (None, "", []):
        raw = ids if isinstance(ids, list) else str(ids).split(",")
        rows = rows.filter(pk__in=[int(x) for x in raw if str(x).strip().isdigit()])
    else:
        numbers = data.get("numbers") or []
        if isinstance(numbers, str):
            numbers = numbers.split(",")
        rows = rows.filter(bill_no__in=[str(n).strip() for n in numbers])
    return list(rows.order_by("pk"))


def _check_pushable(spec, target, bill: KdBill, dindex: int) -> None:
    if bill.document_status != DocumentStatus.AUDITED:
        raise ModelRejected(
            [Message(f"{spec.name}“{bill.bill_no}”未审核，不能下推。", None, dindex)]
        )
    linked = KdBillEntry.objects.filter(
        bill__form_id=target.form_id,
        fields__fsourcetype=spec.form_id,
        fields__fsourcebillno=bill.bill_no,
    ).exists()
    if linked:
        raise ModelRejected(
            [
                Message(
                    f"{spec.name}“{bill.bill_no}”已全部下推生成{target.name}，没有可下推的数量。",
                    None,
                    dindex,
                )
            ]
        )


def _pushed_model(spec, bill: KdBill, rule: str) -> dict:
    """The receivable a source bill pushes: its customer, currency, org and rows; a return
    gives a red (negative) receivable."""
    head = bill.fields
    sign = -1 if spec.form_id == "SAL_RETURNSTOCK" else 1
    org = _ref(head.get("fsettleorgid")) or _ref(head.get("fsaleorgid")) or bill.org_number
    rows = []
    for entry in bill.entries.order_by("seq"):
        row = entry.fields
        discount = _decimal(row.get("fdiscount")) or Decimal(0)
        rows.append(
            {
                "FMATERIALID": {"FNumber": entry.material_number},
                "FPriceQty": _plain(sign * entry.qty),
                "FTaxPrice": row.get("ftaxprice"),
                "FEntryTaxRate": row.get("fentrytaxrate"),
                "FTaxCombination": {"FNumber": _ref(row.get("ftaxcombination"))},
                "FDISCOUNTAMOUNTFOR": _plain(sign * discount),
                "FIsFree": row.get("fisfree", False),
                "FSOURCETYPE": spec.form_id,
                "FSourceBillNo": bill.bill_no,
                "FSRCROWID": entry.pk,
                "FEntityDetail_Link": [
                    {
                        "FEntityDetail_Link_FRuleId": rule,
                        "FEntityDetail_Link_FSTableName": _SOURCE_TABLES[spec.form_id],
                        "FEntityDetail_Link_FSBillId": bill.pk,
                        "FEntityDetail_Link_FSId": entry.pk,
                    }
                ],
            }
        )
    return {
        "FBillTypeID": {"FNumber": "YSD01_SYS"},
        "FDate": bill.bill_date.astimezone(SHANGHAI).date().isoformat(),
        "FCUSTOMERID": {"FNumber": _ref(head.get("fcustomerid") or head.get("fretcustid"))},
        "FCURRENCYID": {"FNumber": _ref(head.get("fsettlecurrid")) or "PRE001"},
        "FSETTLEORGID": {"FNumber": org},
        "FSALEORGID": {"FNumber": _ref(head.get("fsaleorgid")) or org},
        "FPAYORGID": {"FNumber": org},
        "FExchangeRate": head.get("fexchangerate") or "1",
        "FAR_Remark": f"{spec.name}{bill.bill_no}下推",
        "FEntityDetail": rows,
    }
