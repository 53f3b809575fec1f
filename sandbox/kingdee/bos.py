"""The simulated tenant's BOS metadata extensions: which custom fields exist on which form.

A real tenant creates its custom fields (`F_<devcode>_<Name>`, e.g. F_PAEZ_PlatformOrderNo, or
F_QWJI_… with its own developer code) in BOS; the server knows nothing else and answers MsgCode 9
`元数据中标识为X的字段不存在` for any other key (docs/protocols/kingdee.md §3.2, §4.0).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .models import KdCustomField

Level = KdCustomField.Level
# A BOS-created form id: the developer code, an underscore, a name (PAEZ_CustomsDecl).
CUSTOM_FORM = re.compile(r"^[A-Za-z0-9]+_[A-Za-z0-9_]+$")


def custom_form(form_id: str):
    """A form the tenant created in BOS (no standard form of that id), known by the custom
    fields declared on it; None when nothing is declared (MsgCode 4, as for any unknown form).
    Custom forms keep the developer prefix (e.g. PAEZ_CustomsDecl)."""
    from . import forms

    spelled = (
        KdCustomField.objects.filter(form_id__iexact=form_id)
        .values_list("form_id", flat=True)
        .first()
    )
    if spelled is None or not CUSTOM_FORM.match(spelled):
        return None
    return forms.custom_form(spelled, spelled)


def custom_fields(form_id: str) -> dict[str, str]:
    """Lower-case key -> level ("header" | "entry") of the custom fields declared on a form."""
    rows = KdCustomField.objects.filter(form_id__iexact=form_id).values_list("key", "level")
    return {key.lower(): level for key, level in rows}


def spellings(form_id: str) -> dict[str, str]:
    """Lower-case key -> the key as created in BOS (View answers use that spelling)."""
    keys = KdCustomField.objects.filter(form_id__iexact=form_id).values_list("key", flat=True)
    return {key.lower(): key for key in keys}


def declare(
    form_id: str,
    keys: Iterable[str] | dict[str, dict],
    *,
    level: str = Level.HEADER,
    field_type: str = "text",
    length: int = 255,
) -> int:
    """Create custom fields on a form (idempotent); returns how many were new."""
    created = 0
    for key in keys:
        _row, new = KdCustomField.objects.update_or_create(
            form_id=form_id,
            key=key,
            defaults={"level": level, "field_type": field_type, "length": length},
        )
        created += int(new)
    return created


def undeclare(form_id: str, key: str) -> int:
    """Drop a custom field from the form's metadata (as deleting it in BOS would)."""
    deleted, _ = KdCustomField.objects.filter(form_id__iexact=form_id, key__iexact=key).delete()
    return deleted
