"""The circuit breaker: a flow pauses itself after consecutive connection failures (and at
once on a rejected login), with one ticket, and resumes when the connection answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.db.models import F
from django.utils import timezone

from connectors.errors import AuthError
from core.messages import gettext as _

from ..choices import ErrorClass
from ..definitions.base import Problem
from ..journal import EventLevel, journal
from ..models import Flow
from .errors import _remote_problem

CIRCUIT_THRESHOLD = 5
CIRCUIT_COOLDOWN = timedelta(minutes=5)
# A rejected login pauses the flow until a person resumes it (no timed probe).
AUTH_PAUSED_UNTIL = datetime(9999, 1, 1, tzinfo=UTC)


def _circuit_failure(flow: Flow, exc: Exception) -> None:
    Flow.objects.filter(pk=flow.pk).update(consecutive_failures=F("consecutive_failures") + 1)
    flow.refresh_from_db(fields=["consecutive_failures", "paused_until"])
    if isinstance(exc, AuthError):
        _circuit_auth(flow, _remote_problem(exc, stage="circuit"))
    elif flow.consecutive_failures >= CIRCUIT_THRESHOLD and not flow.paused_until:
        until = timezone.now() + CIRCUIT_COOLDOWN
        Flow.objects.filter(pk=flow.pk).update(paused_until=until)
        flow.paused_until = until
        problem = _remote_problem(exc, stage="circuit")
        journal().event_record(
            stage="circuit",
            level=EventLevel.ERROR,
            integration_id=flow.integration_id,
            flow_code=flow.code,
            message=_("Paused after %(n)d consecutive connection failures: %(error)s")
            % {"n": flow.consecutive_failures, "error": problem.message},
        )
        journal().ticket_open_or_update(
            trace_key=f"flow:{flow.pk}:circuit",
            error_class=problem.error_class,
            message=_(
                "The flow paused itself after %(n)d consecutive failures and resumes on a "
                "successful probe. Last error: %(error)s"
            )
            % {"n": flow.consecutive_failures, "error": problem.message},
            subject=str(flow),
            integration_id=flow.integration_id,
            flow_code=flow.code,
            system=problem.system,
        )
    elif flow.paused_until:
        # A probe after the cool-down failed: pause again, no new alert.
        Flow.objects.filter(pk=flow.pk).update(paused_until=timezone.now() + CIRCUIT_COOLDOWN)


def _circuit_auth(flow: Flow, problem: Problem) -> None:
    """Credentials or configuration rejected: pause at once, until a person resumes the flow
    (no cool-down probe: retrying the same secret never helps), with one operator ticket,
    whose opening raises the alert (issue 24 point 5)."""
    first = not (flow.paused_until and flow.paused_until >= AUTH_PAUSED_UNTIL)
    Flow.objects.filter(pk=flow.pk).update(paused_until=AUTH_PAUSED_UNTIL)
    flow.paused_until = AUTH_PAUSED_UNTIL
    if not first:
        return
    journal().event_record(
        stage="circuit",
        level=EventLevel.ERROR,
        integration_id=flow.integration_id,
        flow_code=flow.code,
        message=_("Paused: %(error)s") % {"error": problem.message},
    )
    journal().ticket_open_or_update(
        trace_key=f"flow:{flow.pk}:circuit",
        error_class=ErrorClass.AUTH,
        message=_(
            "The flow paused itself: %(error)s Retrying the same credentials will not help. "
            "Fix the connection, use 'Test connection', then resume the flow (Flows › "
            "'Resume paused flows'); its waiting documents are worked again then."
        )
        % {"error": problem.message},
        subject=str(flow),
        integration_id=flow.integration_id,
        flow_code=flow.code,
        system=problem.system,
    )


def _circuit_success(flow: Flow) -> None:
    if flow.paused_until and flow.paused_until >= AUTH_PAUSED_UNTIL:
        return  # another call answering does not prove the rejected credentials were fixed
    if flow.consecutive_failures or flow.paused_until:
        was_paused = bool(flow.paused_until)
        Flow.objects.filter(pk=flow.pk).exclude(paused_until__gte=AUTH_PAUSED_UNTIL).update(
            consecutive_failures=0, paused_until=None
        )
        flow.consecutive_failures = 0
        flow.paused_until = None
        if was_paused:
            journal().event_record(
                stage="circuit",
                integration_id=flow.integration_id,
                flow_code=flow.code,
                message=_("Resumed: the connection answered again."),
            )
            journal().tickets_close_for(
                trace_keys=[f"flow:{flow.pk}:circuit"],
                resolution=_("The connection answered again."),
            )
