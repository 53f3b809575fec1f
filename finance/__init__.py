"""Finance: FX differences (F6.1), inventory reconciliation (K1), export-refund chain (K2)."""
