"""Issue 16 #4/#5: the one export helper (core.exports) and the tables built with it."""

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from core.exports import attachment, neutralise, restore, safe_filename
from finance.exports import table_csv, table_xlsx

FORMULAS = ["=1+2", "+1", "-1+1", "@SUM(A1)", "\tx", "\rx", "\x00=1"]


@pytest.mark.parametrize("text", FORMULAS)
def test_formula_text_gets_a_quote_and_comes_back_on_import(text):
    """GIVEN text starting with = + - @ tab CR or NUL THEN it is quoted, and restore() gives
    the original back (what an import of our own export reads)."""
    assert neutralise(text) == "'" + text
    assert restore(neutralise(text)) == text


@pytest.mark.parametrize("value", ["SO-1", "", " =1", "'=already quoted", 5, Decimal("-1.5"), None])
def test_other_values_are_left_alone(value):
    assert neutralise(value) is value or neutralise(value) == value
    assert restore("'plain") == "'plain"  # a quote before harmless text is the user's


def test_tables_keep_numbers_and_quote_formula_text():
    """GIVEN a row mixing remote text (formula-like, with control characters), a negative
    Decimal, an int and a date WHEN written as csv and xlsx THEN the text cells are quoted (xlsx
    without the control characters it cannot hold), numbers and dates stay as they are."""
    header = ["=header", "qty", "amount", "day"]
    row = ['=HYPERLINK("http://x","y")', -3, Decimal("-1.50"), date(2026, 1, 2)]
    rows = list(csv.reader(io.StringIO(table_csv(header, [row]).decode("utf-8-sig"))))
    assert rows == [
        ["'=header", "qty", "amount", "day"],
        ['\'=HYPERLINK("http://x","y")', "-3", "-1.50", "2026-01-02"],
    ]
    book = load_workbook(io.BytesIO(table_xlsx([("a/b:c", header, [row, ["\x00=1\x01"]])])))
    sheet = book.worksheets[0]
    assert sheet.title == "a_b_c"
    values = [[c.value for c in r] for r in sheet.iter_rows()]
    assert values[1][:3] == ['\'=HYPERLINK("http://x","y")', -3, -1.5]
    assert values[2][0] == "'=1"
    assert all(c.data_type != "f" for r in sheet.iter_rows() for c in r)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ('a"; filename="evil.html', "a_filename_evil.html"),
        ("\x00", "export"),
        ("export-chain-2026-01-01-2026-01-31.csv", "export-chain-2026-01-01-2026-01-31.csv"),
        ("../../etc/passwd", "etc_passwd"),
        ("对账\r\n.xlsx", "对账.xlsx"),
    ],
)
def test_file_names_are_sanitised(name, expected):
    """Issue 16 #5: quotes, separators, path parts and control characters never reach the
    Content-Disposition header."""
    assert safe_filename(name) == expected
    header = attachment(name)
    assert header.startswith("attachment; filename")
    assert "\r" not in header and "\n" not in header and "\x00" not in header
    assert header.count('"') in (0, 2)
