"""Stock holds (F2.4): documents held for stock, and put back to work when it arrives."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from ..definitions.base import StockShortage
from ..journal import journal
from ..models import StockHold, StockHoldStatus, SyncDocument
from .base import S


def _holds_open(doc: SyncDocument, shortage: StockShortage) -> None:
    StockHold.objects.filter(document=doc, status=StockHoldStatus.OPEN).delete()
    StockHold.objects.bulk_create(
        [
            StockHold(
                integration_id=doc.integration_id,
                document=doc,
                material_number=material,
                stock_number=stock,
                quantity=qty,
            )
            for material, stock, qty in shortage.lines
        ]
    )


def holds_release(
    *,
    integration_id: int,
    reason: str,
    materials: Iterable[str] | None = None,
    document_ids: Iterable[int] | None = None,
) -> list[int]:
    """Put held documents back to work: those waiting for these materials, these documents,
    or (neither given) all of the integration's."""
    holds = StockHold.objects.filter(integration_id=integration_id, status=StockHoldStatus.OPEN)
    if materials is not None:
        holds = holds.filter(material_number__in=list(materials))
    if document_ids is not None:
        holds = holds.filter(document_id__in=list(document_ids))
    doc_ids = sorted(set(holds.values_list("document_id", flat=True)))
    if not doc_ids:
        return []
    with transaction.atomic():
        docs = list(
            SyncDocument.objects.select_for_update()
            .filter(pk__in=doc_ids, state=S.HELD)
            .select_related("flow")
        )
        for doc in docs:
            doc.state = S.RECEIVED
            doc.next_attempt_at = None
            doc.retries = 0
        SyncDocument.objects.bulk_update(
            docs, ["state", "next_attempt_at", "retries", "updated_at"]
        )
        StockHold.objects.filter(
            document_id__in=[d.pk for d in docs], status=StockHoldStatus.OPEN
        ).update(status=StockHoldStatus.RELEASED, released_at=timezone.now())
        journal().events_record_bulk(
            {
                "document": d,
                "stage": "hold",
                "message": reason,
                "from_state": S.HELD,
                "to_state": S.RECEIVED,
            }
            for d in docs
        )
    return [d.pk for d in docs]
