"""The sync engine: ingest, claim, run the stages, settle every document, retry, pause.

States (docs/concepts.md): received → validated → mapped → loading → synced; or blocked (a
person), waiting (timed retry), held (stock), failed (gave up, ticket open), ignored, filtered.
Every transition writes an Event; a problem opens (or updates) the one ticket of its source record
and a success closes it.

Exactly once: the target key is deterministic, a document is LOADING while its write is in
flight, and a document whose write may have landed (timeout, 5xx after sending, or a worker
that died while LOADING) is checked against the target before anything is sent again.
Concurrency: documents are claimed with a conditional UPDATE (plus SKIP LOCKED on PostgreSQL),
so any number of workers can process one flow without working a document twice.
"""

from __future__ import annotations

import logging
import random
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from connectors.errors import AuthError, BusinessError, RateLimited, TransientError, UnknownOutcome
from core.errors import PortalError
from core.messages import gettext as _
from core.storable import storable, unstorable
from monitoring import services as monitoring
from monitoring.causes import cause_key
from monitoring.models import EventLevel

from .choices import TRANSIENT_ERRORS, DocumentState, ErrorClass
from .definitions import definition_for
from .definitions.base import (
    FlowContext,
    FlowDefinition,
    LoadResult,
    Problem,
    RetryPolicy,
    SourceRecord,
    StockShortage,
)
from .models import (
    DocumentSku,
    Flow,
    StockHold,
    StockHoldStatus,
    SyncDocument,
    Watermark,
    no_live_claim,
)
from .shutdown import raise_if_stopping, stop_requested

logger = logging.getLogger(__name__)

CIRCUIT_THRESHOLD = 5
CIRCUIT_COOLDOWN = timedelta(minutes=5)
# A rejected login pauses the flow until a person resumes it (no timed probe).
AUTH_PAUSED_UNTIL = datetime(9999, 1, 1, tzinfo=UTC)
_rng = random.Random()

S = DocumentState


@dataclass
class RunStats:
    pulled: int = 0
    ingested: int = 0
    processed: int = 0
    synced: int = 0
    problems: int = 0
    retrying: int = 0
    filtered: int = 0
    skipped: str = ""
    errors: list[str] = field(default_factory=list)

    def add(self, other: RunStats) -> None:
        for name in (
            "pulled",
            "ingested",
            "processed",
            "synced",
            "problems",
            "retrying",
            "filtered",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors)


def idempotency_key(flow: Flow, source_key: str) -> str:
    return f"{flow.integration.code}:{flow.code}:{source_key}"


def retry_policy(flow: Flow, definition: FlowDefinition) -> RetryPolicy:
    return RetryPolicy.from_settings(definition.retry, (flow.settings or {}).get("retry"))


# --- ingest ---------------------------------------------------------------------------------


def scope_reason(flow: Flow, record: SourceRecord) -> str:
    """G6 canary scope first, then the definition's own filter."""
    if (
        flow.canary_shops
        and record.shop_id
        and str(record.shop_id) not in {str(s) for s in flow.canary_shops}
    ):
        return _("shop %(shop)s is outside the canary scope") % {"shop": record.shop_id}
    if (
        flow.canary_warehouses
        and record.warehouse_code
        and str(record.warehouse_code) not in {str(w) for w in flow.canary_warehouses}
    ):
        return _("warehouse %(wh)s is outside the canary scope") % {"wh": record.warehouse_code}
    return record.filter_reason


def ingest(
    *,
    flow: Flow,
    records: Iterable[SourceRecord],
    via: str = "pull",
    on_chunk: Callable[[list[int]], None] | None = None,
) -> list[int]:
    """Store source records as SyncDocuments (new, or updated while not yet synced), 500 at
    a time as they stream in. Returns the ids of documents that are new or changed and need
    work; `on_chunk` gets them chunk by chunk (a pull works them while it pages on)."""
    touched: list[int] = []
    chunk: list[SourceRecord] = []
    try:
        for record in records:
            chunk.append(record)
            if len(chunk) >= 500:
                ids = _ingest_chunk(flow, chunk, via)
                touched.extend(ids)
                chunk = []
                if on_chunk is not None and ids:
                    on_chunk(ids)
    except BaseException:
        # The source failed part-way (or the worker is stopping): what it did deliver is
        # stored before the error goes up (the pull resumes after these records and may move
        # its watermark past them).
        if chunk:
            _ingest_chunk(flow, chunk, via)
        raise
    if chunk:
        ids = _ingest_chunk(flow, chunk, via)
        touched.extend(ids)
        if on_chunk is not None and ids:
            on_chunk(ids)
    return touched


def _ingest_chunk(flow: Flow, records: list[SourceRecord], via: str) -> list[int]:
    by_key: dict[str, SourceRecord] = {}
    for record in records:  # the newest version of a record within one chunk wins
        key = idempotency_key(flow, record.source_key)
        prior = by_key.get(key)
        if prior is None or (record.modified_at or timezone.now()) >= (
            prior.modified_at or timezone.now()
        ):
            by_key[key] = record
    touched: list[int] = []
    events: list[dict] = []
    reopen_synced = definition_for(flow.code).reopen_synced_on_change
    with transaction.atomic():
        existing = {
            d.idempotency_key: d
            for d in SyncDocument.objects.select_for_update().filter(idempotency_key__in=by_key)
        }
        new_docs: list[SyncDocument] = []
        changed: list[SyncDocument] = []
        for key, record in by_key.items():
            reason = scope_reason(flow, record)
            doc = existing.get(key)
            if doc is None:
                new_docs.append(
                    SyncDocument(
                        integration_id=flow.integration_id,
                        flow=flow,
                        source_system=definition_for(flow.code).source_system,
                        source_key=record.source_key,
                        idempotency_key=key,
                        source_modified_at=record.modified_at,
                        source_payload=_storable_payload(record.payload),
                        state=S.FILTERED if reason else S.RECEIVED,
                        filter_reason=reason[:300],
                        platform_order_no=record.platform_order_no[:100],
                        kingdee_bill_no=record.kingdee_bill_no[:100],
                        shop_id=str(record.shop_id or "")[:50],
                        warehouse_code=str(record.warehouse_code or "")[:50],
                    )
                )
                continue
            if not _accepts_update(doc, record, reason, reopen_synced):
                continue
            before = doc.state
            doc.source_payload = _storable_payload(record.payload)
            doc.source_modified_at = record.modified_at or doc.source_modified_at
            doc.platform_order_no = record.platform_order_no[:100] or doc.platform_order_no
            doc.shop_id = str(record.shop_id or doc.shop_id)[:50]
            doc.warehouse_code = str(record.warehouse_code or doc.warehouse_code)[:50]
            doc.filter_reason = reason[:300]
            doc.state = S.FILTERED if reason else S.RECEIVED
            if not doc.payload_edited:
                doc.target_payload = {}
            doc.retries = 0
            doc.next_attempt_at = None
            changed.append(doc)
            events.append(
                {
                    "document": doc,
                    "stage": "extract",
                    "message": _("The source document changed; it will be synced again.")
                    if not reason
                    else _("Filtered: %(reason)s") % {"reason": reason},
                    "from_state": before,
                    "to_state": doc.state,
                    "detail": {"via": via},
                }
            )
        if new_docs:
            SyncDocument.objects.bulk_create(new_docs, batch_size=500)
            if not all(d.pk for d in new_docs):  # backends without RETURNING
                ids = dict(
                    SyncDocument.objects.filter(
                        idempotency_key__in=[d.idempotency_key for d in new_docs]
                    ).values_list("idempotency_key", "id")
                )
                for d in new_docs:
                    d.pk = d.id = ids[d.idempotency_key]
        if changed:
            SyncDocument.objects.bulk_update(
                changed,
                [
                    "source_payload",
                    "source_modified_at",
                    "platform_order_no",
                    "shop_id",
                    "warehouse_code",
                    "filter_reason",
                    "state",
                    "target_payload",
                    "retries",
                    "next_attempt_at",
                    "updated_at",
                ],
                batch_size=500,
            )
        skus = []
        for doc in new_docs:
            record = by_key[doc.idempotency_key]
            skus.extend(
                DocumentSku(document=doc, sku=s[:100]) for s in dict.fromkeys(record.skus) if s
            )
            events.append(
                {
                    "document": doc,
                    "stage": "extract",
                    "message": _("Received from %(system)s (%(via)s).")
                    % {"system": doc.source_system, "via": via}
                    if doc.state != S.FILTERED
                    else _("Filtered: %(reason)s") % {"reason": doc.filter_reason},
                    "to_state": doc.state,
                    "level": EventLevel.INFO,
                }
            )
        for doc in changed:
            record = by_key[doc.idempotency_key]
            skus.extend(
                DocumentSku(document=doc, sku=s[:100]) for s in dict.fromkeys(record.skus) if s
            )
        if skus:
            DocumentSku.objects.bulk_create(skus, ignore_conflicts=True, batch_size=1000)
        monitoring.events_record_bulk(events)
        touched = [d.pk for d in new_docs if d.state != S.FILTERED]
        touched += [d.pk for d in changed if d.state != S.FILTERED]
    return touched


def _storable_payload(payload: dict) -> dict:
    """The payload as is (the usual case: no copy on the ingest path), or a cleaned copy when
    it holds text the database cannot store."""
    return payload if unstorable(payload) is None else storable(payload)


def _accepts_update(
    doc: SyncDocument, record: SourceRecord, reason: str, reopen_synced: bool = False
) -> bool:
    """A synced, ignored or in-flight document is never re-opened by a new pull (a synced one
    is, with `reopen_synced`, when its source is newer: master-data upserts); a filtered one
    re-enters when it comes into scope; others take the newer source version."""
    if doc.state == S.SYNCED and reopen_synced:
        pass  # an upsert target (master data): a newer source version is synced again
    elif doc.state in (S.SYNCED, S.IGNORED, S.LOADING) or doc.claim_token is not None:
        return False
    if doc.claim_token is not None:
        return False
    if doc.state == S.FILTERED:
        return not reason or record.payload != doc.source_payload
    if doc.state == S.HELD:
        return False  # held documents resume when stock arrives
    newer = (
        record.modified_at is None
        or doc.source_modified_at is None
        or record.modified_at > doc.source_modified_at
    )
    return newer and record.payload != doc.source_payload


# --- claim ------------------------------------------------------------------------------------


def _workable(flow: Flow, now: datetime):
    """The flow's workable documents (SyncDocumentQuerySet.workable: also what sweep, the
    board and the metrics count). Loading with no live claim is an interrupted write."""
    return SyncDocument.objects.filter(flow=flow).workable(now)


def claim_lease() -> timedelta:
    """How long a claim holds (PORTAL_CLAIM_LEASE_SECONDS): a dead worker's documents are
    workable again after it."""
    return timedelta(seconds=settings.PORTAL_CLAIM_LEASE_SECONDS)


def claim(*, flow: Flow, limit: int, ids: Iterable[int] | None = None) -> list[SyncDocument]:
    """Claim up to `limit` workable documents for this worker (safe under concurrency)."""
    now = timezone.now()
    token = uuid.uuid4()
    candidates = _workable(flow, now)
    if ids is not None:
        candidates = candidates.filter(pk__in=list(ids))
    candidates = candidates.order_by("id")
    with transaction.atomic():
        if connection.vendor == "postgresql":
            candidates = candidates.select_for_update(skip_locked=True)
        picked = list(candidates.values_list("id", flat=True)[:limit])
        if not picked:
            return []
        SyncDocument.objects.filter(pk__in=picked).filter(no_live_claim(now)).update(
            claim_token=token, claimed_until=now + claim_lease()
        )
    return list(
        SyncDocument.objects.filter(claim_token=token)
        .select_related("flow", "integration")
        .order_by("id")
    )


# --- process ----------------------------------------------------------------------------------


def process(
    *,
    flow: Flow,
    ids: Iterable[int] | None = None,
    max_batches: int = 1000,
    heartbeat: Callable[[], None] | None = None,
) -> RunStats:
    """Work through the flow's workable documents, one claimed batch at a time
    (`heartbeat`, when given, is called before each batch: the run is alive)."""
    stats = RunStats()
    definition = definition_for(flow.code)
    ctx = FlowContext(flow)
    id_list = list(ids) if ids is not None else None
    for _batch in range(max_batches):
        if stop_requested():  # the worker is stopping (SIGTERM): claim nothing more
            stats.skipped = "stopping"
            break
        if heartbeat is not None:
            heartbeat()
        if flow.paused_until and flow.paused_until > timezone.now():
            break  # the circuit opened during this run (e.g. a rejected login)
        documents = claim(flow=flow, limit=max(flow.batch_size, 1), ids=id_list)
        if not documents:
            break
        stats.add(_process_batch(ctx, definition, documents))
    return stats


class _ClaimKeeper(threading.Thread):
    """Renews a batch's claim while the batch is being worked: a live worker keeps its
    documents however long the remote calls take, a dead one stops renewing and its documents
    become workable once the lease lapses."""

    def __init__(self, claim_token: uuid.UUID) -> None:
        super().__init__(daemon=True, name=f"claim-keeper-{claim_token}")
        self.claim_token = claim_token
        self.lease = claim_lease()
        self.stopped = threading.Event()

    def run(self) -> None:
        from django.db import connection as thread_connection

        try:
            while not self.stopped.wait(self.lease.total_seconds() / 3):
                SyncDocument.objects.filter(claim_token=self.claim_token).update(
                    claimed_until=timezone.now() + self.lease
                )
        except Exception:  # the claim then lapses: another worker checks before resending
            logger.warning("could not renew claim %s", self.claim_token, exc_info=True)
        finally:
            thread_connection.close()

    def stop(self) -> None:
        self.stopped.set()


def _process_batch(
    ctx: FlowContext, definition: FlowDefinition, documents: list[SyncDocument]
) -> RunStats:
    stats = RunStats(processed=len(documents))
    batch_id = uuid.uuid4()
    token = monitoring.current_batch.set(batch_id)
    settle = _Settlement(ctx, definition, batch_id)
    claim_token = documents[0].claim_token
    keeper = _ClaimKeeper(claim_token) if claim_token else None
    if keeper is not None:
        keeper.start()
    interrupted: BaseException | None = None
    try:
        ready: list[SyncDocument] = []
        to_check: list[SyncDocument] = []
        for doc in documents:
            if doc.outcome_unknown or doc.state == S.LOADING:
                to_check.append(doc)
                continue
            try:
                _prepare(ctx, definition, doc, settle)
            except Problem as problem:
                settle.problem(doc, problem)
                continue
            except (TransientError, AuthError, BusinessError) as exc:
                # A lookup while mapping (e.g. a remote id) failed: classify it like a load
                # failure, so a timeout is retried instead of blocking the document.
                settle.problem(doc, _remote_problem(exc, stage="transform"))
                continue
            except Exception as exc:
                _reraise_stop(exc)
                logger.exception("flow %s: preparing %s failed", ctx.flow, doc.source_key)
                settle.problem(doc, _internal(exc, stage="transform"))
                continue
            ready.append(doc)
        if to_check:
            ready.extend(_check_before_resend(ctx, definition, to_check, settle))
        if ready:
            _load(ctx, definition, ready, settle)
    except BaseException as exc:
        # SystemExit, KeyboardInterrupt, WorkerStopping, a lost database…: nothing of this
        # batch may stay in flight without an owner (issue 15).
        interrupted = exc
        raise
    finally:
        if keeper is not None:
            keeper.stop()
        try:
            if interrupted is not None:
                settle.interrupted(documents, interrupted)
            settle.flush(release_token=claim_token if interrupted is not None else None)
        except BaseException as exc:
            # The settle itself failed (database gone, a stop signal in the middle of it):
            # hand the batch back on a fresh connection, writes in flight as outcome unknown.
            _hand_back(claim_token, interrupted or exc)
            if interrupted is None:
                raise
        finally:
            monitoring.current_batch.reset(token)
    stats.synced = settle.synced
    stats.problems = settle.problems
    stats.retrying = settle.retrying
    return stats


def _prepare(
    ctx: FlowContext, definition: FlowDefinition, doc: SyncDocument, settle: _Settlement
) -> None:
    if doc.payload_edited and doc.target_payload:
        settle.transition(
            doc, S.MAPPED, "transform", _("Using the target payload edited by a person.")
        )
        return
    definition.validate(ctx, doc)
    payload, target_key = definition.transform(ctx, doc)
    doc.target_payload = payload
    doc.target_key = target_key[:200]
    settle.transition(doc, S.MAPPED, "transform", _("Validated and mapped."), quiet=True)


def _check_before_resend(
    ctx: FlowContext, definition: FlowDefinition, docs: list[SyncDocument], settle: _Settlement
) -> list[SyncDocument]:
    """Ask the target about writes that may have landed; return those that did not."""
    try:
        found = definition.find_existing(ctx, docs)
    except (TransientError, AuthError) as exc:
        for doc in docs:
            settle.problem(doc, _remote_problem(exc, stage="check"), unknown=True)
        return []
    resend = []
    for doc in docs:
        result = found.get(doc.pk)
        if result is not None and result.ok:
            settle.landed(
                doc, result, note=_("Found in the target after an unknown outcome: not sent again.")
            )
        elif result is not None and result.problem is not None:
            settle.problem(doc, result.problem, progress=result.progress)
        else:
            if result is not None and result.progress is not None:
                doc.progress = result.progress
            settle.events.append(
                {
                    "document": doc,
                    "stage": "check",
                    "message": _("Not found in the target: sending again."),
                }
            )
            doc.outcome_unknown = False
            if not doc.target_payload:
                try:
                    _prepare(ctx, definition, doc, settle)
                except Problem as problem:
                    settle.problem(doc, problem)
                    continue
                except Exception as exc:
                    _reraise_stop(exc)
                    settle.problem(doc, _internal(exc, stage="transform"))
                    continue
            resend.append(doc)
    return resend


def _load(
    ctx: FlowContext, definition: FlowDefinition, docs: list[SyncDocument], settle: _Settlement
) -> None:
    # Mark the write as in flight first: a worker that dies from here on leaves LOADING
    # documents, which the next claim treats as "outcome unknown".
    now = timezone.now()
    for doc in docs:
        doc.state = S.LOADING
        doc.attempts += 1
        doc.updated_at = now
    bulk_write(
        docs, ["state", "attempts", "target_payload", "target_key", "progress", "updated_at"]
    )
    try:
        results = definition.load(ctx, docs)
    except (TransientError, AuthError) as exc:
        for doc in docs:
            settle.problem(
                doc, _remote_problem(exc, stage="load"), unknown=isinstance(exc, UnknownOutcome)
            )
        settle.remote_failure(exc)
        return
    except BusinessError as exc:
        for doc in docs:
            settle.problem(doc, _remote_problem(exc, stage="load"))
        return
    except Exception as exc:
        _reraise_stop(exc)
        logger.exception("flow %s: load failed", ctx.flow)
        for doc in docs:
            settle.problem(doc, _internal(exc, stage="load"), unknown=True)
        return
    settle.remote_success()
    for doc in docs:
        result = results.get(doc.pk)
        if result is None:
            settle.problem(
                doc,
                Problem(
                    _("The target returned no result for this document."),
                    error_class=ErrorClass.UNKNOWN_OUTCOME,
                    stage="load",
                ),
                unknown=True,
            )
        elif result.ok:
            settle.landed(doc, result)
        else:
            settle.problem(
                doc,
                result.problem or _internal(RuntimeError("no problem given"), stage="load"),
                unknown=result.unknown,
                progress=result.progress,
            )


def _remote_problem(exc: Exception, *, stage: str) -> Problem:
    if isinstance(exc, RateLimited):
        error_class = ErrorClass.RATE_LIMITED
    elif isinstance(exc, UnknownOutcome):
        error_class = ErrorClass.UNKNOWN_OUTCOME
    elif isinstance(exc, TransientError):
        error_class = ErrorClass.CONNECTION
    elif isinstance(exc, AuthError):
        error_class = ErrorClass.AUTH
    else:
        error_class = ErrorClass.REMOTE_REJECTED
    message = getattr(exc, "message", str(exc))
    remote = getattr(exc, "remote_message", "")
    if remote and remote not in message:
        message = f"{message} ({remote})"
    return Problem(
        message,
        error_class=error_class,
        code=getattr(exc, "code", "") or "",
        system=getattr(exc, "system", ""),
        stage=stage,
        subject=(remote or message)[:120],
    )


def _outage(exc: Exception) -> bool:
    """The portal's own services failed (database, Redis, the broker): not the document's
    fault and not a person's to fix; it passes like a remote timeout."""
    import redis
    from django.db import InterfaceError, OperationalError
    from kombu.exceptions import OperationalError as BrokerError

    return isinstance(
        exc,
        redis.exceptions.ConnectionError
        | redis.exceptions.TimeoutError
        | OperationalError
        | InterfaceError
        | BrokerError
        | ConnectionError
        | TimeoutError,
    )


def _internal(exc: Exception, *, stage: str) -> Problem:
    if isinstance(exc, Problem):
        return exc
    if _outage(exc):
        return Problem(
            _(
                "The portal's own services (database, Redis or the task queue) were "
                "unreachable (%(error)s). It is retried by itself."
            )
            % {"error": f"{type(exc).__name__}: {exc}"[:300]},
            error_class=ErrorClass.CONNECTION,
            stage=stage,
            subject=type(exc).__name__,
        )
    if isinstance(exc, PortalError):
        return Problem(exc.message, error_class=ErrorClass.INTERNAL, stage=stage, **exc.extra)
    return Problem(f"{type(exc).__name__}: {exc}", error_class=ErrorClass.INTERNAL, stage=stage)


class _Settlement:
    """Collects the outcome of a batch and writes it with few queries."""

    def __init__(self, ctx: FlowContext, definition: FlowDefinition, batch_id: uuid.UUID) -> None:
        self.ctx = ctx
        self.definition = definition
        self.batch_id = batch_id
        self.policy = retry_policy(ctx.flow, definition)
        self.dirty: dict[int, SyncDocument] = {}
        self.events: list[dict] = []
        self.tickets: list[tuple[SyncDocument, Problem]] = []
        self.closed_keys: list[str] = []
        self.landed_docs: list[SyncDocument] = []
        self.holds: list[tuple[SyncDocument, StockShortage]] = []
        self.synced = self.problems = self.retrying = 0

    def transition(
        self, doc: SyncDocument, state: str, stage: str, message: str, *, quiet=False, **kw
    ) -> None:
        before = doc.state
        doc.state = state
        self.dirty[doc.pk] = doc
        if not quiet or before != state:
            self.events.append(
                {
                    "document": doc,
                    "stage": stage,
                    "message": message,
                    "from_state": before,
                    "to_state": state,
                    **kw,
                }
            )

    def landed(self, doc: SyncDocument, result: LoadResult, note: str = "") -> None:
        doc.target_id = result.target_id or doc.target_id
        if result.target_number:
            doc.target_key = result.target_number[:200]
            if self.definition.target_system == "kingdee":
                doc.kingdee_bill_no = result.target_number[:100]
        if result.progress is not None:
            doc.progress = result.progress
        doc.outcome_unknown = False
        doc.retries = 0
        doc.next_attempt_at = None
        doc.synced_at = timezone.now()
        doc.last_error_class = doc.last_error_code = doc.last_error_message = (
            doc.last_error_stage
        ) = ""
        self.transition(
            doc,
            S.SYNCED,
            "load",
            note
            or _("Written to %(system)s as %(number)s.")
            % {"system": self.definition.target_system, "number": doc.target_key or doc.target_id},
            detail={"target_id": doc.target_id, "target_key": doc.target_key},
        )
        self.closed_keys.append(doc.trace_key)
        self.landed_docs.append(doc)
        self.synced += 1

    def problem(
        self, doc: SyncDocument, problem: Problem, *, unknown: bool = False, progress=None
    ) -> None:
        if progress is not None:
            doc.progress = progress
        doc.outcome_unknown = unknown
        doc.last_error_class = problem.error_class
        doc.last_error_code = problem.code[:100]
        doc.last_error_message = str(problem.message)
        doc.last_error_stage = problem.stage
        detail = {
            "error_class": problem.error_class,
            "code": problem.code,
            **jsonable(problem.extra),
        }
        if isinstance(problem, StockShortage):
            doc.next_attempt_at = None
            self.transition(
                doc,
                S.HELD,
                problem.stage or "load",
                problem.message,
                level=EventLevel.WARNING,
                detail=detail,
            )
            self.holds.append((doc, problem))
            self.tickets.append((doc, problem))
            self.problems += 1
            return
        if problem.error_class == ErrorClass.AUTH:
            # Issue 24 point 5: retrying a rejected login never helps. The document waits
            # (no timer) while the circuit pauses the flow with one ticket for the operator;
            # it is worked again once the flow is resumed.
            doc.next_attempt_at = None
            self.transition(
                doc,
                S.WAITING,
                problem.stage or "load",
                _("%(message)s The flow is paused until the connection is fixed; no timed retry.")
                % {"message": problem.message},
                level=EventLevel.ERROR,
                detail=detail,
            )
            self.problems += 1
            _circuit_auth(self.ctx.flow, problem)  # whichever stage met the refusal
            return
        if problem.error_class in TRANSIENT_ERRORS:
            doc.retries += 1
            attempt = doc.retries
            limit = self.policy.limit_for(problem.error_class)
            if attempt <= limit:
                delay = self.policy.delay_for(problem.error_class, attempt, _rng)
                doc.next_attempt_at = timezone.now() + timedelta(seconds=delay)
                self.transition(
                    doc,
                    S.WAITING,
                    problem.stage or "retry",
                    _("%(message)s Retry %(n)d of %(limit)d in %(seconds)d s.")
                    % {
                        "message": problem.message,
                        "n": attempt,
                        "limit": limit,
                        "seconds": int(delay),
                    },
                    level=EventLevel.WARNING,
                    detail=detail,
                )
                self.retrying += 1
                return
            doc.next_attempt_at = None
            self.transition(
                doc,
                S.FAILED,
                problem.stage or "retry",
                _("%(message)s Gave up after %(n)d attempts.")
                % {"message": problem.message, "n": limit},
                level=EventLevel.ERROR,
                detail=detail,
            )
        else:
            doc.retries = 0
            doc.next_attempt_at = None
            self.transition(
                doc,
                S.BLOCKED,
                problem.stage or "load",
                problem.message,
                level=EventLevel.ERROR,
                detail=detail,
            )
        self.tickets.append((doc, problem))
        self.problems += 1

    def interrupted(self, documents: list[SyncDocument], exc: BaseException) -> None:
        """The batch was cut short: a write in flight (LOADING) becomes outcome unknown,
        workable at once and checked in the target before anything is sent again; the rest
        is released as it stands (flush(release_token=…))."""
        now = timezone.now()
        why = _stop_reason(exc)
        for doc in documents:
            if doc.state != S.LOADING:
                continue
            doc.outcome_unknown = True
            doc.next_attempt_at = now
            doc.last_error_class = ErrorClass.UNKNOWN_OUTCOME
            doc.last_error_code = ""
            doc.last_error_stage = "load"
            doc.last_error_message = _(
                "The write was in flight when the worker stopped (%(why)s). It is checked in "
                "the target before anything is sent again."
            ) % {"why": why}
            self.transition(
                doc,
                S.WAITING,
                "load",
                doc.last_error_message,
                level=EventLevel.WARNING,
                detail={"error_class": ErrorClass.UNKNOWN_OUTCOME, "stopped_by": why},
            )
            self.retrying += 1

    def remote_success(self) -> None:
        _circuit_success(self.ctx.flow)

    def remote_failure(self, exc: Exception) -> None:
        _circuit_failure(self.ctx.flow, exc)

    def flush(self, *, release_token: uuid.UUID | None = None) -> None:
        """Write the batch's outcome in one transaction and release its claims;
        `release_token` (an interrupted batch) also releases documents not settled."""
        docs = list(self.dirty.values())
        now = timezone.now()
        for doc in docs:
            doc.claim_token = None
            doc.claimed_until = None
            doc.updated_at = now
        with transaction.atomic():
            if docs:
                bulk_write(
                    docs,
                    [
                        "state",
                        "target_payload",
                        "target_key",
                        "target_id",
                        "attempts",
                        "retries",
                        "next_attempt_at",
                        "outcome_unknown",
                        "progress",
                        "claim_token",
                        "claimed_until",
                        "last_error_class",
                        "last_error_code",
                        "last_error_message",
                        "last_error_stage",
                        "synced_at",
                        "kingdee_bill_no",
                        "updated_at",
                    ],
                )
            if release_token is not None:
                SyncDocument.objects.filter(claim_token=release_token).update(
                    claim_token=None, claimed_until=None
                )
            for doc, shortage in self.holds:
                _holds_open(doc, shortage)
            monitoring.events_record_bulk(self.events)
            if self.closed_keys:
                monitoring.tickets_close_for(
                    trace_keys=self.closed_keys, resolution=_("Synced successfully.")
                )
            for doc, problem in self.tickets:
                self.open_ticket(doc, problem)
        if self.landed_docs:
            try:
                self.definition.after_synced(self.ctx, self.landed_docs)
            except Exception:
                logger.exception("flow %s: after_synced failed", self.ctx.flow)

    def open_ticket(self, doc: SyncDocument, problem: Problem) -> None:
        """The ticket of the problem's root cause when it has one (issue 20 point 1), else
        the document's own."""
        detail = {"code": problem.code, "stage": problem.stage, **jsonable(problem.extra)}
        if isinstance(problem, StockShortage):
            detail["lines"] = [[str(part) for part in line] for line in problem.lines]
        monitoring.ticket_open_or_update(
            trace_key=doc.trace_key,
            error_class=problem.error_class,
            message=str(problem.message),
            subject=problem.subject,
            document=doc,
            system=problem.system,
            detail=detail,
            role=problem.role,
            cause=cause_key(
                problem.error_class,
                detail,
                integration=self.ctx.integration.code,
                system=problem.system,
                message=str(problem.message),
                drop=(doc.target_key, doc.platform_order_no, doc.source_key),
            ),
        )


def _reraise_stop(exc: Exception) -> None:
    """Celery's soft time limit (and a terminate) interrupt the task: not the document's
    fault, so the batch is handed back like on any other stop instead of being blocked."""
    from billiard.exceptions import SoftTimeLimitExceeded, Terminated

    if isinstance(exc, SoftTimeLimitExceeded | Terminated):
        raise exc


def _stop_reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:200] if str(exc) else type(exc).__name__


def _hand_back(claim_token: uuid.UUID | None, exc: BaseException) -> None:
    """Last resort when an interrupted batch could not be settled: on a fresh database
    connection, writes in flight of this claim become outcome unknown (waiting, due now) and
    every claim of it is released. Should the database stay unreachable, the claim's lease
    lapses and the loading documents are workable then (SyncDocumentQuerySet.workable)."""
    if claim_token is None:
        return
    why = _stop_reason(exc)
    for _attempt in range(2):
        try:
            if not connection.in_atomic_block:
                connection.close()  # the old one may be broken or mid-statement
            now = timezone.now()
            with transaction.atomic():
                loading = list(
                    SyncDocument.objects.filter(
                        claim_token=claim_token, state=S.LOADING
                    ).select_related("flow")
                )
                message = _(
                    "The write was in flight when the worker stopped (%(why)s). It is checked "
                    "in the target before anything is sent again."
                ) % {"why": why}
                SyncDocument.objects.filter(pk__in=[d.pk for d in loading]).update(
                    state=S.WAITING,
                    outcome_unknown=True,
                    next_attempt_at=now,
                    last_error_class=ErrorClass.UNKNOWN_OUTCOME,
                    last_error_code="",
                    last_error_stage="load",
                    last_error_message=message,
                    updated_at=now,
                )
                SyncDocument.objects.filter(claim_token=claim_token).update(
                    claim_token=None, claimed_until=None
                )
                monitoring.events_record_bulk(
                    {
                        "document": d,
                        "stage": "load",
                        "message": message,
                        "from_state": S.LOADING,
                        "to_state": S.WAITING,
                        "level": EventLevel.WARNING,
                        "detail": {"error_class": ErrorClass.UNKNOWN_OUTCOME, "stopped_by": why},
                    }
                    for d in loading
                )
            logger.warning("batch %s handed back after %s", claim_token, why)
            return
        except Exception:
            logger.warning("could not hand back batch %s", claim_token, exc_info=True)
    logger.error("batch %s left to its lease: the database did not answer", claim_token)


def jsonable(extra: dict) -> dict:
    out = {}
    for key, value in (extra or {}).items():
        out[key] = (
            value
            if isinstance(value, (str, int, float, bool, type(None), list, dict))
            else str(value)
        )
    return out


def bulk_write(docs: list[SyncDocument], fields: list[str]) -> None:
    """Write these fields of many documents with few, cheap statements.

    Django's bulk_update builds one CASE WHEN per field and row, which cost more than the
    remote calls of a batch (pyinstrument: 8 ms per document). Here a field holding the same
    value on every document is written by one UPDATE … WHERE id IN (…), and only the
    fields that differ go row by row: on PostgreSQL as one UPDATE … FROM (VALUES …), elsewhere
    through bulk_update."""
    if not docs:
        return
    meta = SyncDocument._meta
    uniform: dict[str, object] = {}
    varying: list[str] = []
    for name in fields:
        attname = meta.get_field(name).attname
        first = getattr(docs[0], attname)
        if all(getattr(doc, attname) == first for doc in docs[1:]):
            uniform[attname] = first
        else:
            varying.append(name)
    ids = [doc.pk for doc in docs]
    for start in range(0, len(ids), 1000):
        if uniform:
            SyncDocument.objects.filter(pk__in=ids[start : start + 1000]).update(**uniform)
    if not varying:
        return
    if connection.vendor != "postgresql":
        SyncDocument.objects.bulk_update(docs, varying, batch_size=500)
        return
    columns = [meta.get_field(name) for name in varying]
    casts = ", ".join(f"%s::{field.db_type(connection)}" for field in columns)
    assignments = ", ".join(
        f"{connection.ops.quote_name(f.column)} = v.{connection.ops.quote_name(f.column)}"
        for f in columns
    )
    names = ", ".join(connection.ops.quote_name(f.column) for f in columns)
    with connection.cursor() as cursor:
        for start in range(0, len(docs), 500):
            part = docs[start : start + 500]
            rows = ", ".join([f"(%s::bigint, {casts})"] * len(part))
            params: list = []
            for doc in part:
                params.append(doc.pk)
                params.extend(
                    f.get_db_prep_save(getattr(doc, f.attname), connection) for f in columns
                )
            cursor.execute(
                f"UPDATE {meta.db_table} AS d SET {assignments} "  # noqa: S608 - names from _meta
                f"FROM (VALUES {rows}) AS v(id, {names}) WHERE d.id = v.id",
                params,
            )


# --- stock holds (F2.4) ---------------------------------------------------------------------


def _holds_open(doc: SyncDocument, shortage: StockShortage) -> None:
    StockHold.objects.filter(document=doc, status=StockHoldStatus.OPEN).delete()
    StockHold.objects.bulk_create(
        [
            StockHold(
                integration_id=doc.integration_id,
                document=doc,
                material_number=material,
                stock_number=stock,
                quantity=qty,
            )
            for material, stock, qty in shortage.lines
        ]
    )


def holds_release(
    *,
    integration_id: int,
    reason: str,
    materials: Iterable[str] | None = None,
    document_ids: Iterable[int] | None = None,
) -> list[int]:
    """Put held documents back to work: those waiting for these materials, these documents,
    or (neither given) all of the integration's."""
    holds = StockHold.objects.filter(integration_id=integration_id, status=StockHoldStatus.OPEN)
    if materials is not None:
        holds = holds.filter(material_number__in=list(materials))
    if document_ids is not None:
        holds = holds.filter(document_id__in=list(document_ids))
    doc_ids = sorted(set(holds.values_list("document_id", flat=True)))
    if not doc_ids:
        return []
    with transaction.atomic():
        docs = list(
            SyncDocument.objects.select_for_update()
            .filter(pk__in=doc_ids, state=S.HELD)
            .select_related("flow")
        )
        for doc in docs:
            doc.state = S.RECEIVED
            doc.next_attempt_at = None
            doc.retries = 0
        SyncDocument.objects.bulk_update(
            docs, ["state", "next_attempt_at", "retries", "updated_at"]
        )
        StockHold.objects.filter(
            document_id__in=[d.pk for d in docs], status=StockHoldStatus.OPEN
        ).update(status=StockHoldStatus.RELEASED, released_at=timezone.now())
        monitoring.events_record_bulk(
            {
                "document": d,
                "stage": "hold",
                "message": reason,
                "from_state": S.HELD,
                "to_state": S.RECEIVED,
            }
            for d in docs
        )
    return [d.pk for d in docs]


# --- pull, run, circuit breaker ----------------------------------------------------------------


def _counted(
    records: Iterable[SourceRecord],
    stats: RunStats,
    heartbeat: Callable[[], None] | None = None,
) -> Iterator[SourceRecord]:
    for record in records:
        raise_if_stopping()  # a stopping worker reads no further (the watermark stays)
        stats.pulled += 1
        if heartbeat is not None:
            heartbeat()
        yield record


def pull(
    *,
    flow: Flow,
    catchup: bool = False,
    until: datetime | None = None,
    on_chunk: Callable[[list[int]], None] | None = None,
    heartbeat: Callable[[], None] | None = None,
) -> RunStats:
    """Pull the source from the watermark (minus the overlap) up to now, in windows no longer
    than the definition allows; the stored watermark never moves backwards. Pages stream
    into ingest (no whole-window lists), and `on_chunk` gets each ingested chunk's ids.

    A read that fails part-way resumes from the newest row it had reached (the source pages in
    ascending modification time or row version, which the keyset pager relies on too), and a
    run that gives up leaves the watermark there: under a steady error rate a large backlog is
    read to its end instead of from its start again and again.

    The catch-up pass (补漏) re-reads the last `catchup_lag_seconds`; for a source with row versions
    (docs/protocols/jushuitan.md §2.5) it reads, once it knows a version to start from, only the
    rows changed since the last catch-up: each row is read once more instead of once per pass."""
    definition = definition_for(flow.code)
    stats = RunStats()
    if not definition.pullable:
        return stats
    ctx = FlowContext(flow)
    watermark, _created = Watermark.objects.get_or_create(flow=flow)
    now = until or timezone.now()
    by_version = catchup and definition.catchup_by_row_version
    top = [watermark.catchup_ts or 0]
    if by_version and watermark.catchup_ts is not None:
        records = _counted(
            _versions_seen(
                _extract_resuming(
                    lambda version: definition.extract_since(ctx, row_version=version),
                    first=watermark.catchup_ts,
                    position=_row_version,
                ),
                top,
            ),
            stats,
            heartbeat,
        )
        try:
            stats.ingested += len(
                ingest(flow=flow, records=records, via="catch-up", on_chunk=on_chunk)
            )
        finally:  # a walk that gave up keeps what it read
            Watermark.objects.filter(pk=watermark.pk).update(catchup_ts=top[0])
        Watermark.objects.filter(pk=watermark.pk).update(last_catchup_at=now)
        return stats
    if catchup:
        start = now - timedelta(seconds=watermark.catchup_lag_seconds)
    elif watermark.cursor is None:
        start = now - timedelta(seconds=definition.pull_window_seconds)
    else:
        start = watermark.cursor - timedelta(seconds=watermark.overlap_seconds)
    window = timedelta(seconds=definition.pull_window_seconds)
    cursor = start
    while cursor < now:
        end = min(cursor + window, now)
        reached = [cursor]
        records = _counted(
            _extract_resuming(
                lambda since, end=end: definition.extract(ctx, start=since, end=end),
                first=cursor,
                position=_modified_position,
                reached=reached,
            ),
            stats,
            heartbeat,
        )
        if by_version:
            records = _versions_seen(records, top)
        try:
            stats.ingested += len(
                ingest(
                    flow=flow,
                    records=records,
                    via="catch-up" if catchup else "pull",
                    on_chunk=on_chunk,
                )
            )
        except (TransientError, AuthError):
            if not catchup and reached[0] > cursor:  # the next run goes on from here
                _watermark_advance(watermark, reached[0])
            raise
        cursor = end
        if not catchup:
            _watermark_advance(watermark, end)
    if catchup:
        # A row-version source starts its cheap catch-ups from the newest row of this window.
        version = {"catchup_ts": top[0]} if by_version and top[0] else {}
        Watermark.objects.filter(pk=watermark.pk).update(last_catchup_at=now, **version)
    return stats


def _watermark_advance(watermark: Watermark, to: datetime) -> None:
    """Move the stored cursor forward to `to` (never backwards)."""
    Watermark.objects.filter(pk=watermark.pk).filter(
        Q(cursor__isnull=True) | Q(cursor__lt=to)
    ).update(cursor=to)


def _modified_position(record: SourceRecord) -> datetime | None:
    """Where a time-window read resumes after this record: one second early (the API's begin
    may be exclusive; the re-read rows are no-ops on ingest)."""
    return record.modified_at - timedelta(seconds=1) if record.modified_at else None


def _row_version(record: SourceRecord) -> int | None:
    try:
        return int((record.payload or {}).get("ts") or 0) or None
    except (TypeError, ValueError):
        return None


def _versions_seen(records: Iterable[SourceRecord], top: list[int]) -> Iterator[SourceRecord]:
    """Pass records through, keeping the highest row version (`ts`) seen in top[0]."""
    for record in records:
        top[0] = max(top[0], _row_version(record) or 0)
        yield record


PULL_ATTEMPTS = 3
PULL_MAX_FAILURES = 30


def _extract_resuming(
    produce: Callable[[Any], Iterable[SourceRecord]],
    *,
    first: Any,
    position: Callable[[SourceRecord], Any],
    reached: list | None = None,
) -> Iterator[SourceRecord]:
    """Stream a read (a time window from `first`, or a row-version walk from `first`); reads
    are idempotent, so a transient failure resumes it from the position of the newest record
    streamed (short backoff with jitter). It gives up, and the circuit breaker counts it,
    after PULL_ATTEMPTS failures in a row that brought no row at all (the source is down) or
    PULL_MAX_FAILURES in all (a source failing that often is not worth reading on: the
    watermark keeps what was read). A failure after rows came counts as progress even when the
    position stayed (more rows than a page share one second: the read restarts at that
    second). Records streamed twice are no-ops on ingest. `reached[0]` follows the position
    (for the watermark of a read that gave up)."""
    import time

    since = first
    barren = total = 0
    while True:
        streamed = 0
        try:
            for record in produce(since):
                streamed += 1
                here = position(record)
                if here is not None and here > since:
                    since = here
                    if reached is not None:
                        reached[0] = here
                yield record
            return
        except TransientError as exc:
            total += 1
            barren = 0 if streamed else barren + 1
            if barren >= PULL_ATTEMPTS or total >= PULL_MAX_FAILURES:
                raise
            delay = getattr(exc, "retry_after", None) or 0.5 * 2 ** max(min(barren, 4) - 1, 0)
            time.sleep(min(float(delay), 5.0) * (1 + _rng.uniform(0, 0.2)))


def run_flow(
    *,
    flow: Flow,
    catchup: bool | None = None,
    fan_out: Callable[[], None] | None = None,
    heartbeat: Callable[[], None] | None = None,
) -> RunStats:
    """One scheduled run: pull (with a catch-up pass when due), then process. Honors the
    circuit breaker: a paused flow does nothing until its cool-down ends, then probes.

    Documents are worked while the pull pages on: each ingested chunk is processed at once
    (the remote rate limit's waits are spent writing), and `fan_out` (when given) is called
    first so that idle workers can claim batches of the same backlog alongside."""
    now = timezone.now()
    if not flow.enabled or not flow.integration.enabled:
        return RunStats(skipped="disabled")
    if flow.paused_until and flow.paused_until > now:
        return RunStats(skipped="paused")
    stats = RunStats()
    Flow.objects.filter(pk=flow.pk).update(last_run_at=now)

    def work(ids: list[int]) -> None:
        if fan_out is not None and len(ids) > flow.batch_size:
            fan_out()
        stats.add(process(flow=flow, ids=ids, heartbeat=heartbeat))

    try:
        stats.add(pull(flow=flow, on_chunk=work, heartbeat=heartbeat))
        watermark = Watermark.objects.get(flow=flow)
        due = (
            catchup
            if catchup is not None
            else (
                watermark.last_catchup_at is None
                or (now - watermark.last_catchup_at).total_seconds()
                >= watermark.catchup_every_seconds
            )
        )
        if due:
            stats.add(pull(flow=flow, catchup=True, on_chunk=work, heartbeat=heartbeat))
    except (TransientError, AuthError) as exc:
        _circuit_failure(flow, exc)
        stats.errors.append(str(exc))
        logger.warning("flow %s: pull failed: %s", flow, exc)
    else:
        _circuit_success(flow)
    stats.add(process(flow=flow, heartbeat=heartbeat))
    # "Last successful run" counts only runs that synced something; a clean run that found
    # nothing due says so separately (issue 24 point 5).
    if not stats.errors and stats.synced:
        Flow.objects.filter(pk=flow.pk).update(last_success_at=timezone.now(), last_error="")
    elif not stats.errors and not stats.processed and not stats.problems:
        Flow.objects.filter(pk=flow.pk).update(last_idle_at=timezone.now(), last_error="")
    elif stats.errors:
        Flow.objects.filter(pk=flow.pk).update(last_error="; ".join(stats.errors)[:2000])
    return stats


def _circuit_failure(flow: Flow, exc: Exception) -> None:
    Flow.objects.filter(pk=flow.pk).update(consecutive_failures=F("consecutive_failures") + 1)
    flow.refresh_from_db(fields=["consecutive_failures", "paused_until"])
    if isinstance(exc, AuthError):
        _circuit_auth(flow, _remote_problem(exc, stage="circuit"))
    elif flow.consecutive_failures >= CIRCUIT_THRESHOLD and not flow.paused_until:
        until = timezone.now() + CIRCUIT_COOLDOWN
        Flow.objects.filter(pk=flow.pk).update(paused_until=until)
        flow.paused_until = until
        problem = _remote_problem(exc, stage="circuit")
        monitoring.event_record(
            stage="circuit",
            level=EventLevel.ERROR,
            integration_id=flow.integration_id,
            flow_code=flow.code,
            message=_("Paused after %(n)d consecutive connection failures: %(error)s")
            % {"n": flow.consecutive_failures, "error": problem.message},
        )
        monitoring.ticket_open_or_update(
            trace_key=f"flow:{flow.pk}:circuit",
            error_class=problem.error_class,
            message=_(
                "The flow paused itself after %(n)d consecutive failures and resumes on a "
                "successful probe. Last error: %(error)s"
            )
            % {"n": flow.consecutive_failures, "error": problem.message},
            subject=str(flow),
            integration_id=flow.integration_id,
            flow_code=flow.code,
            system=problem.system,
        )
    elif flow.paused_until:
        # A probe after the cool-down failed: pause again, no new alert.
        Flow.objects.filter(pk=flow.pk).update(paused_until=timezone.now() + CIRCUIT_COOLDOWN)


def _circuit_auth(flow: Flow, problem: Problem) -> None:
    """Credentials or configuration rejected: pause at once, until a person resumes the flow
    (no cool-down probe: retrying the same secret never helps), with one operator ticket,
    whose opening raises the alert (issue 24 point 5)."""
    first = not (flow.paused_until and flow.paused_until >= AUTH_PAUSED_UNTIL)
    Flow.objects.filter(pk=flow.pk).update(paused_until=AUTH_PAUSED_UNTIL)
    flow.paused_until = AUTH_PAUSED_UNTIL
    if not first:
        return
    monitoring.event_record(
        stage="circuit",
        level=EventLevel.ERROR,
        integration_id=flow.integration_id,
        flow_code=flow.code,
        message=_("Paused: %(error)s") % {"error": problem.message},
    )
    monitoring.ticket_open_or_update(
        trace_key=f"flow:{flow.pk}:circuit",
        error_class=ErrorClass.AUTH,
        message=_(
            "The flow paused itself: %(error)s Retrying the same credentials will not help. "
            "Fix the connection, use 'Test connection', then resume the flow (Flows › "
            "'Resume paused flows'); its waiting documents are worked again then."
        )
        % {"error": problem.message},
        subject=str(flow),
        integration_id=flow.integration_id,
        flow_code=flow.code,
        system=problem.system,
    )


def _circuit_success(flow: Flow) -> None:
    if flow.paused_until and flow.paused_until >= AUTH_PAUSED_UNTIL:
        return  # another call answering does not prove the rejected credentials were fixed
    if flow.consecutive_failures or flow.paused_until:
        was_paused = bool(flow.paused_until)
        Flow.objects.filter(pk=flow.pk).exclude(paused_until__gte=AUTH_PAUSED_UNTIL).update(
            consecutive_failures=0, paused_until=None
        )
        flow.consecutive_failures = 0
        flow.paused_until = None
        if was_paused:
            monitoring.event_record(
                stage="circuit",
                integration_id=flow.integration_id,
                flow_code=flow.code,
                message=_("Resumed: the connection answered again."),
            )
            monitoring.tickets_close_for(
                trace_keys=[f"flow:{flow.pk}:circuit"],
                resolution=_("The connection answered again."),
            )
