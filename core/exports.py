"""What every file the portal exports must respect (spreadsheet exports, downloads).

- Formula injection: a text cell that starts with `=`, `+`, `-`, `@`, a tab, a carriage
  return or NUL is run as a formula by Excel, WPS and LibreOffice (e.g. a platform order number
  `=HYPERLINK("http://…","x")`). `neutralise()` prefixes such text with a single quote, the
  spreadsheet's own "this is text" mark (OWASP, CSV injection). Numbers and dates stay numbers
  and dates. Imports take the quote off again with `restore()`, so a file exported, edited and
  imported keeps its values.
- File names: `attachment()` builds the Content-Disposition header from a name that may carry
  user input (`?so=`): only letters, digits, `.`, `-` and `_` are kept, control characters
  (NUL included) and quotes never reach the header.

finance.exports (K1/K2 csv and xlsx) and mappings.resources (import-export) use these; a new
export should too.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from django.utils.http import content_disposition_header

# OWASP "CSV Injection" and ASVS 5.0 V1.2.10 (docs/security.md): = + - @ tab CR and NUL.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\0")
_UNSAFE_NAME = re.compile(r"[^\w.\-]+", re.UNICODE)


def neutralise(value: Any) -> Any:
    """`value` with a leading single quote when it is text a spreadsheet would run as a
    formula; anything else (numbers, dates, None, safe text) unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def restore(value: Any) -> Any:
    """The inverse of neutralise() for imported cells: `'=x` is read back as `=x`."""
    if isinstance(value, str) and value[:1] == "'" and value[1:].startswith(FORMULA_PREFIXES):
        return value[1:]
    return value


def has_control_characters(value: str) -> bool:
    """True when `value` holds a control character (NUL, newline, tab…): never part of an
    order number, a code or a file name."""
    return any(unicodedata.category(c) == "Cc" for c in value)


def safe_filename(name: str, *, default: str = "export", max_length: int = 120) -> str:
    """A file name with only letters, digits, `.`, `-` and `_` (anything else becomes `_`),
    no leading dot, at most `max_length` characters."""
    stem = "".join(c for c in str(name) if unicodedata.category(c) != "Cc")
    stem = _UNSAFE_NAME.sub("_", stem).strip("._") or default
    if len(stem) > max_length:
        root, dot, ext = stem.rpartition(".")
        stem = (root[: max_length - len(ext) - 1] + dot + ext) if dot else stem[:max_length]
    return stem


def attachment(name: str) -> str:
    """The Content-Disposition value that downloads `name`, sanitised (safe_filename)."""
    return content_disposition_header(True, safe_filename(name))
