"""Process: work the claimed batches through validate, transform, check and load."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterable

from django.utils import timezone

from connectors.errors import AuthError, BusinessError, TransientError, UnknownOutcome
from core.messages import gettext as _

from ..choices import ErrorClass
from ..definitions import definition_for
from ..definitions.base import FlowContext, FlowDefinition, Problem
from ..journal import journal
from ..models import Flow, SyncDocument
from ..shutdown import stop_requested
from .base import RunStats, S, bulk_write
from .claim import claim, claim_lease
from .errors import _internal, _remote_problem
from .settlement import _hand_back, _reraise_stop, _Settlement

logger = logging.getLogger(__name__)


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
    token = journal().batch_begin(batch_id)
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
            journal().batch_end(token)
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
