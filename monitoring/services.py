"""Writes of monitoring: events, exception tickets (one open per trace key), remote calls."""

import contextvars
import json
import uuid
from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.dispatch import Signal, receiver
from django.utils import timezone

from connectors.observe import remote_call
from core.logging import mask_text

from .models import (
    OPEN_TICKET_STATUSES,
    Event,
    EventLevel,
    ExceptionTicket,
    RemoteCall,
    TicketStatus,
)
from .problems import problem_for

# Sent when a ticket opens or its problem changes; alerting subscribes to it.
ticket_opened = Signal()
_ticket_opened = ticket_opened

# The remote batch being worked on; remote calls made meanwhile are tagged with it.
current_batch: contextvars.ContextVar[uuid.UUID | None] = contextvars.ContextVar(
    "current_batch", default=None
)

_MAX_TEXT = 20_000


def event_record(
    *,
    stage: str,
    message: str,
    document=None,
    integration_id: int | None = None,
    flow_code: str = "",
    level: str = EventLevel.INFO,
    from_state: str = "",
    to_state: str = "",
    detail: dict | None = None,
    actor=None,
) -> Event:
    if document is not None:
        integration_id = integration_id or document.integration_id
        flow_code = flow_code or document.flow.code
    return Event.objects.create(**_event_fields(**locals()))


def events_record_bulk(events: Iterable[dict]) -> None:
    """Record many events in one INSERT (the engine settles batches of documents)."""
    Event.objects.bulk_create([Event(**_event_fields(**e)) for e in events], batch_size=1000)


def _event_fields(
    *,
    stage,
    message,
    document=None,
    integration_id=None,
    flow_code="",
    level=EventLevel.INFO,
    from_state="",
    to_state="",
    detail=None,
    actor=None,
) -> dict[str, Any]:
    fields = {
        "stage": stage,
        "message": str(message)[:_MAX_TEXT],
        "document": document,
        "integration_id": integration_id,
        "flow_code": flow_code,
        "level": level,
        "from_state": from_state,
        "to_state": to_state,
        "detail": detail or {},
        "actor": actor,
        "batch_id": current_batch.get(),
    }
    if document is not None:
        fields["integration_id"] = integration_id or document.integration_id
        fields["flow_code"] = flow_code or document.flow.code
        fields["platform_order_no"] = document.platform_order_no
        fields["kingdee_bill_no"] = document.kingdee_bill_no
    return fields


def ticket_open_or_update(
    *,
    trace_key: str,
    error_class: str,
    message: str,
    subject: str,
    document=None,
    integration_id: int | None = None,
    flow_code: str = "",
    system: str = "",
    detail: dict | None = None,
    role: str = "",
) -> ExceptionTicket:
    """Open the ticket of this trace key, or update the open one (a newer failure of the same
    record replaces its message: finance never works a stale error)."""
    default_role, title_template, fix = problem_for(error_class)
    title = str(title_template).format(subject=subject, system=system or "")[:300]
    fields = {
        "error_class": error_class,
        "role": role or default_role,
        "title": title,
        "message": str(message)[:_MAX_TEXT],
        "suggested_fix": str(fix),
        "detail": detail or {},
        "last_seen_at": timezone.now(),
        "document": document,
        "integration_id": integration_id or (document.integration_id if document else None),
        "flow_code": flow_code or (document.flow.code if document else ""),
    }
    for _attempt in range(3):
        existing = (
            ExceptionTicket.objects.filter(trace_key=trace_key, status__in=OPEN_TICKET_STATUSES)
            .order_by("-id")
            .first()
        )
        if existing is not None:
            changed = existing.error_class != error_class or existing.message != fields["message"]
            for name, value in fields.items():
                setattr(existing, name, value)
            existing.occurrences = F("occurrences") + 1
            existing.save()
            existing.refresh_from_db(fields=["occurrences"])
            if changed:
                _ticket_opened.send(sender=ExceptionTicket, ticket=existing, created=False)
            return existing
        try:
            with transaction.atomic():
                ticket = ExceptionTicket.objects.create(trace_key=trace_key, **fields)
        except IntegrityError:
            continue  # another worker opened it meanwhile: update that one
        _ticket_opened.send(sender=ExceptionTicket, ticket=ticket, created=True)
        return ticket
    raise RuntimeError(f"could not open or update the ticket of {trace_key}")


def tickets_close_for(
    *, trace_keys: Iterable[str], resolution: str, user=None, status: str = TicketStatus.RESOLVED
) -> int:
    """Close the open tickets of these records (a later success closes its problem)."""
    keys = list(trace_keys)
    if not keys:
        return 0
    closed = 0
    for start in range(0, len(keys), 500):
        closed += ExceptionTicket.objects.filter(
            trace_key__in=keys[start : start + 500], status__in=OPEN_TICKET_STATUSES
        ).update(
            status=status,
            resolved_at=timezone.now(),
            resolved_by=user,
            resolution=resolution,
            updated_at=timezone.now(),
        )
    return closed


def _text(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        try:
            value = json.dumps(value, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            value = repr(value)
    return mask_text(value)[:_MAX_TEXT]


@receiver(remote_call, dispatch_uid="monitoring.record_remote_call")
def remote_call_record(sender, **call) -> None:
    RemoteCall.objects.create(
        system=str(call.get("system", ""))[:20],
        operation=str(call.get("operation", ""))[:200],
        url=mask_text(str(call.get("url", "")))[:500],
        request=_text(call.get("request")),
        response=_text(call.get("response")),
        status=call.get("status"),
        duration_ms=float(call.get("duration_ms") or 0),
        error=_text(call.get("error")),
        batch_id=current_batch.get(),
    )
