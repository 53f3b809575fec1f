"""Save / BatchSave of the simulated K3Cloud (docs/protocols/kingdee.md §2.2): base data and
bills, model by model in savepoints or new numbered bills in bulk, with IsAutoSubmitAndAudit,
NeedUpDateFields and the fields left unlocked after audit.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from .. import bos, conf, costing, forms
from ..models import (
    EDITABLE_STATUSES,
    DocumentStatus,
    KdBaseData,
    KdBill,
    KdBillCustomField,
    KdBillEntry,
    KdStockBalance,
)
from .checks import _bill_values, _check_bill, _derive_amounts
from .common import _BaseDataCache, _decimal, _number_of, _plain, _ref, _truthy, split_model
from .ledger import _lock_balances
from .outcome import (
    MSG_NOT_FOUND,
    MSG_PARAMETER,
    Message,
    ModelRejected,
    Outcome,
    _duplicate,
    _field_missing,
    _status_message,
)
from .rows import (
    _custom_fields,
    _entry_values,
    _merge_entries,
    _next_number,
    _write_custom_fields,
    _write_entries,
)
from .status import _transition


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
    for bill in bills:
        if bill.document_status == DocumentStatus.AUDITED:
            costing.value_audit(spec, bill)
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
