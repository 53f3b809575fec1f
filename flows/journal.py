"""The journal: how flows report what happens to documents and flows (issue 23 point 2).

The engine, the flow services, the definitions and the watchdog record events and open or
close exception tickets through `journal()`. The monitoring app implements `Journal` (in
`monitoring/journal.py`) and registers it with `set_journal()` when it is ready, so the
dependency runs one way, from monitoring to flows (docs/concepts.md, The journal). Without a
registered journal (monitoring not installed) `LoggingJournal` writes everything to the log
and keeps no tickets.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

from django.db import models
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from .models import SyncDocument

logger = logging.getLogger(__name__)


class EventLevel(models.TextChoices):
    """The level of an event (monitoring.models.Event.level)."""

    INFO = "info", _("Info")
    WARNING = "warning", _("Warning")
    ERROR = "error", _("Error")


class Journal(Protocol):
    """What flows report and ask. Keyword arguments as in monitoring.services: an event is
    stage, message, document | integration_id + flow_code, level, from_state, to_state,
    detail, actor; a ticket is keyed by its trace key (a document's, or `flow:<id>:circuit`,
    or a watchdog finding's) and, with a `cause`, shared by every document of that cause."""

    def event_record(self, **event: Any) -> Any:
        """Record one event."""

    def events_record_bulk(self, events: Iterable[dict]) -> None:
        """Record many events at once (the engine settles batches of documents)."""

    def ticket_open_or_update(self, **ticket: Any) -> Any:
        """Open the ticket of this trace key (or cause), or update the open one."""

    def tickets_close_for(
        self, *, trace_keys: Iterable[str], resolution: str, user=None, status: str = "resolved"
    ) -> int:
        """Close the open tickets of these trace keys (documents leave their cause tickets);
        returns how many closed."""

    def ticket_refresh(self, *, trace_key: str, message: str, detail: dict) -> bool:
        """Quietly refresh the message and detail of the open ticket of this trace key (no new
        alert); False when none is open."""

    def open_trace_keys(self, *, prefix: str) -> set[str]:
        """The trace keys of the open tickets starting with `prefix`."""

    def batch_begin(self, batch_id: uuid.UUID) -> Any:
        """Tag what is recorded from here on (events, remote calls) with this batch; returns
        the token batch_end takes."""

    def batch_end(self, token: Any) -> None:
        """End the batch batch_begin started."""

    def document_can_act(self, *, user, document: SyncDocument) -> bool:
        """May this user change this document (retry, ignore, edit its payload)? The work
        queue rule of the tickets."""

    def problem_fix(self, error_class: str) -> str:
        """The suggested fix of a problem of this class, as a ticket shows it."""


class LoggingJournal:
    """The journal when monitoring is not installed: events and tickets go to the log."""

    def event_record(self, **event: Any) -> None:
        self._log(event)

    def events_record_bulk(self, events: Iterable[dict]) -> None:
        for event in events:
            self._log(event)

    def ticket_open_or_update(self, **ticket: Any) -> None:
        logger.warning(
            "problem %s (%s): %s",
            ticket.get("trace_key"),
            ticket.get("error_class"),
            ticket.get("message"),
        )

    def tickets_close_for(
        self, *, trace_keys: Iterable[str], resolution: str, user=None, status: str = "resolved"
    ) -> int:
        return 0

    def ticket_refresh(self, *, trace_key: str, message: str, detail: dict) -> bool:
        return False

    def open_trace_keys(self, *, prefix: str) -> set[str]:
        return set()

    def batch_begin(self, batch_id: uuid.UUID) -> None:
        return None

    def batch_end(self, token: Any) -> None:
        return None

    def document_can_act(self, *, user, document: SyncDocument) -> bool:
        return bool(user.is_active and user.has_perm("flows.change_syncdocument"))

    def problem_fix(self, error_class: str) -> str:
        return ""

    @staticmethod
    def _log(event: dict) -> None:
        level = {EventLevel.WARNING: logging.WARNING, EventLevel.ERROR: logging.ERROR}.get(
            event.get("level", EventLevel.INFO), logging.INFO
        )
        document = event.get("document")
        logger.log(
            level,
            "%s %s: %s",
            event.get("stage", ""),
            getattr(document, "trace_key", "") or event.get("flow_code", ""),
            event.get("message", ""),
        )


_journal: Journal = LoggingJournal()


def set_journal(implementation: Journal) -> None:
    """Register the journal (monitoring does, in its AppConfig.ready)."""
    global _journal
    _journal = implementation


def journal() -> Journal:
    """The registered journal (LoggingJournal until one is registered)."""
    return _journal
