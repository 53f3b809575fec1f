"""Issue 20 point 1: one ticket per root cause. A cause key names what a person fixes once
(a mapping row, an exchange rate, stock of a material in a warehouse, a rule Kingdee applies,
a field of a material); every document blocked by it joins that one ticket. Problems that
belong to one document (a payload to edit, a duplicate) keep a ticket of their own.

Pure functions of the error class and the ticket detail, so the data migration that folds the
per-document tickets of earlier versions computes the same keys as the engine."""

import re
from typing import Any

_DIGITS = re.compile(r"\d{3,}")
_SPACE = re.compile(r"\s+")


def normalised(message: str, *, drop: tuple[str, ...] = ()) -> str:
    """The message without what differs from one document to the next: the document's own
    numbers (`drop`), long digit runs, case and spacing."""
    text = str(message or "")
    for word in drop:
        if word:
            text = text.replace(word, "")
    text = _DIGITS.sub("#", text)
    return _SPACE.sub(" ", text).strip(" ;:").lower()[:160]


def cause_key(
    error_class: str,
    detail: dict[str, Any],
    *,
    integration: str = "",
    system: str = "",
    message: str = "",
    drop: tuple[str, ...] = (),
) -> str:
    """The stable key of the root cause of a problem, or "" when it belongs to one document.

    mapping:<integration>:<kind>:<key> · fx-source:<integration>:<currency> ·
    fx:<currency>:<date> · shortage:<material>:<warehouse> ·
    kingdee:<code>:<normalised message> · material-field:<material>:<field>"""
    detail = detail or {}
    if detail.get("material") and detail.get("material_field"):
        return f"material-field:{detail['material']}:{detail['material_field']}"
    if error_class == "missing_mapping":
        if detail.get("kind") and detail.get("key") not in (None, ""):
            return f"mapping:{integration}:{detail['kind']}:{detail['key']}"
        if detail.get("currency"):
            return f"fx-source:{integration}:{str(detail['currency']).upper()}"
        return ""
    if error_class == "fx_unavailable" and detail.get("currency") and detail.get("on_date"):
        return f"fx:{str(detail['currency']).upper()}:{detail['on_date']}"
    if error_class == "insufficient_stock":
        lines = detail.get("lines") or []
        if lines and lines[0][0]:
            return f"shortage:{lines[0][0]}:{lines[0][1]}"
        return ""
    if error_class == "remote_rejected" and system == "kingdee":
        text = normalised(message, drop=drop)
        return f"kingdee:{detail.get('code') or ''}:{text}" if text else ""
    return ""
