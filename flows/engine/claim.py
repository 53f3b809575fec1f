"""Claim: take a batch of workable documents for this worker (safe under concurrency)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from ..models import Flow, SyncDocument, no_live_claim


def _workable(flow: Flow, now: datetime):
    """The flow's workable documents (SyncDocumentQuerySet.workable: also what sweep, the
    board and the metrics count). Loading with no live claim is an interrupted write."""
    return SyncDocument.objects.filter(flow=flow).workable(now)


def claim_lease() -> timedelta:
    """How long a claim holds (PORTAL_CLAIM_LEASE_SECONDS): a dead worker's documents are
    workable again after it."""
    return timedelta(seconds=settings.PORTAL_CLAIM_LEASE_SECONDS)


def claim(*, flow: Flow, limit: int, ids: Iterable[int] | None = None) -> list[SyncDocument]:
    """Claim up to `limit` workable documents for this worker (safe under concurrency)."""
    now = timezone.now()
    token = uuid.uuid4()
    candidates = _workable(flow, now)
    if ids is not None:
        candidates = candidates.filter(pk__in=list(ids))
    candidates = candidates.order_by("id")
    with transaction.atomic():
        if connection.vendor == "postgresql":
            candidates = candidates.select_for_update(skip_locked=True)
        picked = list(candidates.values_list("id", flat=True)[:limit])
        if not picked:
            return []
        SyncDocument.objects.filter(pk__in=picked).filter(no_live_claim(now)).update(
            claim_token=token, claimed_until=now + claim_lease()
        )
    return list(
        SyncDocument.objects.filter(claim_token=token)
        .select_related("flow", "integration")
        .order_by("id")
    )
