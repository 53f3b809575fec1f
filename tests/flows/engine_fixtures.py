"""A small in-process flow and target used to prove the engine's mechanics.

The real flows (F2, F3, ...) are proved against the Kingdee and Jushuitan simulators; this
target only lets a test decide, call by call, what the "remote" does: land, reject, time out
after committing, run out of stock, or be unreachable.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime
from decimal import Decimal

from connectors.errors import TransientError, UnknownOutcome
from flows.choices import ErrorClass
from flows.definitions import register_for_tests
from flows.definitions.base import (
    FlowDefinition,
    LoadResult,
    Problem,
    SourceRecord,
    StockShortage,
    ValidationProblem,
)

TEST_FLOW = "test_flow"


class FakeTarget:
    """Documents by key, write counts, and a script of what the next calls do."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.documents: dict[str, dict] = {}
        self.writes: Counter = Counter()
        self.script: list[str] = []  # "ok", "timeout_after_commit", "down", "no_stock"
        self.source: list[SourceRecord] = []
        self.source_down = False
        self.transform_error: Exception | None = None  # e.g. Redis down while mapping
        self.during_load = None  # called with the batch's documents as the write starts
        # Per extract call, how many records it streams before failing (None: all of them).
        self.source_script: list[int | None] = []
        self.extract_starts: list[datetime] = []
        self.known_mappings: set[str] = set()
        self.fx_down = False
        self.fx_date = "2026-11-30"  # the business date of the rate the flow asks for
        self.stock: dict[str, Decimal] = {}

    def next_action(self) -> str:
        with self.lock:
            return self.script.pop(0) if self.script else "ok"


TARGET = FakeTarget()


def _rate_entered(currency: str, on_date: str) -> bool:
    """A person entered the rate (issue 20 point 2: the FX ticket's form)."""
    from mappings.models import ExchangeRate

    return ExchangeRate.objects.filter(currency=currency, rate_date=on_date).exists()


class TestFlow(FlowDefinition):
    code = TEST_FLOW
    source_system = "jushuitan"
    target_system = "kingdee"
    pull_window_seconds = 3600

    def extract(self, ctx, *, start: datetime, end: datetime):
        if TARGET.source_down:
            raise TransientError("source unreachable", system="jushuitan")
        TARGET.extract_starts.append(start)
        limit = TARGET.source_script.pop(0) if TARGET.source_script else None
        # Streamed in the order given (tests list records oldest first, as the API pages).
        rows = (r for r in TARGET.source if r.modified_at and start <= r.modified_at < end)
        for n, record in enumerate(rows):
            if limit is not None and n >= limit:
                raise TransientError("connection reset while paging", system="jushuitan")
            yield record

    def parse_push(self, ctx, item):
        if "order_no" not in item:
            raise ValidationProblem("order_no is required", field_name="order_no")
        return SourceRecord(
            source_key=str(item["order_no"]),
            payload=item,
            platform_order_no=str(item["order_no"]),
            shop_id=str(item.get("shop", "")),
            skus=[line["sku"] for line in item.get("lines", [])],
        )

    def validate(self, ctx, document):
        if not document.source_payload.get("lines"):
            raise ValidationProblem("The order has no lines.", field_name="lines")

    def transform(self, ctx, document):
        if TARGET.transform_error is not None:
            raise TARGET.transform_error
        payload = document.source_payload
        shop = str(payload.get("shop", ""))
        if TARGET.known_mappings and shop not in TARGET.known_mappings:
            raise Problem(
                f"No customer mapped to shop {shop}.",
                error_class=ErrorClass.MISSING_MAPPING,
                subject=f"shop {shop}",
                kind="customer",
                key=shop,
            )
        if TARGET.fx_down and not _rate_entered("USD", TARGET.fx_date):
            raise Problem(
                "No exchange rate from either source.",
                error_class=ErrorClass.FX_UNAVAILABLE,
                subject="USD",
                currency="USD",
                on_date=TARGET.fx_date,
            )
        return {
            "bill_no": f"XS-{payload['order_no']}",
            "lines": payload["lines"],
        }, f"XS-{payload['order_no']}"

    def load(self, ctx, documents):
        results = {}
        if TARGET.during_load is not None:
            TARGET.during_load(documents)
        action = TARGET.next_action()
        if action == "down":
            raise TransientError("target unreachable", system="kingdee")
        for doc in documents:
            key = doc.target_key
            lines = doc.target_payload["lines"]
            short = [
                (line["sku"], "WH1", Decimal(str(line["qty"])))
                for line in lines
                if TARGET.stock
                and TARGET.stock.get(line["sku"], Decimal(0)) < Decimal(str(line["qty"]))
            ]
            if short:
                results[doc.pk] = LoadResult(
                    problem=StockShortage("Insufficient stock.", lines=short)
                )
                continue
            with TARGET.lock:
                if key in TARGET.documents:
                    results[doc.pk] = LoadResult(
                        problem=Problem("Duplicate bill no.", error_class=ErrorClass.DUPLICATE)
                    )
                    continue
                TARGET.documents[key] = doc.target_payload
                TARGET.writes[key] += 1
            results[doc.pk] = LoadResult.landed(target_id=len(TARGET.documents), target_number=key)
        if action == "timeout_after_commit":
            raise UnknownOutcome("read timed out", system="kingdee")
        return results

    def find_existing(self, ctx, documents):
        return {
            doc.pk: LoadResult.landed(target_number=doc.target_key)
            for doc in documents
            if doc.target_key in TARGET.documents
        }


register_for_tests(TestFlow())
