"""Receivables (应收单) for outbounds and returns (issue 19 point 2; docs/finance/receivables.md,
docs/protocols/kingdee.md §2.8, §4.20).

In Kingdee's standard flow revenue is recognised by the receivable pushed (下推) from the
outbound. Flow setting `receivable`:

- "push" (default): once a bill is audited, the portal pushes it to AR_receivable with the
  conversion rule `receivable_rule` (the link to the source rows is kept), adds the order's
  charge lines (freight, marketplace-collected taxes, platform fees: each booked here or left
  to the tenant, setting `charges`) with their expense items (code mapping kind expense item),
  then submits and audits the receivable. A return pushes a red (negative) receivable.
- "tenant": the tenant generates receivables itself (Kingdee's own automatic push on audit);
  the Kingdee preflight checks that an audited outbound really has one.

Exactly once: receivables are looked up by their source bill (FSourceBillNo) before a push, and
Kingdee itself refuses to push a source already pushed in full. A failure leaves the source bill
landed and the document failed with the reason; its retry finds the bill and pushes again.
"""

from __future__ import annotations

from decimal import Decimal

from connectors.errors import BusinessError, TransientError
from core.messages import gettext as _
from mappings.choices import CodeKind
from mappings.errors import MappingMissing

from ..choices import ErrorClass
from ..money import money
from .base import FlowContext, LoadResult, Problem, ValidationProblem

FORM = "AR_receivable"
PUSH, TENANT = "push", "tenant"
MODES = (PUSH, TENANT)
# Charge kinds of an order, how each is signed on the receivable, and where each is booked by
# default ("receivable": a line with the kind's expense item; "tenant": not booked by the
# portal). Freight is paid by the buyer to the seller; marketplace-collected taxes (VAT / sales
# tax the marketplace collects and remits, 平台代收税费) and platform fees are the tenant's by
# default.
CHARGE_SIGNS = {"freight": 1, "marketplace_tax": 1, "platform_fee": -1}
DEFAULT_CHARGES = {"freight": "receivable", "marketplace_tax": TENANT, "platform_fee": TENANT}
DEFAULT_RULES = {"SAL_OUTSTOCK": "AR_OutStockToReceivableMap", "SAL_RETURNSTOCK": ""}
ROUNDS = 3


def receivable_mode(ctx: FlowContext) -> str:
    mode = ctx.setting("receivable", PUSH)
    if mode not in MODES:
        raise ValidationProblem(
            _("The flow setting receivable is %(value)r; expected one of %(choices)s.")
            % {"value": mode, "choices": ", ".join(MODES)},
            field_name="settings.receivable",
            missing=False,
        )
    return mode


def booked_charges(ctx: FlowContext, amounts: dict[str, Decimal]) -> list[dict]:
    """The charge lines the receivable carries: kind, signed amount and expense item, for
    every non-zero charge the `charges` setting books on the receivable."""
    setting = {**DEFAULT_CHARGES, **(ctx.setting("charges", {}) or {})}
    lines = []
    for kind, sign in CHARGE_SIGNS.items():
        amount = money(amounts.get(kind) or 0)
        if not amount or setting.get(kind) != "receivable":
            continue
        lines.append(
            {"kind": kind, "amount": str(sign * amount), "expense_item": expense_item(ctx, kind)}
        )
    return lines


def expense_item(ctx: FlowContext, kind: str) -> str:
    from mappings.selectors import code_for

    from .kingdee_common import mapping_problem

    try:
        return code_for(integration=ctx.integration, kind=CodeKind.EXPENSE_ITEM, code=kind)
    except MappingMissing as exc:
        raise mapping_problem(exc) from exc


class ReceivableMixin:
    """Adds the receivable step to a KingdeeBillFlow's load (source form = self.form_id)."""

    def load(self, ctx: FlowContext, documents) -> dict[int, LoadResult]:
        return self._with_receivables(ctx, documents, super().load(ctx, documents))

    def find_existing(self, ctx: FlowContext, documents) -> dict[int, LoadResult]:
        """A bill found after an unknown outcome gets its receivable too."""
        return self._with_receivables(ctx, documents, super().find_existing(ctx, documents))

    def _with_receivables(self, ctx, documents, results: dict) -> dict[int, LoadResult]:
        if receivable_mode(ctx) != PUSH:
            return results
        landed = {d.pk: results[d.pk].target_number for d in documents if _ok(results, d)}
        if not landed:
            return results
        problems = self._receivables_retried(ctx, [d for d in documents if d.pk in landed], landed)
        for doc in documents:
            if doc.pk in problems:
                results[doc.pk] = LoadResult(problem=problems[doc.pk], progress=doc.progress)
            elif doc.pk in landed:
                results[doc.pk].progress = doc.progress
        return results

    def _receivables_retried(self, ctx, documents, sources: dict) -> dict[int, Problem]:
        """Every step starts with a lookup, so a round that failed in transit is simply run
        again (a few times); what still fails is retried with the document (transient)."""
        for _round in range(ROUNDS):
            try:
                return self._receivables(ctx, documents, sources)
            except TransientError as exc:
                failure, error_class = exc, ErrorClass.CONNECTION
            except BusinessError as exc:
                failure, error_class = exc, ErrorClass.REMOTE_REJECTED
                break
        message = getattr(failure, "message", str(failure))
        return {d.pk: _problem(sources[d.pk], message, error_class) for d in documents}

    def _receivables(self, ctx: FlowContext, documents, sources: dict) -> dict[int, Problem]:
        client = ctx.kingdee
        numbers = list(dict.fromkeys(sources.values()))
        found = client.lookup_bills(FORM, key_field="FSourceBillNo", values=numbers)
        missing = [n for n in numbers if n not in found]
        errors: list[str] = []
        if missing:
            rule = ctx.setting("receivable_rule", DEFAULT_RULES.get(self.form_id, ""))
            answer = client.push(
                self.form_id,
                numbers=missing,
                target_form_id=FORM,
                rule_id=rule,
                enable_default_rule=not rule,
            )
            errors = [e.message for e in answer.errors]
            found.update(client.lookup_bills(FORM, key_field="FSourceBillNo", values=missing))
        problems: dict[int, Problem] = {}
        pending = {ref.number: ref.status for ref in found.values() if ref.status != "C"}
        refused = self._add_charges(ctx, documents, sources, found, pending)
        outcome = client.finish_bills(FORM, {n: s for n, s in pending.items() if n not in refused})
        for doc in documents:
            ref = found.get(sources[doc.pk])
            if ref is None:
                mine = [m for m in errors if sources[doc.pk] in m] or errors
                problems[doc.pk] = _problem(sources[doc.pk], "; ".join(mine))
                continue
            failed = refused.get(ref.number) or [e.message for e in outcome.get(ref.number) or []]
            if failed:
                problems[doc.pk] = _problem(sources[doc.pk], "; ".join(failed))
            doc.progress = {
                **(doc.progress or {}),
                "receivable": {"number": ref.number, "id": ref.id, "source": ref.key},
            }
        return problems

    def _add_charges(self, ctx, documents, sources, found, pending) -> dict[str, list[str]]:
        """Charge lines go onto receivables not yet audited that carry none yet; returns the
        messages of receivables Kingdee refused them on, by receivable number."""
        from connectors.kingdee.client import quote

        wanted = {
            found[sources[d.pk]]: (d.progress or {}).get("charges") or []
            for d in documents
            if sources[d.pk] in found and found[sources[d.pk]].number in pending
        }
        wanted = {ref: lines for ref, lines in wanted.items() if lines}
        if not wanted:
            return {}
        rows = ctx.kingdee.execute_bill_query(
            FORM,
            ["FBillNo", "FCOSTID.FNumber"],
            filter_string=f"FBillNo in ({','.join(quote(r.number) for r in wanted)})",
        )
        charged = {number for number, cost in rows if cost}
        todo = [(ref, lines) for ref, lines in wanted.items() if ref.number not in charged]
        if not todo:
            return {}
        models = [
            {"FID": ref.id, "FEntityDetail": [_charge_row(line) for line in lines]}
            for ref, lines in todo
        ]
        answer = ctx.kingdee.batch_save(FORM, models, is_delete_entry=False)
        return {
            ref.number: [e.message for e in answer.errors_for(index)]
            for index, (ref, _lines) in enumerate(todo)
            if answer.errors_for(index)
        }


def save_red_receivables(ctx: FlowContext, documents) -> dict[int, LoadResult]:
    """Save, submit and audit receivables the portal writes itself (refund-only red ones);
    a number already taken is looked up and finished instead of written again."""
    answer = ctx.kingdee.batch_save(
        FORM, [d.target_payload for d in documents], auto_submit_audit=True
    )
    results: dict[int, LoadResult] = {}
    again = []
    for index, doc in enumerate(documents):
        saved = answer.saved(index, doc.target_key)
        errors = answer.errors_for(index)
        if saved is not None and not errors:
            results[doc.pk] = LoadResult.landed(target_id=saved.id, target_number=saved.number)
        elif errors and not any(e.kind == "duplicate_bill_no" for e in errors):
            message = "; ".join(e.message for e in errors)
            results[doc.pk] = LoadResult(problem=_problem(doc.target_key, message))
        else:
            again.append(doc)
    if again:
        found = find_red_receivables(ctx, again)
        for doc in again:
            results[doc.pk] = found.get(doc.pk) or LoadResult(
                problem=_problem(doc.target_key, ""), unknown=True
            )
    return results


def find_red_receivables(ctx: FlowContext, documents) -> dict[int, LoadResult]:
    """Receivables the portal wrote, found by FBillNo; audited when saved but not audited."""
    numbers = [d.target_key for d in documents if d.target_key]
    refs = ctx.kingdee.lookup_bills(FORM, key_field="FBillNo", values=numbers)
    outcome = ctx.kingdee.finish_bills(
        FORM, {r.number: r.status for r in refs.values() if r.status != "C"}
    )
    results: dict[int, LoadResult] = {}
    for doc in documents:
        ref = refs.get(doc.target_key)
        if ref is None:
            continue
        failed = outcome.get(ref.number) or []
        results[doc.pk] = (
            LoadResult(problem=_problem(ref.number, "; ".join(e.message for e in failed)))
            if failed
            else LoadResult.landed(target_id=ref.id, target_number=ref.number)
        )
    return results


def _charge_row(line: dict) -> dict:
    amount = Decimal(line["amount"])
    return {
        "FCOSTID": {"FNumber": line["expense_item"]},
        "FPriceQty": "1" if amount >= 0 else "-1",
        "FTaxPrice": str(abs(amount)),
        "FEntryTaxRate": "0",
        "FComment": line["kind"],
    }


def _ok(results: dict, doc) -> bool:
    result = results.get(doc.pk)
    return bool(result and result.ok and result.target_number)


def _problem(source: str, message: str, error_class=ErrorClass.REMOTE_REJECTED) -> Problem:
    return Problem(
        _("The receivable of %(bill)s could not be created in Kingdee: %(message)s")
        % {"bill": source, "message": message or _("no answer")},
        error_class=error_class,
        subject=_("receivable of %(bill)s") % {"bill": source},
        system="kingdee",
        stage="load",
    )
