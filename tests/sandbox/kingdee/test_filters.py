"""The FilterString parser: a real grammar, no eval (precedence, lists, like, null, quotes)."""

from decimal import Decimal

import pytest

from sandbox.kingdee.filters import (
    BoolOp,
    Comparison,
    FilterSyntaxError,
    Not,
    parse,
    parse_order,
)


def test_and_binds_tighter_than_or_and_parentheses_override():
    tree = parse("FDocumentStatus='C' or FDate>='2026-05-01' and FBillNo<>'X'")
    assert tree == BoolOp(
        "or",
        (
            Comparison("fdocumentstatus", "=", ("C",)),
            BoolOp(
                "and",
                (Comparison("fdate", ">=", ("2026-05-01",)), Comparison("fbillno", "<>", ("X",))),
            ),
        ),
    )
    grouped = parse("(FDocumentStatus='C' or FDocumentStatus='B') AND FQty > 1.5")
    assert grouped.op == "and" and grouped.nodes[1] == Comparison("fqty", ">", (Decimal("1.5"),))


def test_in_like_null_between_not_and_quotes():
    assert parse("FCustomerID.FNumber in ('C001', 'C''2')") == Comparison(
        "fcustomerid.fnumber", "in", ("C001", "C'2")
    )
    assert parse("FNote not like N'%退货%'") == Comparison("fnote", "notlike", ("%退货%",))
    assert parse("FLot.FNumber is not null") == Comparison("flot.fnumber", "notnull", ())
    assert parse("FNote IS NULL") == Comparison("fnote", "isnull", ())
    assert parse("not FBillNo = 'A'") == Not(Comparison("fbillno", "=", ("A",)))
    assert parse("FDate between '2026-01-01' and '2026-02-01'").op == "and"
    assert parse("   ") is None


@pytest.mark.parametrize(
    "text",
    ["FBillNo = ", "FBillNo == 'x'", "(FBillNo = 'x'", "FBillNo = 'x' garbage", "FBillNo ; drop"],
)
def test_malformed_filters_are_rejected(text):
    with pytest.raises(FilterSyntaxError):
        parse(text)


def test_order_string():
    assert parse_order("FDate DESC, FID asc,FBillNo") == [
        ("fdate", True),
        ("fid", False),
        ("fbillno", False),
    ]
    with pytest.raises(FilterSyntaxError):
        parse_order("FDate sideways")
