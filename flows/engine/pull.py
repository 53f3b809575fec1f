"""Pull and run: read the source from the watermark into ingest, and one scheduled run of a
flow (pull, catch-up, process)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone

from connectors.errors import AuthError, TransientError

from ..definitions import definition_for
from ..definitions.base import FlowContext, SourceRecord
from ..models import Flow, Watermark
from ..shutdown import raise_if_stopping
from .base import RunStats, _rng
from .circuit import _circuit_failure, _circuit_success
from .ingest import ingest
from .process import process

logger = logging.getLogger(__name__)


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
