"""Models of monitoring: events (the 90-day log), exception tickets (异常工单) with their
documents and comments, the remote-call log, and alerting (O2): contacts, rules, alerts and
their deliveries."""

from .alerts import Alert, AlertContact, AlertDelivery, AlertRule
from .tickets import (
    OPEN_TICKET_STATUSES,
    Event,
    EventLevel,
    ExceptionTicket,
    RemoteCall,
    TicketComment,
    TicketDocument,
    TicketStatus,
)

__all__ = [
    "OPEN_TICKET_STATUSES",
    "Alert",
    "AlertContact",
    "AlertDelivery",
    "AlertRule",
    "Event",
    "EventLevel",
    "ExceptionTicket",
    "RemoteCall",
    "TicketComment",
    "TicketDocument",
    "TicketStatus",
]
