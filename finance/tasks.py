"""Celery tasks of finance (thin: load, call the service). One failing integration is logged
and the loop goes on with the next."""

import logging

from celery import shared_task

from connectors.models import Integration

from .choices import RunTrigger
from .fx_differences import fx_run
from .kingdee_sources import kingdee_pull, report_summary
from .reconciliation import reconciliation_run

logger = logging.getLogger(__name__)


def _integrations(integration_id: int | None):
    rows = Integration.objects.filter(enabled=True).select_related("kingdee", "jushuitan")
    return rows.filter(pk=integration_id) if integration_id else rows


@shared_task(name="finance.tasks.reconcile", acks_late=True, ignore_result=True)
def reconcile(integration_id: int | None = None, trigger: str = RunTrigger.SCHEDULE) -> list:
    """K1: reconcile inventory (every enabled integration, or one): both figures per run."""
    done = []
    for integration in _integrations(integration_id):
        try:
            run = reconciliation_run(integration=integration, trigger=trigger)
            done.append(
                {
                    "integration": integration.code,
                    "run": run.pk,
                    "accuracy": str(run.accuracy),
                    "accuracy_after_pending": str(run.accuracy_after_pending),
                    "overdue_documents": run.overdue_documents,
                }
            )
        except Exception:
            logger.exception("reconciliation of %s failed", integration)
    return done


@shared_task(name="finance.tasks.fx_differences", acks_late=True, ignore_result=True)
def fx_differences(integration_id: int | None = None) -> list:
    """F6.1: collect FX differences of the last week and post the vouchers up to yesterday."""
    done = []
    for integration in _integrations(integration_id):
        try:
            done.append({"integration": integration.code, **fx_run(integration=integration)})
        except Exception:
            logger.exception("FX differences of %s failed", integration)
    return done


@shared_task(name="finance.tasks.kingdee_declarations", acks_late=True, ignore_result=True)
def kingdee_declarations(integration_id: int | None = None) -> list:
    """K2: read declarations, purchase invoices and FX receipts from the integrations'
    enabled Kingdee sources (idempotent: keyed by declaration no. + item no.)."""
    done = []
    for integration in (
        _integrations(integration_id).filter(kingdee_sources__enabled=True).distinct()
    ):
        try:
            report = kingdee_pull(integration=integration)
            done.append(
                {"integration": integration.code, "ok": report.ok, "result": report_summary(report)}
            )
        except Exception:
            logger.exception("Kingdee declarations of %s failed", integration)
    return done
