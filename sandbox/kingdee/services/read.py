"""View of the simulated K3Cloud (docs/protocols/kingdee.md): one bill or base datum read back
with ORM property names.
"""

from datetime import datetime
from typing import Any

from .. import bos, forms
from ..models import KdBaseData, KdBill
from .common import SHANGHAI, _BaseDataCache, _number_of, _ref


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
