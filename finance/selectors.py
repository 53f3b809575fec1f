"""Reads of the finance app (no writes): what the portal's own documents do to stock, for the
K1 reconciliation, the latest reconciliation run for the board, what the finance pages show
(the integration chosen, the accuracy trend, a run's mismatches, the K2 export chain) and the
integrations the scheduled tasks work on.

A stock-moving document moves the same quantity in both systems: first in its source system,
later (once synced) in the other. `document_effects` names that quantity per place — SKU,
Jushuitan warehouse and sub-warehouse, Kingdee warehouse — signed as the stock change
(an outbound is negative). The reconciliation decides, against its cut-off, on which side a
document had already landed.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from django.utils import timezone
from django.utils.translation import gettext as _

from flows.choices import DocumentState, FlowCode, System
from mappings.errors import MappingMissing

from .choices import PendingKind, RunStatus
from .models import FinanceSettings, ReconciliationLine, ReconciliationRun

if TYPE_CHECKING:  # export_chain reads the reconciliation, which reads these selectors
    from .export_chain import DeclarationChain

# Flows whose documents move stock, by the system they start in.
JUSHUITAN_SOURCED = (FlowCode.SALES_OUTBOUND, FlowCode.SALES_RETURN, FlowCode.STOCK_COUNT)
KINGDEE_SOURCED = (
    FlowCode.PURCHASE_INBOUND,
    FlowCode.PURCHASE_RETURN,
    FlowCode.TRANSFER,
    FlowCode.INVENTORY_ADJUST,
)
STOCK_FLOWS = JUSHUITAN_SOURCED + KINGDEE_SOURCED

# States in which a document has not (yet) reached its target system.
PENDING_STATES = {
    DocumentState.RECEIVED: PendingKind.IN_FLIGHT,
    DocumentState.VALIDATED: PendingKind.IN_FLIGHT,
    DocumentState.MAPPED: PendingKind.IN_FLIGHT,
    DocumentState.LOADING: PendingKind.IN_FLIGHT,
    DocumentState.WAITING: PendingKind.WAITING,
    DocumentState.BLOCKED: PendingKind.BLOCKED,
    DocumentState.HELD: PendingKind.HELD,
    DocumentState.FAILED: PendingKind.FAILED,
}


def pending_bound(flow) -> timedelta:
    """How long a document of this flow may stay pending before the reconciliation alerts on
    it: the flow's "stuck_minutes" setting (the watchdog's bound; default 30 minutes for F2
    sales outbound, 10 for every other flow)."""
    from flows.models import stuck_minutes

    return timedelta(minutes=stuck_minutes(flow))


@dataclass(frozen=True)
class Effect:
    """A signed stock change of one document at one place."""

    sku: str
    material: str
    wms_co_id: str
    wh_id: int
    stock: str
    qty: Decimal


def _number(value) -> Decimal:
    try:
        return Decimal(str(value if value not in (None, "") else 0))
    except (InvalidOperation, ValueError):
        return Decimal(0)


def _stock(resolver, wms_co_id, wh_id: int) -> str:
    with contextlib.suppress(MappingMissing):
        return resolver.warehouse.to_external(wms_co_id, wh_id)
    return ""


def _material(resolver, sku: str) -> str:
    with contextlib.suppress(MappingMissing):
        return resolver.material.to_external(sku)
    return ""


def _sku(resolver, material: str) -> str:
    with contextlib.suppress(MappingMissing):
        return resolver.material.to_internal(material)
    return ""


def _wms(resolver, stock: str) -> str:
    with contextlib.suppress(MappingMissing):
        return str(resolver.warehouse.to_internal(stock))
    return ""


def _jst_effect(resolver, wms_co_id, wh_id: int, sku: str, qty: Decimal) -> Effect:
    return Effect(
        sku=sku,
        material=_material(resolver, sku),
        wms_co_id=str(wms_co_id or ""),
        wh_id=wh_id,
        stock=_stock(resolver, wms_co_id or 0, wh_id),
        qty=qty,
    )


def _kd_effect(resolver, stock: str, material: str, qty: Decimal) -> Effect:
    return Effect(
        sku=_sku(resolver, material),
        material=material,
        wms_co_id=_wms(resolver, stock),
        wh_id=1,
        stock=stock,
        qty=qty,
    )


def document_effects(document, resolver) -> list[Effect]:
    """The stock changes a document makes (the same in both systems), from its source payload;
    [] for a document that moves no stock or whose payload cannot be read."""
    from flows.definitions.sales_return import RETURN_WAREHOUSE, returned_items
    from flows.definitions.stock_count import GAIN, LOSS, count_lines

    payload = document.source_payload or {}
    code = document.flow.code
    effects: list[Effect] = []
    try:
        if code == FlowCode.SALES_OUTBOUND:
            from flows.definitions.sales_outbound import is_sales_out, shipment

            payload = shipment(payload, sales_out=is_sales_out(document))
            for item in payload.get("items") or []:
                if item.get("sku_type") == "no_deliver" or not item.get("sku_id"):
                    continue
                effects.append(
                    _jst_effect(
                        resolver,
                        payload.get("wms_co_id"),
                        1,
                        str(item["sku_id"]),
                        -_number(item.get("qty")),
                    )
                )
        elif code == FlowCode.SALES_RETURN:
            from flows.definitions.sales_return import is_receipt, receipt_lines

            wh_id = int(payload.get("wh_id") or RETURN_WAREHOUSE)
            lines = receipt_lines(payload) if is_receipt(document) else returned_items(payload)
            for item in lines:
                effects.append(
                    _jst_effect(
                        resolver,
                        payload.get("wms_co_id"),
                        wh_id,
                        str(item.get("sku_id") or ""),
                        _number(item.get("r_qty")),
                    )
                )
        elif code == FlowCode.STOCK_COUNT:
            direction = GAIN if document.source_key.endswith(f":{GAIN}") else LOSS
            wh_id = int(payload.get("wh_id") or 1)
            for line in count_lines(payload, direction):
                effects.append(
                    _jst_effect(
                        resolver, payload.get("wms_co_id"), wh_id, line["sku_id"], line["variance"]
                    )
                )
        elif code in KINGDEE_SOURCED:
            form = str(payload.get("FormId") or "")
            sign = Decimal(-1) if form in ("PUR_MRB", "STK_MisDelivery") else Decimal(1)
            for entry in payload.get("entries") or []:
                material, qty = str(entry.get("material") or ""), _number(entry.get("qty"))
                if code == FlowCode.TRANSFER:
                    effects.append(
                        _kd_effect(resolver, str(entry.get("src") or ""), material, -qty)
                    )
                    effects.append(
                        _kd_effect(resolver, str(entry.get("dest") or ""), material, qty)
                    )
                else:
                    stock = str(entry.get("stock") or "")
                    effects.append(_kd_effect(resolver, stock, material, sign * qty))
    except Exception:  # a payload the flow itself refuses: the document's own ticket says why
        return []
    return [e for e in effects if e.qty]


def source_system_of(flow_code: str) -> str:
    return System.KINGDEE if flow_code in KINGDEE_SOURCED else System.JUSHUITAN


def pending_kind(document, *, cut_off: datetime) -> str | None:
    """Why the document is pending at the cut-off, or None when it is not."""
    if document.state == DocumentState.SYNCED:
        if (document.progress or {}).get("approval") == "pending":
            return PendingKind.APPROVAL  # saved in Kingdee, not audited: no stock moved yet
        synced = document.synced_at
        return PendingKind.IN_FLIGHT if synced is not None and synced > cut_off else None
    return PENDING_STATES.get(document.state)


def latest_run(*, integration) -> ReconciliationRun | None:
    """The latest finished reconciliation of an integration (all integrations when None)."""
    runs = ReconciliationRun.objects.filter(status=RunStatus.DONE)
    if integration is not None:
        runs = runs.filter(integration=integration)
    return runs.order_by("-created_at").first()


def stock_count_report(*, integration, start: date, end: date) -> tuple[list, list]:
    """Issue 19 point 5: (header, rows) of the count bills dated in [start, end]: approval
    state, Kingdee's cost and the input VAT transferred out of an approved loss, and the
    abnormal-loss flag (docs/finance/stock-counts.md §5)."""
    from flows.models import SyncDocument

    documents = SyncDocument.objects.filter(
        flow__integration=integration, flow__code=FlowCode.STOCK_COUNT, state=DocumentState.SYNCED
    ).order_by("kingdee_bill_no")
    states = {
        "pending": _("awaiting approval"),
        "approved": _("approved"),
        "rejected": _("rejected"),
    }
    header = [
        _("Count no."),
        _("Count date"),
        _("Kingdee bill no."),
        _("Direction"),
        _("Approval"),
        _("Lines"),
        _("Kingdee cost (CNY)"),
        _("Input VAT transferred out (CNY)"),
        _("Abnormal loss reason"),
        _("Input VAT transfer-out"),
        _("Voucher"),
    ]
    rows = []
    for doc in documents:
        payload, progress = doc.source_payload or {}, doc.progress or {}
        on_date = str(payload.get("io_date") or "")[:10]
        if not (start.isoformat() <= on_date <= end.isoformat()):
            continue
        approved = progress.get("approved") or {}
        abnormal = (doc.target_payload or {}).get("abnormal") or ""
        loss = doc.source_key.endswith(":loss")
        rows.append(
            [
                payload.get("io_id"),
                on_date,
                doc.kingdee_bill_no,
                _("loss") if loss else _("gain"),
                states.get(progress.get("approval"), _("audited at sync")),
                len((doc.target_payload or {}).get("review") or []),
                approved.get("cost") or "",
                approved.get("vat") or "",
                abnormal,
                _("yes") if abnormal else _("no"),
                approved.get("voucher") or "",
            ]
        )
    return header, rows


def integrations_to_run(*, integration_id: int | None = None):
    """The enabled integrations a scheduled finance task works on (all, or the one asked)."""
    from connectors.models import Integration

    rows = Integration.objects.filter(enabled=True).select_related("kingdee", "jushuitan")
    return rows.filter(pk=integration_id) if integration_id else rows


def integration_chosen(*, value: str):
    """The integration a finance page shows: the one picked (by id), else the first by name."""
    from connectors.models import Integration

    rows = Integration.objects.order_by("name")
    return rows.filter(pk=value).first() if str(value).isdigit() else rows.first()


def _figure(value) -> float | None:
    return float(value) if value is not None else None


@dataclass
class ReconciliationTrend:
    """K1 page: the finished runs, newest first (at most 20 listed), the chart of both
    figures per run, oldest first, and the integration's accuracy target."""

    runs: list[ReconciliationRun]
    chart: dict
    target: Decimal | None


def reconciliation_trend(*, integration, limit: int = 60) -> ReconciliationTrend:
    """K1: both figures of the latest `limit` finished runs (raw, after pending documents)."""
    runs = (
        list(
            ReconciliationRun.objects.filter(
                integration=integration, status=RunStatus.DONE
            ).order_by("-created_at")[:limit]
        )
        if integration
        else []
    )
    runs.reverse()
    target = FinanceSettings.for_integration(integration).accuracy_target if integration else None
    # Chart labels are translated here, in Python: a literal "%" in a template translation
    # comes out doubled ("%%") in the msgid and in what the template shows.
    chart = {
        "labels": [timezone.localtime(r.created_at).strftime("%m-%d %H:%M") for r in runs],
        "accuracy": [_figure(r.accuracy) for r in runs],
        "after_pending": [_figure(r.accuracy_after_pending) for r in runs],
        "target": [float(r.target) for r in runs],
        "legend": {
            "accuracy": _("Accuracy, raw (%)"),
            "after_pending": _("Accuracy after pending documents (%)"),
            "target": _("Target (%)"),
        },
    }
    return ReconciliationTrend(runs=list(reversed(runs))[:20], chart=chart, target=target)


def reconciliation_mismatches(*, run: ReconciliationRun) -> list[ReconciliationLine]:
    """K1: the lines of a run that do not match, with the documents behind each (unexplained
    ones first)."""
    return list(
        run.lines.filter(matched=False)
        .prefetch_related("items__ticket")
        .order_by("matched_after_pending", "stock_number", "material_number", "sku_id")
    )


@dataclass
class ExportChainView:
    """K2 page: the declaration chain (None without an integration), the consumer-sale rows,
    and the declaration items and returns shown (those of the order when one is asked)."""

    declarations: DeclarationChain | None
    rows: list
    items: list
    returns: list

    def for_files(self) -> DeclarationChain:
        """The chain restricted to the items and returns shown, for the csv / xlsx files."""
        from .export_chain import DeclarationChain

        chain = self.declarations
        return DeclarationChain(
            items=self.items,
            sales=chain.sales,
            returns=self.returns,
            allocations_by_sale=chain.allocations_by_sale,
            returns_by_sale=chain.returns_by_sale,
            unallocated=chain.unallocated,
        )


def export_chain_view(
    *,
    integration,
    start: date | None,
    end: date | None,
    shop_id: str = "",
    platform_order_no: str = "",
) -> ExportChainView:
    """K2: declaration items (sold / unsold, refund, gaps) and the consumer sales that drew
    on them with their returns, by platform order or date range and shop."""
    from . import export_chain as chain

    if integration is None:
        return ExportChainView(declarations=None, rows=[], items=[], returns=[])
    declarations = chain.declaration_chain(integration=integration, start=start, end=end)
    rows = chain.chain_rows(
        integration=integration,
        start=start,
        end=end,
        shop_id=shop_id,
        platform_order_no=platform_order_no,
        chain=declarations,
    )
    items, returns = declarations.items, declarations.returns
    so = platform_order_no
    if so:  # the items and returns of that order only
        drawn = {(n, i) for r in rows for n, i, _q in r.allocations}
        drawn |= {(n, i) for r in rows for line in r.returns for n, i, _q, _f in line.items}
        items = [i for i in items if (i.declaration_no, i.item_no) in drawn]
        returns = [r for r in returns if r.platform_order_no == so]
    return ExportChainView(declarations=declarations, rows=rows, items=items, returns=returns)
