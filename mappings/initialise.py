"""G1 "Initialise from systems" (映射表一次性初始化).

What each system lists comes in as plain lists (`KingdeeMasterData`, `JushuitanMasterData`),
so the pairing is testable without either system; whatever lists the connectors return is
turned into these two objects by the caller.

Pairing per kind: the same code on both sides is a pair by the brief's 1:1 rule (source
"rule"); among what is left, a name that is unique on both sides is proposed as a pair
(source "initialised": check it); everything else is listed as unpaired with what to do.
Applying a plan never touches an existing row (explicit rows stay as people made them).
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from core.messages import gettext as _

from .choices import MappingKind, MappingSource, MasterKind, System
from .models import (
    KnownCode,
    MaterialMapping,
    ShopCustomerMapping,
    SupplierMapping,
    WarehouseMapping,
)


@dataclass(frozen=True)
class MasterRecord:
    """One master-data record as a system lists it."""

    code: str
    name: str = ""
    extra: dict = field(default_factory=dict, compare=False, hash=False)


@dataclass
class KingdeeMasterData:
    customers: list[MasterRecord] = field(default_factory=list)
    warehouses: list[MasterRecord] = field(default_factory=list)
    suppliers: list[MasterRecord] = field(default_factory=list)
    materials: list[MasterRecord] = field(default_factory=list)


@dataclass
class JushuitanMasterData:
    shops: list[MasterRecord] = field(default_factory=list)
    warehouses: list[MasterRecord] = field(default_factory=list)
    suppliers: list[MasterRecord] = field(default_factory=list)
    skus: list[MasterRecord] = field(default_factory=list)


@dataclass(frozen=True)
class ProposedPair:
    kind: str
    jushuitan_code: str
    kingdee_code: str
    source: str
    jushuitan_name: str = ""
    kingdee_name: str = ""


@dataclass(frozen=True)
class Unpaired:
    kind: str
    system: str
    code: str
    name: str
    hint: str


@dataclass
class InitialisationPlan:
    pairs: list[ProposedPair] = field(default_factory=list)
    unpaired: list[Unpaired] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        by_source = Counter(pair.source for pair in self.pairs)
        return {
            "rule": by_source[MappingSource.RULE],
            "initialised": by_source[MappingSource.INITIALISED],
            "unpaired": len(self.unpaired),
        }


@dataclass
class InitialisationResult:
    plan: InitialisationPlan
    created: dict[str, int] = field(default_factory=dict)
    kept: list[ProposedPair] = field(default_factory=list)  # an existing row already decides
    known_codes: int = 0
    #: the Kingdee code tables pulled with it (mappings.code_tables.CodeTablesResult)
    code_tables: object = None


# (mapping kind, Kingdee list, Jushuitan list, Kingdee snapshot kind, Jushuitan snapshot kind)
_KINDS = (
    (MappingKind.CUSTOMER, "customers", "shops", MasterKind.CUSTOMER, MasterKind.SHOP),
    (MappingKind.WAREHOUSE, "warehouses", "warehouses", MasterKind.WAREHOUSE, MasterKind.WAREHOUSE),
    (MappingKind.SUPPLIER, "suppliers", "suppliers", MasterKind.SUPPLIER, MasterKind.SUPPLIER),
    (MappingKind.MATERIAL, "materials", "skus", MasterKind.MATERIAL, MasterKind.SKU),
)


def _name_key(name: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def _pair_kind(
    kind: str, kingdee: list[MasterRecord], jushuitan: list[MasterRecord]
) -> InitialisationPlan:
    plan = InitialisationPlan()
    kd_by_code = {str(r.code).strip(): r for r in kingdee if str(r.code).strip()}
    jst_by_code = {str(r.code).strip(): r for r in jushuitan if str(r.code).strip()}
    for code in sorted(jst_by_code.keys() & kd_by_code.keys()):
        plan.pairs.append(
            ProposedPair(
                kind,
                code,
                code,
                MappingSource.RULE,
                jst_by_code[code].name,
                kd_by_code[code].name,
            )
        )
    kd_left = {c: r for c, r in kd_by_code.items() if c not in jst_by_code}
    jst_left = {c: r for c, r in jst_by_code.items() if c not in kd_by_code}
    kd_names = Counter(_name_key(r.name) for r in kd_left.values() if r.name.strip())
    jst_names = Counter(_name_key(r.name) for r in jst_left.values() if r.name.strip())
    kd_by_name = {_name_key(r.name): c for c, r in kd_left.items()}
    for code in sorted(jst_left):
        key = _name_key(jst_left[code].name)
        if key and kd_names[key] == 1 and jst_names[key] == 1:
            kd_code = kd_by_name[key]
            plan.pairs.append(
                ProposedPair(
                    kind,
                    code,
                    kd_code,
                    MappingSource.INITIALISED,
                    jst_left[code].name,
                    kd_left[kd_code].name,
                )
            )
            kd_left.pop(kd_code)
            continue
        plan.unpaired.append(
            Unpaired(
                kind,
                System.JUSHUITAN,
                code,
                jst_left[code].name,
                _("Only in Jushuitan: create it in Kingdee, or map it to an existing code."),
            )
        )
    for code in sorted(kd_left):
        plan.unpaired.append(
            Unpaired(
                kind,
                System.KINGDEE,
                code,
                kd_left[code].name,
                _("Only in Kingdee: the master-data sync creates it in Jushuitan, or map it."),
            )
        )
    return plan


def propose_pairs(
    *, kingdee: KingdeeMasterData, jushuitan: JushuitanMasterData
) -> InitialisationPlan:
    """Pair what both systems list, kind by kind (see the module docstring)."""
    plan = InitialisationPlan()
    for kind, kd_list, jst_list, _kd_kind, _jst_kind in _KINDS:
        part = _pair_kind(kind, getattr(kingdee, kd_list), getattr(jushuitan, jst_list))
        plan.pairs.extend(part.pairs)
        plan.unpaired.extend(part.unpaired)
    return plan


LOOKUP_CHUNK = 2000  # codes per IN (...) lookup: under every backend's parameter limit


def record_known_codes(
    *,
    integration,
    system: str,
    kind: str,
    records: Iterable[MasterRecord],
    complete: bool = True,
) -> int:
    """Store the codes a system listed (the snapshot the 1:1 rule checks). A complete
    listing also forgets codes that are no longer listed. Returns the number of codes kept."""
    now = timezone.now()
    records = {str(r.code).strip(): r for r in records if str(r.code).strip()}
    rows = KnownCode.objects.filter(integration=integration, system=system, kind=kind)
    # Only the listed codes are read: the snapshot holds every code of the system (50,000
    # materials), and the material flow records each synced batch of 50 here.
    listed = list(records)
    existing = {
        row.code: row
        for start in range(0, len(listed), LOOKUP_CHUNK)
        for row in rows.filter(code__in=listed[start : start + LOOKUP_CHUNK])
    }
    with transaction.atomic():
        if complete:
            stale = [pk for pk, code in rows.values_list("pk", "code") if code not in records]
            for start in range(0, len(stale), LOOKUP_CHUNK):
                KnownCode.objects.filter(pk__in=stale[start : start + LOOKUP_CHUNK]).delete()
        new, changed = [], []
        for code, record in records.items():
            row = existing.get(code)
            if row is None:
                new.append(
                    KnownCode(
                        integration=integration,
                        system=system,
                        kind=kind,
                        code=code,
                        name=record.name[:200],
                        extra=record.extra,
                        seen_at=now,
                    )
                )
            else:
                row.name, row.extra, row.seen_at = record.name[:200], record.extra, now
                changed.append(row)
        KnownCode.objects.bulk_create(new, batch_size=1000)
        KnownCode.objects.bulk_update(changed, ["name", "extra", "seen_at"], batch_size=1000)
    return len(records)


def _row_for(integration, pair: ProposedPair):
    common = {"integration": integration, "source": pair.source}
    if pair.kind == MappingKind.CUSTOMER:
        return ShopCustomerMapping(
            shop_id=pair.jushuitan_code,
            shop_name=pair.jushuitan_name[:200],
            customer_number=pair.kingdee_code,
            **common,
        )
    if pair.kind == MappingKind.WAREHOUSE:
        return WarehouseMapping(
            wms_co_id=pair.jushuitan_code,
            wh_id=0,
            warehouse_name=pair.jushuitan_name[:200],
            stock_number=pair.kingdee_code,
            **common,
        )
    if pair.kind == MappingKind.SUPPLIER:
        return SupplierMapping(
            jst_supplier_code=pair.jushuitan_code,
            supplier_number=pair.kingdee_code,
            supplier_name=pair.kingdee_name[:200],
            **common,
        )
    return MaterialMapping(
        sku_id=pair.jushuitan_code,
        material_number=pair.kingdee_code,
        material_name=pair.kingdee_name[:200],
        **common,
    )


_TAKEN = {
    MappingKind.CUSTOMER: (ShopCustomerMapping, "shop_id", None),
    MappingKind.WAREHOUSE: (WarehouseMapping, "wms_co_id", None),
    MappingKind.SUPPLIER: (SupplierMapping, "jst_supplier_code", "supplier_number"),
    MappingKind.MATERIAL: (MaterialMapping, "sku_id", "material_number"),
}


def apply_plan(*, integration, plan: InitialisationPlan, user=None) -> InitialisationResult:
    """Create the proposed rows that no existing row contradicts (idempotent)."""
    result = InitialisationResult(plan=plan)
    with transaction.atomic():
        for kind, (model, key_field, unique_value) in _TAKEN.items():
            rows = model.objects.filter(integration=integration)
            keys = set(rows.values_list(key_field, flat=True))
            values = set(rows.values_list(unique_value, flat=True)) if unique_value else set()
            new = []
            for pair in plan.pairs:
                if pair.kind != kind:
                    continue
                if pair.jushuitan_code in keys or pair.kingdee_code in values:
                    result.kept.append(pair)
                    continue
                keys.add(pair.jushuitan_code)
                if unique_value:
                    values.add(pair.kingdee_code)
                new.append(_row_for(integration, pair))
            if new:
                bulk_create_with_history(new, model, batch_size=1000, default_user=user)
            result.created[str(kind)] = len(new)
    return result


def initialise_from_systems(
    *,
    integration,
    kingdee: KingdeeMasterData,
    jushuitan: JushuitanMasterData,
    apply: bool = True,
    user=None,
) -> InitialisationResult:
    """G1: snapshot both systems' codes, propose the 1:1 pairs, list what cannot be paired
    and (unless `apply` is False, a preview) create the rows."""
    known = 0
    for _kind, kd_list, jst_list, kd_kind, jst_kind in _KINDS:
        known += record_known_codes(
            integration=integration,
            system=System.KINGDEE,
            kind=kd_kind,
            records=getattr(kingdee, kd_list),
        )
        known += record_known_codes(
            integration=integration,
            system=System.JUSHUITAN,
            kind=jst_kind,
            records=getattr(jushuitan, jst_list),
        )
    plan = propose_pairs(kingdee=kingdee, jushuitan=jushuitan)
    if not apply:
        result = InitialisationResult(plan=plan)
    else:
        result = apply_plan(integration=integration, plan=plan, user=user)
    result.known_codes = known
    return result
