"""Errors of the monitoring app: what a person may not or cannot do to a ticket."""

from django.utils.translation import gettext_noop

from core.errors import PortalError


class TicketError(PortalError):
    """A ticket action could not be done; the message says why and what to do instead."""

    default_message = gettext_noop("The ticket action could not be done.")


class TicketForbidden(TicketError):
    """The user's role may not act on this ticket (e.g. purchasing on a finance ticket)."""

    default_message = gettext_noop("Your role may not act on this ticket.")


class TicketClosed(TicketError):
    """The ticket was closed meanwhile (by a person or by a later success)."""

    default_message = gettext_noop("The ticket is already closed.")


class PayloadInvalid(TicketError):
    """An edited target payload is not valid JSON or not a usable document."""

    default_message = gettext_noop("The edited target payload is not valid.")
