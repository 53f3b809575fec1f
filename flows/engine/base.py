"""What the engine's parts share: the run statistics, the document keys, the retry policy and
the bulk write of settled documents."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from django.db import connection

from ..choices import DocumentState
from ..definitions.base import FlowDefinition, RetryPolicy
from ..models import Flow, SyncDocument

_rng = random.Random()

S = DocumentState


@dataclass
class RunStats:
    pulled: int = 0
    ingested: int = 0
    processed: int = 0
    synced: int = 0
    problems: int = 0
    retrying: int = 0
    filtered: int = 0
    skipped: str = ""
    errors: list[str] = field(default_factory=list)

    def add(self, other: RunStats) -> None:
        for name in (
            "pulled",
            "ingested",
            "processed",
            "synced",
            "problems",
            "retrying",
            "filtered",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors)


def idempotency_key(flow: Flow, source_key: str) -> str:
    return f"{flow.integration.code}:{flow.code}:{source_key}"


def retry_policy(flow: Flow, definition: FlowDefinition) -> RetryPolicy:
    return RetryPolicy.from_settings(definition.retry, (flow.settings or {}).get("retry"))


def jsonable(extra: dict) -> dict:
    out = {}
    for key, value in (extra or {}).items():
        out[key] = (
            value
            if isinstance(value, (str, int, float, bool, type(None), list, dict))
            else str(value)
        )
    return out


def bulk_write(docs: list[SyncDocument], fields: list[str]) -> None:
    """Write these fields of many documents with few, cheap statements.

    Django's bulk_update builds one CASE WHEN per field and row, which cost more than the
    remote calls of a batch (pyinstrument: 8 ms per document). Here a field holding the same
    value on every document is written by one UPDATE … WHERE id IN (…), and only the
    fields that differ go row by row: on PostgreSQL as one UPDATE … FROM (VALUES …), elsewhere
    through bulk_update."""
    if not docs:
        return
    meta = SyncDocument._meta
    uniform: dict[str, object] = {}
    varying: list[str] = []
    for name in fields:
        attname = meta.get_field(name).attname
        first = getattr(docs[0], attname)
        if all(getattr(doc, attname) == first for doc in docs[1:]):
            uniform[attname] = first
        else:
            varying.append(name)
    ids = [doc.pk for doc in docs]
    for start in range(0, len(ids), 1000):
        if uniform:
            SyncDocument.objects.filter(pk__in=ids[start : start + 1000]).update(**uniform)
    if not varying:
        return
    if connection.vendor != "postgresql":
        SyncDocument.objects.bulk_update(docs, varying, batch_size=500)
        return
    columns = [meta.get_field(name) for name in varying]
    casts = ", ".join(f"%s::{field.db_type(connection)}" for field in columns)
    assignments = ", ".join(
        f"{connection.ops.quote_name(f.column)} = v.{connection.ops.quote_name(f.column)}"
        for f in columns
    )
    names = ", ".join(connection.ops.quote_name(f.column) for f in columns)
    with connection.cursor() as cursor:
        for start in range(0, len(docs), 500):
            part = docs[start : start + 500]
            rows = ", ".join([f"(%s::bigint, {casts})"] * len(part))
            params: list = []
            for doc in part:
                params.append(doc.pk)
                params.extend(
                    f.get_db_prep_save(getattr(doc, f.attname), connection) for f in columns
                )
            cursor.execute(
                f"UPDATE {meta.db_table} AS d SET {assignments} "  # noqa: S608 - names from _meta
                f"FROM (VALUES {rows}) AS v(id, {names}) WHERE d.id = v.id",
                params,
            )
