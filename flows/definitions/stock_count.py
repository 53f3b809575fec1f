"""F8 Stock counts (盘点): confirmed Jushuitan count documents become Kingdee other inbound
(STK_MISCELLANEOUS, 盘盈 gains) and other outbound (STK_MisDelivery, 盘亏 losses) bills, per
warehouse and material, exactly once (docs/requirements.md F8.1; docs/field-maps.md §5b); a
line whose variance exceeds the threshold (±2 % of book quantity by default) is revalued with a
Kingdee cost adjustment bill (HS_AdjustmentBill, built from the `cost_adjust` setting; off until
the Kingdee preflight proved it: docs/protocols/kingdee.md §4.16) and a finance review ticket
links both (F8.2).

One count yields up to two source records, `count:<io_id>:gain` and `count:<io_id>:loss`, so a
gain bill that landed is never held back by a loss bill waiting for stock. Lines of the same
SKU are summed (one Kingdee line per material). `items[].qty` is the signed difference and
`r_qty` the counted quantity, so the book quantity before the count is `r_qty - qty`.

Revaluation rule (F8.2), per material line of one direction:
- variance % = |qty| / book × 100; it triggers when strictly greater than the threshold
  (`revaluation_threshold_percent`, default 2): exactly 2 % does not trigger.
- zero book quantity (`zero_book_policy`): "revalue" (default) treats any variance on an
  empty book as unbounded and revalues it; "skip" never revalues such a line.
- value = variance × current unit cost, rounded once to the cent (ROUND_HALF_UP). The unit
  cost comes from `unit_cost_source`: "jushuitan" (default; the SKU's cost_price) or
  "kingdee" (a BD_MATERIAL field named by `unit_cost_field`, default F_PAEZ_UnitCost).

Writing is two steps on deterministic numbers: the bill (`<prefix><io_id>-PY` / `-PK`), then
the cost adjustment (`...-CA`). Each landed step is kept in `doc.progress`, so a retry after a
failed second step never writes the bill again; an unknown outcome is resolved by looking
both numbers up before anything is resent.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _

from mappings.errors import MappingMissing

from ..choices import ErrorClass, FlowCode, System
from . import register
from .base import FlowContext, LoadResult, Problem, SourceRecord, ValidationProblem
from .kingdee_common import AUDITED, KingdeeBillFlow, business_date, custom_field, mapping_problem

GAIN, LOSS = "gain", "loss"
CENT = Decimal("0.01")
PERCENT = Decimal("100")
DEFAULT_THRESHOLD = Decimal("2")
REVIEW_ERROR_CLASS = "revaluation_review"

# Per direction: Kingdee form, bill type, number suffix, note word, field spellings
# (docs/protocols/kingdee.md §4.10, §4.11).
DIRECTIONS: dict[str, dict[str, str]] = {
    GAIN: {
        "form": "STK_MISCELLANEOUS",
        "bill_type": "QTRKD01_SYS",
        "suffix": "PY",
        "note": "盘盈",
        "material": "FMATERIALID",
        "stock": "FSTOCKID",
        "status": "FSTOCKSTATUSID",
        "owner_type": "FOWNERTYPEID",
        "owner": "FOWNERID",
        "note_key": "FNOTE",
    },
    LOSS: {
        "form": "STK_MisDelivery",
        "bill_type": "QTCKD01_SYS",
        "suffix": "PK",
        "note": "盘亏",
        "material": "FMaterialId",
        "stock": "FStockId",
        "status": "FStockStatusId",
        "owner_type": "FOwnerTypeId",
        "owner": "FOwnerId",
        "note_key": "FNote",
    },
}


def _qty(value: Any, field: str) -> Decimal:
    try:
        return Decimal(str(value if value not in (None, "") else 0))
    except InvalidOperation as exc:
        raise ValidationProblem(
            _("%(field)s must be a number, got %(value)r.") % {"field": field, "value": value},
            field_name=field,
            missing=False,
        ) from exc


def direction_of(document) -> str:
    return LOSS if document.source_key.endswith(f":{LOSS}") else GAIN


def count_lines(count: dict, direction: str) -> list[dict]:
    """The count's lines of one direction, summed per SKU: sku, variance (signed), book and
    counted quantity."""
    by_sku: dict[str, dict] = {}
    for n, item in enumerate(count.get("items") or [], start=1):
        qty = _qty(item.get("qty"), f"items[{n}].qty")
        if qty == 0 or (qty > 0) != (direction == GAIN):
            continue
        counted = _qty(item.get("r_qty"), f"items[{n}].r_qty")
        line = by_sku.setdefault(
            str(item.get("sku_id") or ""),
            {
                "sku_id": str(item.get("sku_id") or ""),
                "variance": Decimal(0),
                "counted": Decimal(0),
            },
        )
        line["variance"] += qty
        line["counted"] += counted
    for line in by_sku.values():
        line["book"] = line["counted"] - line["variance"]
    return list(by_sku.values())


def needs_revaluation(
    *, variance: Decimal, book: Decimal, threshold: Decimal, zero_book_policy: str
) -> bool:
    """F8.2: strictly more than `threshold` percent of the book quantity (see module doc)."""
    if variance == 0:
        return False
    if book <= 0:
        return zero_book_policy != "skip"
    return abs(variance) * PERCENT > threshold * book


def count_records(count: dict) -> list[SourceRecord]:
    """One source record per direction present in the count (a count with no variance is
    kept once, filtered, so "why did count X not sync?" has an answer)."""
    from connectors.jushuitan.client import parse_time

    io_id = count.get("io_id")
    skus = [str(i.get("sku_id")) for i in count.get("items") or [] if i.get("sku_id")]
    common = {
        "payload": count,
        "modified_at": parse_time(count.get("modified")),
        "skus": skus,
        "warehouse_code": str(count.get("wms_co_id") or ""),
    }
    records = []
    for direction in (GAIN, LOSS):
        try:
            present = bool(count_lines(count, direction))
        except ValidationProblem:
            present = True  # let validation name the bad field
        if present:
            records.append(SourceRecord(source_key=f"count:{io_id}:{direction}", **common))
    if not records:
        record = SourceRecord(source_key=f"count:{io_id}:{GAIN}", **common)
        record.filter_reason = _("the count has no gain or loss lines")
        records.append(record)
    if count.get("status") not in (None, "Confirmed"):
        for record in records:
            record.filter_reason = _("count status is %(status)s, not Confirmed") % {
                "status": count.get("status")
            }
    return records


@register
class StockCount(KingdeeBillFlow):
    code = FlowCode.STOCK_COUNT
    source_system = System.JUSHUITAN
    form_id = "STK_MISCELLANEOUS"  # per document: see DIRECTIONS
    pull_window_seconds = 24 * 3600
    bill_prefix = "JSTPD"

    # --- extract ------------------------------------------------------------------------
    def extract(self, ctx: FlowContext, *, start, end):
        for count in ctx.jushuitan.stock_counts(start=start, end=end, status="Confirmed"):
            yield from count_records(count)

    # --- validate -----------------------------------------------------------------------
    def validate(self, ctx: FlowContext, document) -> None:
        count = document.source_payload
        for field in ("io_id", "io_date"):
            if count.get(field) in (None, ""):
                raise ValidationProblem(
                    _("The count has no %(field)s.") % {"field": field}, field_name=field
                )
        if business_date(count.get("io_date")) is None:
            raise ValidationProblem(
                _("io_date %(value)r is not a date.") % {"value": count.get("io_date")},
                field_name="io_date",
                missing=False,
            )
        for line in count_lines(count, direction_of(document)):
            if not line["sku_id"]:
                raise ValidationProblem(_("A count line has no sku_id."), field_name="sku_id")

    # --- map and transform ----------------------------------------------------------------
    def transform(self, ctx: FlowContext, document) -> tuple[dict, str]:
        count = document.source_payload
        direction = direction_of(document)
        spec = DIRECTIONS[direction]
        org = ctx.integration.kingdee.org_number
        lines = count_lines(count, direction)
        try:
            stock = ctx.mappings.stock_for_warehouse(
                count.get("wms_co_id") or 0, int(count.get("wh_id") or 1)
            )
            materials = [ctx.mappings.material_for_sku(line["sku_id"]) for line in lines]
        except MappingMissing as exc:
            raise mapping_problem(exc) from exc
        on_date = business_date(count["io_date"])
        prefix = ctx.setting("bill_prefix", self.bill_prefix)
        bill_no = f"{prefix}{count['io_id']}-{spec['suffix']}"
        f = lambda name: custom_field(ctx, name)  # noqa: E731
        entries = []
        for line, material in zip(lines, materials, strict=True):
            entries.append(
                {
                    spec["material"]: {"FNumber": material},
                    "FQty": str(abs(line["variance"])),
                    spec["stock"]: {"FNumber": stock},
                    spec["status"]: {"FNumber": ctx.setting("stock_status", "KCZT01_SYS")},
                    spec["owner_type"]: "BD_OwnerOrg",
                    spec["owner"]: {"FNumber": org},
                    "FEntryNote": f"{spec['note']} {count['io_id']} {line['sku_id']}"[:255],
                    f("SkuId"): line["sku_id"],
                    f("BookQty"): str(line["book"]),
                    f("CountedQty"): str(line["counted"]),
                }
            )
        bill = {
            "FBillNo": bill_no,
            "FBillTypeID": {"FNumber": spec["bill_type"]},
            "FDate": on_date.isoformat(),
            "FStockOrgId": {"FNumber": org},
            "FStockDirect": "GENERAL",
            "FOwnerTypeIdHead": "BD_OwnerOrg",
            "FOwnerIdHead": {"FNumber": org},
            spec[
                "note_key"
            ]: f"{spec['note']} {count['io_id']} {count.get('remark') or ''}".strip()[:255],
            f("CountNo"): str(count["io_id"]),
            "FEntity": entries,
        }
        if direction == LOSS:
            bill["FPickOrgId"] = {"FNumber": org}
        if ctx.setting("dept", ""):
            bill["FDEPTID" if direction == GAIN else "FDeptId"] = {
                "FNumber": ctx.setting("dept", "")
            }
        revaluation = self._revaluation(ctx, lines, materials, stock, bill_no, on_date, count)
        payload = {
            "form_id": spec["form"],
            "bill": bill,
            "cost_adjust": revaluation["model"] if revaluation else None,
            "revaluation": revaluation["lines"] if revaluation else [],
        }
        if revaluation and revaluation.get("off"):
            payload["revaluation_off"] = True
        return payload, bill_no

    def _revaluation(self, ctx, lines, materials, stock, bill_no, on_date, count) -> dict | None:
        threshold = Decimal(str(ctx.setting("revaluation_threshold_percent", DEFAULT_THRESHOLD)))
        policy = str(ctx.setting("zero_book_policy", "revalue"))
        flagged = [
            (line, material)
            for line, material in zip(lines, materials, strict=True)
            if needs_revaluation(
                variance=line["variance"],
                book=line["book"],
                threshold=threshold,
                zero_book_policy=policy,
            )
        ]
        if not flagged:
            return None
        if not revaluation_proved(ctx):
            # F8.2 waits for the Kingdee preflight to prove the cost adjustment form on this
            # tenant; the variance is still reported to finance (after_synced).
            return {
                "model": None,
                "lines": [
                    {
                        "sku_id": line["sku_id"],
                        "material": material,
                        "book": str(line["book"]),
                        "variance": str(line["variance"]),
                    }
                    for line, material in flagged
                ],
                "off": True,
            }
        costs = unit_costs(ctx, {line["sku_id"]: material for line, material in flagged})
        org = ctx.integration.kingdee.org_number
        spec = cost_adjust_spec(ctx)
        keys = spec["keys"]
        entries, summary = [], []
        for line, material in flagged:
            cost = costs[line["sku_id"]]
            value = (line["variance"] * cost).quantize(CENT, rounding=ROUND_HALF_UP)
            percent = (
                (abs(line["variance"]) * PERCENT / line["book"]).quantize(
                    CENT, rounding=ROUND_HALF_UP
                )
                if line["book"] > 0
                else None
            )
            entries.append(
                {
                    keys["stock_org"]: {"FNumber": org},
                    keys["material"]: {"FNumber": material},
                    keys["stock_status"]: {"FNumber": ctx.setting("stock_status", "KCZT01_SYS")},
                    keys["stock"]: {"FNumber": stock},
                    keys["owner_type"]: "BD_OwnerOrg",
                    keys["owner"]: {"FNumber": org},
                    keys["amount"]: str(value),
                }
            )
            summary.append(
                {
                    "sku_id": line["sku_id"],
                    "material": material,
                    "book": str(line["book"]),
                    "variance": str(line["variance"]),
                    "variance_percent": str(percent) if percent is not None else None,
                    "unit_cost": str(cost),
                    "value": str(value),
                }
            )
        model = {
            "FBillNo": f"{bill_no}-CA",
            keys["bill_type"]: {"FNumber": spec["bill_type"]},
            keys["date"]: on_date.isoformat(),
            keys["acct_system"]: {"FNumber": spec["acct_system"]},
            keys["acct_org"]: {"FNumber": org},
            keys["acct_policy"]: {"FNumber": spec["acct_policy"]},
            keys["business_type"]: spec["business_type"],
            keys["note"]: _("Revaluation for count %(io)s, bill %(bill)s")
            % {"io": count["io_id"], "bill": bill_no},
            custom_field(ctx, "SrcBillNo"): bill_no,
            spec["entry"]: entries,
        }
        return {"model": model, "lines": summary}

    # --- load: bill, then cost adjustment --------------------------------------------------
    def load(self, ctx: FlowContext, documents) -> dict[int, LoadResult]:
        results: dict[int, LoadResult] = {}
        by_form: dict[str, list] = {}
        for doc in documents:
            doc.progress = dict(doc.progress or {})
            if not doc.progress.get("bill_no"):
                by_form.setdefault(doc.target_payload["form_id"], []).append(doc)
        for form, docs in by_form.items():
            outcomes = self._write(ctx, form, [(d, d.target_payload["bill"]) for d in docs])
            for doc in docs:
                found = outcomes[doc.pk]
                if isinstance(found, LoadResult):
                    results[doc.pk] = found
                else:
                    doc.progress.update(bill_no=found[1], bill_id=found[0])
        adjust = [
            d
            for d in documents
            if d.pk not in results
            and d.target_payload.get("cost_adjust")
            and not d.progress.get("cost_adjust_no")
        ]
        if adjust:
            outcomes = self._write(
                ctx, cost_adjust_form(ctx), [(d, d.target_payload["cost_adjust"]) for d in adjust]
            )
            for doc in adjust:
                found = outcomes[doc.pk]
                if isinstance(found, LoadResult):
                    found.progress = doc.progress  # the bill step stays done
                    results[doc.pk] = found
                else:
                    doc.progress.update(cost_adjust_no=found[1], cost_adjust_id=found[0])
        for doc in documents:
            if doc.pk not in results:
                results[doc.pk] = LoadResult(
                    ok=True,
                    target_id=str(doc.progress["bill_id"]),
                    target_number=doc.progress["bill_no"],
                    progress=doc.progress,
                )
        return results

    def _write(self, ctx: FlowContext, form: str, pairs) -> dict[int, tuple | LoadResult]:
        """BatchSave (auto submit + audit) of one form; per document (id, number) or the
        LoadResult of its problem. A duplicate number is looked up: ours → done."""
        answer = ctx.kingdee.batch_save(
            form, [model for _doc, model in pairs], auto_submit_audit=True, validate_base_data=True
        )
        out: dict[int, tuple | LoadResult] = {}
        duplicates, unconfirmed = [], []
        for index, (doc, model) in enumerate(pairs):
            saved, errors = answer.saved(index, model["FBillNo"]), answer.errors_for(index)
            if saved is not None and not errors:
                out[doc.pk] = (saved.id, saved.number)
            elif any(e.kind == "duplicate_bill_no" for e in errors):
                duplicates.append((doc, model["FBillNo"]))
            elif errors:
                out[doc.pk] = LoadResult(problem=self.problem_from(doc, errors))
            elif answer.reported_success:
                unconfirmed.append((doc, model["FBillNo"]))  # bare success: confirm by number
            else:
                out[doc.pk] = self._unknown()
        if unconfirmed:
            found = self._existing(ctx, form, unconfirmed)
            for doc, _number in unconfirmed:
                out[doc.pk] = found.get(doc.pk) or self._unknown()
        if duplicates:
            found = self._existing(ctx, form, duplicates)
            for doc, number in duplicates:
                out[doc.pk] = found.get(doc.pk) or LoadResult(
                    problem=Problem(
                        _("Kingdee already has a bill %(no)s that the portal did not write.")
                        % {"no": number},
                        error_class=ErrorClass.DUPLICATE,
                        subject=number,
                        system="kingdee",
                        stage="load",
                    )
                )
        return out

    def _existing(self, ctx: FlowContext, form: str, pairs) -> dict[int, tuple | LoadResult]:
        """Bills of this form found by number: audited → (id, number); saved but not yet
        audited → submitted / audited now."""
        refs = ctx.kingdee.lookup_bills(form, key_field="FBillNo", values=[n for _d, n in pairs])
        out: dict[int, tuple | LoadResult] = {}
        pending = []
        for doc, number in pairs:
            ref = refs.get(number)
            if ref is None:
                continue
            if ref.status == AUDITED:
                out[doc.pk] = (ref.id, ref.number)
            else:
                pending.append((doc, ref))
        if pending:
            outcome = ctx.kingdee.finish_bills(
                form, {ref.number: ref.status for _d, ref in pending}
            )
            for doc, ref in pending:
                errors = outcome.get(ref.number, [])
                out[doc.pk] = (
                    LoadResult(problem=self.problem_from(doc, errors))
                    if errors
                    else (ref.id, ref.number)
                )
        return out

    def find_existing(self, ctx: FlowContext, documents) -> dict[int, LoadResult]:
        """Check-before-resend for both steps: a step found in Kingdee is recorded in the
        progress; the document counts as landed once every step it needs is there."""
        results: dict[int, LoadResult] = {}
        by_form: dict[str, list] = {}
        for doc in documents:
            doc.progress = dict(doc.progress or {})
            if not doc.target_payload:
                continue
            if not doc.progress.get("bill_no"):
                by_form.setdefault(doc.target_payload["form_id"], []).append(doc)
        for form, docs in by_form.items():
            found = self._existing(
                ctx, form, [(d, d.target_payload["bill"]["FBillNo"]) for d in docs]
            )
            for doc in docs:
                hit = found.get(doc.pk)
                if isinstance(hit, LoadResult):
                    results[doc.pk] = hit
                elif hit is not None:
                    doc.progress.update(bill_no=hit[1], bill_id=hit[0])
        adjust = [
            d
            for d in documents
            if d.pk not in results
            and d.progress.get("bill_no")
            and (d.target_payload or {}).get("cost_adjust")
            and not d.progress.get("cost_adjust_no")
        ]
        if adjust:
            found = self._existing(
                ctx,
                cost_adjust_form(ctx),
                [(d, d.target_payload["cost_adjust"]["FBillNo"]) for d in adjust],
            )
            for doc in adjust:
                hit = found.get(doc.pk)
                if isinstance(hit, LoadResult):
                    hit.progress = doc.progress
                    results[doc.pk] = hit
                elif hit is not None:
                    doc.progress.update(cost_adjust_no=hit[1], cost_adjust_id=hit[0])
        for doc in documents:
            if doc.pk in results or not doc.target_payload:
                continue
            done = doc.progress.get("bill_no") and (
                not doc.target_payload.get("cost_adjust") or doc.progress.get("cost_adjust_no")
            )
            results[doc.pk] = (
                LoadResult(
                    ok=True,
                    target_id=str(doc.progress["bill_id"]),
                    target_number=doc.progress["bill_no"],
                    progress=doc.progress,
                )
                if done
                else LoadResult(progress=doc.progress)  # not (all) there: send what is missing
            )
        return results

    def stock_lines(self, doc) -> list[tuple[str, str, Decimal]]:
        spec = DIRECTIONS[direction_of(doc)]
        lines = []
        for entry in (doc.target_payload.get("bill") or {}).get("FEntity", []):
            lines.append(
                (
                    (entry.get(spec["material"]) or {}).get("FNumber", ""),
                    (entry.get(spec["stock"]) or {}).get("FNumber", ""),
                    Decimal(str(entry.get("FQty", 0))),
                )
            )
        return lines

    def _revaluation_off_ticket(self, ctx: FlowContext, doc) -> None:
        from core.roles import Role
        from monitoring import services as monitoring

        lines = doc.target_payload.get("revaluation") or []
        listing = "; ".join(
            _("%(sku)s: book %(book)s, variance %(var)s")
            % {"sku": x["sku_id"], "book": x["book"], "var": x["variance"]}
            for x in lines
        )
        form = cost_adjust_form(ctx)
        monitoring.ticket_open_or_update(
            trace_key=f"{doc.trace_key}:revaluation",
            error_class=REVIEW_ERROR_CLASS,
            message=_(
                "Stock count %(io)s: the variance exceeds the threshold, but revaluation is off "
                "until the Kingdee preflight has proved the cost adjustment form %(form)s on "
                "this tenant, so %(bill)s was not revalued. Run the preflight on the Kingdee "
                "connection, or revalue by hand. %(lines)s"
            )
            % {
                "io": doc.source_payload.get("io_id"),
                "form": form,
                "bill": doc.progress["bill_no"],
                "lines": listing,
            },
            subject=doc.progress["bill_no"],
            document=doc,
            system="kingdee",
            role=Role.FINANCE,
            detail={"bill_no": doc.progress["bill_no"], "cost_adjust_form": form, "lines": lines},
        )

    # --- after: the finance review ticket (F8.2) ---------------------------------------------
    def after_synced(self, ctx: FlowContext, documents) -> None:
        from core.roles import Role
        from monitoring import services as monitoring

        for doc in documents:
            progress = doc.progress or {}
            if doc.target_payload.get("revaluation_off") and progress.get("bill_no"):
                self._revaluation_off_ticket(ctx, doc)
                continue
            if not progress.get("cost_adjust_no"):
                continue
            lines = doc.target_payload.get("revaluation") or []
            total = sum((Decimal(x["value"]) for x in lines), Decimal(0))
            listing = "; ".join(
                _("%(sku)s: book %(book)s, variance %(var)s × %(cost)s = %(value)s")
                % {
                    "sku": x["sku_id"],
                    "book": x["book"],
                    "var": x["variance"],
                    "cost": x["unit_cost"],
                    "value": x["value"],
                }
                for x in lines
            )
            monitoring.ticket_open_or_update(
                trace_key=f"{doc.trace_key}:revaluation",
                error_class=REVIEW_ERROR_CLASS,
                message=_(
                    "Stock count %(io)s: the variance exceeds the threshold, so %(bill)s was "
                    "revalued by cost adjustment %(adjust)s (total %(total)s CNY). %(lines)s"
                )
                % {
                    "io": doc.source_payload.get("io_id"),
                    "bill": progress["bill_no"],
                    "adjust": progress["cost_adjust_no"],
                    "total": total,
                    "lines": listing,
                },
                subject=f"{progress['bill_no']} / {progress['cost_adjust_no']}",
                document=doc,
                system="kingdee",
                role=Role.FINANCE,
                detail={
                    "bill_form": doc.target_payload.get("form_id"),
                    "bill_no": progress["bill_no"],
                    "cost_adjust_form": cost_adjust_form(ctx),
                    "cost_adjust_no": progress["cost_adjust_no"],
                    "lines": lines,
                    "total": str(total),
                },
            )


# F8.2 cost adjustment bill (存货核算 成本调整单), docs/protocols/kingdee.md §4.16. Every key and
# value is a flow setting (`cost_adjust`: {"form": ..., "keys": {"amount": ...}, ...}) because
# tenants differ and only the form id and keys of one public integration are confirmed.
DEFAULT_COST_ADJUST: dict[str, Any] = {
    "form": "HS_AdjustmentBill",
    "entry": "FEntity",
    "bill_type": "CBTZD01_SYS",
    "acct_system": "KJHSTX01_SYS",
    "acct_policy": "KJZC01_SYS",
    "business_type": "0",
    "keys": {
        "bill_type": "FBillTypeID",
        "date": "FDate",
        "acct_system": "FACCTGSYSTEMID",
        "acct_org": "FAcctOrgID",
        "acct_policy": "FACCTPOLICYID",
        "business_type": "FBusinessType",
        "note": "FDESCRIPTION",
        "stock_org": "FStockOrgID",
        "material": "FMaterialID",
        "stock_status": "FSTOCKSTATUSID",
        "stock": "FStockID",
        "owner_type": "FOwnerTypeID",
        "owner": "FOwnerID",
        "amount": "FAdjustmentAMOUNT",
    },
}


def cost_adjust_spec(ctx: FlowContext) -> dict[str, Any]:
    """The cost adjustment bill as configured: DEFAULT_COST_ADJUST overlaid with the flow
    setting `cost_adjust` (and the older `cost_adjust_form` / `cost_adjust_entry` /
    `cost_adjust_bill_type`)."""
    configured = dict(ctx.setting("cost_adjust", {}) or {})
    spec = {**DEFAULT_COST_ADJUST, **{k: v for k, v in configured.items() if k != "keys"}}
    spec["keys"] = {**DEFAULT_COST_ADJUST["keys"], **(configured.get("keys") or {})}
    for old, new in (
        ("cost_adjust_form", "form"),
        ("cost_adjust_entry", "entry"),
        ("cost_adjust_bill_type", "bill_type"),
    ):
        if ctx.setting(old, "") and new not in configured:
            spec[new] = ctx.setting(old, "")
    return spec


def cost_adjust_form(ctx: FlowContext) -> str:
    return str(cost_adjust_spec(ctx)["form"])


def revaluation_proved(ctx: FlowContext) -> bool:
    """F8.2 runs only once the latest Kingdee preflight proved the cost adjustment form and
    every key the bill uses on this tenant (connectors.kingdee.preflight), and the flow
    setting `revaluation` is not false."""
    if not ctx.setting("revaluation", True):
        return False
    memo = ctx.memo.setdefault("revaluation_proved", {})
    if "ok" not in memo:
        from connectors.kingdee.preflight import form_proved

        memo["ok"] = form_proved(integration=ctx.integration, form_id=cost_adjust_form(ctx))
    return memo["ok"]


def unit_costs(ctx: FlowContext, materials_by_sku: dict[str, str]) -> dict[str, Decimal]:
    """Current unit cost (CNY) per SKU, from `unit_cost_source` (see the module doc).
    A SKU without a positive cost stops the record for a person."""
    source = str(ctx.setting("unit_cost_source", "jushuitan"))
    costs: dict[str, Decimal] = {}
    if source == "kingdee":
        from connectors.kingdee.client import quote

        field = str(ctx.setting("unit_cost_field", custom_field(ctx, "UnitCost")))
        numbers = sorted(set(materials_by_sku.values()))
        rows = ctx.kingdee.iter_bill_query(
            "BD_MATERIAL",
            ["FNumber", field],
            filter_string=f"FNumber in ({','.join(quote(n) for n in numbers)})",
        )
        by_material = {row["FNumber"]: row.get(field) for row in rows}
        raw = {sku: by_material.get(m) for sku, m in materials_by_sku.items()}
        where = f"BD_MATERIAL.{field}"
    else:
        rows = ctx.jushuitan.skus_by_ids(sorted(materials_by_sku))
        by_sku = {str(r.get("sku_id")): r.get("cost_price") for r in rows}
        raw = {sku: by_sku.get(sku) for sku in materials_by_sku}
        where = "cost_price"
    for sku, value in raw.items():
        try:
            cost = Decimal(str(value)) if value not in (None, "") else Decimal(0)
        except InvalidOperation:
            cost = Decimal(0)
        if cost <= 0:
            raise ValidationProblem(
                _(
                    "SKU %(sku)s has no current unit cost (%(where)s), so its count variance "
                    "cannot be revalued. Enter the cost, then retry."
                )
                % {"sku": sku, "where": where},
                field_name=where,
            )
        costs[sku] = cost
    return costs
