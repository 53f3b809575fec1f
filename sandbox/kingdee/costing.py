"""Inventory accounting (存货核算) as far as the count flow needs it: the value of the stock
per organisation, warehouse and material, moved by each audited bill (docs/protocols/kingdee.md
§4.21, docs/finance/stock-counts.md §2).

The real server values stock in a costing run (出库成本核算) after the period's bills are in;
the sandbox values each bill when it is audited, with a moving weighted average, so a test can
read the value a count changed. Rules per entry row, on the costing ledger's own quantity:

- an inbound bill that carries a price (`STK_InStock`, `STK_MISCELLANEOUS`: `FPrice`) enters
  at quantity × price; without a price it enters at zero until someone maintains its cost
  (入库成本维护), which is why the portal prices count gains;
- any other inbound (a return, a count gain form) enters at the current average cost;
- an outbound leaves at the current average (value ÷ quantity), rounded to the cent; the last
  unit takes the remaining value, so no residue stays on an empty balance; `STK_MisDelivery`
  shows that cost in `FPrice` / `FAmount` (成本价 / 总成本) once audited;
- a transfer moves the source's average cost to the destination;
- a cost adjustment (`HS_AdjustmentBill`) adds `FAdjustmentAMOUNT` to the value, no quantity;
- UnAudit reverses exactly what the audit posted.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from . import forms
from .models import KdBill, KdBillEntry, KdStockBalance

CENT = Decimal("0.01")
PRICE = Decimal("0.000001")
ZERO = Decimal("0")
# Inbound forms whose cost is the price on the row (purchase price, other-inbound price).
PRICED_INBOUND = frozenset({"stk_instock", "stk_miscellaneous"})
# Outbound forms that show the cost Kingdee computed on their rows: form -> (price, amount).
COST_KEYS = {"stk_misdelivery": ("fprice", "famount")}
ADJUSTMENT_FORM = "hs_adjustmentbill"


def _decimal(value) -> Decimal | None:
    try:
        return Decimal(str(value)) if value not in (None, "") else None
    except InvalidOperation:
        return None


def _balance(org: str, stock: str, material: str) -> KdStockBalance:
    KdStockBalance.objects.get_or_create(
        org_number=org, stock_number=stock, material_number=material
    )
    return KdStockBalance.objects.select_for_update().get(
        org_number=org, stock_number=stock, material_number=material
    )


def _out_value(balance: KdStockBalance, qty: Decimal) -> Decimal:
    """The (positive) value of `qty` units leaving at the balance's average cost."""
    if balance.cost_qty <= 0:
        return ZERO
    if qty >= balance.cost_qty:
        return balance.amount
    return (balance.amount * qty / balance.cost_qty).quantize(CENT, rounding=ROUND_HALF_UP)


def _in_value(form: str, entry: KdBillEntry, balance: KdStockBalance, qty: Decimal) -> Decimal:
    if form in PRICED_INBOUND:
        price = _decimal(entry.fields.get("fprice"))
        return (qty * price).quantize(CENT, rounding=ROUND_HALF_UP) if price else ZERO
    return _out_value(balance, qty) if balance.cost_qty > 0 else ZERO


def _post(balance: KdStockBalance, qty: Decimal, value: Decimal) -> None:
    balance.cost_qty += qty
    balance.amount += value
    balance.save(update_fields=["cost_qty", "amount", "updated_at"])


def value_audit(spec: forms.FormSpec, bill: KdBill) -> None:
    """Post the value of an audited bill (its entries' applied quantities are set)."""
    form = spec.form_id.lower()
    org = bill.org_number or "100"
    if spec.stock_effect == forms.NONE and form != ADJUSTMENT_FORM:
        return
    entries = list(bill.entries.all())
    for entry in entries:
        source = _balance(org, entry.stock_number, entry.material_number)
        if form == ADJUSTMENT_FORM:
            change = _decimal(entry.fields.get("fadjustmentamount")) or ZERO
            _post(source, ZERO, change)
            entry.cost_amount = change
            continue
        qty = entry.applied_qty
        if spec.stock_effect == forms.TRANSFER:
            moved = _out_value(source, -qty)
            _post(source, qty, -moved)
            _post(_balance(org, entry.dest_stock_number, entry.material_number), -qty, moved)
            entry.cost_amount = -moved
            continue
        value = _in_value(form, entry, source, qty) if qty > 0 else -_out_value(source, -qty)
        _post(source, qty, value)
        entry.cost_amount = value
        if form in COST_KEYS and qty < 0:
            price_key, amount_key = COST_KEYS[form]
            entry.fields = {
                **entry.fields,
                price_key: str((-value / -qty).quantize(PRICE, rounding=ROUND_HALF_UP)),
                amount_key: str(-value),
            }
    KdBillEntry.objects.bulk_update(entries, ["cost_amount", "fields"])


def value_reverse(spec: forms.FormSpec, bill: KdBill) -> None:
    """UnAudit: take back what value_audit posted (before the quantities are reversed)."""
    form = spec.form_id.lower()
    org = bill.org_number or "100"
    entries = list(bill.entries.all())
    for entry in entries:
        source = _balance(org, entry.stock_number, entry.material_number)
        qty = ZERO if form == ADJUSTMENT_FORM else entry.applied_qty
        _post(source, -qty, -entry.cost_amount)
        if spec.stock_effect == forms.TRANSFER:
            dest = _balance(org, entry.dest_stock_number, entry.material_number)
            _post(dest, qty, entry.cost_amount)
        entry.cost_amount = ZERO
    KdBillEntry.objects.bulk_update(entries, ["cost_amount"])
