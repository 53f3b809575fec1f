"""Celery tasks of mappings (thin: they call a service)."""

from celery import shared_task

from .rates import fetch_latest_rates


@shared_task(name="mappings.fetch_exchange_rates", acks_late=True, ignore_result=True)
def fetch_exchange_rates() -> dict:
    """Read the latest central-parity fixings (primary source, else the backup)."""
    return fetch_latest_rates()
