"""The watchdog (issue 15): a beat task every minute that looks for what should have moved.

Findings, each with **one** alert (through its ticket) and **one** operator ticket per flow,
listing the documents; the ticket closes itself when they move:
- stuck: documents in progress (received … loading) unchanged for longer than the flow's
  bound (flow setting "stuck_minutes": default 10, F2 30; SyncDocumentQuerySet.stuck);
- overdue: waiting documents whose next attempt is overdue by more than 5 minutes;
- stale: a scheduled flow whose last successful run is older than 3× its schedule;
- silent: beat or the workers gave no sign for PORTAL_SILENCE_SECONDS. The watchdog itself
  runs on beat and a worker, so silence is also checked by the web process (/healthz, the
  board) through `silence_check`.

A document's "last change" is its `updated_at` (every state change and settle writes it; a
claim and its renewal do not).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Max
from django.utils import timezone

from core.messages import gettext as _

from .definitions import definition_for
from .journal import journal
from .models import Flow, SyncDocument, stuck_minutes

logger = logging.getLogger(__name__)

STUCK = "stuck_documents"
OVERDUE = "overdue_retries"
STALE = "stale_flow"
SILENT = "silent_processes"
KEY_PREFIX = "watchdog:"
LISTED = 50  # documents named in a ticket (the count says how many in all)
WORKER_HEARTBEAT_KEY = "flows:heartbeat:worker"
WATCHDOG_HEARTBEAT_KEY = "flows:heartbeat:watchdog"
_SILENCE_THROTTLE_KEY = "flows:silence-check"


def trace_key(kind: str, flow: Flow | None = None, what: str = "") -> str:
    return f"{KEY_PREFIX}{kind}:" + (f"flow:{flow.pk}" if flow is not None else what)


@dataclass
class WatchdogReport:
    findings: dict[str, int] = field(default_factory=dict)  # trace key -> how many documents
    opened: int = 0
    closed: int = 0

    def as_dict(self) -> dict:
        return {"findings": self.findings, "opened": self.opened, "closed": self.closed}


def _local(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S")


def _listing(flow: Flow, ids: list[int], total: int) -> str:
    docs = SyncDocument.objects.filter(pk__in=ids).order_by("updated_at", "id")
    lines = [
        f"- #{d.pk} {d.source_key} · {d.get_state_display()} · "
        + _("since %(time)s") % {"time": _local(d.updated_at)}
        + (f" · {d.platform_order_no}" if d.platform_order_no else "")
        for d in docs
    ]
    if total > len(ids):
        lines.append(_("… and %(n)d more") % {"n": total - len(ids)})
    return "\n".join(lines)


def _report(
    report: WatchdogReport,
    *,
    key: str,
    kind: str,
    message: str,
    subject: str,
    count: int,
    flow: Flow | None,
    document_ids: list[int],
) -> None:
    """Open the finding's ticket (its opening raises the one alert), or refresh the open one
    quietly (a new list of documents is no new alert)."""
    report.findings[key] = count
    detail = {"finding": kind, "count": count, "document_ids": document_ids}
    if journal().ticket_refresh(trace_key=key, message=message, detail=detail):
        return
    journal().ticket_open_or_update(
        trace_key=key,
        error_class=kind,
        message=message,
        subject=subject,
        integration_id=flow.integration_id if flow is not None else None,
        flow_code=flow.code if flow is not None else "",
        detail=detail,
    )
    report.opened += 1


def _documents(qs) -> tuple[list[int], int]:
    ids = list(qs.order_by("updated_at", "id").values_list("id", flat=True)[:LISTED])
    total = len(ids) if len(ids) < LISTED else qs.count()
    return ids, total


def watchdog_run(*, now: datetime | None = None) -> WatchdogReport:
    """One pass over every enabled flow (a few indexed queries per flow)."""
    now = now or timezone.now()
    cache.set(WATCHDOG_HEARTBEAT_KEY, now.isoformat(), None)
    report = WatchdogReport()
    flows = Flow.objects.filter(enabled=True, integration__enabled=True).select_related(
        "integration"
    )
    for flow in flows:
        bound = stuck_minutes(flow)
        ids, total = _documents(SyncDocument.objects.stuck_in_progress(flow, now))
        if total:
            _report(
                report,
                key=trace_key(STUCK, flow),
                kind=STUCK,
                count=total,
                flow=flow,
                document_ids=ids,
                subject=str(flow),
                message=_(
                    "%(n)d documents of %(flow)s have not moved for more than %(minutes)d "
                    "minutes (the flow's bound):\n%(list)s"
                )
                % {"n": total, "flow": flow, "minutes": bound, "list": _listing(flow, ids, total)},
            )
        ids, total = _documents(SyncDocument.objects.overdue_waiting(flow, now))
        if total:
            _report(
                report,
                key=trace_key(OVERDUE, flow),
                kind=OVERDUE,
                count=total,
                flow=flow,
                document_ids=ids,
                subject=str(flow),
                message=_(
                    "%(n)d documents of %(flow)s wait for a retry that is overdue by more than "
                    "5 minutes (nothing picked them up):\n%(list)s"
                )
                % {"n": total, "flow": flow, "list": _listing(flow, ids, total)},
            )
        last = flow.last_success_at or flow.created_at
        paused = flow.paused_until is not None and flow.paused_until > now
        schedule = timedelta(seconds=max(flow.poll_seconds, 1))
        if definition_for(flow.code).pullable and not paused and now - last > 3 * schedule:
            _report(
                report,
                key=trace_key(STALE, flow),
                kind=STALE,
                count=0,
                flow=flow,
                document_ids=[],
                subject=str(flow),
                message=_(
                    "The last successful run of %(flow)s was at %(time)s, longer ago than three "
                    "times its schedule (every %(seconds)d s). Last run error: %(error)s"
                )
                % {
                    "flow": flow,
                    "time": _local(flow.last_success_at) if flow.last_success_at else _("never"),
                    "seconds": flow.poll_seconds,
                    "error": flow.last_error or _("(none)"),
                },
            )
    found = set(report.findings)
    found |= _silence_findings(report, now=now)
    gone = journal().open_trace_keys(prefix=KEY_PREFIX) - found
    if gone:
        report.closed = journal().tickets_close_for(
            trace_keys=sorted(gone), resolution=_("The watchdog no longer finds it: it moved.")
        )
    return report


# --- silence of beat and the workers ------------------------------------------------------------


def worker_heartbeat(**_kwargs) -> None:
    """A worker finished a task (celery task_postrun): the workers are alive."""
    try:
        cache.set(WORKER_HEARTBEAT_KEY, timezone.now().isoformat(), None)
    except Exception:  # a heartbeat never fails a task
        logger.warning("could not record the worker heartbeat", exc_info=True)


def _seen(key: str) -> datetime | None:
    raw = cache.get(key)
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        return None


def last_signs() -> dict[str, datetime | None]:
    """When beat and the workers last showed they were alive (None: never seen). Beat:
    the newest run django-celery-beat recorded, or the watchdog's own run (beat sent it)."""
    from django_celery_beat.models import PeriodicTask

    beat = PeriodicTask.objects.filter(enabled=True).aggregate(last=Max("last_run_at"))["last"]
    watchdog = _seen(WATCHDOG_HEARTBEAT_KEY)
    if watchdog is not None and (beat is None or watchdog > beat):
        beat = watchdog
    return {"beat": beat, "workers": _seen(WORKER_HEARTBEAT_KEY)}


def silent_processes(now: datetime | None = None) -> list[tuple[str, datetime]]:
    """[(process, last seen)] of beat / the workers, silent longer than
    PORTAL_SILENCE_SECONDS. A process never seen is not called silent (a fresh install)."""
    now = now or timezone.now()
    limit = timedelta(seconds=settings.PORTAL_SILENCE_SECONDS)
    return [(name, seen) for name, seen in last_signs().items() if seen and now - seen > limit]


def _silence_findings(report: WatchdogReport, *, now: datetime) -> set[str]:
    keys = set()
    labels = {"beat": _("Celery beat"), "workers": _("the Celery workers")}
    for name, seen in silent_processes(now):
        key = trace_key(SILENT, what=name)
        keys.add(key)
        _report(
            report,
            key=key,
            kind=SILENT,
            count=0,
            flow=None,
            document_ids=[],
            subject=str(labels[name]),
            message=_(
                "%(process)s gave no sign of life since %(time)s: nothing is pulled, retried or "
                "written while it is down."
            )
            % {"process": labels[name], "time": _local(seen)},
        )
    return keys


def silence_check(*, now: datetime | None = None) -> list[tuple[str, datetime]]:
    """From the web process (when beat or the workers are down, the watchdog task is too): at
    most once a minute per deployment, open (or close) the silence tickets. Returns what is
    silent now."""
    now = now or timezone.now()
    silent = silent_processes(now)
    if not cache.add(_SILENCE_THROTTLE_KEY, "1", 60):
        return silent
    report = WatchdogReport()
    found = _silence_findings(report, now=now)
    gone = journal().open_trace_keys(prefix=trace_key(SILENT)) - found
    if gone:
        journal().tickets_close_for(
            trace_keys=sorted(gone), resolution=_("It shows signs of life again.")
        )
    return silent


def connect() -> None:
    from celery import signals

    signals.task_postrun.connect(worker_heartbeat, dispatch_uid="flows.watchdog.heartbeat")
