"""Admin of monitoring: events, exception tickets and remote calls (tickets), and the
alerting models (alerts). Importing the package registers them all."""

from .alerts import (
    AlertAdmin,
    AlertContactAdmin,
    AlertDeliveryAdmin,
    AlertRuleAdmin,
    AlertRuleForm,
)
from .tickets import (
    EventAdmin,
    ExceptionTicketAdmin,
    ReadOnlyAdmin,
    RemoteCallAdmin,
    TicketAdminForm,
    TicketCommentInline,
)

__all__ = [
    "AlertAdmin",
    "AlertContactAdmin",
    "AlertDeliveryAdmin",
    "AlertRuleAdmin",
    "AlertRuleForm",
    "EventAdmin",
    "ExceptionTicketAdmin",
    "ReadOnlyAdmin",
    "RemoteCallAdmin",
    "TicketAdminForm",
    "TicketCommentInline",
]
