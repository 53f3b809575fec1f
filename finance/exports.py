"""Tables as CSV (UTF-8 with BOM, opens in Excel) or xlsx (numbers stay numbers).

Every text cell, header included, goes through core.exports.neutralise: text that a
spreadsheet would run as a formula (remote data such as a platform order number) is written
with a leading single quote."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from core.exports import neutralise


def _text(value) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | float):
        return str(value)
    return "" if value is None else neutralise(str(value))


def _xlsx_value(value):
    if isinstance(value, Decimal | int | float):
        return value
    # Control characters cannot be stored in an xlsx cell: remote text keeps the rest.
    return ILLEGAL_CHARACTERS_RE.sub("", _text(value))


def table_csv(header: Sequence[str], rows: Iterable[Sequence]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([_text(h) for h in header])
    for row in rows:
        writer.writerow([_text(v) for v in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def table_xlsx(sheets: Iterable[tuple[str, Sequence[str], Iterable[Sequence]]]) -> bytes:
    """One sheet per (title, header, rows)."""
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    for title, header, rows in sheets:
        sheet = book.create_sheet(_sheet_title(title))
        sheet.append([_text(h) for h in header])
        for row in rows:
            sheet.append([_xlsx_value(v) for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _sheet_title(title) -> str:
    """Excel's rules for a sheet name: 31 characters, none of []:*?/\\."""
    cleaned = "".join("_" if c in "[]:*?/\\" else c for c in str(title))
    return cleaned[:31] or "Sheet"
