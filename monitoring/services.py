"""Writes of monitoring: events, exception tickets (one open per trace key), remote calls."""

import contextvars
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.dispatch import Signal, receiver
from django.utils import timezone

from connectors.observe import remote_call
from core.logging import mask_text
from core.messages import as_message, to_data
from core.messages import gettext as _

from .errors import PayloadInvalid, TicketClosed, TicketError, TicketForbidden
from .models import (
    OPEN_TICKET_STATUSES,
    Event,
    EventLevel,
    ExceptionTicket,
    RemoteCall,
    TicketComment,
    TicketDocument,
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
        "message_data": to_data(message),
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
    cause: str = "",
) -> ExceptionTicket:
    """Open the ticket of this trace key, or update the open one (a newer failure of the same
    record replaces its message: finance never works a stale error).

    With a `cause` (issue 20 point 1) the ticket is the cause's: keyed by it, holding no single
    document, and the document joins its list (leaving any other ticket it was in)."""
    if cause:
        return _cause_ticket_join(
            cause=cause[:300],
            document=document,
            error_class=error_class,
            message=message,
            subject=subject,
            integration_id=integration_id,
            flow_code=flow_code,
            system=system,
            detail=detail,
            role=role,
        )
    ticket = _ticket_upsert(**locals())
    if document is not None:
        _documents_leave(TicketDocument.objects.filter(document=document), resolution=_moved_on())
    return ticket


def _moved_on() -> str:
    return _("Its documents moved on to other problems or synced.")


def _cause_ticket_join(*, cause: str, document, **fields) -> ExceptionTicket:
    ticket = _ticket_upsert(trace_key=cause, document=document, cause=cause, **fields)
    if document is None:
        return ticket
    _documents_leave(
        TicketDocument.objects.filter(document=document).exclude(ticket=ticket),
        resolution=_moved_on(),
    )
    ExceptionTicket.objects.filter(
        trace_key=document.trace_key, status__in=OPEN_TICKET_STATUSES
    ).update(
        status=TicketStatus.RESOLVED,
        resolved_at=timezone.now(),
        resolution=_("Moved to the ticket of its cause: %(title)s") % {"title": ticket.title},
        updated_at=timezone.now(),
    )
    return ticket


def _ticket_upsert(
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
    cause: str = "",
) -> ExceptionTicket:
    from flows.choices import System

    default_role, title_template, fix = problem_for(error_class)
    system_label = System(system).label if system in System.values else system
    # Issue 20 point 4: kept as message ids and parameters, shown in the reader's language.
    title = as_message(title_template).format(subject=subject, system=system_label or "")
    fields = {
        "error_class": error_class,
        "role": role or default_role,
        "title": str(title)[:300],
        "title_data": to_data(title),
        "message": str(message)[:_MAX_TEXT],
        "message_data": to_data(message),
        "suggested_fix": str(fix),
        "fix_data": to_data(fix),
        "detail": detail or {},
        "last_seen_at": timezone.now(),
        "document": document,
        "integration_id": integration_id or (document.integration_id if document else None),
        "flow_code": flow_code or (document.flow.code if document else ""),
        "is_cause": bool(cause),
    }
    if cause:  # the cause's ticket lists its documents (TicketDocument) instead
        fields["document"] = None
    for _attempt in range(3):
        existing = (
            ExceptionTicket.objects.filter(trace_key=trace_key, status__in=OPEN_TICKET_STATUSES)
            .order_by("-id")
            .first()
        )
        if existing is not None:
            changed = existing.error_class != error_class or (
                not cause and existing.message != fields["message"]
            )
            if cause:  # one more document of the same cause is no new problem to alert
                fields.pop("integration_id")
                fields.pop("flow_code")
            for name, value in fields.items():
                setattr(existing, name, value)
            existing.occurrences = F("occurrences") + 1
            existing.save()
            existing.refresh_from_db(fields=["occurrences"])
            _ticket_link(existing, document, cause)
            if changed:
                _ticket_opened.send(sender=ExceptionTicket, ticket=existing, created=False)
            return existing
        try:
            with transaction.atomic():
                ticket = ExceptionTicket.objects.create(trace_key=trace_key, **fields)
        except IntegrityError:
            continue  # another worker opened it meanwhile: update that one
        _ticket_link(ticket, document, cause)
        _ticket_opened.send(sender=ExceptionTicket, ticket=ticket, created=True)
        return ticket
    raise RuntimeError(f"could not open or update the ticket of {trace_key}")


def _ticket_link(ticket: ExceptionTicket, document, cause: str) -> None:
    """The document joins the cause's ticket (before alerting, so the alert can name it)."""
    if cause and document is not None:
        TicketDocument.objects.get_or_create(ticket=ticket, document=document)


def tickets_close_for(
    *, trace_keys: Iterable[str], resolution: str, user=None, status: str = TicketStatus.RESOLVED
) -> int:
    """Close the open tickets of these records (a later success closes its problem); a
    document of these records leaves the cause ticket it is in, which closes once empty."""
    keys = list(trace_keys)
    if not keys:
        return 0
    closed = 0
    for start in range(0, len(keys), 500):
        closed += _documents_leave(
            TicketDocument.objects.filter(document__idempotency_key__in=keys[start : start + 500]),
            resolution=resolution,
            user=user,
            status=status,
        )
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


def _documents_leave(links, *, resolution: str, user=None, status=TicketStatus.RESOLVED) -> int:
    """Remove these document links; close the open cause tickets left without documents."""
    ticket_ids = set(links.values_list("ticket_id", flat=True))
    if not ticket_ids:
        return 0
    with transaction.atomic():
        # Lock the tickets first: two batches removing the last documents of one ticket at
        # once must not each see the other's still there and leave it open.
        list(ExceptionTicket.objects.select_for_update().filter(pk__in=ticket_ids).order_by("pk"))
        links.delete()
        return _close_emptied(ticket_ids, resolution=resolution, user=user, status=status)


def _close_emptied(ticket_ids, *, resolution: str, user, status) -> int:
    return (
        ExceptionTicket.objects.filter(
            pk__in=ticket_ids, is_cause=True, status__in=OPEN_TICKET_STATUSES
        )
        .exclude(links__isnull=False)
        .update(
            status=status,
            resolved_at=timezone.now(),
            resolved_by=user,
            resolution=resolution,
            updated_at=timezone.now(),
        )
    )


def ticket_of_document(document) -> ExceptionTicket | None:
    """The open ticket holding this document: the ticket of its cause, else its own."""
    open_tickets = ExceptionTicket.objects.filter(status__in=OPEN_TICKET_STATUSES)
    return (
        open_tickets.filter(links__document=document).order_by("-id").first()
        or open_tickets.filter(trace_key=document.trace_key).order_by("-id").first()
    )


def tickets_of_documents(document_ids: Iterable[int]) -> dict[int, ExceptionTicket]:
    """The open ticket holding each of these documents (ticket_of_document, in two queries)."""
    ids = list(document_ids)
    found: dict[int, ExceptionTicket] = {}
    open_tickets = ExceptionTicket.objects.filter(status__in=OPEN_TICKET_STATUSES)
    for ticket in open_tickets.filter(document_id__in=ids).order_by("created_at", "id"):
        found[ticket.document_id] = ticket
    links = TicketDocument.objects.filter(
        document_id__in=ids, ticket__status__in=OPEN_TICKET_STATUSES
    ).select_related("ticket")
    for link in links.order_by("ticket__created_at", "ticket_id"):
        found[link.document_id] = link.ticket
    return found


def _text(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        try:
            value = json.dumps(value, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            value = repr(value)
    return mask_text(value, _MAX_TEXT)


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


# --- O4: what people do to exception tickets ------------------------------------------------


def _ticket_guard(*, ticket: ExceptionTicket, user) -> ExceptionTicket:
    """Reload the ticket, refuse if the user's role may not act on it or it is closed."""
    from .permissions import ticket_can_act

    fresh = ExceptionTicket.objects.select_related("document", "document__flow").get(pk=ticket.pk)
    if not ticket_can_act(user=user, ticket=fresh):
        raise TicketForbidden(
            _("Your role may not act on tickets of the %(queue)s queue.")
            % {"queue": fresh.get_role_display()},
            ticket=fresh.pk,
        )
    if not fresh.is_open:
        raise TicketClosed(
            _("The ticket is already %(status)s.") % {"status": fresh.get_status_display()},
            ticket=fresh.pk,
        )
    return fresh


def _ticket_note(ticket: ExceptionTicket, user, text: str) -> TicketComment:
    return TicketComment.objects.create(ticket=ticket, author=user, text=str(text)[:_MAX_TEXT])


def ticket_assign(*, ticket: ExceptionTicket, user, assignee=None) -> ExceptionTicket:
    """Assign the ticket to a user of its queue (None: give it back to the queue)."""
    from .permissions import role_may_work

    fresh = _ticket_guard(ticket=ticket, user=user)
    if assignee is not None and not role_may_work(user=assignee, role=fresh.role):
        raise TicketForbidden(
            _("%(user)s does not work the %(queue)s queue.")
            % {"user": assignee.get_username(), "queue": fresh.get_role_display()},
            ticket=fresh.pk,
        )
    status = TicketStatus.IN_PROGRESS if assignee is not None else TicketStatus.OPEN
    updated = ExceptionTicket.objects.filter(pk=fresh.pk, status__in=OPEN_TICKET_STATUSES).update(
        assignee=assignee, status=status, updated_at=timezone.now()
    )
    if not updated:
        raise TicketClosed(ticket=fresh.pk)
    _ticket_note(
        fresh,
        user,
        _("Assigned to %(user)s.") % {"user": assignee.get_username()}
        if assignee is not None
        else _("Given back to the queue."),
    )
    fresh.refresh_from_db()
    return fresh


def ticket_comment(*, ticket: ExceptionTicket, user, text: str) -> TicketComment:
    """Add a note (allowed on closed tickets too: people explain after the fact)."""
    from .permissions import ticket_can_act

    if not text.strip():
        raise TicketError(_("Write the comment first."), ticket=ticket.pk)
    if not ticket_can_act(user=user, ticket=ticket):
        raise TicketForbidden(
            _("Your role may not act on tickets of the %(queue)s queue.")
            % {"queue": ticket.get_role_display()},
            ticket=ticket.pk,
        )
    return _ticket_note(ticket, user, text.strip())


def target_payload_parse(*, document, text: str) -> dict:
    """Validate an edited target payload: JSON, an object, not empty, and keeping every
    top-level field of the stored payload (a truncated paste must not reach the target)."""
    try:
        payload = json.loads(text)
    except ValueError as exc:
        raise PayloadInvalid(
            _("The target payload is not valid JSON: %(error)s (line %(line)s, column %(col)s).")
            % {
                "error": getattr(exc, "msg", str(exc)),
                "line": getattr(exc, "lineno", "?"),
                "col": getattr(exc, "colno", "?"),
            }
        ) from exc
    if not isinstance(payload, dict) or not payload:
        raise PayloadInvalid(_("The target payload must be a non-empty JSON object {...}."))
    missing = sorted(set(document.target_payload or {}) - set(payload))
    if missing:
        raise PayloadInvalid(
            _(
                "The edited payload drops the field(s) %(fields)s; keep them (an empty value is "
                "fine) or fix the data at its source."
            )
            % {"fields": ", ".join(missing)},
            fields=missing,
        )
    return payload


def ticket_retry(
    *, ticket: ExceptionTicket, user, target_payload: dict | None = None, document=None
) -> ExceptionTicket:
    """Retry the ticket's document, optionally with an edited target payload (edit-and-retry).
    The ticket stays open (in progress) until the document syncs, which closes it."""
    from flows.definitions.base import Problem
    from flows.services import document_retry

    from .permissions import document_can_edit

    fresh = _ticket_guard(ticket=ticket, user=user)
    if target_payload is not None and not document_can_edit(user=user):
        raise TicketForbidden(_("Your role may retry but not edit documents."), ticket=fresh.pk)
    if fresh.is_cause:
        return _cause_retry(fresh, user=user, target_payload=target_payload, document=document)
    if fresh.document is None:
        raise TicketError(
            _(
                "This ticket belongs to a flow, not a document: the flow retries by itself; use "
                "'Pull and process now' on the flow, or resolve the ticket."
            ),
            ticket=fresh.pk,
        )
    try:
        document_retry(document=fresh.document, user=user, target_payload=target_payload)
    except Problem as problem:
        raise TicketError(str(problem.message), ticket=fresh.pk) from problem
    ExceptionTicket.objects.filter(pk=fresh.pk, status=TicketStatus.OPEN).update(
        status=TicketStatus.IN_PROGRESS, updated_at=timezone.now()
    )
    _ticket_note(
        fresh,
        user,
        _("Retried with an edited target payload.")
        if target_payload is not None
        else _("Retried."),
    )
    fresh.refresh_from_db()
    return fresh


def ticket_documents(ticket: ExceptionTicket) -> list:
    """The documents a ticket holds: the cause's list, else its one document."""
    from flows.models import SyncDocument

    if ticket.is_cause:
        return list(
            SyncDocument.objects.filter(ticket_links__ticket=ticket)
            .select_related("flow")
            .order_by("ticket_links__joined_at", "pk")
        )
    return [ticket.document] if ticket.document_id else []


def _cause_retry(
    ticket: ExceptionTicket, *, user, target_payload=None, document=None
) -> ExceptionTicket:
    """Retry every document of a cause ticket (after the cause was fixed outside the portal),
    or one of its documents with an edited payload (a payload belongs to one document)."""
    from flows.definitions.base import Problem
    from flows.services import document_retry

    documents = ticket_documents(ticket)
    if target_payload is not None:
        if document is None or document.pk not in {d.pk for d in documents}:
            raise TicketError(_("Choose which document of the ticket to edit."), ticket=ticket.pk)
        try:
            document_retry(document=document, user=user, target_payload=target_payload)
        except Problem as problem:
            raise TicketError(str(problem.message), ticket=ticket.pk) from problem
        _ticket_note(
            ticket,
            user,
            _("Retried %(document)s with an edited target payload.") % {"document": document},
        )
        return ticket
    retried = 0
    for document in documents:
        try:
            with transaction.atomic():
                document_retry(document=document, user=user)
        except Problem:
            continue  # e.g. synced meanwhile; it leaves the ticket by itself
        retried += 1
    ExceptionTicket.objects.filter(pk=ticket.pk, status=TicketStatus.OPEN).update(
        status=TicketStatus.IN_PROGRESS, updated_at=timezone.now()
    )
    _ticket_note(ticket, user, _("Retried %(n)d document(s).") % {"n": retried})
    ticket.refresh_from_db()
    return ticket


def ticket_ignore(*, ticket: ExceptionTicket, user, reason: str) -> ExceptionTicket:
    """Ignore the problem: its document becomes ignored (never synced) and the ticket closes."""
    from flows.definitions.base import Problem
    from flows.services import document_ignore

    if not reason.strip():
        raise TicketError(_("Say why the problem is ignored."), ticket=ticket.pk)
    fresh = _ticket_guard(ticket=ticket, user=user)
    for document in ticket_documents(fresh):
        try:
            document_ignore(document=document, user=user, reason=reason.strip())
        except Problem as problem:
            raise TicketError(str(problem.message), ticket=fresh.pk) from problem
        # document_ignore closes the tickets of the record; close this one in any case.
    _ticket_close(fresh, user=user, status=TicketStatus.IGNORED, resolution=reason.strip())
    _ticket_note(fresh, user, _("Ignored: %(reason)s") % {"reason": reason.strip()})
    fresh.refresh_from_db()
    return fresh


def ticket_resolve(*, ticket: ExceptionTicket, user, note: str = "") -> ExceptionTicket:
    """Close the ticket as resolved (fixed outside the portal); the document is unchanged."""
    fresh = _ticket_guard(ticket=ticket, user=user)
    resolution = note.strip() or _("Resolved by %(user)s.") % {"user": user.get_username()}
    if not _ticket_close(fresh, user=user, status=TicketStatus.RESOLVED, resolution=resolution):
        raise TicketClosed(ticket=fresh.pk)
    _ticket_note(fresh, user, _("Resolved: %(note)s") % {"note": resolution})
    if fresh.document is not None:
        event_record(
            document=fresh.document,
            stage="ticket",
            message=_("Ticket resolved by %(user)s: %(note)s")
            % {"user": user.get_username(), "note": resolution},
            actor=user,
        )
    fresh.refresh_from_db()
    return fresh


def _ticket_close(ticket: ExceptionTicket, *, user, status: str, resolution: str) -> int:
    return ExceptionTicket.objects.filter(pk=ticket.pk, status__in=OPEN_TICKET_STATUSES).update(
        status=status,
        resolved_at=timezone.now(),
        resolved_by=user,
        resolution=resolution,
        updated_at=timezone.now(),
    )


class BulkAction:
    ASSIGN_TO_ME = "assign_to_me"
    RETRY = "retry"
    IGNORE = "ignore"
    RESOLVE = "resolve"
    ALL = (ASSIGN_TO_ME, RETRY, IGNORE, RESOLVE)


@dataclass
class BulkOutcome:
    """How a bulk action went: tickets done and, for the others, why not."""

    done: list[int] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)


def tickets_bulk(
    *, tickets: Iterable[ExceptionTicket], user, action: str, reason: str = ""
) -> BulkOutcome:
    """Apply one action to many tickets; each ticket succeeds or is refused on its own."""
    if action not in BulkAction.ALL:
        raise TicketError(_("Unknown action %(action)s.") % {"action": action})
    if action == BulkAction.IGNORE and not reason.strip():
        raise TicketError(_("Say why the problems are ignored."))
    outcome = BulkOutcome()
    for ticket in tickets:
        try:
            with transaction.atomic():
                if action == BulkAction.ASSIGN_TO_ME:
                    ticket_assign(ticket=ticket, user=user, assignee=user)
                elif action == BulkAction.RETRY:
                    ticket_retry(ticket=ticket, user=user)
                elif action == BulkAction.IGNORE:
                    ticket_ignore(ticket=ticket, user=user, reason=reason)
                else:
                    ticket_resolve(ticket=ticket, user=user, note=reason)
        except TicketError as exc:
            outcome.refused.append((ticket.pk, str(exc.message)))
        else:
            outcome.done.append(ticket.pk)
    return outcome


# --- O3: the 90-day retention -----------------------------------------------------------------


@dataclass
class PurgeResult:
    events_deleted: int = 0
    calls_deleted: int = 0
    batches: int = 0
    largest_batch: int = 0


def _kept_documents():
    """Documents with a still-open ticket (their own or their cause's): their error events
    outlive the retention."""
    own = (
        ExceptionTicket.objects.filter(status__in=OPEN_TICKET_STATUSES, document__isnull=False)
        .values("document_id")
        .order_by()
    )
    held = (
        TicketDocument.objects.filter(ticket__status__in=OPEN_TICKET_STATUSES)
        .values("document_id")
        .order_by()
    )
    return Q(document_id__in=own) | Q(document_id__in=held)


def events_purge(
    *,
    now: datetime | None = None,
    retention_days: int | None = None,
    batch_size: int | None = None,
    max_batches: int | None = None,
) -> PurgeResult:
    """Delete events (and remote calls) older than the retention, in batches of at most
    `batch_size` rows, each in its own short transaction. Error events of documents whose
    ticket is still open are kept, with the remote calls of their batches."""
    now = now or timezone.now()
    days = settings.PORTAL_EVENT_RETENTION_DAYS if retention_days is None else retention_days
    size = max(1, batch_size or settings.PORTAL_PURGE_BATCH_SIZE)
    cutoff = now - timedelta(days=days)
    result = PurgeResult()
    kept_events = Q(level=EventLevel.ERROR) & _kept_documents()
    purgeable = Event.objects.filter(created_at__lt=cutoff).exclude(kept_events)
    while max_batches is None or result.batches < max_batches:
        ids = list(purgeable.values_list("id", flat=True)[:size])
        if not ids:
            break
        with transaction.atomic():
            deleted = Event.objects.filter(pk__in=ids).delete()[0]
        result.events_deleted += deleted
        result.batches += 1
        result.largest_batch = max(result.largest_batch, len(ids))
    kept_batches = (
        Event.objects.filter(kept_events, batch_id__isnull=False).values("batch_id").order_by()
    )
    calls = RemoteCall.objects.filter(created_at__lt=cutoff).exclude(
        batch_id__isnull=False, batch_id__in=kept_batches
    )
    while max_batches is None or result.batches < max_batches:
        ids = list(calls.values_list("id", flat=True)[:size])
        if not ids:
            break
        with transaction.atomic():
            deleted = RemoteCall.objects.filter(pk__in=ids).delete()[0]
        result.calls_deleted += deleted
        result.batches += 1
        result.largest_batch = max(result.largest_batch, len(ids))
    return result
