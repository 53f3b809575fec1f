"""Typed errors shared by every connector (docs/concepts.md "Error classes").

TransientError: retry later (network, timeout, 5xx, server busy, rate limited).
AuthError: credentials or session rejected (re-login / refresh, then retry once).
BusinessError: the remote said no; becomes a ticket. The remote's code and message are kept.
"""

from typing import Any

from django.utils.translation import gettext_noop

from core.errors import PortalError


class ConnectorError(PortalError):
    default_message = gettext_noop("The remote system call failed.")

    def __init__(
        self,
        message: str | None = None,
        *,
        system: str = "",
        code: str | int | None = None,
        remote_message: str = "",
        **extra: Any,
    ) -> None:
        super().__init__(message, system=system, code=code, remote_message=remote_message, **extra)
        self.system = system
        self.code = code
        self.remote_message = remote_message


class TransientError(ConnectorError):
    default_message = gettext_noop("The remote system is temporarily unavailable.")


class RateLimited(TransientError):
    default_message = gettext_noop("The remote system's rate limit was reached.")

    def __init__(self, message: str | None = None, *, retry_after: float | None = None, **kw):
        super().__init__(message, retry_after=retry_after, **kw)
        self.retry_after = retry_after


class UnknownOutcome(TransientError):
    """The request may have reached the remote (timeout or 5xx after sending): before sending
    the same write again, ask the remote whether it landed."""

    default_message = gettext_noop(
        "The remote system did not answer; the write may or may not have landed."
    )


class AuthError(ConnectorError):
    default_message = gettext_noop("The remote system rejected the credentials or the session.")


class BusinessError(ConnectorError):
    default_message = gettext_noop("The remote system rejected the request.")

    def __init__(self, message: str | None = None, *, errors: list | None = None, **kw):
        super().__init__(message, errors=errors or [], **kw)
        self.errors = errors or []


class DestinationRefused(BusinessError):
    """The SSRF guard (core.netguard) refused the address the configured URL leads to (after DNS
    or a redirect). A configuration problem: never retried; the message names host and
    address."""

    default_message = gettext_noop("The portal refuses to connect to an internal address.")
