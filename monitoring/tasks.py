"""Thin Celery tasks of monitoring."""

from celery import shared_task

from . import services


@shared_task(acks_late=True, ignore_result=True)
def events_purge() -> dict:
    """O3: the nightly purge of events older than PORTAL_EVENT_RETENTION_DAYS (bounded batches;
    error events of documents with open tickets kept)."""
    return services.events_purge().__dict__
