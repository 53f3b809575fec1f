"""Turn what happens elsewhere into alerts (O2): a ticket opening (or its problem changing),
a Jushuitan token that cannot be refreshed (G4)."""

import logging

from django.db import transaction
from django.dispatch import receiver

from core.messages import compose, from_data
from core.messages import gettext as _

from .alerts import alert_raise
from .services import ticket_opened

logger = logging.getLogger(__name__)

# Error classes that are warnings rather than errors for alert rules' minimum severity.
_WARNING_CLASSES = {"insufficient_stock", "dependency"}


@receiver(ticket_opened, dispatch_uid="monitoring.alert_on_ticket")
def alert_on_ticket(sender, ticket, created, **kwargs) -> None:
    # Issue 20 point 4: title and text stay messages, posted in the channel's language.
    parts = {
        "message": from_data(ticket.message_data, ticket.message),
        "what": _("What to do"),
        "fix": from_data(ticket.fix_data, ticket.suggested_fix),
    }
    template = "%(message)s\n\n%(what)s: %(fix)s"
    link = ticket.links.select_related("document").first() if ticket.is_cause else None
    document = link.document if link is not None else ticket.document
    if document is not None:
        template += "\n\n%(document_label)s: %(document)s"
        parts.update(document_label=_("Document"), document=document.source_key)
        if document.platform_order_no:
            template += " · %(order_label)s %(order)s"
            parts.update(order_label=_("platform order no."), order=document.platform_order_no)
    if ticket.is_cause:
        # Issue 20 point 1: one alert per cause; later documents join its ticket silently.
        template += "\n%(cause)s"
        parts["cause"] = _("The ticket lists every document this cause blocks.")
    text = compose(template, **parts)
    try:
        with transaction.atomic():  # a savepoint: a failed alert leaves the ticket intact
            alert_raise(
                title=from_data(ticket.title_data, ticket.title),
                text=text,
                error_class=ticket.error_class,
                flow_code=ticket.flow_code,
                integration_id=ticket.integration_id,
                severity="warning" if ticket.error_class in _WARNING_CLASSES else "error",
                dedupe_key=f"ticket:{ticket.trace_key}:{ticket.error_class}",
                role=ticket.role,
                # A record that names its own owner (F1.4: the material group's owner).
                users=[int(u) for u in (ticket.detail or {}).get("mention_users") or []],
            )
    except Exception:  # an alert must never undo the ticket it reports
        logger.exception("could not raise the alert of ticket %s", ticket.pk)
