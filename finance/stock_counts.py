"""Stock-count approval (issue 19 point 5; docs/finance/stock-counts.md).

The count flow saves loss bills, and gain bills over the F8.2 threshold, without submitting or
auditing them, and opens a finance ticket here. Finance then:

- approves: the bill is submitted and audited in Kingdee (Kingdee moves the stock and costs a
  loss as any outbound); for a loss the portal reads Kingdee's cost of the bill and posts one
  voucher (saved, audited only if the finance settings say so): the loss into the suspense
  account (Dr 待处理财产损溢 / Cr 库存商品), for an abnormal loss the input-VAT
  transfer-out (Dr 待处理财产损溢 / Cr 进项税额转出), and the approved write-off
  (Dr 管理费用 / Cr 待处理财产损溢);
- rejects: the saved bill is deleted in Kingdee, with the reason on the ticket.

With the opt-in F8.2 revaluation (flow setting `revaluation` = "propose") the count bill may
carry a saved cost adjustment (HS_AdjustmentBill) re-valuing the counted stock; the ticket lists
its lines and what Kingdee holds, approving audits it right after the count bill (then reads it
back), rejecting deletes it with the count bill (docs/finance/stock-counts.md §7).

Accounts come from the account mappings (purposes inventory, count_suspense, count_loss,
input_vat_out); the voucher carries the portal key `count:<bill no.>`, looked up before it is
posted, so approving twice never posts twice.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from connectors.errors import ConnectorError
from core.messages import gettext as _
from core.roles import Role
from mappings.choices import AccountPurpose
from mappings.errors import MappingMissing
from mappings.selectors import account_for
from monitoring.errors import TicketError, TicketForbidden

ERROR_CLASS = "count_approval"
CENT = Decimal("0.01")
DEFAULT_INPUT_VAT_RATE = Decimal("13")


def _lines_text(review: list[dict]) -> str:
    return "; ".join(
        _("%(sku)s: book %(book)s, variance %(var)s%(over)s")
        % {
            "sku": row["sku_id"],
            "book": row["book"],
            "var": row["variance"],
            "over": _(" (over the threshold)") if row.get("over_threshold") else "",
        }
        for row in review
    )


def approval_ticket_open(*, document) -> None:
    """The finance ticket of a count bill that waits for approval."""
    from flows.definitions.stock_count import LOSS, direction_of
    from monitoring.services import ticket_open_or_update

    payload = document.target_payload or {}
    bill_no = document.progress["bill_no"]
    loss = direction_of(document) == LOSS
    abnormal = payload.get("abnormal") or ""
    message = (
        _(
            "Stock count %(io)s: loss bill %(bill)s is saved in Kingdee, not audited. Approve "
            "to audit it (Kingdee costs it), book it to the suspense account and write it off; "
            "reject to delete it. %(lines)s"
        )
        if loss
        else _(
            "Stock count %(io)s: gain bill %(bill)s is saved in Kingdee, not audited, because a "
            "variance is over the threshold. Approve to audit it at Kingdee's unit cost; reject "
            "to delete it. %(lines)s"
        )
    ) % {
        "io": document.source_payload.get("io_id"),
        "bill": bill_no,
        "lines": _lines_text(payload.get("review") or []),
    }
    if abnormal:
        message += " " + _(
            "Abnormal loss (%(reason)s): the input VAT of these goods is transferred out "
            "(进项税额转出) when approved."
        ) % {"reason": abnormal}
    revaluation = _revaluation_detail(document)
    if revaluation:
        message += " " + _revaluation_text(revaluation)
    ticket_open_or_update(
        trace_key=f"{document.trace_key}:approval",
        error_class=ERROR_CLASS,
        message=message,
        subject=bill_no,
        document=document,
        system="kingdee",
        role=Role.FINANCE,
        detail={
            "bill_form": payload.get("form_id"),
            "bill_no": bill_no,
            "direction": "loss" if loss else "gain",
            "abnormal": abnormal,
            "vat_transfer_out": bool(abnormal),
            "lines": payload.get("review") or [],
            **({"revaluation": revaluation} if revaluation else {}),
        },
    )


def _revaluation_detail(document) -> dict:
    """The proposed cost adjustment of a count bill (F8.2 opt-in revaluation,
    flows/definitions/count_revaluation.py): the portal's lines and what Kingdee holds."""
    proposed = (document.target_payload or {}).get("revaluation") or {}
    held = (document.progress or {}).get("revaluation") or {}
    if not proposed or not held:
        return {}
    return {
        "form": proposed["form"],
        "bill_no": held["bill_no"],
        "lines": proposed["lines"],
        "total": proposed["total"],
        "kingdee": {"status": held.get("status"), "rows": held.get("rows"), "total": held["total"]},
    }


def _revaluation_text(revaluation: dict) -> str:
    return _(
        "Cost adjustment %(bill)s (%(form)s) is saved in Kingdee with it, total %(total)s CNY: "
        "it re-values the counted stock (not the variance) to the reference cost. Approve "
        "audits it after the count bill; reject deletes it. %(lines)s"
    ) % {
        "bill": revaluation["bill_no"],
        "form": revaluation["form"],
        "total": revaluation["kingdee"]["total"],
        "lines": "; ".join(
            _("%(material)s: counted %(qty)s × (reference %(ref)s − Kingdee %(cost)s) = %(amount)s")
            % {
                "material": row["material"],
                "qty": row["r_qty"],
                "ref": row["reference_cost"],
                "cost": row["kingdee_cost"],
                "amount": row["amount"],
            }
            for row in revaluation["lines"]
        ),
    }


def _guard(*, ticket, user):
    from monitoring.permissions import ticket_can_act, user_roles

    if ticket.error_class != ERROR_CLASS or ticket.document is None:
        raise TicketError(_("This ticket has no count bill to approve."), ticket=ticket.pk)
    if not ticket.is_open:
        raise TicketError(_("The ticket is already closed."), ticket=ticket.pk)
    if not ticket_can_act(user=user, ticket=ticket) or not (
        user.is_superuser or Role.FINANCE in user_roles(user)
    ):
        raise TicketForbidden(_("Only finance may approve or reject a count."), ticket=ticket.pk)
    return ticket.document


def _client(document):
    from connectors.kingdee.client import client_for

    return client_for(document.integration.kingdee)


def count_approve(*, ticket, user) -> dict:
    """Submit and audit the bill; for a loss post the suspense and write-off voucher. Returns
    {"bill_no", "cost", "vat", "voucher"}; raises TicketError with Kingdee's message."""
    from flows.definitions.stock_count import APPROVED, LOSS, direction_of
    from monitoring.services import event_record, ticket_comment, tickets_close_for

    document = _guard(ticket=ticket, user=user)
    client = _client(document)
    form, bill_no = document.target_payload["form_id"], document.progress["bill_no"]
    revaluation = (document.progress or {}).get("revaluation") or {}
    try:
        if revaluation:  # refuse before anything is audited when it went missing
            _lookup(client, _revaluation_form(document), revaluation["bill_no"], ticket)
        _audit(client, form, bill_no, ticket)
        outcome = {"bill_no": bill_no, "cost": None, "vat": None, "voucher": ""}
        if revaluation:
            # After the count bill: the count moves at Kingdee's cost first, then the counted
            # stock is re-valued (docs/finance/stock-counts.md §7).
            revaluation = _audit_revaluation(client, document, revaluation, ticket)
            outcome["revaluation"] = revaluation["bill_no"]
        if direction_of(document) == LOSS:
            outcome.update(_book_loss(client, document, form, bill_no, ticket))
    except ConnectorError as exc:
        raise TicketError(exc.message, ticket=ticket.pk) from exc
    except MappingMissing as exc:
        raise TicketError(exc.message, ticket=ticket.pk) from exc
    document.progress = {**document.progress, "approval": APPROVED, "approved": outcome}
    if revaluation:
        document.progress["revaluation"] = revaluation
    document.save(update_fields=["progress", "updated_at"])
    text = _("Count approved by %(user)s: %(bill)s audited%(voucher)s.") % {
        "user": user.get_username(),
        "bill": bill_no,
        "voucher": _(", voucher %(no)s (cost %(cost)s, VAT transferred out %(vat)s)")
        % {"no": outcome["voucher"], "cost": outcome["cost"], "vat": outcome["vat"]}
        if outcome["voucher"]
        else "",
    }
    if revaluation:
        text += " " + _("Cost adjustment %(no)s audited (total %(total)s CNY).") % {
            "no": revaluation["bill_no"],
            "total": revaluation["total"],
        }
    if revaluation and (ticket.detail or {}).get("revaluation"):
        ticket.detail = {**ticket.detail, "revaluation": _revaluation_detail(document)}
        ticket.save(update_fields=["detail", "updated_at"])
    ticket_comment(ticket=ticket, user=user, text=text)
    event_record(document=document, stage="approval", message=text, actor=user)
    tickets_close_for(trace_keys=[ticket.trace_key], resolution=text, user=user)
    return outcome


def _lookup(client, form: str, bill_no: str, ticket):
    ref = client.lookup_bills(form, key_field="FBillNo", values=[bill_no]).get(bill_no)
    if ref is None:
        raise TicketError(
            _("Bill %(no)s is no longer in Kingdee.") % {"no": bill_no}, ticket=ticket.pk
        )
    return ref


def _revaluation_form(document) -> str:
    from flows.definitions.count_revaluation import bill_spec

    return str(bill_spec(document.flow.settings)["form"])


def _audit_revaluation(client, document, revaluation: dict, ticket) -> dict:
    """Submit and audit the saved cost adjustment, then read back what Kingdee holds."""
    from flows.definitions.count_revaluation import query_back

    _audit(client, _revaluation_form(document), revaluation["bill_no"], ticket)
    held = query_back(client, settings=document.flow.settings, bill_no=revaluation["bill_no"])
    return {**revaluation, **held}


def _audit(client, form: str, bill_no: str, ticket) -> None:
    ref = _lookup(client, form, bill_no, ticket)
    if ref.status == "C":
        return
    errors = client.finish_bills(form, {bill_no: ref.status}).get(bill_no, [])
    if errors:
        raise TicketError("; ".join(e.message for e in errors), ticket=ticket.pk)


def kingdee_cost(client, form: str, bill_no: str) -> Decimal:
    """Kingdee's cost of an audited loss bill: the sum of its rows' FAmount (总成本)."""
    rows = client.execute_bill_query(
        form, ["FBillNo", "FAmount"], filter_string=f"FBillNo = '{bill_no}'"
    )
    return sum((Decimal(str(r[1] or 0)) for r in rows), Decimal(0)).quantize(
        CENT, rounding=ROUND_HALF_UP
    )


def _book_loss(client, document, form: str, bill_no: str, ticket) -> dict:
    from finance.fx_differences import KEY_FIELD
    from finance.models import FinanceSettings

    cost = kingdee_cost(client, form, bill_no)
    if cost <= 0:
        raise TicketError(
            _(
                "Kingdee has not costed %(no)s yet (no FAmount). It is audited; approve again "
                "after Kingdee's cost calculation (出库成本核算) to post the write-off."
            )
            % {"no": bill_no},
            ticket=ticket.pk,
        )
    abnormal = bool(document.target_payload.get("abnormal"))
    flow_settings = document.flow.settings or {}
    rate = Decimal(str(flow_settings.get("input_vat_rate", DEFAULT_INPUT_VAT_RATE)))
    vat = (cost * rate / 100).quantize(CENT, rounding=ROUND_HALF_UP) if abnormal else Decimal(0)
    key = f"count:{bill_no}"
    found = client.lookup_bills("GL_VOUCHER", key_field=KEY_FIELD, values=[key]).get(key)
    if found is not None:
        return {"cost": str(cost), "vat": str(vat), "voucher": found.number}
    settings = FinanceSettings.for_integration(document.integration)
    model = loss_voucher(document=document, cost=cost, vat=vat, key=key, settings=settings)
    answer = client.batch_save("GL_VOUCHER", [model], auto_submit_audit=settings.audit_vouchers)
    saved, errors = answer.success_for(0), answer.errors_for(0)
    if saved is None or errors:
        raise TicketError(
            "; ".join(e.message for e in errors) or _("Kingdee did not save the voucher."),
            ticket=ticket.pk,
        )
    return {"cost": str(cost), "vat": str(vat), "voucher": saved.number}


def loss_voucher(*, document, cost: Decimal, vat: Decimal, key: str, settings) -> dict:
    """The GL_VOUCHER of an approved loss (module doc): suspense, VAT out, write-off."""
    from finance.fx_differences import KEY_FIELD
    from flows.definitions.kingdee_common import business_date

    org = document.integration.kingdee.org_number

    def account(purpose: str) -> str:
        return account_for(integration=document.integration_id, org_number=org, purpose=purpose)

    suspense = account(AccountPurpose.COUNT_SUSPENSE)
    legs = []
    if (document.flow.settings or {}).get("suspense_leg", "portal") == "portal":
        # "kingdee": the tenant's own voucher template books the audited bill to suspense.
        legs.append(
            (suspense, account(AccountPurpose.INVENTORY), cost, _("Count loss to suspense"))
        )
    if vat:
        legs.append(
            (suspense, account(AccountPurpose.INPUT_VAT_OUT), vat, _("Input VAT transferred out"))
        )
    legs.append((account(AccountPurpose.COUNT_LOSS), suspense, cost + vat, _("Approved write-off")))
    bill_no = document.progress["bill_no"]
    entries = []
    for debit, credit, amount, text in legs:
        for number, side in ((debit, "FDEBIT"), (credit, "FCREDIT")):
            entries.append(
                {
                    "FEXPLANATION": f"{text} {bill_no}"[:255],
                    "FACCOUNTID": {"FNumber": number},
                    "FCURRENCYID": {"FNumber": "PRE001"},
                    "FEXCHANGERATETYPE": {"FNumber": "HLTX01_SYS"},
                    "FEXCHANGERATE": "1",
                    "FAMOUNTFOR": str(amount),
                    "FDEBIT": str(amount) if side == "FDEBIT" else "0",
                    "FCREDIT": str(amount) if side == "FCREDIT" else "0",
                }
            )
    on_date = business_date(document.source_payload.get("io_date"))
    return {
        "FAccountBookID": {"FNumber": settings.account_book},
        "FDate": on_date.isoformat(),
        "FVOUCHERGROUPID": {"FNumber": settings.voucher_group},
        "FYEAR": on_date.year,
        "FPERIOD": on_date.month,
        KEY_FIELD: key,
        "FEntity": entries,
    }


def count_reject(*, ticket, user, reason: str) -> None:
    """Delete the saved bill in Kingdee; the ticket closes with the reason."""
    from flows.definitions.stock_count import REJECTED
    from monitoring.models import TicketStatus
    from monitoring.services import event_record, ticket_comment, tickets_close_for

    if not reason.strip():
        raise TicketError(_("Say why the count is rejected."), ticket=ticket.pk)
    document = _guard(ticket=ticket, user=user)
    client = _client(document)
    form, bill_no = document.target_payload["form_id"], document.progress["bill_no"]
    bills = [(form, bill_no)]
    revaluation = (document.progress or {}).get("revaluation") or {}
    if revaluation:  # the proposed cost adjustment goes with its count bill (F8.2)
        bills.append((_revaluation_form(document), revaluation["bill_no"]))
    try:
        found = []
        for bill_form, number in bills:
            ref = client.lookup_bills(bill_form, key_field="FBillNo", values=[number]).get(number)
            if ref is not None and ref.status in ("B", "C"):
                raise TicketError(
                    _("%(no)s is already submitted or audited in Kingdee; it cannot be deleted.")
                    % {"no": number},
                    ticket=ticket.pk,
                )
            if ref is not None:
                found.append((bill_form, number))
        for bill_form, number in found:
            result = client.delete(bill_form, numbers=[number])
            if not result.ok:
                raise TicketError("; ".join(e.message for e in result.errors), ticket=ticket.pk)
    except ConnectorError as exc:
        raise TicketError(exc.message, ticket=ticket.pk) from exc
    text = _("Count rejected by %(user)s, %(bill)s deleted in Kingdee: %(reason)s") % {
        "user": user.get_username(),
        "bill": " + ".join(number for _form, number in bills),
        "reason": reason.strip(),
    }
    document.progress = {**document.progress, "approval": REJECTED, "rejected": reason.strip()}
    document.save(update_fields=["progress", "updated_at"])
    ticket_comment(ticket=ticket, user=user, text=text)
    event_record(document=document, stage="approval", message=text, actor=user)
    tickets_close_for(
        trace_keys=[ticket.trace_key], resolution=text, user=user, status=TicketStatus.IGNORED
    )
