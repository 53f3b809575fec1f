"""Fallback exchange rates (issue 19 point 3): a document converted at a reference rate
(the ECB cross rate) because the official source failed is listed on a FallbackRateBooking,
and a finance ticket asks to confirm the rate or re-rate the documents before period close.

Re-rating takes the official rate of the same rate date (or one finance entered as a manual
override) and rewrites each booked Kingdee bill: UnAudit, Save the whole bill again at the new
rate (IsDeleteEntry replaces the lines), Submit, Audit. A bill Kingdee refuses to change stays
listed with Kingdee's message, and the ticket stays open."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from connectors.errors import ConnectorError
from core.messages import gettext as _
from mappings.errors import RateUnavailable
from mappings.rates import RateQuote, official_rate_for
from monitoring.services import ticket_open_or_update, tickets_close_for

from .models import FallbackRateBooking, FallbackRateStatus

logger = logging.getLogger(__name__)

ERROR_CLASS = "fx_fallback"


def note_fallback(*, document, quote: RateQuote) -> FallbackRateBooking:
    """Called by a flow before it writes a document converted at a fallback rate: the
    document joins the booking of its currency and rate date, whose ticket is opened."""
    with transaction.atomic():
        booking, _created = FallbackRateBooking.objects.get_or_create(
            integration_id=document.integration_id,
            currency=quote.currency,
            rate_date=quote.rate_date,
            defaults={"source": quote.source, "rate": quote.cny_per_unit},
        )
        booking.documents.add(document)
        if booking.status != FallbackRateStatus.OPEN:
            booking.status = FallbackRateStatus.OPEN
            booking.save(update_fields=["status", "updated_at"])
    count = booking.documents.count()
    ticket_open_or_update(
        trace_key=booking.trace_key,
        error_class=ERROR_CLASS,
        subject=f"{booking.currency} {booking.rate_date}",
        message=_(
            "Booked at the %(source)s cross rate %(rate)s (%(n)d documents) because the "
            "official central parity of %(date)s was unavailable: confirm or re-rate before "
            "period close."
        )
        % {
            "source": booking.source.upper(),
            "rate": booking.rate,
            "n": count,
            "date": booking.rate_date,
        },
        integration_id=booking.integration_id,
        detail={"booking_id": booking.pk, "documents": count},
    )
    return booking


def confirm(booking: FallbackRateBooking, *, user) -> None:
    """Finance accepts the fallback rate as booked."""
    booking.status = FallbackRateStatus.CONFIRMED
    booking.resolved_by = getattr(user, "username", "") or ""
    booking.save(update_fields=["status", "resolved_by", "updated_at"])
    tickets_close_for(
        trace_keys=[booking.trace_key],
        resolution=_("The fallback rate was confirmed by finance."),
        user=user,
    )


def rerate(booking: FallbackRateBooking, *, user) -> dict:
    """Rewrite the booking's Kingdee bills at the official rate. Returns the outcome
    {bill_no: "ok" | message}; raises RateUnavailable while no official rate exists."""
    from flows.choices import DocumentState
    from flows.definitions import definition_for
    from flows.definitions.base import FlowContext

    official = official_rate_for(currency=booking.currency, on_date=booking.rate_date)
    outcome: dict[str, str] = {}
    for document in booking.documents.select_related("flow", "flow__integration"):
        if document.state != DocumentState.SYNCED or not document.kingdee_bill_no:
            continue
        if (document.progress or {}).get("fx", {}).get("fallback_used") is False:
            outcome[document.kingdee_bill_no] = "ok"
            continue
        definition = definition_for(document.flow.code)
        ctx = FlowContext(document.flow)
        outcome[document.kingdee_bill_no] = _rewrite(ctx, definition, document)
    done = all(value == "ok" for value in outcome.values())
    booking.official_rate = official.cny_per_unit
    booking.outcome = {"at": timezone.now().isoformat(), "bills": outcome}
    if done:
        booking.status = FallbackRateStatus.RERATED
        booking.resolved_by = getattr(user, "username", "") or ""
    booking.save()
    if done:
        tickets_close_for(
            trace_keys=[booking.trace_key],
            resolution=_("Re-rated at the official rate %(rate)s.") % {"rate": official.rate},
            user=user,
        )
    return outcome


def _rewrite(ctx, definition, document) -> str:
    from flows.definitions.base import Problem

    form_id = definition.form_id
    bill_no = document.kingdee_bill_no
    try:
        payload, _key = definition.transform(ctx, document)
        if payload.get("SubHeadEntity", {}).get("FExchangeRate") is None:
            return _("The flow's bill carries no exchange rate.")
        if (document.progress or {}).get("fx", {}).get("fallback_used"):
            return _("No official rate yet for this document's rate date.")
        client = ctx.kingdee
        payload = {"FID": int(document.target_id), **payload}
        steps = (
            lambda: client.unaudit(form_id, numbers=[bill_no]),
            lambda: client.save(form_id, payload, is_delete_entry=True),
            lambda: client.submit(form_id, numbers=[bill_no]),
            lambda: client.audit(form_id, numbers=[bill_no]),
        )
        for step in steps:
            result = step()
            if not result.ok:
                return "; ".join(e.message for e in result.errors) or _("refused")
    except Problem as exc:
        return exc.message
    except (ConnectorError, RateUnavailable) as exc:
        return exc.message
    document.target_payload = payload
    document.save(update_fields=["target_payload", "progress", "updated_at"])
    return "ok"
