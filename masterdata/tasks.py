"""Thin Celery tasks of the master-data app."""

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True)
def master_data_check_all() -> dict:
    """F9.1: check every enabled integration; one broken connection never stops the others."""
    from connectors.models import Integration

    from .services import master_data_check

    done = {}
    for integration in Integration.objects.filter(enabled=True).select_related(
        "kingdee", "jushuitan"
    ):
        try:
            run = master_data_check(integration=integration)
        except Exception:
            logger.exception("master-data check of %s failed", integration)
            continue
        done[integration.code] = run.problems
    return done


@shared_task(acks_late=True, ignore_result=True)
def master_data_check_one(integration_id: int, user_id: int | None = None) -> int:
    from django.contrib.auth import get_user_model

    from connectors.models import Integration

    from .services import master_data_check

    integration = Integration.objects.select_related("kingdee", "jushuitan").get(pk=integration_id)
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    return master_data_check(integration=integration, user=user).pk
