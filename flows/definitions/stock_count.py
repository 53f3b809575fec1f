"""F8 Stock counts (盘点): confirmed Jushuitan count documents become Kingdee other inbound
(STK_MISCELLANEOUS, 盘盈 gains) and other outbound (STK_MisDelivery, 盘亏 losses) bills, per
warehouse and material, exactly once (docs/requirements.md F8.1; docs/field-maps.md §5b). The
accounting rules are in docs/finance/stock-counts.md (issue 19 point 5):

- Kingdee's cost: a loss bill carries no price, Kingdee costs it as any outbound; a gain bill is
  priced at Kingdee's own unit cost (the BD_MATERIAL field `unit_cost_field`), never at
  Jushuitan's cost price. No cost adjustment is written for the variance, so its value is
  counted once: variance × Kingdee unit cost (§2, §3).
- Approval: loss bills, and gain bills with a line over the F8.2 threshold, are saved only
  (not submitted, not audited); a finance ticket lists them and its "approve" action submits
  and audits them and posts the suspense and write-off voucher (finance/stock_counts.py).
- Abnormal losses (非正常损失): a count whose remark names one of `abnormal_loss_reasons` is
  flagged for the input-VAT transfer-out on its ticket and voucher.

One count yields up to two source records, `count:<io_id>:gain` and `count:<io_id>:loss`, so a
gain bill that landed is never held back by a loss bill waiting for stock. Lines of the same
SKU are summed (one Kingdee line per material). `items[].qty` is the signed difference and
`r_qty` the counted quantity, so the book quantity before the count is `r_qty - qty`.

F8.2 threshold, per material line: variance % = |qty| / book × 100, over the threshold when
strictly greater than `revaluation_threshold_percent` (default 2); zero book quantity
(`zero_book_policy`): "revalue" (default) treats it as over, "skip" never.

The bill number is deterministic (`<prefix><io_id>-PY` / `-PK`); an unknown outcome is resolved
by looking the number up before anything is resent, and a bill found saved while it waits for
approval is left saved.

Opt-in revaluation (`revaluation` = "propose", F8.2, issue 17 point 1): a count bill waiting for
approval may carry a saved cost adjustment (HS_AdjustmentBill `<bill no.>-CA`) re-valuing the
counted stock of its lines over the threshold, never the variance (count_revaluation.py;
docs/finance/stock-counts.md §7). It is written after the count bill, looked up before any
resend and queried back after save.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext_lazy

from core.messages import gettext as _
from mappings.errors import MappingMissing

from ..choices import ErrorClass, FlowCode, System
from . import count_revaluation, register
from .base import FlowContext, LoadResult, Problem, SourceRecord, ValidationProblem
from .kingdee_common import AUDITED, KingdeeBillFlow, business_date, custom_field, mapping_problem

GAIN, LOSS = "gain", "loss"
CENT = Decimal("0.01")
PERCENT = Decimal("100")
DEFAULT_THRESHOLD = Decimal("2")
APPROVAL_PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"
# 非正常损失 (增值税暂行条例实施细则 第二十四条): words of the count remark that flag it.
DEFAULT_ABNORMAL_REASONS = ["被盗", "丢失", "霉烂", "变质", "管理不善"]

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
    label = gettext_lazy("F8 Stock counts")
    requirement = "F8"
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
            stock = ctx.mappings.warehouse.to_external(
                count.get("wms_co_id") or 0, int(count.get("wh_id") or 1)
            )
            materials = [ctx.mappings.material.to_external(line["sku_id"]) for line in lines]
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
        review = review_lines(ctx, lines, materials, direction)
        if direction == GAIN:
            _price_gains(ctx, entries, review, materials)
        payload = {
            "form_id": spec["form"],
            "bill": bill,
            "review": review,
            "approval": needs_approval(direction, review),
            "abnormal": abnormal_reason(ctx, count) if direction == LOSS else "",
        }
        revaluation = count_revaluation.proposal(
            ctx,
            count=count,
            lines=lines,
            materials=materials,
            review=review,
            stock=stock,
            bill_no=bill_no,
            on_date=on_date,
        )
        if revaluation:
            payload["revaluation"] = revaluation
        return payload, bill_no

    # --- load: saved for approval, or saved and audited ------------------------------------
    def load(self, ctx: FlowContext, documents) -> dict[int, LoadResult]:
        results: dict[int, LoadResult] = {}
        groups: dict[tuple[str, bool], list] = {}
        for doc in documents:
            doc.progress = dict(doc.progress or {})
            key = (doc.target_payload["form_id"], bool(doc.target_payload.get("approval")))
            groups.setdefault(key, []).append(doc)
        for (form, approval), docs in groups.items():
            outcomes = self._write(
                ctx, form, [(d, d.target_payload["bill"]) for d in docs], audit=not approval
            )
            for doc in docs:
                found = outcomes[doc.pk]
                results[doc.pk] = (
                    found if isinstance(found, LoadResult) else self._landed(doc, found)
                )
        self._load_revaluations(ctx, [d for d in documents if results[d.pk].ok], results)
        return results

    def _load_revaluations(self, ctx: FlowContext, documents, results: dict) -> None:
        """After the count bills: save (never audit) the cost adjustment of each landed bill
        that proposes one, then read it back from Kingdee (F8.2, module doc). A failure leaves
        the count bill landed in the progress and the document in problem until retried."""
        todo = [
            d
            for d in documents
            if (d.target_payload.get("revaluation") or {}).get("bill")
            and not (d.progress.get("revaluation") or {}).get("status")
        ]
        by_form: dict[str, list] = {}
        for doc in todo:
            by_form.setdefault(doc.target_payload["revaluation"]["form"], []).append(doc)
        for form, docs in by_form.items():
            pairs = [(d, d.target_payload["revaluation"]["bill"]) for d in docs]
            outcomes = self._write(ctx, form, pairs, audit=False)
            for doc in docs:
                found = outcomes[doc.pk]
                if isinstance(found, LoadResult):
                    found.progress = doc.progress  # the count bill stays landed
                    results[doc.pk] = found
                else:
                    self._revaluation_landed(ctx, doc, found)

    @staticmethod
    def _revaluation_landed(ctx: FlowContext, doc, found: tuple) -> None:
        held = count_revaluation.query_back(ctx.kingdee, settings=ctx.settings, bill_no=found[1])
        doc.progress["revaluation"] = {**held, "bill_id": found[0]}

    @staticmethod
    def _landed(doc, found: tuple) -> LoadResult:
        doc.progress.update(bill_id=found[0], bill_no=found[1])
        if doc.target_payload.get("approval"):
            doc.progress.setdefault("approval", APPROVAL_PENDING)
        return LoadResult(
            ok=True, target_id=str(found[0]), target_number=found[1], progress=doc.progress
        )

    def _write(self, ctx: FlowContext, form: str, pairs, *, audit: bool) -> dict:
        """BatchSave of one form (auto submit + audit unless the bills wait for approval); per
        document (id, number) or the LoadResult of its problem. A duplicate number is looked
        up: ours → done."""
        answer = ctx.kingdee.batch_save(
            form, [model for _doc, model in pairs], auto_submit_audit=audit, validate_base_data=True
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
        for group, missing in ((unconfirmed, self._unknown), (duplicates, None)):
            if not group:
                continue
            found = self._existing(ctx, form, group)
            for doc, number in group:
                out[doc.pk] = found.get(doc.pk) or (
                    missing() if missing else self._not_ours(number)
                )
        return out

    @staticmethod
    def _not_ours(number: str) -> LoadResult:
        return LoadResult(
            problem=Problem(
                _("Kingdee already has a bill %(no)s that the portal did not write.")
                % {"no": number},
                error_class=ErrorClass.DUPLICATE,
                subject=number,
                system="kingdee",
                stage="load",
            )
        )

    def _existing(self, ctx: FlowContext, form: str, pairs) -> dict[int, tuple | LoadResult]:
        """Bills of this form found by number. A bill that waits for approval is landed when
        saved (never submitted or audited here); any other found saved is finished now."""
        refs = ctx.kingdee.lookup_bills(form, key_field="FBillNo", values=[n for _d, n in pairs])
        out: dict[int, tuple | LoadResult] = {}
        pending = []
        for doc, number in pairs:
            ref = refs.get(number)
            if ref is None:
                continue
            if ref.status == AUDITED or doc.target_payload.get("approval"):
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
        """Check-before-resend: a bill found in Kingdee is landed (see _existing)."""
        results: dict[int, LoadResult] = {}
        by_form: dict[str, list] = {}
        for doc in documents:
            doc.progress = dict(doc.progress or {})
            if doc.target_payload:
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
                    results[doc.pk] = self._landed(doc, hit)
                else:
                    results[doc.pk] = LoadResult(progress=doc.progress)  # not there: send it
        self._find_revaluations(ctx, [d for d in documents if d.pk in results], results)
        return results

    def _find_revaluations(self, ctx: FlowContext, documents, results: dict) -> None:
        """Check-before-resend of the cost adjustments: a landed count bill whose adjustment is
        not in Kingdee is sent again (load finds the count bill by its number)."""
        by_form: dict[str, list] = {}
        for doc in documents:
            proposed = (doc.target_payload or {}).get("revaluation") or {}
            if results[doc.pk].ok and proposed.get("bill"):
                by_form.setdefault(proposed["form"], []).append(doc)
        for form, docs in by_form.items():
            found = self._existing(
                ctx, form, [(d, d.target_payload["revaluation"]["bill_no"]) for d in docs]
            )
            for doc in docs:
                hit = found.get(doc.pk)
                if isinstance(hit, LoadResult):
                    hit.progress = doc.progress
                    results[doc.pk] = hit
                elif hit is not None:
                    self._revaluation_landed(ctx, doc, hit)
                else:
                    results[doc.pk] = LoadResult(progress=doc.progress)

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

    # --- the preflight gate of the opt-in revaluation (F8.2, issue 17 point 1) -------------
    def preflight_requirements(self, flow) -> list:
        return count_revaluation.proof_failures(flow)

    def settings_gate(self, flow, settings: dict) -> list:
        return count_revaluation.settings_gate(flow, settings)

    # --- after: the approval ticket (issue 19 point 5, F8.2) ---------------------------------
    def after_synced(self, ctx: FlowContext, documents) -> None:
        from finance.stock_counts import approval_ticket_open

        for doc in documents:
            if (doc.progress or {}).get("approval") == APPROVAL_PENDING:
                approval_ticket_open(document=doc)


def review_lines(ctx: FlowContext, lines, materials, direction: str) -> list[dict]:
    """What finance reviews per material line: book, variance, variance % and whether it is
    over the F8.2 threshold; gains also carry Kingdee's unit cost (their price)."""
    threshold = Decimal(str(ctx.setting("revaluation_threshold_percent", DEFAULT_THRESHOLD)))
    policy = str(ctx.setting("zero_book_policy", "revalue"))
    skus = [x["sku_id"] for x in lines]
    costs = unit_costs(ctx, dict(zip(skus, materials, strict=True))) if direction == GAIN else {}
    review = []
    for line, material in zip(lines, materials, strict=True):
        percent = (
            (abs(line["variance"]) * PERCENT / line["book"]).quantize(CENT, rounding=ROUND_HALF_UP)
            if line["book"] > 0
            else None
        )
        cost = costs.get(line["sku_id"])
        row = {
            "sku_id": line["sku_id"],
            "material": material,
            "book": str(line["book"]),
            "variance": str(line["variance"]),
            "variance_percent": str(percent) if percent is not None else None,
            "over_threshold": needs_revaluation(
                variance=line["variance"],
                book=line["book"],
                threshold=threshold,
                zero_book_policy=policy,
            ),
            "unit_cost": str(cost) if cost is not None and direction == GAIN else None,
        }
        if direction == GAIN:
            row["value"] = str((line["variance"] * cost).quantize(CENT, rounding=ROUND_HALF_UP))
        review.append(row)
    return review


def _price_gains(ctx: FlowContext, entries: list[dict], review: list[dict], materials) -> None:
    """A gain enters Kingdee at Kingdee's own unit cost: an other-inbound row without a price
    is valued at zero until someone maintains its cost (docs/finance/stock-counts.md §2)."""
    require_costs(review)
    for entry, row in zip(entries, review, strict=True):
        entry["FPrice"] = row["unit_cost"]
        entry["FAmount"] = row["value"]


def needs_approval(direction: str, review: list[dict]) -> bool:
    """Loss bills always wait for finance; gain bills when a line is over the threshold."""
    return direction == LOSS or any(row["over_threshold"] for row in review)


def abnormal_reason(ctx: FlowContext, count: dict) -> str:
    """The reason word of the count's remark that makes its loss abnormal (非正常损失: input
    VAT transferred out), from the setting `abnormal_loss_reasons`; "" when none matches."""
    words = ctx.setting("abnormal_loss_reasons", DEFAULT_ABNORMAL_REASONS) or []
    remark = str(count.get("remark") or "")
    return next((str(w) for w in words if str(w) and str(w) in remark), "")


def unit_costs(ctx: FlowContext, materials_by_sku: dict[str, str]) -> dict[str, Decimal]:
    """Kingdee's current unit cost (CNY) per SKU, read from the material field named by
    `unit_cost_field` (default F_PAEZ_UnitCost). Only gains need it: a gain SKU without a
    positive cost stops the record for a person; losses are costed by Kingdee itself."""
    from connectors.kingdee.client import quote

    if not materials_by_sku:
        return {}
    field = str(ctx.setting("unit_cost_field", custom_field(ctx, "UnitCost")))
    numbers = sorted(set(materials_by_sku.values()))
    rows = ctx.kingdee.iter_bill_query(
        "BD_MATERIAL",
        ["FNumber", field],
        filter_string=f"FNumber in ({','.join(quote(n) for n in numbers)})",
    )
    by_material = {row["FNumber"]: row.get(field) for row in rows}
    costs: dict[str, Decimal] = {}
    for sku, material in materials_by_sku.items():
        try:
            value = by_material.get(material)
            costs[sku] = Decimal(str(value)) if value not in (None, "") else Decimal(0)
        except InvalidOperation:
            costs[sku] = Decimal(0)
    return costs


def require_costs(review: list[dict]) -> None:
    for row in review:
        if Decimal(row["unit_cost"] or 0) <= 0:
            raise ValidationProblem(
                _(
                    "SKU %(sku)s has no Kingdee unit cost (BD_MATERIAL), so its count gain "
                    "cannot be valued. Enter the cost in Kingdee, then retry."
                )
                % {"sku": row["sku_id"]},
                field_name="unit_cost",
            )
