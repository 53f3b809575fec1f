"""K2 export-refund data chain (出口退税数据链), built on customs declarations.

The unit a refund is filed on is a declaration item (报关单号 + 项号), not a consumer sale
(国家税务总局公告2025年第3号; docs/finance/export-refund.md cites the sources). So:

- Declaration items come in by import (finance.declarations): mode (0110 / 9610 / 9710 /
  9810), HS code, legal-unit quantities, FOB in USD, the HWC-YT flag, with their purchase VAT
  invoices (进项专票) and FX receipts (收汇).
- 9810 (overseas warehouse): consumer sales (F2) are allocated first-in-first-out to the items
  of the same SKU exported on or before the ship date (and, when the declaration names them,
  sold by its shops / shipped from its overseas warehouse): sold / unsold per item, and
  sold + unsold = declared quantity always.
- Returns (F3) are netted against the sale they reverse: the returned units go back to unsold
  on the item the sale drew on, so a fully returned unit is never offered for declaration; a
  return received after the item's refund was filed is listed with the correction to make.
- 9710 (B2B direct): the item matches its B2B shipment directly (the declaration's order no.
  = the shipment's platform order no., same SKU).
- 9610 / 0110: the goods were sold at export; no allocation.
- Each item: estimated refund = refund basis × the refund rate of the tax template for its HS
  code and destination country on the export date; the basis follows the finance setting
  *enterprise type*: a trading company's (外贸企业) purchase invoices' amounts excluding tax, a
  manufacturer's (生产企业, 免抵退) FOB × the USD rate of the export date. For 9810 without
  HWC-YT only the sold share is refundable now.
- The Gaps sheet lists, per item, what is missing to file (docs/protocols/
  alerts-fx-customs.md §3.4: HS must be 10 digits; every line traceable).

The consumer-sale rows (one per shipped line of a synced F2 bill) stay: platform order no.,
shop, SKU, HS code, English name, value, currency, rate and CNY amount, logistics / FBA no.,
ship date and the Kingdee bill no., now with the quantity returned, the net quantity and the
declaration items the line drew on.
"""

from .declarations import (
    HS_CODE,
    ITEM_COLUMNS,
    DeclarationChain,
    ItemRow,
    ReturnLine,
    SaleLine,
    declaration_chain,
)
from .sales import COLUMNS, PREFIX, ChainRow, chain_documents, chain_rows, totals
from .tables import export_csv, export_xlsx, item_totals, return_rows

__all__ = [
    "COLUMNS",
    "HS_CODE",
    "ITEM_COLUMNS",
    "PREFIX",
    "ChainRow",
    "DeclarationChain",
    "ItemRow",
    "ReturnLine",
    "SaleLine",
    "chain_documents",
    "chain_rows",
    "declaration_chain",
    "export_csv",
    "export_xlsx",
    "item_totals",
    "return_rows",
    "totals",
]
