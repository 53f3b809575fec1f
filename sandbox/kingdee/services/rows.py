"""What a Save writes besides the bill's header (docs/protocols/kingdee.md §2.2): its rows
(entries) merged with the stored ones and written, its custom fields, and its next number.
"""

from decimal import Decimal

from django.db.models import F

from .. import forms
from ..models import KdBill, KdBillCustomField, KdBillEntry, KdNumberSequence
from .common import _decimal, _ref


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
