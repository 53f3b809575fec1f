"""Settlement: the outcome of a batch (states, events, tickets, holds) written with few
queries, and the batch handed back when a worker stops in the middle of it."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from core.messages import gettext as _

from ..causes import cause_key
from ..choices import TRANSIENT_ERRORS, ErrorClass
from ..definitions.base import FlowContext, FlowDefinition, LoadResult, Problem, StockShortage
from ..journal import EventLevel, journal
from ..models import SyncDocument
from .base import S, _rng, bulk_write, jsonable, retry_policy
from .circuit import _circuit_auth, _circuit_failure, _circuit_success
from .holds import _holds_open

logger = logging.getLogger(__name__)


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
            journal().events_record_bulk(self.events)
            if self.closed_keys:
                journal().tickets_close_for(
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
        journal().ticket_open_or_update(
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
                journal().events_record_bulk(
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
