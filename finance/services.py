"""Writes of the finance app called from the pages and the scheduled tasks: the K1
reconciliation, the F6.1 FX-difference run, the K2 declarations import and Kingdee pull (the
work lives in their topic modules, re-exported here), and the runs over every enabled
integration the tasks start. One failing integration is logged and the run goes on with the
next."""

from __future__ import annotations

import logging

from .choices import RunTrigger
from .declarations import declarations_import
from .fx_differences import fx_run
from .kingdee_sources import kingdee_pull, report_summary
from .reconciliation import reconciliation_run
from .selectors import integrations_to_run

logger = logging.getLogger(__name__)

__all__ = [
    "declarations_import",
    "fx_differences_run_all",
    "fx_run",
    "kingdee_declarations_pull_all",
    "kingdee_pull",
    "reconcile_all",
    "reconciliation_run",
]


def reconcile_all(
    *, integration_id: int | None = None, trigger: str = RunTrigger.SCHEDULE
) -> list[dict]:
    """K1: reconcile inventory (every enabled integration, or one): both figures per run."""
    done = []
    for integration in integrations_to_run(integration_id=integration_id):
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


def fx_differences_run_all(*, integration_id: int | None = None) -> list[dict]:
    """F6.1: collect FX differences of the last week and post the vouchers up to yesterday."""
    done = []
    for integration in integrations_to_run(integration_id=integration_id):
        try:
            done.append({"integration": integration.code, **fx_run(integration=integration)})
        except Exception:
            logger.exception("FX differences of %s failed", integration)
    return done


def kingdee_declarations_pull_all(*, integration_id: int | None = None) -> list[dict]:
    """K2: read declarations, purchase invoices and FX receipts from the integrations'
    enabled Kingdee sources (idempotent: keyed by declaration no. + item no.)."""
    done = []
    integrations = integrations_to_run(integration_id=integration_id)
    for integration in integrations.filter(kingdee_sources__enabled=True).distinct():
        try:
            report = kingdee_pull(integration=integration)
            done.append(
                {"integration": integration.code, "ok": report.ok, "result": report_summary(report)}
            )
        except Exception:
            logger.exception("Kingdee declarations of %s failed", integration)
    return done
