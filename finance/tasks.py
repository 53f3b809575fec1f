"""Celery tasks of finance (thin: they call a service, which runs every enabled integration
or the one asked)."""

from celery import shared_task

from . import services
from .choices import RunTrigger


@shared_task(name="finance.tasks.reconcile", acks_late=True, ignore_result=True)
def reconcile(integration_id: int | None = None, trigger: str = RunTrigger.SCHEDULE) -> list:
    """K1: reconcile inventory (every enabled integration, or one): both figures per run."""
    return services.reconcile_all(integration_id=integration_id, trigger=trigger)


@shared_task(name="finance.tasks.fx_differences", acks_late=True, ignore_result=True)
def fx_differences(integration_id: int | None = None) -> list:
    """F6.1: collect FX differences of the last week and post the vouchers up to yesterday."""
    return services.fx_differences_run_all(integration_id=integration_id)


@shared_task(name="finance.tasks.kingdee_declarations", acks_late=True, ignore_result=True)
def kingdee_declarations(integration_id: int | None = None) -> list:
    """K2: read declarations, purchase invoices and FX receipts from the integrations'
    enabled Kingdee sources (idempotent: keyed by declaration no. + item no.)."""
    return services.kingdee_declarations_pull_all(integration_id=integration_id)
