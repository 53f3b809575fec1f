"""The simulated K3Cloud's stock ledger: balances per (org, warehouse, material), locked for a
batch, posted on audit and reversed on unaudit, refused when negative where the warehouse does
not allow it (docs/protocols/kingdee.md).
"""

from decimal import Decimal

from .. import forms
from ..models import KdBaseData, KdBill, KdBillEntry, KdStockBalance
from .common import _plain, _truthy
from .outcome import Message, ModelRejected


def _lock_balances(keys) -> dict[tuple[str, str, str], KdStockBalance]:
    """The stock rows (org, warehouse, material) of a batch, created when missing and locked
    in a stable order (two batches touching the same rows cannot deadlock)."""
    if not keys:
        return {}
    KdStockBalance.objects.bulk_create(
        [KdStockBalance(org_number=o, stock_number=s, material_number=m) for o, s, m in keys],
        ignore_conflicts=True,
    )
    wanted = set(keys)
    query = KdStockBalance.objects.none()
    for org, stock, material in sorted(keys):
        query = query | KdStockBalance.objects.filter(
            org_number=org, stock_number=stock, material_number=material
        )
    rows = query.select_for_update().order_by("pk")
    return {
        (b.org_number, b.stock_number, b.material_number): b
        for b in rows
        if (b.org_number, b.stock_number, b.material_number) in wanted
    }


def _apply_stock(spec, bill: KdBill, *, reverse: bool, dindex: int) -> None:
    """Post the bill's quantities to the stock ledger (reverse them on UnAudit)."""
    if spec.stock_effect == forms.NONE:
        return
    org = bill.org_number or "100"
    entries = list(bill.entries.all())
    changes: list[tuple[KdBillEntry, str, Decimal]] = []  # (row, warehouse, signed change)
    for entry in entries:
        if reverse:
            changes.append((entry, entry.stock_number, -entry.applied_qty))
            if spec.stock_effect == forms.TRANSFER:
                changes.append((entry, entry.dest_stock_number, entry.applied_qty))
            continue
        if spec.stock_effect == forms.IN:
            changes.append((entry, entry.stock_number, entry.qty))
        elif spec.stock_effect == forms.OUT:
            changes.append((entry, entry.stock_number, -entry.qty))
        elif spec.stock_effect == forms.TRANSFER:
            changes.append((entry, entry.stock_number, -entry.qty))
            changes.append((entry, entry.dest_stock_number, entry.qty))
        else:  # stock count: the counted quantity becomes the book quantity
            balance = KdStockBalance.objects.filter(
                org_number=org,
                stock_number=entry.stock_number,
                material_number=entry.material_number,
            ).first()
            book = balance.base_qty if balance else Decimal("0")
            changes.append((entry, entry.stock_number, entry.qty - book))
    balances: dict[tuple[str, str], KdStockBalance] = {}
    for entry, stock, _change in changes:
        key = (stock, entry.material_number)
        if key not in balances:
            KdStockBalance.objects.get_or_create(
                org_number=org, stock_number=stock, material_number=entry.material_number
            )
            balances[key] = KdStockBalance.objects.select_for_update().get(
                org_number=org, stock_number=stock, material_number=entry.material_number
            )
    running = {key: b.base_qty for key, b in balances.items()}
    negatives = []
    for entry, stock, change in changes:
        key = (stock, entry.material_number)
        running[key] += change
        if running[key] < 0 and not _allows_negative(stock):
            negatives.append((entry, stock, running[key]))
    if negatives:
        lines = ";".join(
            f"{spec.name}={bill.bill_no},序号={entry.seq},负库存={_plain(qty)},"
            f"物料={entry.material_number},仓库={_stock_name(stock)},批号="
            for entry, stock, qty in negatives
        )
        raise ModelRejected(
            [
                Message(
                    f"更新库存出现异常情况，更新库存不成功！出现负库存，库存更新不成功。{lines}",
                    None,
                    dindex,
                )
            ]
        )
    for key, balance in balances.items():
        KdStockBalance.objects.filter(pk=balance.pk).update(base_qty=running[key])
    for entry in entries:
        if reverse:
            entry.applied_qty = Decimal("0")
        else:
            entry.applied_qty = sum(
                (c for e, s, c in changes if e.pk == entry.pk and s == entry.stock_number),
                Decimal("0"),
            )
    KdBillEntry.objects.bulk_update(entries, ["applied_qty"])


def _allows_negative(stock_number: str) -> bool:
    row = KdBaseData.objects.filter(form_id="BD_STOCK", number=stock_number).first()
    return bool(row and _truthy(row.fields.get("fallowminusqty"), False))


def _stock_name(stock_number: str) -> str:
    row = KdBaseData.objects.filter(form_id="BD_STOCK", number=stock_number).first()
    return row.name if row else stock_number
