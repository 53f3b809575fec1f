"""Thin Celery tasks of the engine: each loads ids and calls the engine or a service."""

import logging
import time

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from .engine import process, run_flow
from .models import Flow, SyncDocument
from .shutdown import WorkerStopping

logger = logging.getLogger(__name__)


class RunLock:
    """Keeps a second run of the same flow from starting while one is alive. The lock lapses
    PORTAL_RUN_LOCK_SECONDS after the run's last heartbeat, so a worker killed mid-run holds
    the flow back for that long at most, not until a long timeout. It is an economy, not a
    guarantee: two runs that overlap are still safe (claims, forward-only watermarks)."""

    def __init__(self, flow_id: int) -> None:
        self.key = f"flows:run:{flow_id}"
        self.seconds = settings.PORTAL_RUN_LOCK_SECONDS
        self.touched = 0.0

    def acquire(self) -> bool:
        self.touched = time.monotonic()
        return cache.add(self.key, timezone.now().isoformat(), self.seconds)

    def heartbeat(self) -> None:
        if time.monotonic() - self.touched >= self.seconds / 4:
            self.touched = time.monotonic()
            cache.touch(self.key, self.seconds)

    def release(self) -> None:
        cache.delete(self.key)


def _flow(flow_id: int) -> Flow | None:
    return Flow.objects.select_related("integration").filter(pk=flow_id).first()


@shared_task(acks_late=True, ignore_result=True)
def flow_run(flow_id: int) -> dict:
    """A scheduled run (pull + process). Overlapping runs of one flow are skipped."""
    flow = _flow(flow_id)
    if flow is None:
        return {"skipped": "no such flow"}
    lock = RunLock(flow_id)
    if not lock.acquire():
        return {"skipped": "already running"}
    try:
        # Idle workers help with a large backlog: claims keep them off each other's documents.
        stats = run_flow(
            flow=flow, fan_out=lambda: flow_process.delay(flow_id), heartbeat=lock.heartbeat
        )
    except WorkerStopping as exc:  # SIGTERM: the batch in hand was settled or handed back
        logger.warning("flow %s: run stopped (%s)", flow_id, exc)
        return {"stopped": str(exc)}
    finally:
        lock.release()
    return stats.__dict__


@shared_task(acks_late=True, ignore_result=True)
def flow_process(flow_id: int, ids: list[int] | None = None) -> dict:
    """Process workable documents of a flow (all, or these ids). Safe to run concurrently."""
    flow = _flow(flow_id)
    if flow is None or not flow.enabled:
        return {"skipped": "disabled"}
    if flow.paused_until and flow.paused_until > timezone.now():
        return {"skipped": "paused"}
    try:
        return process(flow=flow, ids=ids).__dict__
    except WorkerStopping as exc:  # SIGTERM: the batch in hand was settled or handed back
        logger.warning("flow %s: processing stopped (%s)", flow_id, exc)
        return {"stopped": str(exc)}


@shared_task(acks_late=True, ignore_result=True)
def sweep() -> int:
    """Safety net: queue processing for every flow with documents due (timed retries, pushes
    stored while the broker was down, writes interrupted by a stopped or dead worker)."""
    due = (
        SyncDocument.objects.filter(flow__enabled=True)
        .workable()  # the engine's own definition (loading without a live claim included)
        .values_list("flow_id", flat=True)
        .order_by()
        .distinct()
    )
    flow_ids = list(due)
    for flow_id in flow_ids:
        flow_process.delay(flow_id)
    return len(flow_ids)


@shared_task(acks_late=True, ignore_result=True)
def holds_check() -> int:
    """F2.4: release held outbounds whose stock arrived (every integration with open holds)."""
    from connectors.models import Integration

    from .models import StockHold, StockHoldStatus
    from .services import holds_check as check

    released = 0
    integration_ids = (
        StockHold.objects.filter(status=StockHoldStatus.OPEN)
        .values_list("integration_id", flat=True)
        .distinct()
    )
    for integration in Integration.objects.filter(pk__in=list(integration_ids), enabled=True):
        try:
            released += len(check(integration=integration))
        except Exception:  # one unreachable ERP never stops the other integrations
            logger.exception("holds check of %s failed", integration)
    return released


@shared_task(acks_late=True, ignore_result=True)
def shadow_run_task(run_id: int) -> dict:
    """Fill a queued map-only dry run (issue 24 point 4); writes nothing but its report."""
    from .models import ShadowRun
    from .shadow import shadow_run_fill

    run = ShadowRun.objects.filter(pk=run_id, finished_at__isnull=True).first()
    if run is None:
        return {"skipped": "done or gone"}
    return shadow_run_fill(run=run).totals


@shared_task(acks_late=True, ignore_result=True)
def watchdog() -> dict:
    """Issue 15: every minute, look for documents and flows that should have moved (see
    flows.watchdog); one alert and one ticket per flow and finding, closed when they move."""
    from .watchdog import watchdog_run

    return watchdog_run().as_dict()
