"""What K3Cloud derives on Save: line and header amounts (docs/protocols/kingdee.md §4.20).

Kingdee computes a bill's amounts from quantity, price and tax rate when it is saved; a
client's own `FAmount` / `FAllAmount` is overwritten. Per entry row:

- tax price and price: the one given wins; the other is derived (price = tax price ÷ (1 + rate),
  six decimals, the price precision);
- gross = quantity × tax price;
- discount: an amount (`FDiscount`) wins over a rate (`FDiscountRate`, percent of gross);
  the other one is derived;
- total incl. tax (`FAllAmount`) = gross − discount; amount excl. tax (`FAmount`) =
  total ÷ (1 + rate); tax (`FTaxAmount`) = total − amount;
- a free row (`FIsFree`, 赠品) carries no amount.

Amounts round to two decimals half-up per row; header totals are sums of the rounded rows
(the strictest reading: where the currency's amount precision differs, the tenant's own
currency setting decides, [U]).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")
PRICE = Decimal("0.000001")
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class AmountKeys:
    """The (lower-case) keys one form uses for the derived amounts."""

    qty: str
    amount: str
    tax: str
    total: str
    price: str = "fprice"
    tax_price: str = "ftaxprice"
    rate: str = "fentrytaxrate"
    discount: str = "fdiscount"
    discount_rate: str = "fdiscountrate"
    free: str = "fisfree"
    head_amount: str = ""
    head_tax: str = ""
    head_total: str = ""


_SALES = {
    "qty": "frealqty",
    "amount": "famount",
    "tax": "ftaxamount",
    "total": "fallamount",
    "head_amount": "fbillamount",
    "head_tax": "fbilltaxamount",
    "head_total": "fbillallamount",
}
KEYS: dict[str, AmountKeys] = {
    "SAL_OUTSTOCK": AmountKeys(**_SALES),
    "SAL_RETURNSTOCK": AmountKeys(**_SALES),
    "STK_InStock": AmountKeys(
        qty="frealqty", amount="famount", tax="ftaxamount", total="fallamount"
    ),
    "AR_receivable": AmountKeys(
        qty="fpriceqty",
        amount="fnotaxamountfor_d",
        tax="ftaxamountfor_d",
        total="fallamountfor_d",
        discount="fdiscountamountfor",
        discount_rate="fentrydiscountrate",
        head_amount="fnotaxamountfor",
        head_tax="ftaxamountfor",
        head_total="fallamountfor",
    ),
}


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _number(value: Any) -> Decimal | None:
    if value is None or value == "" or isinstance(value, bool | dict | list):
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1")
    return bool(value)


def derive_row(keys: AmountKeys, row: dict) -> None:
    """Write the derived price, discount and amounts into one lower-case entry row."""
    qty = _number(row.get(keys.qty)) or Decimal(0)
    rate = _number(row.get(keys.rate)) or Decimal(0)
    factor = 1 + rate / HUNDRED
    tax_price = _number(row.get(keys.tax_price))
    price = _number(row.get(keys.price))
    if tax_price is None:
        tax_price = (price or Decimal(0)) * factor
    if price is None or _number(row.get(keys.tax_price)) is not None:
        price = tax_price / factor
    if _truthy(row.get(keys.free)):
        tax_price = price = Decimal(0)
    gross = qty * tax_price
    discount = _number(row.get(keys.discount))
    discount_rate = _number(row.get(keys.discount_rate)) or Decimal(0)
    discount = cents(gross * discount_rate / HUNDRED if discount is None else discount)
    if tax_price == 0:
        discount = Decimal(0)
    total = cents(gross - discount)
    amount = cents(total / factor)
    row[keys.rate] = _plain(rate)
    row[keys.tax_price] = _plain(tax_price.quantize(PRICE, rounding=ROUND_HALF_UP))
    row[keys.price] = _plain(price.quantize(PRICE, rounding=ROUND_HALF_UP))
    row[keys.discount] = _plain(discount)
    row[keys.discount_rate] = _plain(
        (discount / gross * HUNDRED).quantize(PRICE, rounding=ROUND_HALF_UP) if gross else 0
    )
    row[keys.total] = _plain(total)
    row[keys.amount] = _plain(amount)
    row[keys.tax] = _plain(total - amount)


def derive(form_id: str, header: dict, rows: list[dict]) -> None:
    """Derive every row's amounts and the header totals of a bill about to be written."""
    keys = KEYS.get(form_id)
    if keys is None:
        return
    for row in rows:
        derive_row(keys, row)
    for head, line in (
        (keys.head_amount, keys.amount),
        (keys.head_tax, keys.tax),
        (keys.head_total, keys.total),
    ):
        if head:
            header[head] = _plain(sum((Decimal(r[line]) for r in rows), Decimal(0)))


def _plain(value: Decimal | int) -> str:
    text = format(Decimal(value), "f")
    return text


__all__ = ["KEYS", "AmountKeys", "cents", "derive", "derive_row"]
