"""Monitoring's implementation of the flows journal (flows/journal.py, issue 23 point 2):
events, exception tickets and the batch tag of remote calls, delegated to monitoring.services.
Registered in MonitoringConfig.ready; flows never imports monitoring."""

import uuid
from collections.abc import Iterable
from typing import Any

from django.utils import timezone

from core.messages import to_data

from . import permissions, problems, services
from .models import OPEN_TICKET_STATUSES, ExceptionTicket, TicketStatus


class MonitoringJournal:
    """flows.journal.Journal, written to the events and tickets of monitoring. Each call looks
    its service function up when it is made (tests may patch monitoring.services)."""

    def event_record(self, **event: Any):
        return services.event_record(**event)

    def events_record_bulk(self, events: Iterable[dict]) -> None:
        services.events_record_bulk(events)

    def ticket_open_or_update(self, **ticket: Any) -> ExceptionTicket:
        return services.ticket_open_or_update(**ticket)

    def tickets_close_for(
        self,
        *,
        trace_keys: Iterable[str],
        resolution: str,
        user=None,
        status: str = TicketStatus.RESOLVED,
    ) -> int:
        return services.tickets_close_for(
            trace_keys=trace_keys, resolution=resolution, user=user, status=status
        )

    def ticket_refresh(self, *, trace_key: str, message: str, detail: dict) -> bool:
        existing = ExceptionTicket.objects.filter(
            trace_key=trace_key, status__in=OPEN_TICKET_STATUSES
        ).first()
        if existing is None:
            return False
        if existing.message != message[:4000] or existing.detail != detail:
            ExceptionTicket.objects.filter(pk=existing.pk).update(
                message=message[:4000],
                message_data=to_data(message),  # issue 20 point 4
                detail=detail,
                last_seen_at=timezone.now(),
            )
        return True

    def open_trace_keys(self, *, prefix: str) -> set[str]:
        return set(
            ExceptionTicket.objects.filter(
                trace_key__startswith=prefix, status__in=OPEN_TICKET_STATUSES
            ).values_list("trace_key", flat=True)
        )

    def batch_begin(self, batch_id: uuid.UUID):
        return services.current_batch.set(batch_id)

    def batch_end(self, token) -> None:
        services.current_batch.reset(token)

    def document_can_act(self, *, user, document) -> bool:
        return permissions.document_can_act(user=user, document=document)

    def problem_fix(self, error_class: str) -> str:
        _role, _title, fix = problems.problem_for(error_class)
        return fix
