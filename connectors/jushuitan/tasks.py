"""Celery tasks of the Jushuitan connector (thin: they call one service)."""

from celery import shared_task

from . import services


@shared_task(name="connectors.jushuitan.tasks.refresh_tokens", acks_late=True)
def refresh_tokens() -> dict[str, int]:
    """Refresh every connection's token before it expires (G4)."""
    return services.tokens_refresh_due()
