"""Models of mappings: master-data mappings (M1–M5), the master-data snapshot, tax templates
(M6), account mappings (M7), exchange rates (F2.2, F6.1) and bulk-import jobs. Every change
to a mapping is audited (M8)."""

from .accounts import AccountMapping
from .imports import ImportJob
from .master_data import (
    CodeMapping,
    KnownCode,
    MaterialMapping,
    ShopCustomerMapping,
    SupplierMapping,
    WarehouseMapping,
)
from .rates import ExchangeRate, FxCurrencySource, FxPolicy, RateFetch
from .tax import TaxTemplate

__all__ = [
    "AccountMapping",
    "CodeMapping",
    "ExchangeRate",
    "FxCurrencySource",
    "FxPolicy",
    "ImportJob",
    "KnownCode",
    "MaterialMapping",
    "RateFetch",
    "ShopCustomerMapping",
    "SupplierMapping",
    "TaxTemplate",
    "WarehouseMapping",
]
