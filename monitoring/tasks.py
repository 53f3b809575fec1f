"""Celery tasks of monitoring (thin: load, call the service)."""

from celery import shared_task

from . import alerts, services


@shared_task(name="monitoring.tasks.alerts_dispatch", acks_late=True, ignore_result=True)
def alerts_dispatch(channel_id: int) -> dict:
    """Post the due alerts of one robot channel (enqueued when an alert is raised)."""
    report = alerts.alerts_dispatch_channel(channel_id=channel_id)
    return {"messages": report.messages, "delivered": report.delivered, "waiting": report.waiting}


@shared_task(name="monitoring.tasks.alerts_dispatch_due", acks_late=True, ignore_result=True)
def alerts_dispatch_due() -> int:
    """Safety net (beat): expire pending, recover stuck deliveries, dispatch every channel."""
    return sum(report.messages for report in alerts.alerts_dispatch_due())


@shared_task(acks_late=True, ignore_result=True)
def events_purge() -> dict:
    """O3: the nightly purge of events older than PORTAL_EVENT_RETENTION_DAYS (bounded batches;
    error events of documents with open tickets kept)."""
    return services.events_purge().__dict__
