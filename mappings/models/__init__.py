"""Models of mappings: master-data mappings (M1–M5), the master-data snapshot, tax templates
(M6), account mappings (M7) and exchange rates (F2.2, F6.1). Every change is audited (M8)."""

from .accounts import AccountMapping
from .master_data import (
    CodeMapping,
    KnownCode,
    MaterialMapping,
    ShopCustomerMapping,
    SupplierMapping,
    WarehouseMapping,
)
from .rates import ExchangeRate, RateFetch
from .tax import TaxTemplate

__all__ = [
    "AccountMapping",
    "CodeMapping",
    "ExchangeRate",
    "KnownCode",
    "MaterialMapping",
    "RateFetch",
    "ShopCustomerMapping",
    "SupplierMapping",
    "TaxTemplate",
    "WarehouseMapping",
]
