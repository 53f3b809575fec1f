"""Writes of the Kingdee connector: the connection test behind the admin action."""

from dataclasses import dataclass

from django.utils import timezone

from connectors.errors import ConnectorError
from core.messages import gettext as _

from .client import KingdeeClient
from .models import KingdeeAuthMode, KingdeeConnection


@dataclass(frozen=True)
class ConnectionCheck:
    """What a connection test found."""

    ok: bool
    message: str


def connection_test(*, connection: KingdeeConnection) -> ConnectionCheck:
    """Sign in (login or signed call), read the warehouses of the connection's organisation,
    and store the outcome on the connection (last_checked_at / last_check_ok / message)."""
    client = KingdeeClient(connection, timeout=min(connection.timeout_seconds or 30, 30))
    try:
        login = client.login()
        rows = client.execute_bill_query(
            "BD_STOCK",
            ["FNumber", "FName"],
            filter_string=f"FUseOrgId.FNumber = '{connection.org_number}'",
            limit=2000,
        )
    except ConnectorError as exc:
        check = ConnectionCheck(False, _("Failed: %(message)s") % {"message": exc.message})
    else:
        how = (
            _("signed requests accepted")
            if connection.auth_mode == KingdeeAuthMode.SIGNATURE
            else _("logged in to %(name)s")
            % {"name": ((login.get("Context") or {}).get("DataCenterName") or connection.acct_id)}
        )
        check = ConnectionCheck(
            True,
            _("Connected (%(how)s); %(count)d warehouses visible in organisation %(org)s.")
            % {"how": how, "count": len(rows), "org": connection.org_number},
        )
    finally:
        client.http.close()
    KingdeeConnection.objects.filter(pk=connection.pk).update(
        last_checked_at=timezone.now(), last_check_ok=check.ok, last_check_message=check.message
    )
    return check
