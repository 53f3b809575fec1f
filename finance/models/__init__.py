"""Models of finance: per-integration settings, FX difference lines and their vouchers
(F6.1), fallback-rate bookings, reconciliation runs and their lines (K1), and the export
refund's customs declarations with their invoices, receipts and Kingdee sources (K2)."""

from .declarations import (
    CustomsDeclaration,
    DeclarationItem,
    FxReceipt,
    KingdeeSource,
    PurchaseInvoice,
)
from .fx import FallbackRateBooking, FallbackRateStatus, FxDifference, FxVoucher
from .reconciliation import ReconciliationLine, ReconciliationRun, ReconcilingItem
from .settings import FinanceSettings

__all__ = [
    "CustomsDeclaration",
    "DeclarationItem",
    "FallbackRateBooking",
    "FallbackRateStatus",
    "FinanceSettings",
    "FxDifference",
    "FxReceipt",
    "FxVoucher",
    "KingdeeSource",
    "PurchaseInvoice",
    "ReconciliationLine",
    "ReconciliationRun",
    "ReconcilingItem",
]
