"""What the Jushuitan → Kingdee flows share: writing bills with BatchSave (auto submit and
audit), settling each record by DIndex, the check-before-resend, FX quotes and material facts.

Kingdee's Save is not idempotent, so every bill carries a deterministic FBillNo and the
platform order no. in a configurable header field; before a write whose outcome is unknown
is sent again, the bill is looked up by its number. A bill found saved but not yet audited
is audited instead of saved again.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.core.cache import cache

from connectors.errors import BusinessError
from core.messages import compose
from core.messages import gettext as _
from core.roles import Role
from mappings.choices import MappingKind
from mappings.errors import MappingMissing, RateUnavailable

from ..choices import ErrorClass
from .base import FlowContext, FlowDefinition, LoadResult, Problem, StockShortage

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEFAULT_PREFIX = "F_PAEZ_"
AUDITED = "C"

# RecordError.kind (connectors.kingdee) -> the engine's error class.
_KIND_TO_CLASS = {
    "insufficient_stock": ErrorClass.INSUFFICIENT_STOCK,
    "unknown_base_data": ErrorClass.REMOTE_REJECTED,
    "duplicate_bill_no": ErrorClass.DUPLICATE,
    "missing_field": ErrorClass.REMOTE_REJECTED,
    "invalid_value": ErrorClass.INVALID_VALUE,
    "wrong_status": ErrorClass.REMOTE_REJECTED,
}


def custom_field(ctx: FlowContext, name: str) -> str:
    """Name of a custom Kingdee field, e.g. F_PAEZ_PlatformOrderNo (prefix per integration)."""
    return f"{ctx.setting('custom_prefix', DEFAULT_PREFIX)}{name}"


def order_no_field(ctx: FlowContext) -> str:
    return ctx.setting("order_no_field", custom_field(ctx, "PlatformOrderNo"))


def business_date(value: Any) -> date | None:
    """A Jushuitan timestamp ('2026-11-28 10:15:00', Beijing time) → its business date."""
    if not value:
        return None
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=SHANGHAI)
        return moment.astimezone(SHANGHAI).date()
    text = str(value).strip().replace("T", " ")
    try:
        return datetime.strptime(text[:19], "%Y-%m-%d %H:%M:%S").date()  # noqa: DTZ007 - Beijing wall time
    except ValueError:
        try:
            return date.fromisoformat(text[:10])
        except ValueError:
            return None


def mapping_problem(exc: MappingMissing) -> Problem:
    kind = MappingKind(exc.kind).label if exc.kind in MappingKind.values else exc.kind
    return Problem(
        exc.message,
        error_class=ErrorClass.MISSING_MAPPING,
        # the ticket title: "缺少映射：SKU → 物料 SKU-GIFT-9001", in the reader's language
        subject=compose("%(kind)s %(key)s", kind=kind, key=exc.key),
        stage="map",
        kind=exc.kind,
        key=exc.key,
        where=exc.where,
    )


class RateCache:
    """FX quotes for one batch (one lookup per currency and business date) under the
    integration's FX policy (issue 19 point 3)."""

    def __init__(self, integration=None) -> None:
        self.integration = integration
        self._answers: dict = {}

    def quote(self, currency: str, on_date: date):
        from mappings.rates import SourceUndeclared, policy_rate_for

        key = (currency.strip().upper(), on_date)
        if key not in self._answers:
            try:
                self._answers[key] = policy_rate_for(
                    integration=self.integration, currency=key[0], business_date=on_date
                )
            except RateUnavailable as exc:
                self._answers[key] = exc
        answer = self._answers[key]
        if isinstance(answer, SourceUndeclared):
            raise Problem(
                answer.message,
                error_class=ErrorClass.MISSING_MAPPING,
                subject=_("FX rate source for %(currency)s") % {"currency": key[0]},
                stage="transform",
                role=Role.FINANCE,
                currency=key[0],
            )
        if isinstance(answer, RateUnavailable):
            raise Problem(
                answer.message,
                error_class=ErrorClass.FX_UNAVAILABLE,
                subject=f"{currency} {on_date}",
                stage="transform",
                currency=currency,
                on_date=str(on_date),
            )
        return answer


def note_fallback(document, quote) -> None:
    """A document about to be written at a fallback rate joins its booking and ticket
    before the write, so no fallback rate is ever booked without a ticket."""
    if quote is not None and quote.fallback_used:
        from finance.fx_fallback import note_fallback as note

        note(document=document, quote=quote)


def material_facts(ctx: FlowContext, numbers: set[str]) -> dict[str, dict]:
    """HS code, English name and declared price of materials (Kingdee custom fields), cached
    for ten minutes (and for the run in ctx.memo) so a batch costs at most one query."""
    hs_field, en_field = custom_field(ctx, "HSCode"), custom_field(ctx, "EnName")
    price_field = custom_field(ctx, "DeclaredPrice")
    # Per run first: one cache round trip per material and run, not per document.
    known: dict[str, dict] = ctx.memo.setdefault("material_facts", {})
    facts: dict[str, dict] = {n: known[n] for n in numbers if n in known}
    missing = []
    wanted = [n for n in numbers if n not in known]
    keys = {f"kd:material:{ctx.integration.kingdee_id}:{n}": n for n in wanted}
    hits = cache.get_many(list(keys)) if keys else {}
    for key, number in keys.items():
        hit = hits.get(key)
        if hit is None:
            missing.append(number)
        else:
            facts[number] = known[number] = hit
    if missing:
        from connectors.kingdee.client import quote

        rows = ctx.kingdee.iter_bill_query(
            "BD_MATERIAL",
            ["FNumber", hs_field, en_field, price_field],
            filter_string=f"FNumber in ({','.join(quote(n) for n in sorted(missing))})",
        )
        for row in rows:
            fact = {
                "hs_code": str(row.get(hs_field) or ""),
                "english_name": str(row.get(en_field) or ""),
                "declared_price": str(row.get(price_field) or ""),
            }
            facts[row["FNumber"]] = known[row["FNumber"]] = fact
            cache.set(f"kd:material:{ctx.integration.kingdee_id}:{row['FNumber']}", fact, 600)
    return facts


class KingdeeBillFlow(FlowDefinition):
    """A flow whose target is a Kingdee bill written with BatchSave + auto submit/audit."""

    target_system = "kingdee"
    form_id: str = ""

    def load(self, ctx: FlowContext, documents) -> dict[int, LoadResult]:
        results: dict[int, LoadResult] = {}
        models = [doc.target_payload for doc in documents]
        answer = ctx.kingdee.batch_save(
            self.form_id,
            models,
            auto_submit_audit=True,
            validate_base_data=True,
        )
        duplicates, unconfirmed = [], []
        for index, doc in enumerate(documents):
            saved = answer.saved(index, str(doc.target_payload.get("FBillNo") or ""))
            errors = answer.errors_for(index)
            if saved is not None and not errors:
                results[doc.pk] = LoadResult.landed(target_id=saved.id, target_number=saved.number)
            elif any(e.kind == "duplicate_bill_no" for e in errors):
                duplicates.append(doc)  # ours from an earlier attempt? look it up below
            elif errors:
                results[doc.pk] = LoadResult(problem=self.problem_from(doc, errors))
            elif answer.reported_success:
                unconfirmed.append(doc)  # an older build's bare success: confirm by number
            else:
                results[doc.pk] = self._unknown()
        if unconfirmed:
            found = self.find_existing(ctx, unconfirmed)
            for doc in unconfirmed:
                results[doc.pk] = found.get(doc.pk) or self._unknown()
        if duplicates:
            found = self.find_existing(ctx, duplicates)
            for doc in duplicates:
                results[doc.pk] = found.get(doc.pk) or LoadResult(
                    problem=Problem(
                        _("Kingdee already has a bill %(no)s that the portal did not write.")
                        % {"no": doc.target_key},
                        error_class=ErrorClass.DUPLICATE,
                        subject=doc.target_key,
                        system="kingdee",
                        stage="load",
                    )
                )
        return results

    @staticmethod
    def _unknown() -> LoadResult:
        return LoadResult(
            problem=Problem(
                _("Kingdee returned neither a success nor an error for this bill."),
                error_class=ErrorClass.UNKNOWN_OUTCOME,
                stage="load",
            ),
            unknown=True,
        )

    def find_existing(self, ctx: FlowContext, documents) -> dict[int, LoadResult]:
        """Look the bills up by the platform order no. header field (FBillNo for documents
        without one) and match them by FBillNo; audit those saved but not audited."""
        refs = self._lookup(ctx, documents)
        results: dict[int, LoadResult] = {}
        to_audit = []
        for doc in documents:
            ref = refs.get(doc.target_key)
            if ref is None:
                continue
            if ref.status == AUDITED:
                results[doc.pk] = LoadResult.landed(target_id=ref.id, target_number=ref.number)
            else:
                to_audit.append((doc, ref))
        if to_audit:
            results.update(self._finish(ctx, to_audit))
        return results

    def _lookup(self, ctx: FlowContext, documents) -> dict:
        from connectors.kingdee.client import BillRef, quote

        by_order = [d for d in documents if d.platform_order_no]
        refs: dict = {}
        if len(by_order) < len(documents):
            refs.update(
                ctx.kingdee.lookup_bills(
                    self.form_id,
                    key_field="FBillNo",
                    values=[d.target_key for d in documents if not d.platform_order_no],
                )
            )
        field = order_no_field(ctx)
        orders = sorted({d.platform_order_no for d in by_order})
        for start in range(0, len(orders), 200):
            part = orders[start : start + 200]
            rows = ctx.kingdee.execute_bill_query(
                self.form_id,
                ["FID", "FBillNo", "FDocumentStatus", field],
                filter_string=f"{field} in ({','.join(quote(o) for o in part)})",
            )
            for pk, number, status, order in rows:
                refs.setdefault(str(number), BillRef(int(pk), str(number), str(status), str(order)))
        return refs

    def _finish(self, ctx: FlowContext, pending) -> dict[int, LoadResult]:
        """Submit (when still created) and audit bills that were saved earlier; outcomes
        matched by bill number (KingdeeClient.finish_bills), never by position."""
        results: dict[int, LoadResult] = {}
        outcome = ctx.kingdee.finish_bills(
            self.form_id, {ref.number: ref.status for _doc, ref in pending}
        )
        for doc, ref in pending:
            errors = outcome.get(ref.number, [])
            if errors:
                results[doc.pk] = LoadResult(problem=self.problem_from(doc, errors))
            else:
                results[doc.pk] = LoadResult.landed(target_id=ref.id, target_number=ref.number)
        return results

    def problem_from(self, doc, errors) -> Problem:
        message = "; ".join(
            f"{e.field_name}: {e.message}" if e.field_name else e.message for e in errors
        )
        kinds = [e.kind for e in errors]
        if "insufficient_stock" in kinds:
            lines = self.stock_lines(doc)
            return StockShortage(
                _("Kingdee reports insufficient stock: %(message)s") % {"message": message},
                lines=lines,
                # The cause's ticket (issue 20 point 1): a material in a stock, not a bill.
                subject=f"{lines[0][0]} @ {lines[0][1]}" if lines else doc.target_key,
                system="kingdee",
                stage="load",
                code=str(errors[0].code or ""),
            )
        error_class = next(
            (_KIND_TO_CLASS[k] for k in kinds if k in _KIND_TO_CLASS), ErrorClass.REMOTE_REJECTED
        )
        return Problem(
            message,
            error_class=error_class,
            subject=errors[0].message[:80],  # one ticket per rule (issue 20 point 1)
            system="kingdee",
            stage="load",
            code=str(errors[0].code or ""),
            fields=[e.field_name for e in errors if e.field_name],
        )

    def stock_lines(self, doc) -> list[tuple[str, str, Decimal]]:
        """(material, stock, quantity) the bill moves out; frozen while it is held (F2.4)."""
        lines = []
        for entry in doc.target_payload.get("FEntity", []):
            material = (entry.get("FMaterialID") or entry.get("FMaterialId") or {}).get(
                "FNumber", ""
            )
            stock = (entry.get("FStockID") or entry.get("FStockId") or {}).get("FNumber", "")
            lines.append((material, stock, Decimal(str(entry.get("FRealQty", 0)))))
        return lines


def business_error_problem(exc: BusinessError) -> Problem:
    return Problem(
        exc.message,
        error_class=ErrorClass.REMOTE_REJECTED,
        code=str(exc.code or ""),
        system="kingdee",
        stage="load",
    )
