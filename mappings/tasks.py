"""Celery tasks of mappings (thin: they call a service)."""

from celery import shared_task

from .rates import fetch_latest_rates


@shared_task(name="mappings.fetch_exchange_rates", acks_late=True, ignore_result=True)
def fetch_exchange_rates() -> dict:
    """Read the latest central-parity fixings (primary source, else the backup)."""
    return fetch_latest_rates()


@shared_task(name="mappings.run_import_job", ignore_result=True)
def run_import_job(job_id: str) -> None:
    """Run a bulk import (dry run or import) queued from the admin; progress goes to the
    "imports" cache, the outcome to the ImportJob row."""
    from .services import import_job_run

    import_job_run(job_id=job_id)
