"""Reads: resolve a mapping or raise MappingMissing (M1–M7).

Order of resolution for the master-data kinds (M1–M4):
1. a row in the kind's mapping table (explicit, by rule or initialised) wins;
2. otherwise the brief's 1:1 rule (customer code = shop code, warehouse code = warehouse code,
   supplier code = supplier code, material code = SKU) maps the code to itself, but only when
   no other row already maps to that code, and only when the code is known to exist on the
   other side, once anything of that kind is known there (KnownCode); with nothing known yet
   the rule applies blindly;
3. otherwise MappingMissing names the mapping, the key and where to add it.

A MappingBinder binds the codes of the two systems per kind (customer, warehouse, supplier,
material): `to_external` gives the Kingdee number of a Jushuitan code (the direction documents
travel into the books), `to_internal` the Jushuitan code of a Kingdee number. Built for a batch
(`MappingBinder(integration)`) it answers many questions (10,000 documents) from tables loaded
once; built with `loaded=False` it asks a query or two per question, as the module functions
below do. Both give the same answers and errors.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from django.core.cache import caches
from django.db.models import Model
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_noop

from core.messages import as_message
from core.messages import gettext as _

from .choices import (
    AccountPurpose,
    CodeKind,
    ImportJobStatus,
    MappingKind,
    MasterKind,
    System,
)
from .errors import MappingMissing
from .models import (
    AccountMapping,
    CodeMapping,
    ImportJob,
    KnownCode,
    MaterialMapping,
    ShopCustomerMapping,
    SupplierMapping,
    TaxTemplate,
    WarehouseMapping,
)
from .models.tax import HS_PREFIX_LENGTHS

if TYPE_CHECKING:
    from connectors.models import Integration

# Kingdee's preset currency number for CNY (PRE001) [C]; other currencies need a code row.
KINGDEE_CNY = "PRE001"


@dataclass(frozen=True)
class _Spec:
    kind: MappingKind
    model: type[Model]
    key_field: str
    value_field: str
    target_system: System
    target_kind: MasterKind
    key_label: str
    target_label: str


_CUSTOMER = _Spec(
    MappingKind.CUSTOMER,
    ShopCustomerMapping,
    "shop_id",
    "customer_number",
    System.KINGDEE,
    MasterKind.CUSTOMER,
    gettext_noop("Jushuitan shop"),
    gettext_noop("Kingdee customer"),
)
_SHOP = _Spec(
    MappingKind.SHOP,
    ShopCustomerMapping,
    "customer_number",
    "shop_id",
    System.JUSHUITAN,
    MasterKind.SHOP,
    gettext_noop("Kingdee customer"),
    gettext_noop("Jushuitan shop"),
)
_WAREHOUSE = _Spec(
    MappingKind.WAREHOUSE,
    WarehouseMapping,
    "wms_co_id",
    "stock_number",
    System.KINGDEE,
    MasterKind.WAREHOUSE,
    gettext_noop("Jushuitan warehouse"),
    gettext_noop("Kingdee warehouse"),
)
_JST_WAREHOUSE = _Spec(
    MappingKind.JST_WAREHOUSE,
    WarehouseMapping,
    "stock_number",
    "wms_co_id",
    System.JUSHUITAN,
    MasterKind.WAREHOUSE,
    gettext_noop("Kingdee warehouse"),
    gettext_noop("Jushuitan warehouse"),
)
_SUPPLIER = _Spec(
    MappingKind.SUPPLIER,
    SupplierMapping,
    "jst_supplier_code",
    "supplier_number",
    System.KINGDEE,
    MasterKind.SUPPLIER,
    gettext_noop("Jushuitan supplier"),
    gettext_noop("Kingdee supplier"),
)
_JST_SUPPLIER = _Spec(
    MappingKind.JST_SUPPLIER,
    SupplierMapping,
    "supplier_number",
    "jst_supplier_code",
    System.JUSHUITAN,
    MasterKind.SUPPLIER,
    gettext_noop("Kingdee supplier"),
    gettext_noop("Jushuitan supplier"),
)
_MATERIAL = _Spec(
    MappingKind.MATERIAL,
    MaterialMapping,
    "sku_id",
    "material_number",
    System.KINGDEE,
    MasterKind.MATERIAL,
    gettext_noop("Jushuitan SKU"),
    gettext_noop("Kingdee material"),
)
_SKU = _Spec(
    MappingKind.SKU,
    MaterialMapping,
    "material_number",
    "sku_id",
    System.JUSHUITAN,
    MasterKind.SKU,
    gettext_noop("Kingdee material"),
    gettext_noop("Jushuitan SKU"),
)


def _integration_id(integration: Integration | int) -> int:
    return integration if isinstance(integration, int) else integration.pk


def _integration_name(integration: Integration | int) -> str:
    if isinstance(integration, int):
        from connectors.models import Integration

        return Integration.objects.filter(pk=integration).values_list(
            "name", flat=True
        ).first() or str(integration)
    return integration.name


def admin_path(model: type[Model]) -> str:
    """The admin list where a person adds a row of this model."""
    try:
        return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    except NoReverseMatch:
        return ""


def _norm(code: Any) -> str:
    return str(code).strip()


def _missing(spec: _Spec, integration: Integration | int, key: str, reason: str) -> MappingMissing:
    where = admin_path(spec.model)
    message = _(
        "No %(target)s is mapped for %(source)s “%(key)s” in integration “%(integration)s”: "
        "%(reason)s. Add a row under Mappings › %(table)s (%(where)s), or import one, then "
        "retry the record."
    ) % {
        "target": _(spec.target_label),
        "source": _(spec.key_label),
        "key": key,
        "integration": _integration_name(integration),
        "reason": reason,
        "table": spec.model._meta.verbose_name_plural,
        "where": where,
    }
    return MappingMissing(
        message,
        kind=spec.kind,
        key=key,
        integration_id=_integration_id(integration),
        where=where,
        reason=reason,
    )


class _Backend(ABC):
    """Where the binder reads rows from: single queries or tables loaded once."""

    @abstractmethod
    def explicit(self, spec: _Spec, key: str, sub: int | None = None) -> str | None:
        """The target code of a stored row for `key`, or None."""

    @abstractmethod
    def claimed(self, spec: _Spec, candidate: str, key: str) -> bool:
        """Whether another key's row already uses `candidate` as its target code."""

    @abstractmethod
    def known(self, system: str, kind: str, code: str) -> bool | None:
        """True / False whether the code exists; None when nothing of that kind is known."""


def _resolve(
    backend: _Backend,
    spec: _Spec,
    integration: Integration | int,
    key: Any,
    sub: int | None = None,
) -> str:
    key = _norm(key)
    if not key:
        raise _missing(spec, integration, key, _("the record carries no code"))
    value = backend.explicit(spec, key, sub)
    if value is not None:
        return value
    if backend.claimed(spec, key, key):
        reason = _("code “%(code)s” is already mapped to another %(source)s") % {
            "code": key,
            "source": _(spec.key_label),
        }
        raise _missing(spec, integration, key, reason)
    if backend.known(spec.target_system, spec.target_kind, key) is False:
        reason = _(
            "the 1:1 rule would use “%(code)s”, but %(system)s has no %(kind)s with that code"
        ) % {
            "code": key,
            "system": System(spec.target_system).label,
            "kind": as_message(MasterKind(spec.target_kind).label).lower(),
        }
        raise _missing(spec, integration, key, reason)
    return key


class _QueryBackend(_Backend):
    def __init__(self, integration_id: int) -> None:
        self.integration_id = integration_id

    def _rows(self, spec: _Spec):
        return spec.model.objects.filter(integration_id=self.integration_id)

    def explicit(self, spec: _Spec, key: str, sub: int | None = None) -> str | None:
        rows = self._rows(spec).filter(**{spec.key_field: key})
        if spec.kind == MappingKind.WAREHOUSE:
            rows = rows.filter(wh_id__in={sub or 0, 0}).order_by("-wh_id")
        elif spec.kind == MappingKind.JST_WAREHOUSE:
            rows = rows.order_by("wh_id")
        return rows.values_list(spec.value_field, flat=True).first()

    def claimed(self, spec: _Spec, candidate: str, key: str) -> bool:
        return (
            self._rows(spec)
            .filter(**{spec.value_field: candidate})
            .exclude(**{spec.key_field: key})
            .exists()
        )

    def known(self, system: str, kind: str, code: str) -> bool | None:
        known = KnownCode.objects.filter(
            integration_id=self.integration_id, system=system, kind=kind
        )
        if known.filter(code=code).exists():
            return True
        return False if known.exists() else None


class _LoadedBackend(_Backend):
    def __init__(self, integration_id: int) -> None:
        self.integration_id = integration_id
        self._forward: dict[MappingKind, dict] = {}
        self._claimed: dict[MappingKind, dict[str, set[str]]] = {}
        self._known: dict[tuple[str, str], set[str]] | None = None

    def _load(self, spec: _Spec) -> None:
        if spec.kind in self._forward:
            return
        forward: dict = {}
        claimed: dict[str, set[str]] = defaultdict(set)
        fields = [spec.key_field, spec.value_field]
        if spec.model is WarehouseMapping:
            fields.append("wh_id")
        rows = spec.model.objects.filter(integration_id=self.integration_id).values_list(*fields)
        for row in rows.order_by(*fields[2:]) if len(fields) > 2 else rows:
            key, value = row[0], row[1]
            if spec.kind == MappingKind.WAREHOUSE:
                forward[(key, row[2])] = value
            else:
                forward.setdefault(key, value)
            claimed[value].add(key)
        self._forward[spec.kind] = forward
        self._claimed[spec.kind] = claimed

    def explicit(self, spec: _Spec, key: str, sub: int | None = None) -> str | None:
        self._load(spec)
        forward = self._forward[spec.kind]
        if spec.kind == MappingKind.WAREHOUSE:
            return forward.get((key, sub or 0)) or forward.get((key, 0))
        return forward.get(key)

    def claimed(self, spec: _Spec, candidate: str, key: str) -> bool:
        self._load(spec)
        return bool(self._claimed[spec.kind].get(candidate, set()) - {key})

    def known(self, system: str, kind: str, code: str) -> bool | None:
        if self._known is None:
            known: dict[tuple[str, str], set[str]] = defaultdict(set)
            rows = KnownCode.objects.filter(integration_id=self.integration_id)
            for row_system, row_kind, row_code in rows.values_list("system", "kind", "code"):
                known[(row_system, row_kind)].add(row_code)
            self._known = dict(known)
        codes = self._known.get((system, kind))
        if not codes:
            return None
        return code in codes


# --- One question at a time -------------------------------------------------------------


def customer_for_shop(*, integration: Integration | int, shop_id: Any) -> str:
    """M1: the Kingdee customer number of a Jushuitan shop."""
    return MappingBinder(integration, loaded=False).customer.to_external(shop_id)


def shop_for_customer(*, integration: Integration | int, customer_number: str) -> str:
    """M1 reverse: the Jushuitan shop id of a Kingdee customer."""
    return MappingBinder(integration, loaded=False).customer.to_internal(customer_number)


def stock_for_warehouse(
    *, integration: Integration | int, wms_co_id: Any, wh_id: int | None = None
) -> str:
    """M2: the Kingdee warehouse number of a Jushuitan warehouse (and sub-warehouse)."""
    return MappingBinder(integration, loaded=False).warehouse.to_external(wms_co_id, wh_id)


def warehouse_for_stock(*, integration: Integration | int, stock_number: str) -> str:
    """M2 reverse: the Jushuitan wms_co_id of a Kingdee warehouse."""
    return MappingBinder(integration, loaded=False).warehouse.to_internal(stock_number)


def supplier_for(*, integration: Integration | int, supplier_code: str) -> str:
    """M3: the Kingdee supplier number of a Jushuitan supplier code."""
    return MappingBinder(integration, loaded=False).supplier.to_external(supplier_code)


def jst_supplier_for(*, integration: Integration | int, supplier_number: str) -> str:
    """M3 reverse: the Jushuitan supplier code of a Kingdee supplier number."""
    return MappingBinder(integration, loaded=False).supplier.to_internal(supplier_number)


def material_for_sku(*, integration: Integration | int, sku_id: str) -> str:
    """M4: the Kingdee material number of a Jushuitan SKU."""
    return MappingBinder(integration, loaded=False).material.to_external(sku_id)


def sku_for_material(*, integration: Integration | int, material_number: str) -> str:
    """M4 reverse: the Jushuitan SKU of a Kingdee material number."""
    return MappingBinder(integration, loaded=False).material.to_internal(material_number)


def code_for(*, integration: Integration | int, kind: str, code: str) -> str:
    """M5: convert a reference code (currency, expense item, ...) to its Kingdee number.
    Currency CNY defaults to Kingdee's preset PRE001; anything else needs a row."""
    code = _norm(code)
    lookup = code.upper() if kind == CodeKind.CURRENCY else code
    found = (
        CodeMapping.objects.filter(
            integration_id=_integration_id(integration), kind=kind, jushuitan_code=lookup
        )
        .values_list("kingdee_code", flat=True)
        .first()
    )
    if found is not None:
        return found
    if kind == CodeKind.CURRENCY and lookup in ("CNY", ""):
        return KINGDEE_CNY
    where = admin_path(CodeMapping)
    message = _(
        "No Kingdee code is mapped for %(kind)s “%(code)s” in integration “%(integration)s”. "
        "Add it under Mappings › code mappings (%(where)s), then retry the record."
    ) % {
        "kind": CodeKind(kind).label,
        "code": code,
        "integration": _integration_name(integration),
        "where": where,
    }
    raise MappingMissing(
        message,
        kind=MappingKind.CODE,
        key=f"{kind}:{code}",
        integration_id=_integration_id(integration),
        where=where,
        reason="no code mapping row",
    )


def currency_for(*, integration: Integration | int, currency: str) -> str:
    """M5 (M-cur): the Kingdee currency number of an ISO currency code."""
    return code_for(integration=integration, kind=CodeKind.CURRENCY, code=currency)


# --- Tax templates (M6, G3) -----------------------------------------------------------------


def _hs_prefixes(hs_code: str) -> list[str]:
    digits = re.sub(r"\D", "", hs_code or "")
    return [digits[:length] for length in HS_PREFIX_LENGTHS if len(digits) >= length]


def _best_template(
    templates: list[TaxTemplate], prefixes: list[str], on_date: date
) -> TaxTemplate | None:
    usable = [
        t
        for t in templates
        if t.hs_prefix in prefixes
        and t.effective_from <= on_date
        and (t.effective_to is None or t.effective_to >= on_date)
    ]
    return max(usable, key=lambda t: (len(t.hs_prefix), t.effective_from), default=None)


def _tax_missing(
    integration: Integration | int, country: str, hs_code: str, on_date: date
) -> MappingMissing:
    where = admin_path(TaxTemplate)
    message = _(
        "No tax template for destination %(country)s and HS code “%(hs)s” effective on %(date)s "
        "in integration “%(integration)s” (looked for 10-, 8- and 6-digit prefixes). Add one "
        "under Mappings › tax templates (%(where)s), then retry the record."
    ) % {
        "country": country,
        "hs": hs_code,
        "date": on_date.isoformat(),
        "integration": _integration_name(integration),
        "where": where,
    }
    return MappingMissing(
        message,
        kind=MappingKind.TAX_TEMPLATE,
        key=f"{country}/{hs_code}",
        integration_id=_integration_id(integration),
        where=where,
        reason="no effective template for the HS prefixes",
        on_date=on_date.isoformat(),
    )


def tax_template_for(
    *, integration: Integration | int, country: str, hs_code: str, on_date: date
) -> TaxTemplate:
    """M6: the tax template for goods of an HS code sold to a country on a date; the longest
    matching prefix wins (10 → 8 → 6 digits), then the latest start date."""
    country = _norm(country).upper()
    prefixes = _hs_prefixes(hs_code)
    templates = list(
        TaxTemplate.objects.filter(
            integration_id=_integration_id(integration), country=country, hs_prefix__in=prefixes
        )
    )
    best = _best_template(templates, prefixes, on_date)
    if best is None:
        raise _tax_missing(integration, country, hs_code, on_date)
    return best


# --- Accounts (M7, G5) ----------------------------------------------------------------------


@dataclass(frozen=True)
class AccountGap:
    """An organisation and purpose with no organisation-wide account yet (G5 checklist)."""

    org_number: str
    purpose: str
    purpose_label: str

    def __str__(self) -> str:
        return f"{self.org_number}: {self.purpose_label}"


def account_for(
    *,
    integration: Integration | int,
    org_number: str,
    purpose: str,
    shop_id: Any = None,
) -> str:
    """M7: the Kingdee account number for a purpose in an organisation; a row for the shop
    wins over the organisation-wide row."""
    shop = _norm(shop_id) if shop_id not in (None, "") else ""
    rows = dict(
        AccountMapping.objects.filter(
            integration_id=_integration_id(integration),
            org_number=org_number,
            purpose=purpose,
            shop_id__in={shop, ""},
        ).values_list("shop_id", "account_number")
    )
    account = rows.get(shop) or rows.get("")
    if account:
        return account
    where = admin_path(AccountMapping)
    message = _(
        "No Kingdee account is mapped for “%(purpose)s” in organisation %(org)s%(shop)s in "
        "integration “%(integration)s”. Add it under Mappings › account mappings (%(where)s)."
    ) % {
        "purpose": AccountPurpose(purpose).label,
        "org": org_number,
        "shop": _(" (shop %(shop)s)") % {"shop": shop} if shop else "",
        "integration": _integration_name(integration),
        "where": where,
    }
    raise MappingMissing(
        message,
        kind=MappingKind.ACCOUNT,
        key=f"{org_number}/{purpose}/{shop}",
        integration_id=_integration_id(integration),
        where=where,
        reason="no account mapping row",
    )


def account_mapping_gaps(*, integration: Integration) -> list[AccountGap]:
    """G5: every (organisation, purpose) still without an organisation-wide account. The
    organisations are the connection's own and every sales org named by a shop mapping."""
    orgs = {integration.kingdee.org_number} | set(
        ShopCustomerMapping.objects.filter(integration=integration)
        .exclude(sale_org_number="")
        .values_list("sale_org_number", flat=True)
    )
    present = set(
        AccountMapping.objects.filter(integration=integration, shop_id="").values_list(
            "org_number", "purpose"
        )
    )
    return [
        AccountGap(org, purpose.value, str(purpose.label))
        for org in sorted(orgs)
        for purpose in AccountPurpose
        if (org, purpose.value) not in present
    ]


# --- Binding: both directions of a kind, one question or a batch ----------------------------


class KindBinder:
    """One kind of master data bound across the two systems (M1–M4): `to_external` answers
    the Kingdee number of a Jushuitan code, `to_internal` the Jushuitan code of a Kingdee
    number; either raises MappingMissing."""

    def __init__(
        self,
        backend: _Backend,
        integration: Integration | int,
        external: _Spec,
        internal: _Spec,
    ) -> None:
        self._backend = backend
        self._integration = integration
        self._external = external
        self._internal = internal

    def to_external(self, code: Any, wh_id: int | None = None) -> str:
        """The Kingdee number of a Jushuitan code (warehouses: of its sub-warehouse wh_id)."""
        return _resolve(self._backend, self._external, self._integration, code, wh_id)

    def to_internal(self, number: Any) -> str:
        """The Jushuitan code of a Kingdee number."""
        return _resolve(self._backend, self._internal, self._integration, number)


class MappingBinder:
    """The mappings of one Integration, bound per kind: `customer` (shop ↔ customer, M1),
    `warehouse` (M2), `supplier` (M3) and `material` (SKU ↔ material, M4), each with
    `to_external` / `to_internal`, and the tax template of a sale (M6).

    `loaded` (the default; the engine builds one per batch) reads each table once, on first
    use; `loaded=False` asks the database per question (the module functions above). Same
    answers and errors either way."""

    def __init__(self, integration: Integration | int, *, loaded: bool = True) -> None:
        self.integration = integration
        self.loaded = loaded
        integration_id = _integration_id(integration)
        backend = _LoadedBackend(integration_id) if loaded else _QueryBackend(integration_id)
        self._backend = backend
        self._templates: dict[str, list[TaxTemplate]] | None = None
        self.customer = KindBinder(backend, integration, _CUSTOMER, _SHOP)
        self.warehouse = KindBinder(backend, integration, _WAREHOUSE, _JST_WAREHOUSE)
        self.supplier = KindBinder(backend, integration, _SUPPLIER, _JST_SUPPLIER)
        self.material = KindBinder(backend, integration, _MATERIAL, _SKU)

    def tax_template_for(self, *, country: str, hs_code: str, on_date: date) -> TaxTemplate:
        if not self.loaded:
            return tax_template_for(
                integration=self.integration, country=country, hs_code=hs_code, on_date=on_date
            )
        if self._templates is None:
            by_country: dict[str, list[TaxTemplate]] = defaultdict(list)
            rows = TaxTemplate.objects.filter(integration_id=_integration_id(self.integration))
            for template in rows:
                by_country[template.country].append(template)
            self._templates = dict(by_country)
        country = _norm(country).upper()
        prefixes = _hs_prefixes(hs_code)
        best = _best_template(self._templates.get(country, []), prefixes, on_date)
        if best is None:
            raise _tax_missing(self.integration, country, hs_code, on_date)
        return best


# --- bulk-import jobs ---------------------------------------------------------------------


def import_progress_store():
    """Where a running import job reports its rows processed (shared by web and worker)."""
    return caches["imports"]


def import_progress_key(job_id) -> str:
    return f"mappings:import:{job_id}"


def import_job_progress(*, job: ImportJob) -> dict[str, Any]:
    """Where an import job stands, for the progress bar: status, rows processed of the total,
    percent, a label for people, and whether it has finished."""
    if job.finished:
        total = job.total_rows or 0
        processed = total
    else:
        reported = import_progress_store().get(import_progress_key(job.pk)) or {}
        total = int(reported.get("total") or 0)
        processed = min(int(reported.get("processed") or 0), total)
    if job.status == ImportJobStatus.RUNNING:
        if not total:
            label = _("Reading the file…")
        elif processed < total:
            label = _("Checking rows…") if job.dry_run else _("Importing rows…")
        else:
            label = _("Rolling back the dry run…") if job.dry_run else _("Saving…")
    else:
        label = str(job.get_status_display())
    return {
        "status": job.status,
        "label": label,
        "processed": processed,
        "total": total,
        "percent": int(processed * 100 / total) if total else 0,
        "finished": job.finished,
        "ok": job.ok,
    }


__all__ = [
    "AccountGap",
    "KindBinder",
    "MappingBinder",
    "account_for",
    "account_mapping_gaps",
    "code_for",
    "currency_for",
    "customer_for_shop",
    "import_job_progress",
    "import_progress_key",
    "import_progress_store",
    "jst_supplier_for",
    "material_for_sku",
    "shop_for_customer",
    "sku_for_material",
    "stock_for_warehouse",
    "supplier_for",
    "tax_template_for",
    "warehouse_for_stock",
]
