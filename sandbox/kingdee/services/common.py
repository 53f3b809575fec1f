"""Helpers the simulated K3Cloud's forms share: reading references, flags, numbers and dates of
a model as sent (docs/protocols/kingdee.md), splitting a model into header and rows, and the
base data cache of one call.
"""

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from .. import forms
from ..models import DocumentStatus, KdBaseData, KdBill

SHANGHAI = ZoneInfo("Asia/Shanghai")


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


def _number_of(row: KdBill | KdBaseData) -> str:
    return row.bill_no if isinstance(row, KdBill) else row.number


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")
