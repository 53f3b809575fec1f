"""Token services of a Jushuitan connection (G4): obtain, refresh, keep fresh, test."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from django.core.cache import cache
from django.utils import timezone

from connectors.errors import AuthError, ConnectorError
from core.messages import gettext as _

from .api import ENDPOINTS, JushuitanClient, client_for
from .choices import AppKind, TokenState
from .models import JushuitanConnection
from .signals import token_refresh_failed
from .transport import CODE_REFRESH_FORBIDDEN

logger = logging.getLogger(__name__)

_REFRESH_LOCK_TTL = 60
_REFRESH_LOCK_WAIT = 30.0


def _store_token(*, connection: JushuitanConnection, data: dict) -> JushuitanConnection:
    access = str(data.get("access_token") or "")
    if not access:
        raise AuthError(_("Jushuitan answered without an access token."), system="jushuitan")
    now = timezone.now()
    connection.access_token = access
    # Keep the refresh token when the answer omits it (some servers extend the old one).
    connection.refresh_token = str(data.get("refresh_token") or connection.refresh_token)
    connection.token_expires_at = now + timedelta(seconds=int(data.get("expires_in") or 0))
    connection.token_refreshed_at = now
    connection.token_state = TokenState.VALID
    connection.token_error = ""
    if connection.pk:
        from monitoring import services as monitoring

        monitoring.tickets_close_for(
            trace_keys=[reauthorise_trace_key(connection)],
            resolution=_("A new token was obtained."),
        )
    connection.save(
        update_fields=[
            "access_token",
            "refresh_token",
            "token_expires_at",
            "token_refreshed_at",
            "token_state",
            "token_error",
            "updated_at",
        ]
    )
    return connection


def _record_failure(*, connection: JushuitanConnection, error: ConnectorError) -> None:
    JushuitanConnection.objects.filter(pk=connection.pk).update(
        token_state=TokenState.REFRESH_FAILED, token_error=str(error.message)[:2000]
    )
    connection.token_state = TokenState.REFRESH_FAILED
    connection.token_error = str(error.message)
    logger.error(
        "Jushuitan token refresh failed for connection %s (%s): %s",
        connection.pk,
        connection.name,
        error.message,
    )
    token_refresh_failed.send(sender=JushuitanConnection, connection=connection, error=error)


def token_refresh(*, connection: JushuitanConnection) -> JushuitanConnection:
    """Obtain a new token now: refreshToken first, then (self-developed apps) getInitToken.

    Stores whatever comes back. On failure records the error, logs it, sends
    `token_refresh_failed` and raises the typed error.
    """
    client = JushuitanClient(connection, tokens=TOKENS)
    errors: list[ConnectorError] = []
    if connection.refresh_token:
        try:
            return _store_token(
                connection=connection,
                data=client.refresh_access_token(connection.refresh_token),
            )
        except ConnectorError as exc:
            errors.append(exc)
    if connection.app_kind == AppKind.SELF_DEVELOPED:
        try:
            return _store_token(connection=connection, data=client.get_init_token())
        except ConnectorError as exc:
            errors.append(exc)
    error = (
        errors[-1]
        if errors
        else AuthError(
            _("The ISV app has no refresh token: the merchant must authorise it again."),
            system="jushuitan",
        )
    )
    if any(e.code == CODE_REFRESH_FORBIDDEN for e in errors):
        # Since 2023-08-15 ISV apps may not refresh (docs/protocols/jushuitan.md §1.4, §1.6):
        # waiting does not help, only the merchant's new consent does.
        error = AuthError(
            _(
                "Jushuitan refuses to refresh the token of connection %(name)s (code 150): the "
                "merchant must authorise the app again in the Jushuitan console (ISV apps may "
                "not refresh since 2023-08-15); then enter the new code and use 'Refresh token "
                "now'."
            )
            % {"name": connection.name},
            system="jushuitan",
            code=CODE_REFRESH_FORBIDDEN,
            remote_message=next(
                (e.remote_message for e in errors if e.code == CODE_REFRESH_FORBIDDEN), ""
            ),
        )
        _reauthorise_ticket(connection=connection, error=error)
    _record_failure(connection=connection, error=error)
    raise error


def _reauthorise_ticket(*, connection: JushuitanConnection, error: AuthError) -> None:
    """One open operator ticket per connection saying what to do (no timed retry helps)."""
    from monitoring import services as monitoring

    monitoring.ticket_open_or_update(
        trace_key=reauthorise_trace_key(connection),
        error_class="auth",
        message=str(error.message),
        subject=connection.name,
        system="jushuitan",
        detail={"code": CODE_REFRESH_FORBIDDEN, "remote": error.remote_message},
        role="operator",
    )


def reauthorise_trace_key(connection: JushuitanConnection) -> str:
    return f"jushuitan:{connection.pk}:reauthorise"


def token_needs_refresh(*, connection: JushuitanConnection) -> bool:
    if not connection.access_token or connection.token_expires_at is None:
        return True
    margin = timedelta(hours=connection.refresh_before_hours)
    return connection.token_expires_at - margin <= timezone.now()


def token_ensure_fresh(*, connection: JushuitanConnection) -> JushuitanConnection:
    """Refresh the token when it is missing or inside the refresh margin before expiry.

    Several workers may call this together: a lock in the shared cache (Redis in
    production) lets one of them refresh while the others wait and reuse its token. No
    database transaction is held across the HTTP call."""
    if not token_needs_refresh(connection=connection):
        return connection
    key = f"jushuitan:token-refresh:{connection.pk}"
    deadline = time.monotonic() + _REFRESH_LOCK_WAIT
    while not cache.add(key, "1", timeout=_REFRESH_LOCK_TTL):
        if time.monotonic() > deadline:
            break  # the holder died: refresh anyway rather than stall the flows
        time.sleep(0.2)
    try:
        connection.refresh_from_db()
        if token_needs_refresh(connection=connection):
            token_refresh(connection=connection)
    finally:
        cache.delete(key)
    return connection


def tokens_refresh_due() -> dict[str, int]:
    """Keep every connection's token fresh; one broken connection never stops the others."""
    done = failed = 0
    for connection in JushuitanConnection.objects.all():
        try:
            if token_needs_refresh(connection=connection):
                token_ensure_fresh(connection=connection)
                done += 1
        except ConnectorError:
            failed += 1  # recorded, logged and signalled by token_refresh
    return {"refreshed": done, "failed": failed}


class ConnectionTokens:
    """The token provider of the Jushuitan client (`transport.TokenProvider`): the token stored
    on the connection, kept fresh and refreshed by the services above."""

    def ensure_fresh(self, connection: JushuitanConnection) -> None:
        token_ensure_fresh(connection=connection)

    def refresh(self, connection: JushuitanConnection) -> None:
        token_refresh(connection=connection)


# Registered as every client's provider by JushuitanConfig.ready().
TOKENS = ConnectionTokens()


@dataclass(frozen=True)
class ConnectionCheck:
    ok: bool
    message: str
    shops: int = 0


def connection_test(*, connection: JushuitanConnection) -> ConnectionCheck:
    """Obtain a token if needed and read the shop list: proves key, secret, token and path."""
    try:
        token_ensure_fresh(connection=connection)
        client = client_for(connection)
        data = client.call(ENDPOINTS["shops"].path, {"page_index": 1, "page_size": 100}) or {}
        shops = len(data.get("datas") or [])
    except ConnectorError as exc:
        check = ConnectionCheck(ok=False, message=str(exc.message))
    else:
        check = ConnectionCheck(
            ok=True,
            message=_("Connected: %(n)s shop(s) visible, token valid until %(until)s.")
            % {"n": shops, "until": connection.token_expires_at},
            shops=shops,
        )
    # Kept for the go-live checklist (issue 24: the last result of the live test).
    JushuitanConnection.objects.filter(pk=connection.pk).update(
        last_checked_at=timezone.now(), last_check_ok=check.ok, last_check_message=check.message
    )
    return check
