"""Map-only dry run (影子运行, issue 24 point 4): before a flow is enabled (and for days beside
the manual process), read the last N days of real source documents, validate, map and
transform each one exactly as the engine would, and write nothing: no SyncDocument, no
ticket, no call that changes either system. Per document it says what it would write or why
it would block; what would block is grouped by cause, each with the page that fixes it.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from connectors.errors import ConnectorError
from core.errors import PortalError

from .choices import DocumentState, ErrorClass
from .definitions import definition_for
from .definitions.base import FlowContext, Problem, StockShortage
from .engine import idempotency_key, scope_reason
from .journal import journal
from .models import Flow, ShadowRun, SyncDocument

logger = logging.getLogger(__name__)

WOULD_WRITE, WOULD_BLOCK, FILTERED, ALREADY_SYNCED = (
    "would_write",
    "would_block",
    "filtered",
    "already_synced",
)
MAX_DOCUMENTS = 2000
PAYLOAD_PREVIEW = 3000  # characters of the would-be payload kept per document

# Where a cause without its own link is fixed (admin changelists).
_FIX_PAGES = {
    ErrorClass.FX_UNAVAILABLE: "admin:mappings_exchangerate_changelist",
    ErrorClass.MISSING_MAPPING: "admin:mappings_codemapping_changelist",
}


def shadow_run(*, flow: Flow, days: int = 7, requested_by: str = "") -> ShadowRun:
    """Run the map-only dry run of `flow` over the last `days` days and store its report."""
    run = ShadowRun.objects.create(flow=flow, days=days, requested_by=requested_by[:150])
    return shadow_run_fill(run=run)


def shadow_run_queue(*, flow: Flow, days: int = 7, requested_by: str = "") -> ShadowRun:
    """Store a pending run and let a worker fill it (a week of documents outlasts a web
    request); without a broker it runs here."""
    from .tasks import shadow_run_task

    run = ShadowRun.objects.create(flow=flow, days=days, requested_by=requested_by[:150])
    try:
        shadow_run_task.delay(run.pk)
    except Exception:
        logger.warning("broker unavailable: map-only dry run %s runs in the request", run.pk)
        shadow_run_fill(run=run)
    return run


def shadow_run_fill(*, run: ShadowRun) -> ShadowRun:
    """Read, map and transform the documents of `run`'s window; store the report."""
    flow = Flow.objects.select_related("integration").get(pk=run.flow_id)
    days = run.days
    definition = definition_for(flow.code)
    ctx = FlowContext(flow)
    end = timezone.now()
    start = end - timedelta(days=days)
    documents: list[dict] = []
    causes: dict[str, dict] = {}
    seen: set[str] = set()
    try:
        for record in _records(definition, ctx, start=start, end=end):
            if record.source_key in seen:
                continue
            seen.add(record.source_key)
            documents.append(_one(flow, definition, ctx, record, causes))
            if len(documents) >= MAX_DOCUMENTS:
                break
    except ConnectorError as exc:
        run.error = _("The source could not be read: %(error)s") % {"error": exc.message}
    except PortalError as exc:
        run.error = str(exc.message)
    run.documents = documents
    run.causes = sorted(causes.values(), key=lambda c: -c["count"])
    run.totals = dict(Counter(doc["outcome"] for doc in documents))
    run.finished_at = timezone.now()
    run.save()
    return run


def _records(definition, ctx, *, start, end):
    if not definition.pullable:
        return
    step = timedelta(seconds=definition.pull_window_seconds)
    cursor = start
    while cursor < end:
        upper = min(cursor + step, end)
        yield from definition.extract(ctx, start=cursor, end=upper)
        cursor = upper


def _one(flow: Flow, definition, ctx, record, causes: dict[str, dict]) -> dict:
    row = {
        "source_key": record.source_key,
        "platform_order_no": record.platform_order_no,
        "shop_id": str(record.shop_id or ""),
        "warehouse_code": str(record.warehouse_code or ""),
        "outcome": WOULD_WRITE,
        "target_key": "",
        "payload": "",
        "message": "",
        "cause": "",
    }
    existing = (
        SyncDocument.objects.filter(idempotency_key=idempotency_key(flow, record.source_key))
        .values_list("state", "target_key")
        .first()
    )
    if existing is not None and existing[0] == DocumentState.SYNCED:
        row.update(outcome=ALREADY_SYNCED, target_key=existing[1] or "")
        return row
    reason = scope_reason(flow, record)
    if reason:
        row.update(outcome=FILTERED, message=str(reason))
        return row
    doc = SyncDocument(
        flow=flow,
        integration=flow.integration,
        source_key=record.source_key,
        idempotency_key=idempotency_key(flow, record.source_key),
        source_modified_at=record.modified_at,
        source_payload=record.payload,
        platform_order_no=record.platform_order_no[:100],
        kingdee_bill_no=record.kingdee_bill_no[:100],
        shop_id=str(record.shop_id or "")[:50],
        warehouse_code=str(record.warehouse_code or "")[:50],
    )
    try:
        definition.validate(ctx, doc)
        payload, target_key = definition.transform(ctx, doc)
    except StockShortage as problem:  # stock is checked at write time; not a mapping issue
        payload, target_key = {}, ""
        row.update(message=str(problem.message))
    except Problem as problem:
        return _blocked(row, problem, causes)
    except ConnectorError as exc:
        problem = Problem(
            exc.message, error_class=ErrorClass.CONNECTION, code=str(exc.code or ""), stage="map"
        )
        return _blocked(row, problem, causes)
    except Exception as exc:  # a crash is reported, never passed off as "would write"
        logger.exception("shadow run of %s: %s failed", flow, record.source_key)
        problem = Problem(f"{type(exc).__name__}: {exc}", error_class=ErrorClass.INTERNAL)
        return _blocked(row, problem, causes)
    text = json.dumps(payload, ensure_ascii=False, default=str)
    row.update(target_key=target_key, payload=text[:PAYLOAD_PREVIEW])
    return row


def _blocked(row: dict, problem: Problem, causes: dict[str, dict]) -> dict:
    from django.urls import reverse

    extra = problem.extra or {}
    if extra.get("kind") and extra.get("key"):
        key = f"{problem.error_class}|{extra['kind']}|{extra['key']}"
        label = problem.subject
    else:
        key = f"{problem.error_class}|{problem.code or problem.subject}"
        label = problem.subject
    fix_url = extra.get("where") or ""
    if not fix_url and problem.error_class in _FIX_PAGES:
        fix_url = reverse(_FIX_PAGES[problem.error_class])
    cause = causes.get(key)
    if cause is None:
        fix_text = journal().problem_fix(problem.error_class)
        cause = causes[key] = {
            "key": key,
            "error_class": problem.error_class,
            "class_label": str(ErrorClass(problem.error_class).label)
            if problem.error_class in ErrorClass.values
            else problem.error_class,
            "label": str(label),
            "message": str(problem.message),
            "fix_url": fix_url,
            "fix": str(fix_text),
            "count": 0,
            "examples": [],
        }
    cause["count"] += 1
    if len(cause["examples"]) < 10:
        cause["examples"].append(row["platform_order_no"] or row["source_key"])
    row.update(outcome=WOULD_BLOCK, message=str(problem.message), cause=key)
    return row
