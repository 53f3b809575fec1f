"""The sync engine: ingest, claim, run the stages, settle every document, retry, pause.

States (docs/concepts.md): received → validated → mapped → loading → synced; or blocked (a
person), waiting (timed retry), held (stock), failed (gave up, ticket open), ignored, filtered.
Every transition writes an Event; a problem opens (or updates) the one ticket of its source record
and a success closes it (through the journal, flows/journal.py).

Exactly once: the target key is deterministic, a document is LOADING while its write is in
flight, and a document whose write may have landed (timeout, 5xx after sending, or a worker
that died while LOADING) is checked against the target before anything is sent again.
Concurrency: documents are claimed with a conditional UPDATE (plus SKIP LOCKED on PostgreSQL),
so any number of workers can process one flow without working a document twice.

The parts (issue 23 point 1): `ingest`, `claim`, `process` (the stages of a batch), `errors`
(exceptions classified as problems), `settlement` (a batch's outcome written), `holds` (stock
holds, F2.4), `pull` (pull and the scheduled run), `circuit` (the circuit breaker) and `base`
(what they share). The names below are the engine's public interface.
"""

from ..definitions import definition_for
from .base import RunStats, S, bulk_write, idempotency_key, jsonable, retry_policy
from .circuit import AUTH_PAUSED_UNTIL, CIRCUIT_COOLDOWN, CIRCUIT_THRESHOLD
from .claim import _workable, claim, claim_lease
from .errors import _internal, _remote_problem
from .holds import holds_release
from .ingest import ingest, scope_reason
from .process import process
from .pull import PULL_ATTEMPTS, PULL_MAX_FAILURES, pull, run_flow

__all__ = [
    "AUTH_PAUSED_UNTIL",
    "CIRCUIT_COOLDOWN",
    "CIRCUIT_THRESHOLD",
    "PULL_ATTEMPTS",
    "PULL_MAX_FAILURES",
    "RunStats",
    "S",
    "_internal",
    "_remote_problem",
    "_workable",
    "bulk_write",
    "claim",
    "claim_lease",
    "definition_for",
    "holds_release",
    "idempotency_key",
    "ingest",
    "jsonable",
    "process",
    "pull",
    "retry_policy",
    "run_flow",
    "scope_reason",
]
