"""Text a database can store: PostgreSQL refuses NUL characters (U+0000) in text and JSON, and
no UTF-8 store takes lone surrogates (half of a UTF-16 pair, e.g. from a broken JSON escape).

Pushed documents are refused with the path of the first such value (the sender can fix it);
pulled ones are cleaned (the portal cannot send them back), so one odd character never fails
the chunk of records it arrived with.
"""

from __future__ import annotations

from typing import Any

from core.messages import gettext as _


def text_problem(text: str) -> str:
    """Why `text` cannot be stored, or ''."""
    if "\x00" in text:
        return _("contains a NUL character (U+0000)")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _("contains an unpaired UTF-16 surrogate (not valid Unicode text)")
    return ""


def unstorable(value: Any, path: str = "") -> tuple[str, str] | None:
    """(path, reason) of the first key or string in a JSON-like value that cannot be stored,
    e.g. ("items[2].name", "contains a NUL character (U+0000)"); None when all can be.
    Reasons are in the active language."""
    if isinstance(value, str):
        reason = text_problem(value)
        return (path or "body", reason) if reason else None
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and (reason := text_problem(key)):
                return (path or "body", _("has a key that %(reason)s") % {"reason": reason})
            if found := unstorable(item, here):
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            if found := unstorable(item, f"{path}[{index}]"):
                return found
    return None


def clean_text(text: str) -> str:
    """`text` without NUL characters, lone surrogates replaced by U+FFFD."""
    text = text.replace("\x00", "")
    # A str holds code points: any surrogate in it is half of a pair, alone.
    return "".join("\ufffd" if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in text)


def storable(value: Any) -> Any:
    """A copy of a JSON-like value with every key and string cleaned (clean_text)."""
    if isinstance(value, str):
        return clean_text(value) if text_problem(value) else value
    if isinstance(value, dict):
        return {(clean_text(k) if isinstance(k, str) else k): storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable(v) for v in value]
    return value
