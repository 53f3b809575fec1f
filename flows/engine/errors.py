"""How the engine classifies an exception: a remote failure, an outage of the portal's own
services, or an internal error, each as a Problem."""

from __future__ import annotations

from connectors.errors import AuthError, RateLimited, TransientError, UnknownOutcome
from core.errors import PortalError
from core.messages import gettext as _

from ..choices import ErrorClass
from ..definitions.base import Problem


def _remote_problem(exc: Exception, *, stage: str) -> Problem:
    if isinstance(exc, RateLimited):
        error_class = ErrorClass.RATE_LIMITED
    elif isinstance(exc, UnknownOutcome):
        error_class = ErrorClass.UNKNOWN_OUTCOME
    elif isinstance(exc, TransientError):
        error_class = ErrorClass.CONNECTION
    elif isinstance(exc, AuthError):
        error_class = ErrorClass.AUTH
    else:
        error_class = ErrorClass.REMOTE_REJECTED
    message = getattr(exc, "message", str(exc))
    remote = getattr(exc, "remote_message", "")
    if remote and remote not in message:
        message = f"{message} ({remote})"
    return Problem(
        message,
        error_class=error_class,
        code=getattr(exc, "code", "") or "",
        system=getattr(exc, "system", ""),
        stage=stage,
        subject=(remote or message)[:120],
    )


def _outage(exc: Exception) -> bool:
    """The portal's own services failed (database, Redis, the broker): not the document's
    fault and not a person's to fix; it passes like a remote timeout."""
    import redis
    from django.db import InterfaceError, OperationalError
    from kombu.exceptions import OperationalError as BrokerError

    return isinstance(
        exc,
        redis.exceptions.ConnectionError
        | redis.exceptions.TimeoutError
        | OperationalError
        | InterfaceError
        | BrokerError
        | ConnectionError
        | TimeoutError,
    )


def _internal(exc: Exception, *, stage: str) -> Problem:
    if isinstance(exc, Problem):
        return exc
    if _outage(exc):
        return Problem(
            _(
                "The portal's own services (database, Redis or the task queue) were "
                "unreachable (%(error)s). It is retried by itself."
            )
            % {"error": f"{type(exc).__name__}: {exc}"[:300]},
            error_class=ErrorClass.CONNECTION,
            stage=stage,
            subject=type(exc).__name__,
        )
    if isinstance(exc, PortalError):
        return Problem(exc.message, error_class=ErrorClass.INTERNAL, stage=stage, **exc.extra)
    return Problem(f"{type(exc).__name__}: {exc}", error_class=ErrorClass.INTERNAL, stage=stage)
