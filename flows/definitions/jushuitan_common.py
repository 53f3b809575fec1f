"""What the Kingdee → Jushuitan document flows share (S2: F4, F5, F7, F8.3).

Source: audited Kingdee bills (`FDocumentStatus='C'`) pulled with ExecuteBillQuery by an
approve / modify date window (docs/field-maps.md §3–§5), one row per entry row grouped back into
bills; or pushed by Kingdee in the same shape (query keys such as `FMaterialId.FNumber`, or the
Save model's nested `{"FNumber": ...}` references). Every bill becomes one SyncDocument keyed by
form and FBillNo.

Target: one or more Jushuitan warehouse documents ("steps": a bill split by warehouse, or a
transfer's outbound leg then its inbound leg), each written under a deterministic external id
that Jushuitan deduplicates on (docs/field-maps.md §7). `doc.progress["done"]` records every step
that landed (external id → Jushuitan io_id); a retry sends only the steps still missing, so a
landed step is never written twice, and a write whose answer was lost is first looked up by
its external id (find_existing). A document with some but not all steps landed is "partly
written" (for a transfer: half moved); its progress note and its ticket say so.
"""

from __future__ import annotations

from abc import abstractmethod
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from connectors.errors import AuthError, BusinessError, TransientError, UnknownOutcome
from core.messages import gettext as _
from mappings.errors import MappingMissing

from ..choices import ErrorClass, System
from .base import FlowContext, FlowDefinition, LoadResult, Problem, SourceRecord, ValidationProblem
from .kingdee_common import mapping_problem

SHANGHAI = ZoneInfo("Asia/Shanghai")
AUDITED = "C"
ENTRIES = "entries"
FORM = "FormId"

# Step kinds → (Jushuitan query that finds a document by its external id, batch writer?).
STEP_QUERIES = {
    "purchase_in": "purchase_in",
    "purchase_out": "purchase_out",
    "other_inout": "other_inout",
}


@dataclass(frozen=True)
class SourceForm:
    """One Kingdee form a flow reads: its entry key and the query keys it needs.

    `header` / `entry` map a short name used by the flow to the ExecuteBillQuery key; the
    `required_entry` names must be present (and the quantity positive) on every entry row.
    """

    form_id: str
    entry_key: str
    header: dict[str, str] = field(default_factory=dict)
    entry: dict[str, str] = field(default_factory=dict)
    required_entry: tuple[str, ...] = ("material", "qty")
    qty: str = "qty"
    stock: str = "stock"

    def with_overrides(self, overrides: dict[str, str]) -> SourceForm:
        """The same form with some query keys replaced (flow setting `source_keys`, e.g.
        {"expected_arrival": "F_ABC_ArrivalDate"} for a tenant's own custom field)."""
        if not overrides:
            return self
        return replace(
            self,
            header={k: overrides.get(k, v) for k, v in self.header.items()},
            entry={k: overrides.get(k, v) for k, v in self.entry.items()},
        )

    def keys(self) -> list[str]:
        base = ["FID", "FBillNo", "FDocumentStatus", "FDate", "FApproveDate", "FModifyDate"]
        entry_id = f"{self.entry_key}_FEntryID"
        return list(dict.fromkeys([*base, *self.header.values(), entry_id, *self.entry.values()]))


def kingdee_time(value: Any) -> datetime | None:
    """A Kingdee date ('2026-05-01T10:15:00', Beijing wall time) as an aware datetime."""
    if not value:
        return None
    text = str(value).strip().replace("T", " ")[:19]
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=SHANGHAI)
        except ValueError:
            continue
    return None


def kingdee_filter_time(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


def quantity(value: Any, field_name: str) -> Decimal:
    """A quantity as Decimal; raises ValidationProblem naming the field when it is no number."""
    try:
        return Decimal(str(value if value not in (None, "") else 0))
    except InvalidOperation as exc:
        raise ValidationProblem(
            _("%(field)s must be a number, got %(value)r.") % {"field": field_name, "value": value},
            field_name=field_name,
            missing=False,
        ) from exc


def whole(value: Decimal, field_name: str) -> int:
    """Jushuitan counts pieces: a fractional quantity cannot be sent."""
    if value != value.to_integral_value():
        raise ValidationProblem(
            _("%(field)s is %(value)s; Jushuitan takes whole quantities only.")
            % {"field": field_name, "value": value},
            field_name=field_name,
            missing=False,
        )
    return int(value)


def _lookup(item: dict, key: str) -> Any:
    """A pushed value by query key, case-insensitively: 'FSupplierId.FNumber' also matches
    'FSupplierId_FNumber' and the Save model's {'FSupplierId': {'FNumber': ...}}."""
    lowered = {str(k).lower(): v for k, v in item.items()}
    low = key.lower()
    for candidate in (low, low.replace(".", "_")):
        if candidate in lowered:
            value = lowered[candidate]
            return value.get("FNumber", value.get("FNUMBER")) if isinstance(value, dict) else value
    if "." in low:
        base, sub = low.split(".", 1)
        value = lowered.get(base)
        if isinstance(value, dict):
            inner = {str(k).lower(): v for k, v in value.items()}
            return inner.get(sub)
    return None


class JushuitanDocumentFlow(FlowDefinition):
    """Kingdee audited bills → Jushuitan warehouse documents, step by step (see module doc)."""

    source_system = System.KINGDEE
    target_system = System.JUSHUITAN
    pull_window_seconds = 24 * 3600
    forms: ClassVar[tuple[SourceForm, ...]] = ()

    # --- extract ----------------------------------------------------------------------------
    def source_forms(self, ctx: FlowContext | None) -> list[SourceForm]:
        overrides = ctx.setting("source_keys", {}) if ctx is not None else {}
        return [form.with_overrides(overrides) for form in self.forms]

    def form_for(self, form_id: str, ctx: FlowContext | None = None) -> SourceForm:
        forms = self.source_forms(ctx)
        for form in forms:
            if form.form_id.lower() == str(form_id or "").lower():
                return form
        return forms[0]

    def extract(self, ctx: FlowContext, *, start: datetime, end: datetime):
        """Audited bills approved or modified in [start, end), one record per bill."""
        s, e = kingdee_filter_time(start), kingdee_filter_time(end)
        fields = ctx.setting("date_fields", ["FApproveDate", "FModifyDate"])
        window = " or ".join(f"({f}>='{s}' and {f}<'{e}')" for f in fields)
        for form in self.source_forms(ctx):
            keys = form.keys()
            rows = ctx.kingdee.iter_bill_query(
                form.form_id,
                keys,
                filter_string=f"FDocumentStatus='{AUDITED}' and ({window})",
                order_string=f"FID ASC, {form.entry_key}_FEntryID ASC",
            )
            bill: dict | None = None
            for row in rows:
                if bill is None or bill["FID"] != row["FID"]:
                    if bill is not None:
                        yield self.record(bill, ctx)
                    bill = self._header(form, row)
                bill[ENTRIES].append(self._entry(form, row))
            if bill is not None:
                yield self.record(bill, ctx)

    def _header(self, form: SourceForm, row: dict) -> dict:
        header = {
            FORM: form.form_id,
            "FID": row.get("FID"),
            "FBillNo": str(row.get("FBillNo") or ""),
            "FDocumentStatus": str(row.get("FDocumentStatus") or ""),
            "FDate": row.get("FDate"),
            "FApproveDate": row.get("FApproveDate"),
            "FModifyDate": row.get("FModifyDate"),
            ENTRIES: [],
        }
        for name, key in form.header.items():
            header[name] = row.get(key)
        return header

    def _entry(self, form: SourceForm, row: dict) -> dict:
        entry = {"entry_id": row.get(f"{form.entry_key}_FEntryID")}
        for name, key in form.entry.items():
            value = row.get(key)
            entry[name] = str(value) if isinstance(value, Decimal) else value
        return entry

    def record(self, bill: dict, ctx: FlowContext | None = None) -> SourceRecord:
        form = self.form_for(bill.get(FORM), ctx)
        stocks = [str(e.get(form.stock) or "") for e in bill[ENTRIES]]
        modified = kingdee_time(bill.get("FModifyDate")) or kingdee_time(bill.get("FApproveDate"))
        record = SourceRecord(
            source_key=f"{form.form_id}:{bill['FBillNo']}",
            payload=bill,
            modified_at=modified,
            kingdee_bill_no=bill["FBillNo"],
            skus=[str(e.get("material")) for e in bill[ENTRIES] if e.get("material")],
            warehouse_code=next((s for s in stocks if s), ""),
        )
        if bill.get("FDocumentStatus") not in (None, "", AUDITED):
            record.filter_reason = _("Kingdee bill status is %(status)s, not audited (C)") % {
                "status": bill.get("FDocumentStatus")
            }
        elif ctx is not None:
            record.filter_reason = self.filter_reason(ctx, bill)
        return record

    def filter_reason(self, ctx: FlowContext, bill: dict) -> str:
        """Why an audited bill is kept but not synced ("" = sync it); flows override."""
        return ""

    def parse_push(self, ctx: FlowContext, item: dict) -> SourceRecord:
        """A bill pushed by Kingdee: query keys or the Save model's shape (see module doc)."""
        form = self.form_for(_lookup(item, "FormId") or "", ctx)
        number = _lookup(item, "FBillNo")
        if not number:
            raise ValidationProblem(_("FBillNo is required."), field_name="FBillNo")
        lowered = {str(k).lower(): v for k, v in item.items()}
        rows = lowered.get(form.entry_key.lower(), lowered.get(ENTRIES))
        if not isinstance(rows, list) or not rows:
            raise ValidationProblem(
                _("%(entry)s must be a non-empty list of entry rows.") % {"entry": form.entry_key},
                field_name=form.entry_key,
            )
        bill = {
            FORM: form.form_id,
            "FID": _lookup(item, "FID"),
            "FBillNo": str(number),
            "FDocumentStatus": str(_lookup(item, "FDocumentStatus") or AUDITED),
            "FDate": _lookup(item, "FDate"),
            "FApproveDate": _lookup(item, "FApproveDate"),
            "FModifyDate": _lookup(item, "FModifyDate"),
            ENTRIES: [],
        }
        for name, key in form.header.items():
            bill[name] = _lookup(item, key)
        for index, row in enumerate(rows, start=1):
            if not isinstance(row, dict):
                raise ValidationProblem(
                    _("Entry row %(n)d is not an object.") % {"n": index},
                    field_name=f"{form.entry_key}[{index}]",
                    missing=False,
                )
            entry = {"entry_id": _lookup(row, "FEntryID")}
            for name, key in form.entry.items():
                short = (
                    key.split("_", 1)[1] if key.lower().startswith(form.entry_key.lower()) else key
                )
                entry[name] = _lookup(row, short)
            for name in form.required_entry:
                if entry.get(name) in (None, ""):
                    raise ValidationProblem(
                        _("Entry row %(n)d has no %(field)s.")
                        % {"n": index, "field": form.entry[name]},
                        field_name=f"{form.entry_key}[{index}].{form.entry[name]}",
                    )
            qty = quantity(entry.get(form.qty), f"{form.entry_key}[{index}].{form.entry[form.qty]}")
            entry[form.qty] = str(qty)
            bill[ENTRIES].append(entry)
        return self.record(bill, ctx)

    # --- validate ---------------------------------------------------------------------------
    def validate(self, ctx: FlowContext, document) -> None:
        bill = document.source_payload
        form = self.form_for(bill.get(FORM), ctx)
        if not bill.get("FBillNo"):
            raise ValidationProblem(_("The bill has no FBillNo."), field_name="FBillNo")
        if not bill.get(ENTRIES):
            raise ValidationProblem(_("The bill has no entry rows."), field_name=form.entry_key)
        for n, entry in enumerate(bill[ENTRIES], start=1):
            for name in form.required_entry:
                if entry.get(name) in (None, ""):
                    raise ValidationProblem(
                        _("Entry row %(n)d has no %(field)s.")
                        % {"n": n, "field": form.entry[name]},
                        field_name=f"{form.entry_key}[{n}].{form.entry[name]}",
                    )
            qty = quantity(entry.get(form.qty), f"{form.entry_key}[{n}].{form.entry[form.qty]}")
            if qty <= 0:
                raise ValidationProblem(
                    _("Entry row %(n)d has quantity %(qty)s; it must be positive.")
                    % {"n": n, "qty": qty},
                    field_name=f"{form.entry_key}[{n}].{form.entry[form.qty]}",
                    missing=False,
                )
            whole(qty, f"{form.entry_key}[{n}].{form.entry[form.qty]}")

    # --- map and transform ------------------------------------------------------------------
    @abstractmethod
    def build_steps(self, ctx: FlowContext, document) -> list[dict]:
        """The Jushuitan writes of one bill, in order: [{"kind", "key", "body", "label"}]."""

    def transform(self, ctx: FlowContext, document) -> tuple[dict, str]:
        try:
            steps = self.build_steps(ctx, document)
        except MappingMissing as exc:
            raise mapping_problem(exc) from exc
        return {"steps": steps}, document.source_payload["FBillNo"]

    def sku(self, ctx: FlowContext, material: str) -> str:
        return ctx.mappings.material.to_internal(str(material))

    def wms(self, ctx: FlowContext, stock: str) -> int:
        return int(ctx.mappings.warehouse.to_internal(str(stock)))

    def supplier_id(self, ctx: FlowContext, supplier_number: str) -> int:
        """Jushuitan's numeric supplier_id of a Kingdee supplier (M3), memoised per run."""
        from mappings.models import SupplierMapping

        memo = ctx.memo.setdefault("supplier_ids", {})
        if supplier_number in memo:
            return memo[supplier_number]
        code = ctx.mappings.supplier.to_internal(str(supplier_number))
        known = (
            SupplierMapping.objects.filter(
                integration=ctx.integration, jst_supplier_code=code, jst_supplier_id__isnull=False
            )
            .values_list("jst_supplier_id", flat=True)
            .first()
        )
        if not known:
            rows = ctx.jushuitan.suppliers_by_codes([code])
            known = next(
                (r.get("supplier_id") for r in rows if str(r.get("supplier_code")) == code), None
            )
        if not known:
            raise MappingMissing(
                _("Jushuitan has no supplier with code %(code)s (Kingdee supplier %(number)s).")
                % {"code": code, "number": supplier_number},
                kind="supplier",
                key=supplier_number,
                integration_id=ctx.integration.pk,
                where=_("Sync the supplier to Jushuitan (F9) or add a supplier mapping."),
            )
        memo[supplier_number] = int(known)
        return int(known)

    def split_by_stock(self, document) -> dict[str, list[dict]]:
        form = self.form_for(document.source_payload.get(FORM))
        groups: dict[str, list[dict]] = defaultdict(list)
        for entry in document.source_payload[ENTRIES]:
            groups[str(entry.get(form.stock) or "")].append(entry)
        return dict(groups)

    # --- load -------------------------------------------------------------------------------
    def load(self, ctx: FlowContext, documents) -> dict[int, LoadResult]:
        """Send every document's next missing step, round after round; steps of one kind in
        one round go in one batch call where Jushuitan takes batches."""
        results: dict[int, LoadResult] = {}
        progress = {doc.pk: self._progress(doc) for doc in documents}
        pending = list(documents)
        while pending:
            wave: dict[str, list[tuple[Any, dict]]] = defaultdict(list)
            still = []
            for doc in pending:
                step = self._next_step(doc, progress[doc.pk])
                if step is None:
                    results[doc.pk] = self._landed(doc, progress[doc.pk])
                else:
                    wave[step["kind"]].append((doc, step))
                    still.append(doc)
            if not wave:
                break
            failed: set[int] = set()
            for kind, items in wave.items():
                for doc, outcome in self._send(ctx, kind, items):
                    if isinstance(outcome, str):
                        step = next(s for d, s in items if d.pk == doc.pk)
                        progress[doc.pk]["done"][step["key"]] = outcome
                    else:
                        problem, unknown = outcome
                        results[doc.pk] = self._failed(doc, progress[doc.pk], problem, unknown)
                        failed.add(doc.pk)
            pending = [doc for doc in still if doc.pk not in failed]
        return results

    def _send(self, ctx: FlowContext, kind: str, items: list[tuple[Any, dict]]):
        """Write steps of one kind; yield (doc, io_id) or (doc, (Problem, unknown))."""
        try:
            if kind in ("purchase_in", "purchase_out"):
                writer = (
                    ctx.jushuitan.create_purchase_ins
                    if kind == "purchase_in"
                    else ctx.jushuitan.create_purchase_outs
                )
                rows = {r.key: r for r in writer([step["body"] for _doc, step in items])}
                for doc, step in items:
                    row = rows.get(step["key"])
                    yield doc, self._row_outcome(step, row)
                return
            for doc, step in items:  # one call per document: settle each on its own
                try:
                    row = ctx.jushuitan.upload_other_inout(step["body"])
                except BusinessError as exc:
                    yield doc, (self._remote_problem(step, exc), False)
                    continue
                except (TransientError, AuthError) as exc:
                    yield doc, (self._remote_problem(step, exc), isinstance(exc, UnknownOutcome))
                    continue
                yield doc, self._row_outcome(step, row)
        except (TransientError, AuthError) as exc:
            unknown = isinstance(exc, UnknownOutcome)
            for doc, step in items:
                yield doc, (self._remote_problem(step, exc), unknown)
        except BusinessError as exc:
            for doc, step in items:
                yield doc, (self._remote_problem(step, exc), False)

    def _row_outcome(self, step: dict, row) -> Any:
        if row is None or getattr(row, "unknown", False) or (row.ok and not row.remote_id):
            problem = Problem(
                _("Jushuitan returned no result for %(key)s.") % {"key": step["key"]},
                error_class=ErrorClass.UNKNOWN_OUTCOME,
                subject=step["key"],
                system=System.JUSHUITAN,
                stage="load",
            )
            return problem, True
        if row.ok:
            return row.remote_id
        return (
            Problem(
                _("Jushuitan refused %(label)s %(key)s: %(msg)s")
                % {"label": step["label"], "key": step["key"], "msg": row.message},
                error_class=ErrorClass.REMOTE_REJECTED,
                subject=f"{step['key']}: {row.message[:80]}",
                system=System.JUSHUITAN,
                stage="load",
                step=step["key"],
            ),
            False,
        )

    def _remote_problem(self, step: dict, exc: Exception) -> Problem:
        from ..engine import _remote_problem

        problem = _remote_problem(exc, stage="load")
        problem.extra["step"] = step["key"]
        problem.message = _("%(label)s %(key)s: %(message)s") % {
            "label": step["label"],
            "key": step["key"],
            "message": problem.message,
        }
        return problem

    # --- progress ---------------------------------------------------------------------------
    @staticmethod
    def _progress(doc) -> dict:
        current = dict(doc.progress or {})
        current["done"] = dict(current.get("done") or {})
        return current

    @staticmethod
    def _steps(doc) -> list[dict]:
        return list((doc.target_payload or {}).get("steps") or [])

    def _next_step(self, doc, progress: dict) -> dict | None:
        return next((s for s in self._steps(doc) if s["key"] not in progress["done"]), None)

    def progress_note(self, doc, progress: dict) -> str:
        steps = self._steps(doc)
        done = [s for s in steps if s["key"] in progress["done"]]
        if len(done) == len(steps):
            return _("All %(n)d Jushuitan documents written.") % {"n": len(steps)}
        if not done:
            return ""
        return _("Partly written: %(done)s landed; %(missing)s still missing.") % {
            "done": ", ".join(
                f"{s['label']} {s['key']} (io {progress['done'][s['key']]})" for s in done
            ),
            "missing": ", ".join(f"{s['label']} {s['key']}" for s in steps if s not in done),
        }

    def _landed(self, doc, progress: dict) -> LoadResult:
        progress["partial"] = False
        progress["note"] = self.progress_note(doc, progress)
        ids = [progress["done"][s["key"]] for s in self._steps(doc)]
        result = LoadResult.landed(target_id=",".join(ids), target_number=doc.target_key)
        result.progress = progress
        return result

    def _failed(self, doc, progress: dict, problem: Problem, unknown: bool) -> LoadResult:
        partial = bool(progress["done"])
        progress["partial"] = partial
        progress["note"] = self.progress_note(doc, progress)
        if partial:
            problem.message = _(
                "%(note)s The next retry sends only what is missing. %(message)s"
            ) % {"note": progress["note"], "message": problem.message}
            problem.extra["partial"] = True
            problem.extra["done"] = dict(progress["done"])
        return LoadResult(problem=problem, unknown=unknown, progress=progress)

    # --- check before resend ----------------------------------------------------------------
    def find_existing(self, ctx: FlowContext, documents) -> dict[int, LoadResult]:
        """Look the missing steps up by external id; steps found are recorded as done. A
        document whose steps are all found has landed; the others are sent again (only what
        is still missing)."""
        progress = {doc.pk: self._progress(doc) for doc in documents}
        wanted: dict[str, list[tuple[Any, dict]]] = defaultdict(list)
        for doc in documents:
            for step in self._steps(doc):
                if step["key"] not in progress[doc.pk]["done"]:
                    wanted[STEP_QUERIES[step["kind"]]].append((doc, step))
        for query, items in wanted.items():
            rows = ctx.jushuitan.documents_by_external_ids(query, [s["key"] for _d, s in items])
            found = {}
            for row in rows:
                if row.get("status") in ("Cancelled", "Delete"):
                    continue
                found.setdefault(str(row.get("so_id")), str(row.get("io_id")))
            for doc, step in items:
                if step["key"] in found:
                    progress[doc.pk]["done"][step["key"]] = found[step["key"]]
        results: dict[int, LoadResult] = {}
        for doc in documents:
            if not self._steps(doc):
                continue
            if self._next_step(doc, progress[doc.pk]) is None:
                results[doc.pk] = self._landed(doc, progress[doc.pk])
            else:
                progress[doc.pk]["note"] = self.progress_note(doc, progress[doc.pk])
                progress[doc.pk]["partial"] = bool(progress[doc.pk]["done"])
                results[doc.pk] = LoadResult(progress=progress[doc.pk])
        return results
