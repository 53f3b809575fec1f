"""K1 inventory reconciliation (库存对账): on-hand stock per material × warehouse in Kingdee
(STK_Inventory) against Jushuitan (inventory query per warehouse), as of one cut-off, with the
portal's own pending documents as reconciling items (对账调节项) and the differences valued at
Kingdee's unit cost; stored per run with every compared line.

Scope: every Jushuitan warehouse the portal knows (G1 snapshot and explicit mappings) in the
configured sub-warehouses (main by default), mapped to its Kingdee warehouse (M2). A line is
compared when either side holds the material there; quantities within the tolerance match.
A SKU with no Kingdee material (or the reverse) is compared too and never matches: stock that
one system does not know is an inaccuracy.

One cut-off: the run's start. Jushuitan is read first, then Kingdee. A document of the
portal's stock flows (F2, F3, F8 from Jushuitan; F4, F5, F7, F8.3 from Kingdee) moves the same
quantity in both systems, first in its source system (at its source time), then in the other
(when synced). Whatever a document did in a system after the cut-off but before that system
was read is taken back out of the reading, so documents after the cut-off are left out of both
sides. A document that had landed in one system but not the other at the cut-off (blocked,
held, failed, waiting, or in flight) accounts for part of the difference: each line lists
those documents with quantity, state and open ticket, and what remains is *unexplained*.

Two figures per run, both rounded down (never overstated): raw accuracy (matching lines /
compared lines) and accuracy after pending documents (lines with no unexplained difference /
compared lines). The target (99.5 % by default) applies to the second; the run alerts when it
falls below, and when a pending document is older than its flow's bound
(finance.selectors.pending_bound).
"""

from __future__ import annotations

import contextlib
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone

from connectors.models import Integration
from core.messages import gettext as _
from core.messages import localize
from flows.choices import System as FlowSystem
from flows.models import SyncDocument
from mappings.choices import MasterKind, System
from mappings.errors import MappingMissing
from mappings.models import KnownCode, MaterialMapping, WarehouseMapping
from mappings.selectors import MappingBinder

from . import selectors
from .choices import RunStatus, RunTrigger
from .models import FinanceSettings, ReconciliationLine, ReconciliationRun, ReconcilingItem

logger = logging.getLogger(__name__)

ALERT_CLASS = "reconciliation"
# Jushuitan inventory column per sub-warehouse (docs/protocols/jushuitan.md §3.5).
COLUMNS = {1: "qty", 2: "return_qty", 3: "in_qty", 4: "defective_qty", 6: "customize_qty_1"}
CENT = Decimal("0.01")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


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


def value_of(qty: Decimal, unit_cost: Decimal | None) -> Decimal | None:
    """A quantity at a unit cost, to the cent (ROUND_HALF_UP); None without a cost."""
    if unit_cost is None:
        return None
    return (qty * unit_cost).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass
class Readings:
    """What both systems said, keyed by line key (sku or #material, Kingdee stock)."""

    places: dict[tuple[str, int], str]
    jst: dict[tuple[str, str], Decimal]
    kd: dict[tuple[str, str], Decimal]
    materials: dict[tuple[str, str], str]
    jst_read_at: datetime
    kd_read_at: datetime
    notes: list[str] = field(default_factory=list)


def _cut_off() -> datetime:
    """The run's cut-off: now, just before Jushuitan is read."""
    return timezone.now()


def reconciliation_run(
    *, integration: Integration, trigger: str = RunTrigger.MANUAL
) -> ReconciliationRun:
    """Compare both systems as of now, explain the differences by the pending documents,
    store the run, its lines and their documents, alert when needed."""
    from connectors.jushuitan.client import client_for as jst_client
    from connectors.kingdee.client import client_for as kd_client

    settings = FinanceSettings.for_integration(integration)
    cut_off = _cut_off()
    run = ReconciliationRun.objects.create(
        integration=integration, trigger=trigger, target=settings.accuracy_target, cut_off=cut_off
    )
    try:
        kingdee = kd_client(integration.kingdee)
        readings = _read(
            integration=integration,
            settings=settings,
            kingdee=kingdee,
            jushuitan=jst_client(integration.jushuitan),
        )
        lines, items = _compare(
            integration=integration, settings=settings, readings=readings, cut_off=cut_off
        )
        _value(lines, settings=settings, kingdee=kingdee, notes=readings.notes)
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
        for line in lines:
            for item in items.get(id(line), []):
                item.line = line
        flat = [item for line in lines for item in items.get(id(line), [])]
        ReconcilingItem.objects.bulk_create(flat, batch_size=1000)
        run.compared = len(lines)
        run.matched = sum(1 for line in lines if line.matched)
        run.matched_after_pending = sum(1 for line in lines if line.matched_after_pending)
        run.accuracy = accuracy_of(run.matched, run.compared)
        run.accuracy_after_pending = accuracy_of(run.matched_after_pending, run.compared)
        run.below_target = bool(run.compared) and (
            Decimal(run.matched_after_pending) * 100 < run.target * run.compared
        )
        run.pending_documents = len({i.document_id for i in flat})
        run.overdue_documents = len({i.document_id for i in flat if i.overdue})
        run.difference_value = sum(
            (abs(line.difference_value or 0) for line in lines), Decimal("0")
        ).quantize(CENT)
        run.unexplained_value = sum(
            (abs(line.unexplained_value or 0) for line in lines), Decimal("0")
        ).quantize(CENT)
        run.notes = "\n".join(readings.notes)
        run.status = RunStatus.DONE
        run.finished_at = timezone.now()
        run.save()
        if run.below_target or run.overdue_documents:
            _alert(run)
    return run


def _read(*, integration, settings, kingdee, jushuitan) -> Readings:
    """Jushuitan first (right after the cut-off), then Kingdee; SKUs only Kingdee revealed are
    read from Jushuitan last."""
    binder = MappingBinder(integration)
    notes: list[str] = []
    places: dict[tuple[str, int], str] = {}
    for wms_co_id in _warehouses(integration):
        for wh_id in settings.sub_warehouse_ids:
            try:
                places[(wms_co_id, wh_id)] = binder.warehouse.to_external(wms_co_id, wh_id)
            except MappingMissing as exc:
                notes.append(exc.message)
    jst: dict[tuple[str, str], Decimal] = defaultdict(Decimal)

    def read_jushuitan(skus: set[str]) -> None:
        if not skus:
            return
        for (wms_co_id, wh_id), stock in places.items():
            column = COLUMNS.get(wh_id, "qty")
            for row in jushuitan.inventory_by_skus(sorted(skus), wms_co_id=int(wms_co_id)):
                jst[(str(row["sku_id"]), stock)] += Decimal(str(row.get(column) or 0))

    skus = _skus(integration)
    read_jushuitan(skus)
    jst_read_at = timezone.now()
    kd_totals = kingdee.inventory(
        org_number=integration.kingdee.org_number,
        stock_numbers=sorted(set(places.values())) or None,
    )
    kd_read_at = timezone.now()
    kd: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    materials: dict[tuple[str, str], str] = {}
    extra: set[str] = set()
    for (material, stock, _org), qty in kd_totals.items():
        try:
            sku = binder.material.to_internal(material)
        except MappingMissing:
            sku = ""
        key = (sku or f"#{material}", stock)
        kd[key] += qty
        materials[key] = material
        if sku and sku not in skus:
            extra.add(sku)
    if extra:
        read_jushuitan(extra)
        jst_read_at = timezone.now()
    return Readings(
        places=places,
        jst=dict(jst),
        kd=dict(kd),
        materials=materials,
        jst_read_at=jst_read_at,
        kd_read_at=kd_read_at,
        notes=notes,
    )


def _compare(*, integration, settings, readings: Readings, cut_off: datetime):
    """Lines as of the cut-off and, per line (by id), its reconciling items."""
    from monitoring.services import tickets_of_documents

    binder = MappingBinder(integration)
    jst, kd = dict(readings.jst), dict(readings.kd)
    compared_places = set(readings.places)
    compared_stocks = set(readings.places.values())
    origin: dict[str, tuple[str, int]] = {}
    for place, stock in sorted(readings.places.items()):
        origin.setdefault(stock, place)
    explained: dict[tuple[str, str], list[ReconcilingItem]] = defaultdict(list)
    materials = dict(readings.materials)
    unseen: set[tuple[str, int, str]] = set()
    docs = list(
        SyncDocument.objects.filter(integration=integration, flow__code__in=selectors.STOCK_FLOWS)
        .filter(_pending_query(cut_off))
        .select_related("flow")
        .order_by("created_at", "id")
    )
    tickets = tickets_of_documents([d.pk for d in docs])  # its own or its cause's (issue 20)
    for doc in docs:
        effects = selectors.document_effects(doc, binder)
        if not effects:
            continue
        event = doc.source_modified_at or doc.created_at
        # A count bill awaiting finance's approval is saved in Kingdee but moved no stock.
        awaiting = (doc.progress or {}).get("approval") == "pending"
        synced = doc.synced_at if doc.state == "synced" and not awaiting else None
        landed_target_at_cut_off = synced is not None and synced <= cut_off
        if selectors.source_system_of(doc.flow.code) == FlowSystem.JUSHUITAN:
            jst_at_cut_off, kd_at_cut_off = event <= cut_off, landed_target_at_cut_off
            jst_read = event <= readings.jst_read_at
            kd_read = synced is not None and synced <= readings.kd_read_at
        else:
            kd_at_cut_off, jst_at_cut_off = event <= cut_off, landed_target_at_cut_off
            kd_read = event <= readings.kd_read_at
            jst_read = synced is not None and synced <= readings.jst_read_at
        kind = selectors.pending_kind(doc, cut_off=cut_off)
        since = doc.created_at
        overdue = since is not None and cut_off - since > selectors.pending_bound(doc.flow)
        for effect in effects:
            key = (effect.sku or f"#{effect.material}", effect.stock)
            if effect.material:
                materials.setdefault(key, effect.material)
            on_jst = (effect.wms_co_id, effect.wh_id) in compared_places
            on_kd = effect.stock in compared_stocks
            if on_kd and not on_jst and effect.wms_co_id:
                unseen.add((effect.wms_co_id, effect.wh_id, effect.stock))
            if on_jst:  # take back what happened between the cut-off and the reading
                jst[key] = jst.get(key, Decimal(0)) - effect.qty * (jst_read - jst_at_cut_off)
            if on_kd:
                kd[key] = kd.get(key, Decimal(0)) - effect.qty * (kd_read - kd_at_cut_off)
            share = effect.qty * ((jst_at_cut_off and on_jst) - (kd_at_cut_off and on_kd))
            if not share or kind is None:
                continue
            ticket = tickets.get(doc.pk)
            explained[key].append(
                ReconcilingItem(
                    document=doc,
                    flow_code=doc.flow.code,
                    reference=doc.platform_order_no or doc.kingdee_bill_no or doc.source_key,
                    kind=kind,
                    state=doc.state,
                    quantity=share,
                    pending_since=since,
                    overdue=overdue,
                    ticket=ticket,
                    error=(doc.last_error_message or "")[:300],
                )
            )
    for wms_co_id, wh_id, stock in sorted(unseen):
        readings.notes.append(
            _(
                "Jushuitan sub-warehouse %(wh)s of warehouse %(wms)s moves Kingdee warehouse "
                "%(stock)s, which is compared, but is not compared itself: add %(wh)s to the "
                "compared sub-warehouses in the finance settings."
            )
            % {"wh": wh_id, "wms": wms_co_id, "stock": stock}
        )
    lines: list[ReconciliationLine] = []
    items: dict[int, list[ReconcilingItem]] = {}
    tolerance = settings.quantity_tolerance
    for key in sorted(set(jst) | set(kd) | set(explained)):
        sku_key, stock = key
        kd_qty, jst_qty = kd.get(key, Decimal(0)), jst.get(key, Decimal(0))
        found = explained.get(key, [])
        if kd_qty == 0 and jst_qty == 0 and not found:
            continue
        sku = "" if sku_key.startswith("#") else sku_key
        material = materials.get(key, "")
        if sku and not material:
            with contextlib.suppress(MappingMissing):
                material = binder.material.to_external(sku)
        note = ""
        if not sku:
            note = _("Kingdee material has no SKU (M4)")
        elif not material:
            note = _("SKU has no Kingdee material (M4)")
        diff = jst_qty - kd_qty
        pending = sum((i.quantity for i in found), Decimal(0))
        unexplained = diff - pending
        known = bool(sku) and bool(material)
        wms_co_id, wh_id = origin.get(stock, ("", 1))
        line = ReconciliationLine(
            material_number=material,
            sku_id=sku,
            stock_number=stock,
            wms_co_id=wms_co_id,
            wh_id=wh_id,
            kingdee_qty=kd_qty,
            jushuitan_qty=jst_qty,
            difference=diff,
            matched=known and abs(diff) <= tolerance,
            pending_qty=pending,
            unexplained_qty=unexplained,
            matched_after_pending=known and abs(unexplained) <= tolerance,
            note=note,
        )
        lines.append(line)
        items[id(line)] = found
    return lines, items


def _pending_query(cut_off: datetime):
    from django.db.models import Q

    return (
        Q(state__in=list(selectors.PENDING_STATES))
        | Q(state="synced", synced_at__gt=cut_off)
        | Q(state="synced", source_modified_at__gt=cut_off)
        | Q(state="synced", progress__approval="pending")
    )


def _value(lines: list[ReconciliationLine], *, settings, kingdee, notes: list[str]) -> None:
    """Value every line at Kingdee's unit cost (the BD_MATERIAL field of the settings)."""
    from connectors.kingdee.client import quote

    numbers = sorted({line.material_number for line in lines if line.material_number})
    costs: dict[str, Decimal] = {}
    key = settings.unit_cost_field
    try:
        for index in range(0, len(numbers), 200):
            part = numbers[index : index + 200]
            for row in kingdee.iter_bill_query(
                "BD_MATERIAL",
                ["FNumber", key],
                filter_string=f"FNumber in ({','.join(quote(n) for n in part)})",
            ):
                with contextlib.suppress(InvalidOperation, ValueError):
                    cost = Decimal(str(row.get(key)))
                    if cost > 0:
                        costs[str(row["FNumber"])] = cost
    except Exception as exc:  # the quantities stand without values; say why
        notes.append(
            _("Unit costs could not be read from Kingdee (%(field)s): %(error)s")
            % {"field": key, "error": getattr(exc, "message", exc)}
        )
    missing = []
    for line in lines:
        line.unit_cost = costs.get(line.material_number)
        line.difference_value = value_of(line.difference, line.unit_cost)
        line.unexplained_value = value_of(line.unexplained_qty, line.unit_cost)
        if line.material_number and line.unit_cost is None and line.difference:
            missing.append(line.material_number)
    if missing:
        notes.append(
            _("No unit cost in Kingdee (%(field)s) for: %(materials)s")
            % {"field": key, "materials": ", ".join(sorted(set(missing)))}
        )


def _alert(run: ReconciliationRun) -> None:
    """One alert per run: the unexplained part below target and / or documents pending longer
    than their flow's bound, each with the worst cases."""
    from monitoring.alerts import alert_raise

    parts: list[str] = []
    if run.below_target:
        parts.append(
            _(
                "After pending documents %(matched)d of %(compared)d lines match "
                "(%(acc)s%%, raw %(raw)s%%); unexplained differences worth %(value)s CNY:"
            )
            % {
                "matched": run.matched_after_pending,
                "compared": run.compared,
                "acc": run.accuracy_after_pending,
                "raw": run.accuracy,
                "value": run.unexplained_value,
            }
        )
        worst = run.lines.filter(matched_after_pending=False).order_by("-unexplained_qty")[:5]
        parts += [
            f"- {line.material_number or line.sku_id} @ {line.stock_number}: "
            + _("unexplained %(qty)s") % {"qty": format(line.unexplained_qty.normalize(), "f")}
            for line in worst
        ]
    if run.overdue_documents:
        parts.append(
            _("%(n)d documents have been pending longer than their flow allows:")
            % {"n": run.overdue_documents}
        )
        seen: set[int | None] = set()
        for item in ReconcilingItem.objects.filter(line__run=run, overdue=True).order_by(
            "pending_since"
        ):
            if item.document_id in seen or len(seen) >= 5:
                continue
            seen.add(item.document_id)
            parts.append(f"- {item.reference} ({item.get_kind_display()})")
    alert_raise(
        title=_(
            "Inventory reconciliation: %(acc)s%% after pending documents (target %(target)s%%), "
            "%(overdue)d documents overdue"
        )
        % {
            "acc": run.accuracy_after_pending,
            "target": run.target.normalize(),
            "overdue": run.overdue_documents,
        },
        text=_("Reconciliation of %(integration)s as of %(cut_off)s.")
        % {
            "integration": run.integration,
            "cut_off": timezone.localtime(run.cut_off).strftime("%Y-%m-%d %H:%M:%S"),
        }
        + "\n"
        + "\n".join(parts),
        error_class=ALERT_CLASS,
        integration_id=run.integration_id,
        severity="error",
        dedupe_key=f"reconciliation:{run.pk}",
    )


def safe_text(value):
    """A text cell that cannot start a spreadsheet formula (a leading quote is added)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _documents_text(line: ReconciliationLine) -> str:
    return "; ".join(
        f"{item.reference} {item.get_kind_display()} {format(item.quantity.normalize(), 'f')}"
        + (f" #{item.ticket_id}" if item.ticket_id else "")
        for item in line.items.all()
    )


def summary_rows(run: ReconciliationRun) -> list[list]:
    """The run's figures, both of them, as label / value rows."""
    return [
        [_("Cut-off"), timezone.localtime(run.cut_off).strftime("%Y-%m-%d %H:%M:%S")]
        if run.cut_off
        else [_("Cut-off"), ""],
        [_("Lines compared"), run.compared],
        [_("Accuracy, raw (%)"), run.accuracy],
        [_("Accuracy after pending documents (%)"), run.accuracy_after_pending],
        [_("Target (%)"), run.target],
        [_("Pending documents"), run.pending_documents],
        [_("Pending longer than their bound"), run.overdue_documents],
        [_("Value of differences (CNY)"), run.difference_value],
        [_("Value of unexplained differences (CNY)"), run.unexplained_value],
    ]


def mismatch_table(run: ReconciliationRun) -> tuple[list[str], list[list]]:
    """The mismatching lines of a run as a table (header translated): both quantities, the
    part pending documents explain, the unexplained rest, values and the documents."""
    header = [
        _("material"),
        _("SKU"),
        _("Kingdee warehouse"),
        _("Jushuitan warehouse"),
        _("sub-warehouse"),
        _("Kingdee quantity"),
        _("Jushuitan quantity"),
        _("difference (Jushuitan − Kingdee)"),
        _("explained by pending documents"),
        _("unexplained"),
        _("Kingdee unit cost (CNY)"),
        _("difference value (CNY)"),
        _("unexplained value (CNY)"),
        _("pending documents"),
        _("note"),
    ]
    rows = [
        [
            safe_text(line.material_number),
            safe_text(line.sku_id),
            safe_text(line.stock_number),
            safe_text(line.wms_co_id),
            line.wh_id,
            line.kingdee_qty,
            line.jushuitan_qty,
            line.difference,
            line.pending_qty,
            line.unexplained_qty,
            line.unit_cost,
            line.difference_value,
            line.unexplained_value,
            safe_text(_documents_text(line)),
            safe_text(line.note),
        ]
        for line in run.lines.filter(matched=False)
        .prefetch_related("items")
        .order_by("stock_number", "material_number", "sku_id")
    ]
    return header, rows


def documents_table(run: ReconciliationRun) -> tuple[list[str], list[list]]:
    """Every reconciling document of a run, one row per document and line."""
    header = [
        _("material"),
        _("SKU"),
        _("Kingdee warehouse"),
        _("flow"),
        _("reference"),
        _("why pending"),
        _("document state"),
        _("quantity (Jushuitan − Kingdee)"),
        _("pending since"),
        _("over its flow's bound"),
        _("open ticket"),
        _("error"),
    ]
    rows = []
    for item in (
        ReconcilingItem.objects.filter(line__run=run)
        .select_related("line")
        .order_by("line__stock_number", "line__material_number", "pending_since")
    ):
        rows.append(
            [
                safe_text(item.line.material_number),
                safe_text(item.line.sku_id),
                safe_text(item.line.stock_number),
                item.flow_code,
                safe_text(item.reference),
                str(item.get_kind_display()),
                item.state,
                item.quantity,
                timezone.localtime(item.pending_since).strftime("%Y-%m-%d %H:%M:%S")
                if item.pending_since
                else "",
                _("yes") if item.overdue else _("no"),
                item.ticket_id or "",
                safe_text(localize(item.error)),  # issue 20 point 4: the reader's language
            ]
        )
    return header, rows


def mismatches_export(*, run: ReconciliationRun, fmt: str) -> tuple[bytes, str, str]:
    """(content, content type, file name) of a run's mismatches as csv or xlsx. The workbook
    has the figures, the mismatching lines and the reconciling documents; the csv carries the
    two figures in its first rows, then the lines (their documents in one column)."""
    from .exports import table_csv, table_xlsx

    header, rows = mismatch_table(run)
    name = f"reconciliation-{run.pk}-mismatches"
    summary = summary_rows(run)
    if fmt == "xlsx":
        doc_header, doc_rows = documents_table(run)
        return (
            table_xlsx(
                [
                    (_("Summary"), [_("figure"), _("value")], summary),
                    (_("Mismatches"), header, rows),
                    (_("Pending documents"), doc_header, doc_rows),
                ]
            ),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            f"{name}.xlsx",
        )
    padded = [row + [""] * (len(header) - len(row)) for row in summary]
    return (
        table_csv(
            [_("figure"), _("value")] + [""] * (len(header) - 2), [*padded, [], header, *rows]
        ),
        "text/csv; charset=utf-8",
        f"{name}.csv",
    )
