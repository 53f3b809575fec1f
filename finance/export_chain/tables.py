"""K2 export chain tables: the totals per currency and per mode, the returns with their
corrections, and the files (csv; xlsx with items, gaps, sales, returns and totals)."""

from __future__ import annotations

from decimal import Decimal

from core.messages import gettext as _

from ..exports import table_csv, table_xlsx
from ..reconciliation import safe_text
from .declarations import CENT, ITEM_COLUMNS, DeclarationChain, ItemRow, ReturnLine
from .sales import COLUMNS, ChainRow, totals


def _total_rows(rows: list[ChainRow]) -> list[list]:
    return [
        [currency, b["declared"], b["cny"], b["declared_all"], b["cny_all"]]
        for currency, b in sorted(totals(rows).items())
    ]


def _total_header() -> list[str]:
    return [
        _("Currency"),
        _("Declared value (complete rows)"),
        _("CNY amount (complete rows)"),
        _("Declared value (all rows)"),
        _("CNY amount (all rows)"),
    ]


def item_totals(items: list[ItemRow]) -> list[list]:
    """Per mode: declared, sold, unsold, FOB USD, estimated refund, refundable now."""
    out: dict[str, list] = {}
    for row in items:
        bucket = out.setdefault(row.mode, [row.mode] + [Decimal(0)] * 6)
        bucket[1] += row.quantity
        bucket[2] += row.sold
        bucket[3] += row.unsold
        bucket[4] += row.fob_usd
        bucket[5] += row.estimated_refund or 0
        bucket[6] += row.refundable_now or 0
    return [
        [b[0], *(_plain(v) for v in b[1:4]), *(v.quantize(CENT) for v in b[4:])]
        for b in (out[k] for k in sorted(out))
    ]


def _plain(value: Decimal) -> Decimal:
    """A quantity without trailing zeros and without an exponent (230.000 → 230)."""
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


def _item_total_header() -> list[str]:
    return [
        _("Mode"),
        _("Declared quantity"),
        _("Sold"),
        _("Unsold"),
        _("FOB (USD)"),
        _("Estimated refund (CNY)"),
        _("Refundable now (CNY)"),
    ]


def _return_header() -> list[str]:
    return [
        _("Platform order no."),
        _("SKU"),
        _("Returned"),
        _("Received on"),
        _("Back to unsold on"),
        _("Correction to make"),
    ]


def return_rows(returns: list[ReturnLine]) -> list[list]:
    return [
        [
            safe_text(r.platform_order_no),
            safe_text(r.sku),
            r.quantity,
            r.received_on,
            safe_text(
                ", ".join(
                    f"{number}#{item_no}: {format(qty.normalize(), 'f')}"
                    for number, item_no, qty, _filed in r.items
                )
            ),
            safe_text(" ".join(r.corrections)),
        ]
        for r in returns
    ]


def export_csv(rows: list[ChainRow], chain: DeclarationChain) -> bytes:
    """The declaration items (their gaps and corrections in the last columns), then the
    consumer-sale lines with their returns, then the totals, each after an empty line."""
    item_header = [str(label) for _name, label in ITEM_COLUMNS]
    body = [item.cells() for item in chain.items]
    body += [[], [str(label) for _name, label in COLUMNS]]
    body += [r.cells() for r in sorted(rows, key=lambda r: (not r.complete, r.platform_order_no))]
    body += [[], _return_header(), *return_rows(chain.returns)]
    body += [[], _item_total_header(), *item_totals(chain.items)]
    body += [[], _total_header(), *_total_rows(rows)]
    return table_csv(item_header, body)


def export_xlsx(rows: list[ChainRow], chain: DeclarationChain) -> bytes:
    """Sheets: declaration items ready to file, the Gaps sheet (per item what is missing),
    the consumer sales with their allocation and returns, the returns with corrections,
    and the totals."""
    item_header = [str(label) for _name, label in ITEM_COLUMNS]
    gap_header = [
        _("Declaration no."),
        _("Item no."),
        _("SKU"),
        _("Missing to file"),
        _("Corrections to make"),
    ]
    gap_rows = [
        [
            safe_text(i.declaration_no),
            i.item_no,
            safe_text(i.sku),
            safe_text("; ".join(i.gaps)),
            safe_text(" ".join(i.corrections)),
        ]
        for i in chain.items
        if i.gaps or i.corrections
    ]
    return table_xlsx(
        [
            (_("Declaration items"), item_header, [i.cells() for i in chain.items if i.complete]),
            (_("Gaps"), gap_header, gap_rows),
            (_("Consumer sales"), [str(label) for _n, label in COLUMNS], [r.cells() for r in rows]),
            (_("Returns"), _return_header(), return_rows(chain.returns)),
            (
                _("Totals"),
                _item_total_header(),
                [*item_totals(chain.items), [], _total_header(), *_total_rows(rows)],
            ),
        ]
    )
