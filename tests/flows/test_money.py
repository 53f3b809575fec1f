"""Money arithmetic (F2.2): Decimal, explicit half-up rounding, allocations adding up exactly."""

from decimal import Decimal as D

import pytest

from flows.money import allocate, money


def test_money_rounds_half_up_to_the_cent():
    assert money("2.345") == D("2.35")
    assert money(2.344) == D("2.34")
    assert money(None) == D("0.00")
    assert money("-1.005") == D("-1.01")


@pytest.mark.parametrize(
    ("total", "weights", "expected"),
    [
        ("10.00", [1, 1, 1], ["3.34", "3.33", "3.33"]),
        ("0.05", [3, 1], ["0.04", "0.01"]),
        ("7.99", [29.99, 0, 12.5], ["5.64", "0.00", "2.35"]),
        ("-3.00", [1, 2], ["-1.00", "-2.00"]),
        ("1.00", [0, 0], ["0.50", "0.50"]),
    ],
)
def test_allocate_adds_up_exactly(total, weights, expected):
    """F2.2: order-level freight, commission, tariff and discount spread over lines add up to
    the order amount to the cent."""
    parts = allocate(D(total), [D(str(w)) for w in weights])
    assert parts == [D(e) for e in expected]
    assert sum(parts) == D(total)
