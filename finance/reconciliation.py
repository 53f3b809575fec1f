"""K1 inventory reconciliation (库存对账): on-hand stock per material × warehouse in Kingdee
(STK_Inventory) against Jushuitan (inventory query per warehouse), stored per run with every
compared line; accuracy = matching lines / compared lines; an alert when it falls below the
target (99.5 % by default).

Scope: every Jushuitan warehouse the portal knows (G1 snapshot and explicit mappings) in the
configured sub-warehouses (main by default), mapped to its Kingdee warehouse (M2). A line is
compared when either side holds the material there; quantities within the tolerance match.
A SKU with no Kingdee material (or the reverse) is compared too and never matches: stock that
one system does not know is an inaccuracy. Accuracy is stored rounded down (never overstated);
the alert decision uses the exact ratio.
"""

from __future__ import annotations

import contextlib
import logging
from collections import defaultdict
from decimal import ROUND_DOWN, Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from connectors.models import Integration
from mappings.choices import MasterKind, System
from mappings.errors import MappingMissing
from mappings.models import KnownCode, MaterialMapping, WarehouseMapping
from mappings.selectors import MappingResolver

from .choices import RunStatus, RunTrigger
from .models import FinanceSettings, ReconciliationLine, ReconciliationRun

logger = logging.getLogger(__name__)

ALERT_CLASS = "reconciliation"
# Jushuitan inventory column per sub-warehouse (docs/protocols/jushuitan.md §3.5).
COLUMNS = {1: "qty", 2: "return_qty", 3: "in_qty", 4: "defective_qty", 6: "customize_qty_1"}


def _warehouses(integration: Integration) -> list[str]:
    known = KnownCode.objects.filter(
        integration=integration, system=System.JUSHUITAN, kind=MasterKind.WAREHOUSE
    ).values_list("code", flat=True)
    explicit = WarehouseMapping.objects.filter(integration=integration).values_list(
        "wms_co_id", flat=True
    )
    return sorted({str(c) for c in known} | {str(c) for c in explicit})


def _skus(integration: Integration) -> set[str]:
    known = KnownCode.objects.filter(
        integration=integration, system=System.JUSHUITAN, kind=MasterKind.SKU
    ).values_list("code", flat=True)
    mapped = MaterialMapping.objects.filter(integration=integration).values_list(
        "sku_id", flat=True
    )
    return {str(s) for s in known} | {str(s) for s in mapped}


def accuracy_of(matched: int, compared: int) -> Decimal | None:
    if not compared:
        return None
    return (Decimal(matched) * 100 / Decimal(compared)).quantize(
        Decimal("0.001"), rounding=ROUND_DOWN
    )


def reconciliation_run(
    *, integration: Integration, trigger: str = RunTrigger.MANUAL
) -> ReconciliationRun:
    """Compare both systems now, store the run and its lines, alert below target."""
    from connectors.jushuitan.client import client_for as jst_client
    from connectors.kingdee.client import client_for as kd_client

    settings = FinanceSettings.for_integration(integration)
    run = ReconciliationRun.objects.create(
        integration=integration, trigger=trigger, target=settings.accuracy_target
    )
    try:
        lines, notes = _compare(
            integration=integration,
            settings=settings,
            kingdee=kd_client(integration.kingdee),
            jushuitan=jst_client(integration.jushuitan),
        )
    except Exception as exc:
        logger.exception("reconciliation of %s failed", integration)
        run.status = RunStatus.FAILED
        run.notes = f"{type(exc).__name__}: {getattr(exc, 'message', exc)}"
        run.finished_at = timezone.now()
        run.save()
        return run
    with transaction.atomic():
        for line in lines:
            line.run = run
        ReconciliationLine.objects.bulk_create(lines, batch_size=1000)
        run.compared = len(lines)
        run.matched = sum(1 for line in lines if line.matched)
        run.accuracy = accuracy_of(run.matched, run.compared)
        run.below_target = bool(run.compared) and (
            Decimal(run.matched) * 100 < run.target * run.compared
        )
        run.notes = "\n".join(notes)
        run.status = RunStatus.DONE
        run.finished_at = timezone.now()
        run.save()
        if run.below_target:
            _alert(run)
    return run


def _compare(*, integration, settings, kingdee, jushuitan):
    resolver = MappingResolver(integration)
    notes: list[str] = []
    # (wms_co_id, wh_id) -> Kingdee stock number
    places: dict[tuple[str, int], str] = {}
    for wms_co_id in _warehouses(integration):
        for wh_id in settings.sub_warehouse_ids:
            try:
                places[(wms_co_id, wh_id)] = resolver.stock_for_warehouse(wms_co_id, wh_id)
            except MappingMissing as exc:
                notes.append(exc.message)
    org = integration.kingdee.org_number
    kd_totals = kingdee.inventory(
        org_number=org, stock_numbers=sorted(set(places.values())) or None
    )
    kd: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for (material, stock, _org), qty in kd_totals.items():
        kd[(material, stock)] += qty
    skus = _skus(integration)
    for material, _stock in kd:
        with contextlib.suppress(MappingMissing):
            skus.add(resolver.sku_for_material(material))
    jst: dict[tuple[str, str], Decimal] = defaultdict(Decimal)  # (sku, stock) -> qty
    origin: dict[str, tuple[str, int]] = {}
    for (wms_co_id, wh_id), stock in places.items():
        origin.setdefault(stock, (wms_co_id, wh_id))
        column = COLUMNS.get(wh_id, "qty")
        rows = jushuitan.inventory_by_skus(sorted(skus), wms_co_id=int(wms_co_id))
        for row in rows:
            jst[(str(row["sku_id"]), stock)] += Decimal(str(row.get(column) or 0))
    lines: list[ReconciliationLine] = []
    seen: set[tuple[str, str]] = set()
    tolerance = settings.quantity_tolerance
    for (material, stock), kd_qty in sorted(kd.items()):
        try:
            sku = resolver.sku_for_material(material)
        except MappingMissing:
            sku = ""
        jst_qty = jst.get((sku, stock), Decimal(0)) if sku else Decimal(0)
        seen.add((sku, stock))
        if kd_qty == 0 and jst_qty == 0:
            continue
        wms_co_id, wh_id = origin.get(stock, ("", 1))
        diff = jst_qty - kd_qty
        lines.append(
            ReconciliationLine(
                material_number=material,
                sku_id=sku,
                stock_number=stock,
                wms_co_id=wms_co_id,
                wh_id=wh_id,
                kingdee_qty=kd_qty,
                jushuitan_qty=jst_qty,
                difference=diff,
                matched=bool(sku) and abs(diff) <= tolerance,
                note="" if sku else _("Kingdee material has no SKU (M4)"),
            )
        )
    for (sku, stock), jst_qty in sorted(jst.items()):
        if (sku, stock) in seen or jst_qty == 0:
            continue
        try:
            material = resolver.material_for_sku(sku)
            note = ""
        except MappingMissing:
            material, note = "", _("SKU has no Kingdee material (M4)")
        wms_co_id, wh_id = origin.get(stock, ("", 1))
        lines.append(
            ReconciliationLine(
                material_number=material,
                sku_id=sku,
                stock_number=stock,
                wms_co_id=wms_co_id,
                wh_id=wh_id,
                kingdee_qty=Decimal(0),
                jushuitan_qty=jst_qty,
                difference=jst_qty,
                matched=bool(material) and jst_qty <= tolerance,
                note=note,
            )
        )
    return lines, notes


def _alert(run: ReconciliationRun) -> None:
    from monitoring.alerts import alert_raise

    worst = list(run.lines.filter(matched=False).order_by("-difference")[:5])
    listing = "\n".join(
        f"- {line.material_number or line.sku_id} @ {line.stock_number}: "
        f"Kingdee {line.kingdee_qty.normalize():f}, Jushuitan {line.jushuitan_qty.normalize():f}"
        for line in worst
    )
    alert_raise(
        title=_("Inventory accuracy %(acc)s%% is below the target %(target)s%%")
        % {"acc": run.accuracy, "target": run.target.normalize()},
        text=_(
            "Reconciliation of %(integration)s: %(matched)d of %(compared)d lines match "
            "(%(mismatches)d mismatches). Open the reconciliation page to see and export them."
        )
        % {
            "integration": run.integration,
            "matched": run.matched,
            "compared": run.compared,
            "mismatches": run.mismatches,
        }
        + ("\n" + listing if listing else ""),
        error_class=ALERT_CLASS,
        integration_id=run.integration_id,
        severity="error",
        dedupe_key=f"reconciliation:{run.pk}",
    )


def mismatch_table(run: ReconciliationRun) -> tuple[list[str], list[list]]:
    """The mismatching lines of a run as a table (header translated)."""
    header = [
        _("material"),
        _("SKU"),
        _("Kingdee warehouse"),
        _("Jushuitan warehouse"),
        _("sub-warehouse"),
        _("Kingdee quantity"),
        _("Jushuitan quantity"),
        _("difference (Jushuitan − Kingdee)"),
        _("note"),
    ]
    rows = [
        [
            line.material_number,
            line.sku_id,
            line.stock_number,
            line.wms_co_id,
            line.wh_id,
            line.kingdee_qty,
            line.jushuitan_qty,
            line.difference,
            line.note,
        ]
        for line in run.lines.filter(matched=False).order_by("stock_number", "material_number")
    ]
    return header, rows


def mismatches_export(*, run: ReconciliationRun, fmt: str) -> tuple[bytes, str, str]:
    """(content, content type, file name) of a run's mismatches as csv or xlsx."""
    from .exports import table_csv, table_xlsx

    header, rows = mismatch_table(run)
    name = f"reconciliation-{run.pk}-mismatches"
    if fmt == "xlsx":
        return (
            table_xlsx([(_("Mismatches"), header, rows)]),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            f"{name}.xlsx",
        )
    return table_csv(header, rows), "text/csv; charset=utf-8", f"{name}.csv"
