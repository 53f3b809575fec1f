"""Reads of the finance app (no writes): what the portal's own documents do to stock, for the
K1 reconciliation, and the latest reconciliation run for the board.

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

from django.utils.translation import gettext as _

from flows.choices import DocumentState, FlowCode, System
from mappings.errors import MappingMissing

from .choices import PendingKind, RunStatus
from .models import ReconciliationRun

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
