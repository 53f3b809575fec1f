"""Writes of the flows app: set flows up, accept pushes, and what people do to documents."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from core.fields import new_secret
from core.messages import gettext as _
from core.schedules import periodic_task_ensure
from core.storable import unstorable

from .choices import DocumentState
from .definitions import definition_for
from .definitions.base import FlowContext, Problem
from .engine import ingest, jsonable
from .journal import EventLevel, journal
from .models import ApiClient, Flow, SyncDocument, Watermark

S = DocumentState
logger = logging.getLogger(__name__)


def flow_schedule_name(flow: Flow) -> str:
    return f"flow {flow.integration.code}: {flow.code}"


def flow_ensure(*, integration, code: str, **defaults) -> Flow:
    """Create the flow of this integration if missing (with its watermark and its beat
    schedule); existing rows keep what people set in the admin."""
    defaults.setdefault("poll_seconds", _default_poll_seconds(code))
    flow, _created = Flow.objects.get_or_create(
        integration=integration, code=code, defaults=defaults
    )
    Watermark.objects.get_or_create(flow=flow)
    flow_schedule_ensure(flow=flow)
    return flow


def _default_poll_seconds(code: str) -> int:
    """The poll interval a new flow row starts with: its definition's (60 s if unknown)."""
    try:
        return definition_for(code).poll_seconds
    except KeyError:
        return 60


def flow_schedule_ensure(*, flow: Flow):
    task, _created = periodic_task_ensure(
        name=flow_schedule_name(flow),
        task="flows.tasks.flow_run",
        every_seconds=flow.poll_seconds,
        kwargs={"flow_id": flow.pk},
    )
    return task


class PreflightGateClosed(Problem):
    """The latest preflight has failures that gate this flow, and nobody overrode them."""

    error_class = "preflight"

    def __init__(self, message: str, *, failures: list) -> None:
        super().__init__(message, subject=message[:120])
        self.failures = failures


def flow_gate_failures(*, flow: Flow) -> list:
    """The failed preflight checks that keep `flow` off: the latest run of every system that
    has preflight checks (a system never checked counts as one failure)."""
    from connectors.preflight import preflight_failures, providers

    failures = []
    for system in sorted(providers()):
        failures += preflight_failures(
            integration=flow.integration, system=system, flow_code=flow.code
        )
    # An opt-in the preflight proves only once it is set (F8.2 revaluation): its checks must
    # be in the latest run and pass (docs/protocols/kingdee.md §7).
    seen = {c.key for c in failures}
    definition = _definition(flow)
    if definition is not None:
        failures += [c for c in definition.preflight_requirements(flow) if c.key not in seen]
    return failures


def _definition(flow: Flow):
    try:
        return definition_for(flow.code)
    except KeyError:  # a code without a definition has no opt-ins to prove
        return None


def flow_enable(*, flow: Flow, user=None, override_reason: str = "", by: str = "") -> Flow:
    """Switch a flow on, through the preflight gate (docs/protocols/kingdee.md §7).

    While the latest preflight of either system has failures gating the flow, it stays off
    unless a person gives `override_reason`; the override is recorded with who, when and the
    failures accepted (FlowPreflightOverride)."""
    failures = flow_gate_failures(flow=flow)
    reason = (override_reason or "").strip()
    if failures and not reason:
        raise PreflightGateClosed(
            _(
                "%(flow)s cannot be enabled: the preflight has %(n)d failure(s) for it: "
                "%(list)s. Fix them and run the preflight again, or enable it with an "
                "override reason."
            )
            % {
                "flow": flow.get_code_display(),
                "n": len(failures),
                "list": "; ".join(f"{c.title} ({c.detail or c.key})" for c in failures[:10]),
            },
            failures=failures,
        )
    if failures:
        _override_record(
            flow=flow,
            failures=failures,
            reason=reason,
            user=user,
            by=by,
            message=_("%(flow)s enabled by %(who)s despite %(n)d preflight failure(s): %(why)s"),
        )
    Flow.objects.filter(pk=flow.pk).update(enabled=True, updated_at=timezone.now())
    flow.enabled = True
    flow_schedule_ensure(flow=flow)
    return flow


def _override_record(*, flow: Flow, failures: list, reason: str, user, by: str, message) -> None:
    """Record a person's override of preflight failures (FlowPreflightOverride: who, when,
    why, the failed checks and the runs) and log it as a warning event; `message` is the
    event text with %(flow)s, %(who)s, %(n)d and %(why)s."""
    from dataclasses import asdict

    from connectors.preflight import preflight_latest

    from .models import FlowPreflightOverride

    who = by or getattr(user, "username", "") or "system"
    runs = [
        run.pk
        for run in (
            preflight_latest(integration=flow.integration, system=system)
            for system in sorted({c.system for c in failures})
        )
        if run is not None
    ]
    FlowPreflightOverride.objects.create(
        flow=flow,
        user=user if getattr(user, "pk", None) else None,
        username=who,
        reason=reason,
        failures=[asdict(c) for c in failures],
        preflight_runs=runs,
    )
    journal().event_record(
        integration_id=flow.integration_id,
        flow_code=flow.code,
        stage="preflight",
        level=EventLevel.WARNING,
        actor=user if getattr(user, "pk", None) else None,
        detail={"failures": [c.key for c in failures], "reason": reason},
        message=message
        % {"flow": flow.get_code_display(), "who": who, "n": len(failures), "why": reason},
    )


def flow_settings_gate(*, flow: Flow, settings: dict) -> list:
    """The failed or missing preflight checks that refuse saving `settings` on `flow`: an
    opt-in that must be proved on the tenant first (F8.2 revaluation = propose,
    docs/finance/stock-counts.md §7)."""
    definition = _definition(flow)
    return definition.settings_gate(flow, settings or {}) if definition is not None else []


def flow_settings_refusal(*, flow: Flow, failures: list) -> str:
    """The error text of a refused settings change (names the setting and the fix)."""
    return _(
        "%(flow)s: the setting revaluation = propose cannot be turned on: the latest Kingdee "
        "preflight has not proved the cost adjustment form and its keys on this tenant: "
        "%(list)s. Fix: switch the flow off, save revaluation = propose, run the Kingdee "
        "preflight (it then checks the form and every key of revaluation_bill), fix what it "
        "reports and switch the flow on; or give a preflight override reason (recorded)."
    ) % {
        "flow": flow.get_code_display(),
        "list": "; ".join(f"{c.title} ({c.detail or c.key})" for c in failures[:10]),
    }


def flow_settings_update(
    *, flow: Flow, settings: dict, user=None, override_reason: str = "", by: str = ""
) -> Flow:
    """Save a flow's settings through the preflight gate of opt-ins that need a proof
    (flow_settings_gate): refused while it fails, unless a person gives `override_reason`,
    which is recorded like a flow-enable override."""
    failures = flow_settings_gate(flow=flow, settings=settings)
    reason = (override_reason or "").strip()
    if failures and not reason:
        raise PreflightGateClosed(
            flow_settings_refusal(flow=flow, failures=failures), failures=failures
        )
    if failures:
        _override_record(
            flow=flow,
            failures=failures,
            reason=reason,
            user=user,
            by=by,
            message=_(
                "%(flow)s: revaluation turned on by %(who)s despite %(n)d preflight "
                "failure(s): %(why)s"
            ),
        )
    Flow.objects.filter(pk=flow.pk).update(settings=settings, updated_at=timezone.now())
    flow.settings = settings
    return flow


def _enqueue(flow_id: int, ids: list[int] | None = None) -> None:
    """Queue processing once the documents are committed. A broker outage loses nothing: the
    documents are stored, and the sweep queues them when the broker is back."""
    transaction.on_commit(lambda: _send_process(flow_id, ids))


def _send_process(flow_id: int, ids: list[int] | None) -> None:
    from .tasks import flow_process

    try:
        flow_process.delay(flow_id, ids)
    except Exception:  # kombu/redis errors vary by transport; the sweep is the safety net
        logger.warning("broker unavailable: flow %s documents stay queued for the sweep", flow_id)


def push_validate_and_accept(*, flow: Flow, items: list[dict]) -> tuple[list[int], list[dict]]:
    """Validate every pushed document; if all are valid, store them first and then queue their
    processing (a broker outage loses nothing: the sweep picks stored documents up).
    Returns (document ids, rejected items); nothing is stored when any item is rejected."""
    definition = definition_for(flow.code)
    ctx = FlowContext(flow)
    records, rejected = [], []
    key_limit = SyncDocument._meta.get_field("source_key").max_length
    for index, item in enumerate(items):
        if found := unstorable(item):
            path, reason = found
            rejected.append(
                {
                    "index": index,
                    "field": path,
                    "message": _(
                        "%(field)s %(reason)s: it cannot be stored. Remove it and "
                        "send the document again."
                    )
                    % {"field": path, "reason": reason},
                }
            )
            continue
        try:
            record = definition.parse_push(ctx, item)
        except Problem as problem:
            rejected.append(
                {"index": index, "message": str(problem.message), **jsonable(problem.extra)}
            )
            continue
        if len(record.source_key) > key_limit:
            rejected.append(
                {
                    "index": index,
                    "field": "key",
                    "message": _("The document's key %(key)s… is longer than %(limit)d characters.")
                    % {"key": record.source_key[:40], "limit": key_limit},
                }
            )
            continue
        records.append(record)
    if rejected:
        return [], rejected
    with transaction.atomic():
        ingest(flow=flow, records=records, via="push")
        keys = [f"{flow.integration.code}:{flow.code}:{r.source_key}" for r in records]
        ids = list(
            SyncDocument.objects.filter(idempotency_key__in=keys).values_list("id", flat=True)
        )
        if ids:
            _enqueue(flow.pk, ids)
    return ids, rejected


def flow_resume(*, flow: Flow, user=None) -> bool:
    """A person resumes a paused flow (after fixing the credentials): the circuit closes, its
    ticket is resolved and a run is queued, which works the waiting documents. False when the
    flow was not paused."""
    if not flow.paused_until and not flow.consecutive_failures:
        return False
    Flow.objects.filter(pk=flow.pk).update(paused_until=None, consecutive_failures=0)
    flow.paused_until = None
    flow.consecutive_failures = 0
    journal().event_record(
        stage="circuit",
        integration_id=flow.integration_id,
        flow_code=flow.code,
        message=_("Resumed by %(user)s.") % {"user": getattr(user, "username", "") or "-"},
    )
    journal().tickets_close_for(
        trace_keys=[f"flow:{flow.pk}:circuit"],
        resolution=_("The flow was resumed by a person."),
        user=user,
    )
    pull_now(flow=flow)
    return True


def pull_now(*, flow: Flow) -> bool:
    """Queue an immediate run; False when the broker is down (the schedule runs it anyway)."""
    from .tasks import flow_run

    try:
        flow_run.delay(flow.pk)
    except Exception:
        logger.warning("broker unavailable: flow %s runs at its next schedule", flow.pk)
        return False
    return True


RETRYABLE = (S.BLOCKED, S.FAILED, S.WAITING, S.HELD, S.FILTERED)


@transaction.atomic
def document_retry(
    *, document: SyncDocument, user=None, target_payload: dict | None = None
) -> SyncDocument:
    """A person retries a document, optionally with an edited target payload."""
    doc = SyncDocument.objects.select_for_update().get(pk=document.pk)
    if doc.state not in RETRYABLE:
        raise Problem(
            _("Only blocked, failed, waiting, held or filtered documents can be retried."),
            subject=doc.source_key,
        )
    before = doc.state
    if target_payload is not None:
        doc.target_payload = target_payload
        doc.payload_edited = True
    doc.state = S.MAPPED if doc.payload_edited and doc.target_payload else S.RECEIVED
    doc.retries = 0
    doc.next_attempt_at = None
    doc.filter_reason = ""
    doc.save()
    journal().event_record(
        document=doc,
        stage="retry",
        message=_("Retried by %(user)s%(edited)s.")
        % {
            "user": getattr(user, "username", "system"),
            "edited": _(" with an edited target payload") if target_payload is not None else "",
        },
        from_state=before,
        to_state=doc.state,
        actor=user,
    )
    _enqueue(doc.flow_id, [doc.pk])
    return doc


@transaction.atomic
def document_ignore(*, document: SyncDocument, user, reason: str) -> SyncDocument:
    if not reason.strip():
        raise Problem(_("Say why the document is ignored."), subject=document.source_key)
    doc = SyncDocument.objects.select_for_update().get(pk=document.pk)
    if doc.state in (S.SYNCED, S.LOADING):
        raise Problem(_("A synced or loading document cannot be ignored."), subject=doc.source_key)
    before = doc.state
    doc.state = S.IGNORED
    doc.next_attempt_at = None
    doc.save()
    journal().event_record(
        document=doc,
        stage="ignore",
        level=EventLevel.WARNING,
        message=_("Ignored by %(user)s: %(reason)s") % {"user": user.username, "reason": reason},
        from_state=before,
        to_state=S.IGNORED,
        actor=user,
    )
    journal().tickets_close_for(
        trace_keys=[doc.trace_key], resolution=reason, user=user, status="ignored"
    )
    return doc


def documents_release_blocked(*, integration_id: int, error_class: str, reason: str) -> int:
    """Put documents blocked by this class of problem back to work (e.g. a mapping was added:
    those still missing one block again with a fresh message)."""
    with transaction.atomic():
        docs = list(
            SyncDocument.objects.select_for_update()
            .filter(integration_id=integration_id, state=S.BLOCKED, last_error_class=error_class)
            .select_related("flow")
        )
        if not docs:
            return 0
        for doc in docs:
            doc.state = S.RECEIVED
            doc.updated_at = timezone.now()
        SyncDocument.objects.bulk_update(docs, ["state", "updated_at"])
        journal().events_record_bulk(
            {
                "document": d,
                "stage": "release",
                "message": reason,
                "from_state": S.BLOCKED,
                "to_state": S.RECEIVED,
            }
            for d in docs
        )
        for flow_id in {d.flow_id for d in docs}:
            _enqueue(flow_id, [d.pk for d in docs if d.flow_id == flow_id])
    return len(docs)


def holds_check(*, integration) -> list[int]:
    """F2.4: release held outbounds whose frozen quantities Kingdee now has on hand (stock
    arrived by any route: an inbound flow, a count gain, a manual receipt). Oldest holds are
    served first, so stock is not promised twice within one check."""
    from collections import defaultdict
    from decimal import Decimal

    from connectors.kingdee.client import client_for

    from .engine import holds_release
    from .models import StockHold, StockHoldStatus

    holds = list(
        StockHold.objects.filter(integration=integration, status=StockHoldStatus.OPEN).order_by(
            "created_at", "id"
        )
    )
    if not holds:
        return []
    on_hand = client_for(integration.kingdee).inventory(
        material_numbers=sorted({h.material_number for h in holds}),
        stock_numbers=sorted({h.stock_number for h in holds}),
        org_number=integration.kingdee.org_number,
    )
    available: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for (material, stock, _org), qty in on_hand.items():
        available[(material, stock)] += qty
    by_document: dict[int, list] = defaultdict(list)
    for hold in holds:
        by_document[hold.document_id].append(hold)
    ready: list[int] = []
    for document_id, lines in by_document.items():
        need: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        for hold in lines:
            need[(hold.material_number, hold.stock_number)] += hold.quantity
        if all(available[key] >= qty for key, qty in need.items()):
            for key, qty in need.items():
                available[key] -= qty
            ready.append(document_id)
    if not ready:
        return []
    released = holds_release(
        integration_id=integration.pk,
        document_ids=ready,
        reason=_("Stock arrived in Kingdee: the held outbound is retried."),
    )
    for flow_id in set(
        SyncDocument.objects.filter(pk__in=released).values_list("flow_id", flat=True)
    ):
        _enqueue(flow_id, released)
    return released


def api_client_secret_rotate(*, api_client: ApiClient) -> str:
    """Give an API client a new generated signing secret (the old one stops working at once)
    and return it: the caller shows it once; the portal never shows it again."""
    api_client.secret = new_secret()
    api_client.save(update_fields=["secret", "updated_at"])
    return api_client.secret
