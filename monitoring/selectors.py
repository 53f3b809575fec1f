"""Reads of monitoring: the process board (O1), the trace search (O3), the metrics figures.

Board strategy: every number is an aggregate over an index, computed at request time (no
counters to keep in step with the engine), and cached for a few seconds so many viewers polling
share one computation:
- backlog, retries, failure reasons, oldest waiting: GROUP BY over the non-terminal documents
  only, found through the (state, updated_at) index; terminal documents (the millions of synced
  ones) are never scanned;
- throughput: a range scan of the (synced_at, flow) index over the last day;
- ignored / filtered in the last day: a range scan of the (state, updated_at) index;
- failures trend: the events of the last day through the (created_at) index.
Search: exact matches only, each on its own index (see trace_search).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Min, Q, Sum
from django.db.models.functions import TruncHour
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from core.logging import mask_text
from flows.choices import PROBLEM_STATES, TERMINAL_STATES, DocumentState, ErrorClass
from flows.models import DocumentSku, Flow, SyncDocument

from .models import OPEN_TICKET_STATUSES, Event, EventLevel, ExceptionTicket, RemoteCall

S = DocumentState
logger = logging.getLogger(__name__)

# The states a flow's backlog is made of, in the order of the board's columns.
BACKLOG_STATES: tuple[str, ...] = tuple(
    state for state in DocumentState.values if state not in TERMINAL_STATES
)
# States that count as a failure in the trend (a document that now needs a person or stock).
FAILURE_STATES: tuple[str, ...] = tuple(sorted(PROBLEM_STATES))
# Classes of problems that wait: problem states plus timed retries.
REASON_STATES: tuple[str, ...] = (*FAILURE_STATES, S.WAITING)


def documents_url(**params: Any) -> str:
    """The SyncDocument changelist filtered by these lookups (every board number links here)."""
    return _changelist_url("admin:flows_syncdocument_changelist", params)


def events_url(**params: Any) -> str:
    """The Event changelist filtered by these lookups."""
    return _changelist_url("admin:monitoring_event_changelist", params)


def _changelist_url(name: str, params: dict[str, Any]) -> str:
    query = {}
    for key, value in params.items():
        if isinstance(value, list | tuple):
            value = ",".join(str(v) for v in value)
        elif isinstance(value, datetime):
            value = value.isoformat()
        query[key] = value
    return f"{reverse(name)}?{urlencode(query)}"


@dataclass
class Cell:
    """One number on the board and the documents behind it."""

    key: str
    value: int
    url: str
    stuck: int = 0  # issue 20 point 5: of which the watchdog calls stuck
    stuck_url: str = ""

    def as_dict(self) -> dict:
        return {"key": self.key, "value": self.value, "url": self.url, "stuck": self.stuck}


@dataclass
class FlowRow:
    """One flow of one integration on the board."""

    flow_id: int
    integration_id: int
    integration: str
    code: str
    label: str
    enabled: bool
    paused_until: datetime | None
    last_run_at: datetime | None
    last_success_at: datetime | None
    last_error: str
    states: list[Cell]
    backlog: Cell
    synced_hour: Cell
    synced_day: Cell
    failed_day: Cell
    ignored_day: Cell
    filtered_day: Cell
    retrying: Cell
    stuck: Cell
    workable: int
    retry_attempts: int
    reasons: list[tuple[str, str, Cell]]
    open_tickets: int
    tickets_url: str
    oldest_waiting_id: int | None
    oldest_waiting_at: datetime | None
    oldest_waiting_url: str

    last_idle_at: datetime | None = None

    @property
    def paused(self) -> bool:
        return bool(self.paused_until and self.paused_until > timezone.now())

    @property
    def paused_for_person(self) -> bool:
        """Paused after a rejected login: resumes only when a person resumes it."""
        from flows.engine import AUTH_PAUSED_UNTIL

        return bool(self.paused_until and self.paused_until >= AUTH_PAUSED_UNTIL)

    @property
    def nothing_due(self) -> bool:
        """The latest clean run found nothing to sync (newer than the last one that did)."""
        return bool(
            self.last_idle_at
            and (not self.last_success_at or self.last_idle_at > self.last_success_at)
        )

    @property
    def oldest_waiting_minutes(self) -> int | None:
        if self.oldest_waiting_at is None:
            return None
        return int((timezone.now() - self.oldest_waiting_at).total_seconds() // 60)

    def cells(self) -> list[Cell]:
        return [
            *self.states,
            self.backlog,
            self.synced_hour,
            self.synced_day,
            self.failed_day,
            self.ignored_day,
            self.filtered_day,
            self.retrying,
            self.stuck,
            *(cell for _code, _label, cell in self.reasons),
        ]

    def as_dict(self) -> dict:
        return {
            "flow_id": self.flow_id,
            "integration_id": self.integration_id,
            "integration": self.integration,
            "code": self.code,
            "label": self.label,
            "enabled": self.enabled,
            "paused": self.paused,
            "paused_until": self.paused_until.isoformat() if self.paused_until else None,
            "last_run_at": self.last_run_at.isoformat() if self.last_run_at else None,
            "last_success_at": self.last_success_at.isoformat() if self.last_success_at else None,
            "last_error": self.last_error,
            "states": {cell.key.rsplit(":", 1)[1]: cell.value for cell in self.states},
            "backlog": self.backlog.value,
            "synced_last_hour": self.synced_hour.value,
            "synced_last_day": self.synced_day.value,
            "failed_last_day": self.failed_day.value,
            "ignored_last_day": self.ignored_day.value,
            "filtered_last_day": self.filtered_day.value,
            "retrying": self.retrying.value,
            "stuck": self.stuck.value,
            "workable": self.workable,
            "retry_attempts": self.retry_attempts,
            "failure_reasons": {code: cell.value for code, _label, cell in self.reasons},
            "open_tickets": self.open_tickets,
            "oldest_waiting_id": self.oldest_waiting_id,
            "oldest_waiting_at": (
                self.oldest_waiting_at.isoformat() if self.oldest_waiting_at else None
            ),
            "oldest_waiting_minutes": self.oldest_waiting_minutes,
            "cells": [cell.as_dict() for cell in self.cells()],
        }


@dataclass
class Board:
    """The whole process board (流程看板)."""

    generated_at: datetime
    rows: list[FlowRow]
    trend_hours: list[str]
    trend_synced: list[int]
    trend_failed: list[int]
    reasons_total: list[tuple[str, str, int]]
    # Issue 15: beat / the workers silent for too long, with when they were last seen.
    silent: list[tuple[str, datetime]] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "generated_at": self.generated_at.isoformat(),
            "silent": {name: seen.isoformat() for name, seen in self.silent},
            "flows": [row.as_dict() for row in self.rows],
            "trend": {
                "hours": self.trend_hours,
                "synced": self.trend_synced,
                "failed": self.trend_failed,
            },
            "failure_reasons": [
                {"error_class": code, "label": label, "count": n}
                for code, label, n in self.reasons_total
            ],
        }


def board_data(*, integration_id: int | None = None, use_cache: bool = True) -> dict:
    """The board as JSON-ready data, cached PORTAL_BOARD_CACHE_SECONDS (the polled endpoint)."""
    seconds = settings.PORTAL_BOARD_CACHE_SECONDS
    key = f"monitoring:board:{integration_id or 'all'}:{_language()}"
    if use_cache and seconds > 0:
        cached = cache.get(key)
        if cached is not None:
            return cached
    data = board_build(integration_id=integration_id).as_dict()
    if use_cache and seconds > 0:
        cache.set(key, data, seconds)
    return data


def _language() -> str:
    from django.utils.translation import get_language

    return get_language() or settings.LANGUAGE_CODE


def board_build(*, integration_id: int | None = None, now: datetime | None = None) -> Board:
    """Compute the board from the database (a handful of indexed GROUP BY queries)."""
    now = now or timezone.now()
    hour_ago, day_ago = now - timedelta(hours=1), now - timedelta(days=1)
    flows = list(Flow.objects.select_related("integration").order_by("integration__name", "code"))
    if integration_id is not None:
        flows = [f for f in flows if f.integration_id == integration_id]
    flow_ids = [f.pk for f in flows]
    docs = SyncDocument.objects.filter(flow_id__in=flow_ids)

    # Backlog by state, retries and the oldest waiting document: non-terminal documents only.
    backlog: dict[tuple[int, str], int] = {}
    retry_sum: dict[int, int] = {}
    oldest: dict[int, datetime] = {}
    for row in (
        docs.filter(state__in=BACKLOG_STATES)
        .values("flow_id", "state")
        .annotate(n=Count("id"), retries=Sum("retries"), oldest=Min("created_at"))
        .order_by()
    ):
        backlog[(row["flow_id"], row["state"])] = row["n"]
        retry_sum[row["flow_id"]] = retry_sum.get(row["flow_id"], 0) + (row["retries"] or 0)
        if row["oldest"] is not None and (
            row["flow_id"] not in oldest or row["oldest"] < oldest[row["flow_id"]]
        ):
            oldest[row["flow_id"]] = row["oldest"]

    # Why documents wait: current error class of problem and retrying documents.
    reasons: dict[int, dict[str, int]] = {}
    for row in (
        docs.filter(state__in=REASON_STATES)
        .values("flow_id", "last_error_class")
        .annotate(n=Count("id"))
        .order_by()
    ):
        reasons.setdefault(row["flow_id"], {})[row["last_error_class"] or ""] = row["n"]

    # Throughput: synced in the last hour / day.
    synced: dict[int, tuple[int, int]] = {}
    for row in (
        docs.filter(synced_at__gte=day_ago, state=S.SYNCED)
        .values("flow_id")
        .annotate(day=Count("id"), hour=Count("id", filter=Q(synced_at__gte=hour_ago)))
        .order_by()
    ):
        synced[row["flow_id"]] = (row["hour"], row["day"])

    # Ignored / filtered in the last day.
    closed: dict[tuple[int, str], int] = {}
    for row in (
        docs.filter(state__in=(S.IGNORED, S.FILTERED), updated_at__gte=day_ago)
        .values("flow_id", "state")
        .annotate(n=Count("id"))
        .order_by()
    ):
        closed[(row["flow_id"], row["state"])] = row["n"]

    # Failures of the last day (documents that moved to a problem state), per flow and hour.
    failure_events = Event.objects.filter(
        created_at__gte=day_ago, to_state__in=FAILURE_STATES, document__isnull=False
    )
    if integration_id is not None:
        failure_events = failure_events.filter(integration_id=integration_id)
    failed_day: dict[tuple[int | None, str], int] = {}
    for row in (
        failure_events.values("integration_id", "flow_code").annotate(n=Count("id")).order_by()
    ):
        failed_day[(row["integration_id"], row["flow_code"])] = row["n"]

    tickets: dict[tuple[int | None, str], int] = {}
    for row in (
        ExceptionTicket.objects.filter(status__in=OPEN_TICKET_STATUSES)
        .values("integration_id", "flow_code")
        .annotate(n=Count("id"))
        .order_by()
    ):
        tickets[(row["integration_id"], row["flow_code"])] = row["n"]

    oldest_ids = _oldest_waiting_ids(flows=[f for f in flows if f.pk in oldest])
    # Issue 15: what the engine may claim now (its own definition: loading without a live
    # claim is an interrupted write, workable) and what the watchdog calls stuck.
    workable = dict(
        docs.workable(now)
        .values("flow_id")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("flow_id", "n")
    )
    # Stuck: one indexed count per flow with a backlog.
    stuck_by_state = {
        f.pk: dict(
            SyncDocument.objects.stuck(f, now)
            .values("state")
            .annotate(n=Count("id"))
            .order_by()
            .values_list("state", "n")
        )
        for f in flows
        if any(backlog.get((f.pk, state)) for state in BACKLOG_STATES)
    }
    stuck = {fid: sum(by_state.values()) for fid, by_state in stuck_by_state.items()}
    error_labels = dict(ErrorClass.choices)
    rows = []
    for flow in flows:
        fid = flow.pk
        base = {"flow__id__exact": fid}
        states = [
            Cell(
                f"{fid}:state:{state}",
                backlog.get((fid, state), 0),
                documents_url(**base, state=state),
                stuck=stuck_by_state.get(fid, {}).get(state, 0),
                stuck_url=documents_url(**base, state=state, stuck="1"),
            )
            for state in BACKLOG_STATES
        ]
        flow_reasons = sorted(reasons.get(fid, {}).items(), key=lambda kv: (-kv[1], kv[0]))
        hour_n, day_n = synced.get(fid, (0, 0))
        oldest_id = oldest_ids.get(fid)
        rows.append(
            FlowRow(
                flow_id=fid,
                integration_id=flow.integration_id,
                integration=str(flow.integration),
                code=flow.code,
                label=str(flow.get_code_display()),
                enabled=flow.enabled,
                paused_until=flow.paused_until,
                last_run_at=flow.last_run_at,
                last_success_at=flow.last_success_at,
                last_idle_at=flow.last_idle_at,
                last_error=flow.last_error,
                states=states,
                backlog=Cell(
                    f"{fid}:backlog",
                    sum(cell.value for cell in states),
                    documents_url(**base, state__in=BACKLOG_STATES),
                ),
                synced_hour=Cell(
                    f"{fid}:synced_hour",
                    hour_n,
                    documents_url(**base, state=S.SYNCED, synced_at__gte=hour_ago),
                ),
                synced_day=Cell(
                    f"{fid}:synced_day",
                    day_n,
                    documents_url(**base, state=S.SYNCED, synced_at__gte=day_ago),
                ),
                failed_day=Cell(
                    f"{fid}:failed_day",
                    failed_day.get((flow.integration_id, flow.code), 0),
                    events_url(
                        integration__id__exact=flow.integration_id,
                        flow_code=flow.code,
                        to_state__in=FAILURE_STATES,
                        document__isnull="False",
                        created_at__gte=day_ago,
                    ),
                ),
                ignored_day=Cell(
                    f"{fid}:ignored_day",
                    closed.get((fid, S.IGNORED), 0),
                    documents_url(**base, state=S.IGNORED, updated_at__gte=day_ago),
                ),
                filtered_day=Cell(
                    f"{fid}:filtered_day",
                    closed.get((fid, S.FILTERED), 0),
                    documents_url(**base, state=S.FILTERED, updated_at__gte=day_ago),
                ),
                retrying=Cell(
                    f"{fid}:retrying",
                    backlog.get((fid, S.WAITING), 0),
                    documents_url(**base, state=S.WAITING),
                ),
                stuck=Cell(
                    f"{fid}:stuck",
                    stuck.get(fid, 0),
                    documents_url(**base, stuck="1"),
                ),
                workable=workable.get(fid, 0),
                retry_attempts=retry_sum.get(fid, 0),
                reasons=[
                    (
                        code,
                        str(error_labels.get(code, code or _("(none)"))),
                        Cell(
                            f"{fid}:reason:{code or 'none'}",
                            n,
                            documents_url(**base, state__in=REASON_STATES, last_error_class=code),
                        ),
                    )
                    for code, n in flow_reasons
                ],
                open_tickets=tickets.get((flow.integration_id, flow.code), 0),
                tickets_url=f"{reverse('monitoring:tickets')}?"
                + urlencode({"flow": flow.code, "integration": flow.integration_id}),
                oldest_waiting_id=oldest_id,
                oldest_waiting_at=oldest.get(fid),
                oldest_waiting_url=(
                    reverse("admin:flows_syncdocument_change", args=[oldest_id])
                    if oldest_id
                    else ""
                ),
            )
        )

    hours, trend_synced, trend_failed = _trend(
        flow_ids=flow_ids, integration_id=integration_id, now=now
    )
    totals: dict[str, int] = {}
    for flow_reasons in reasons.values():
        for code, n in flow_reasons.items():
            totals[code] = totals.get(code, 0) + n
    reasons_total = [
        (code, str(error_labels.get(code, code or _("(none)"))), n)
        for code, n in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    from flows.watchdog import silence_check

    try:  # the watchdog runs on beat and a worker: their silence is noticed here
        silent = silence_check(now=now)
    except Exception:
        logger.warning("silence check failed", exc_info=True)
        silent = []
    return Board(
        silent=silent,
        generated_at=now,
        rows=rows,
        trend_hours=hours,
        trend_synced=trend_synced,
        trend_failed=trend_failed,
        reasons_total=reasons_total,
    )


def _oldest_waiting_ids(*, flows: list[Flow]) -> dict[int, int]:
    """The oldest non-terminal document of each flow (one indexed query per flow with a
    backlog; the (flow, state, next_attempt_at) index narrows it to the backlog)."""
    found = {}
    for flow in flows:
        pk = (
            SyncDocument.objects.filter(flow_id=flow.pk, state__in=BACKLOG_STATES)
            .order_by("created_at", "id")
            .values_list("id", flat=True)
            .first()
        )
        if pk is not None:
            found[flow.pk] = pk
    return found


def _trend(
    *, flow_ids: list[int], integration_id: int | None, now: datetime
) -> tuple[list[str], list[int], list[int]]:
    """Synced vs failed per hour over the last 24 hours (local time)."""
    start = (now - timedelta(hours=23)).replace(minute=0, second=0, microsecond=0)
    tz = timezone.get_current_timezone()
    buckets = [start + timedelta(hours=n) for n in range(24)]
    labels = [timezone.localtime(b, tz).strftime("%H:00") for b in buckets]
    index = {timezone.localtime(b, tz).replace(tzinfo=None): n for n, b in enumerate(buckets)}
    synced, failed = [0] * 24, [0] * 24
    for row in (
        SyncDocument.objects.filter(flow_id__in=flow_ids, synced_at__gte=start, state=S.SYNCED)
        .annotate(hour=TruncHour("synced_at", tzinfo=tz))
        .values("hour")
        .annotate(n=Count("id"))
        .order_by()
    ):
        n = index.get(timezone.localtime(row["hour"], tz).replace(tzinfo=None))
        if n is not None:
            synced[n] += row["n"]
    events = Event.objects.filter(
        created_at__gte=start, to_state__in=FAILURE_STATES, document__isnull=False
    )
    if integration_id is not None:
        events = events.filter(integration_id=integration_id)
    for row in (
        events.annotate(hour=TruncHour("created_at", tzinfo=tz))
        .values("hour")
        .annotate(n=Count("id"))
        .order_by()
    ):
        n = index.get(timezone.localtime(row["hour"], tz).replace(tzinfo=None))
        if n is not None:
            failed[n] += row["n"]
    return labels, synced, failed


# --- O3 trace search ----------------------------------------------------------------------------


@dataclass
class TraceEntry:
    """One line of a trace, events and remote calls merged in time order."""

    kind: str  # "event" or "call"
    at: datetime
    event: Event | None = None
    call: RemoteCall | None = None
    request: str = ""
    response: str = ""


@dataclass
class Trace:
    """Everything the portal knows about one key: documents, tickets, events, remote calls."""

    query: str
    documents: list[SyncDocument] = field(default_factory=list)
    matched_by: dict[int, list[str]] = field(default_factory=dict)
    more_documents: bool = False
    tickets: list[ExceptionTicket] = field(default_factory=list)
    entries: list[TraceEntry] = field(default_factory=list)
    more_entries: bool = False

    @property
    def found(self) -> bool:
        return bool(self.documents or self.entries)

    @property
    def events(self) -> list[Event]:
        return [e.event for e in self.entries if e.event is not None]

    @property
    def calls(self) -> list[RemoteCall]:
        return [e.call for e in self.entries if e.call is not None]


def _pretty(text: str) -> str:
    """Masked, and indented when it is JSON."""
    text = mask_text(text or "")
    try:
        return json.dumps(json.loads(text), ensure_ascii=False, indent=2)
    except (TypeError, ValueError):
        return text


def trace_search(
    *, query: str, document_limit: int = 50, entry_limit: int = 2000, call_limit: int = 500
) -> Trace:
    """Find a platform order no., a Kingdee bill no. (or any target document no.), a SKU or a
    source key (also the full idempotency key), exact match, and build its trace.

    Each key type is one lookup on its own index, never an OR across tables:
    platform_order_no, kingdee_bill_no, target_key, source_key (btree on SyncDocument),
    idempotency_key (unique), DocumentSku (sku, document DESC) for the newest documents of a
    SKU; events by (document_id, created_at); document-less events by the partial indexes on
    platform_order_no / kingdee_bill_no; remote calls by batch_id.
    """
    q = (query or "").strip()
    trace = Trace(query=q)
    if not q:
        return trace
    lookups = (
        ("platform_order_no", _("platform order no.")),
        ("kingdee_bill_no", _("Kingdee bill no.")),
        ("target_key", _("target document no.")),
        ("source_key", _("source key")),
        ("idempotency_key", _("idempotency key")),
    )
    matched: dict[int, list[str]] = {}
    more = False
    for column, label in lookups:
        ids = list(
            SyncDocument.objects.filter(**{column: q})
            .order_by("-id")
            .values_list("id", flat=True)[: document_limit + 1]
        )
        more = more or len(ids) > document_limit
        for pk in ids[:document_limit]:
            labels = matched.setdefault(pk, [])
            if column == "target_key" and labels:
                continue  # the Kingdee bill no. is the target key of Kingdee-bound documents
            labels.append(str(label))
    sku_ids = list(
        DocumentSku.objects.filter(sku=q)
        .order_by("-document_id")
        .values_list("document_id", flat=True)[: document_limit + 1]
    )
    more = more or len(sku_ids) > document_limit
    for pk in sku_ids[:document_limit]:
        matched.setdefault(pk, []).append(str(_("SKU")))
    doc_ids = sorted(matched, reverse=True)[:document_limit]
    trace.more_documents = more or len(matched) > document_limit
    trace.matched_by = {pk: matched[pk] for pk in doc_ids}
    trace.documents = list(
        SyncDocument.objects.filter(pk__in=doc_ids)
        .select_related("flow", "integration")
        .prefetch_related("sku_keys")
        .order_by("created_at", "id")
    )
    for doc in trace.documents:
        doc.matched_labels = trace.matched_by.get(doc.pk, [])
    trace.tickets = list(  # their own tickets and those of their causes (issue 20)
        ExceptionTicket.objects.filter(
            Q(document_id__in=doc_ids) | Q(links__document_id__in=doc_ids)
        )
        .distinct()
        .order_by("-last_seen_at")
    )

    events = list(
        Event.objects.filter(document_id__in=doc_ids)
        .select_related("actor")
        .order_by("created_at", "id")[: entry_limit + 1]
    )
    loose = list(
        Event.objects.filter(document__isnull=True)
        .filter(Q(platform_order_no=q) | Q(kingdee_bill_no=q))
        .select_related("actor")
        .order_by("created_at", "id")[: entry_limit + 1]
    )
    events = sorted(events + loose, key=lambda e: (e.created_at, e.id))
    trace.more_entries = len(events) > entry_limit
    events = events[:entry_limit]
    batch_ids = {e.batch_id for e in events if e.batch_id}
    calls = (
        list(
            RemoteCall.objects.filter(batch_id__in=batch_ids).order_by("created_at", "id")[
                : call_limit + 1
            ]
        )
        if batch_ids
        else []
    )
    trace.more_entries = trace.more_entries or len(calls) > call_limit
    entries = [TraceEntry(kind="event", at=e.created_at, event=e) for e in events]
    entries += [
        TraceEntry(
            kind="call",
            at=c.created_at,
            call=c,
            request=_pretty(c.request),
            response=_pretty(c.response),
        )
        for c in calls[:call_limit]
    ]
    # A call made in a batch precedes the events that record its outcome at the same instant.
    trace.entries = sorted(entries, key=lambda e: (e.at, 0 if e.kind == "call" else 1))
    return trace


# --- figures for /monitoring/metrics -------------------------------------------------------------


def metrics_documents_by_state() -> list[tuple[str, str, str, int]]:
    """(integration code, flow code, state, count). Counting every state of a million documents
    is one GROUP BY over the (flow, state, next_attempt_at) index, done at scrape time."""
    flows = {f.pk: f for f in Flow.objects.select_related("integration")}
    rows = []
    for row in SyncDocument.objects.values("flow_id", "state").annotate(n=Count("id")).order_by():
        flow = flows.get(row["flow_id"])
        if flow is not None:
            rows.append((flow.integration.code, flow.code, row["state"], row["n"]))
    return rows


def metrics_documents_flow_health(
    *, now: datetime | None = None
) -> list[tuple[str, str, int, int]]:
    """(integration code, flow code, workable, stuck) per flow: the engine's own definition of
    workable (loading without a live claim included) and the watchdog's of stuck."""
    now = now or timezone.now()
    workable = dict(
        SyncDocument.objects.workable(now)
        .values("flow_id")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("flow_id", "n")
    )
    return [
        (
            flow.integration.code,
            flow.code,
            workable.get(flow.pk, 0),
            SyncDocument.objects.stuck(flow, now).count(),
        )
        for flow in Flow.objects.select_related("integration")
    ]


def metrics_remote_calls(*, since: datetime) -> list[tuple[str, int, int]]:
    """(system, calls, failed calls) since a time (range scan of the created_at index)."""
    failed = Q(status__gte=400) | ~Q(error="")
    return [
        (row["system"], row["n"], row["failed"])
        for row in RemoteCall.objects.filter(created_at__gte=since)
        .values("system")
        .annotate(n=Count("id"), failed=Count("id", filter=failed))
        .order_by("system")
    ]


def metrics_open_tickets() -> list[tuple[str, int]]:
    return [
        (row["role"], row["n"])
        for row in ExceptionTicket.objects.filter(status__in=OPEN_TICKET_STATUSES)
        .values("role")
        .annotate(n=Count("id"))
        .order_by("role")
    ]


def metrics_flows() -> list[Flow]:
    return list(Flow.objects.select_related("integration"))


def metrics_error_events(*, since: datetime) -> int:
    return Event.objects.filter(created_at__gte=since, level=EventLevel.ERROR).count()
