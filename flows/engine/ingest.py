"""Ingest: store source records as SyncDocuments (new, or updated while not yet synced)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.db import transaction
from django.utils import timezone

from core.messages import gettext as _
from core.storable import storable, unstorable

from ..definitions import definition_for
from ..definitions.base import SourceRecord
from ..journal import EventLevel, journal
from ..models import DocumentSku, Flow, SyncDocument
from .base import S, idempotency_key


def scope_reason(flow: Flow, record: SourceRecord) -> str:
    """G6 canary scope first, then the definition's own filter."""
    if (
        flow.canary_shops
        and record.shop_id
        and str(record.shop_id) not in {str(s) for s in flow.canary_shops}
    ):
        return _("shop %(shop)s is outside the canary scope") % {"shop": record.shop_id}
    if (
        flow.canary_warehouses
        and record.warehouse_code
        and str(record.warehouse_code) not in {str(w) for w in flow.canary_warehouses}
    ):
        return _("warehouse %(wh)s is outside the canary scope") % {"wh": record.warehouse_code}
    return record.filter_reason


def ingest(
    *,
    flow: Flow,
    records: Iterable[SourceRecord],
    via: str = "pull",
    on_chunk: Callable[[list[int]], None] | None = None,
) -> list[int]:
    """Store source records as SyncDocuments (new, or updated while not yet synced), 500 at
    a time as they stream in. Returns the ids of documents that are new or changed and need
    work; `on_chunk` gets them chunk by chunk (a pull works them while it pages on)."""
    touched: list[int] = []
    chunk: list[SourceRecord] = []
    try:
        for record in records:
            chunk.append(record)
            if len(chunk) >= 500:
                ids = _ingest_chunk(flow, chunk, via)
                touched.extend(ids)
                chunk = []
                if on_chunk is not None and ids:
                    on_chunk(ids)
    except BaseException:
        # The source failed part-way (or the worker is stopping): what it did deliver is
        # stored before the error goes up (the pull resumes after these records and may move
        # its watermark past them).
        if chunk:
            _ingest_chunk(flow, chunk, via)
        raise
    if chunk:
        ids = _ingest_chunk(flow, chunk, via)
        touched.extend(ids)
        if on_chunk is not None and ids:
            on_chunk(ids)
    return touched


def _ingest_chunk(flow: Flow, records: list[SourceRecord], via: str) -> list[int]:
    by_key: dict[str, SourceRecord] = {}
    for record in records:  # the newest version of a record within one chunk wins
        key = idempotency_key(flow, record.source_key)
        prior = by_key.get(key)
        if prior is None or (record.modified_at or timezone.now()) >= (
            prior.modified_at or timezone.now()
        ):
            by_key[key] = record
    touched: list[int] = []
    events: list[dict] = []
    reopen_synced = definition_for(flow.code).reopen_synced_on_change
    with transaction.atomic():
        existing = {
            d.idempotency_key: d
            for d in SyncDocument.objects.select_for_update().filter(idempotency_key__in=by_key)
        }
        new_docs: list[SyncDocument] = []
        changed: list[SyncDocument] = []
        for key, record in by_key.items():
            reason = scope_reason(flow, record)
            doc = existing.get(key)
            if doc is None:
                new_docs.append(
                    SyncDocument(
                        integration_id=flow.integration_id,
                        flow=flow,
                        source_system=definition_for(flow.code).source_system,
                        source_key=record.source_key,
                        idempotency_key=key,
                        source_modified_at=record.modified_at,
                        source_payload=_storable_payload(record.payload),
                        state=S.FILTERED if reason else S.RECEIVED,
                        filter_reason=reason[:300],
                        platform_order_no=record.platform_order_no[:100],
                        kingdee_bill_no=record.kingdee_bill_no[:100],
                        shop_id=str(record.shop_id or "")[:50],
                        warehouse_code=str(record.warehouse_code or "")[:50],
                    )
                )
                continue
            if not _accepts_update(doc, record, reason, reopen_synced):
                continue
            before = doc.state
            doc.source_payload = _storable_payload(record.payload)
            doc.source_modified_at = record.modified_at or doc.source_modified_at
            doc.platform_order_no = record.platform_order_no[:100] or doc.platform_order_no
            doc.shop_id = str(record.shop_id or doc.shop_id)[:50]
            doc.warehouse_code = str(record.warehouse_code or doc.warehouse_code)[:50]
            doc.filter_reason = reason[:300]
            doc.state = S.FILTERED if reason else S.RECEIVED
            if not doc.payload_edited:
                doc.target_payload = {}
            doc.retries = 0
            doc.next_attempt_at = None
            changed.append(doc)
            events.append(
                {
                    "document": doc,
                    "stage": "extract",
                    "message": _("The source document changed; it will be synced again.")
                    if not reason
                    else _("Filtered: %(reason)s") % {"reason": reason},
                    "from_state": before,
                    "to_state": doc.state,
                    "detail": {"via": via},
                }
            )
        if new_docs:
            SyncDocument.objects.bulk_create(new_docs, batch_size=500)
            if not all(d.pk for d in new_docs):  # backends without RETURNING
                ids = dict(
                    SyncDocument.objects.filter(
                        idempotency_key__in=[d.idempotency_key for d in new_docs]
                    ).values_list("idempotency_key", "id")
                )
                for d in new_docs:
                    d.pk = d.id = ids[d.idempotency_key]
        if changed:
            SyncDocument.objects.bulk_update(
                changed,
                [
                    "source_payload",
                    "source_modified_at",
                    "platform_order_no",
                    "shop_id",
                    "warehouse_code",
                    "filter_reason",
                    "state",
                    "target_payload",
                    "retries",
                    "next_attempt_at",
                    "updated_at",
                ],
                batch_size=500,
            )
        skus = []
        for doc in new_docs:
            record = by_key[doc.idempotency_key]
            skus.extend(
                DocumentSku(document=doc, sku=s[:100]) for s in dict.fromkeys(record.skus) if s
            )
            events.append(
                {
                    "document": doc,
                    "stage": "extract",
                    "message": _("Received from %(system)s (%(via)s).")
                    % {"system": doc.source_system, "via": via}
                    if doc.state != S.FILTERED
                    else _("Filtered: %(reason)s") % {"reason": doc.filter_reason},
                    "to_state": doc.state,
                    "level": EventLevel.INFO,
                }
            )
        for doc in changed:
            record = by_key[doc.idempotency_key]
            skus.extend(
                DocumentSku(document=doc, sku=s[:100]) for s in dict.fromkeys(record.skus) if s
            )
        if skus:
            DocumentSku.objects.bulk_create(skus, ignore_conflicts=True, batch_size=1000)
        journal().events_record_bulk(events)
        touched = [d.pk for d in new_docs if d.state != S.FILTERED]
        touched += [d.pk for d in changed if d.state != S.FILTERED]
    return touched


def _storable_payload(payload: dict) -> dict:
    """The payload as is (the usual case: no copy on the ingest path), or a cleaned copy when
    it holds text the database cannot store."""
    return payload if unstorable(payload) is None else storable(payload)


def _accepts_update(
    doc: SyncDocument, record: SourceRecord, reason: str, reopen_synced: bool = False
) -> bool:
    """A synced, ignored or in-flight document is never re-opened by a new pull (a synced one
    is, with `reopen_synced`, when its source is newer: master-data upserts); a filtered one
    re-enters when it comes into scope; others take the newer source version."""
    if doc.state == S.SYNCED and reopen_synced:
        pass  # an upsert target (master data): a newer source version is synced again
    elif doc.state in (S.SYNCED, S.IGNORED, S.LOADING) or doc.claim_token is not None:
        return False
    if doc.claim_token is not None:
        return False
    if doc.state == S.FILTERED:
        return not reason or record.payload != doc.source_payload
    if doc.state == S.HELD:
        return False  # held documents resume when stock arrives
    newer = (
        record.modified_at is None
        or doc.source_modified_at is None
        or record.modified_at > doc.source_modified_at
    )
    return newer and record.payload != doc.source_payload
