"""Webhook URL checks: https to a public address, unless the host is explicitly allowed.

The internal-target rules are core.netguard's; robots are allowed the hosts of
PORTAL_ROBOT_ALLOWED_INTERNAL_HOSTS (by default those of PORTAL_ALLOWED_INTERNAL_HOSTS)."""

from urllib.parse import parse_qs, urlsplit

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from core import netguard

from .choices import RobotKind

# Path suffix and credential each vendor's webhook carries
# (docs/protocols/alerts-fx-customs.md §1.1-1.3).
_SHAPES = {
    RobotKind.DINGTALK: ("/robot/send", "access_token"),
    RobotKind.FEISHU: ("/open-apis/bot/v2/hook/", ""),
    RobotKind.WECOM: ("/cgi-bin/webhook/send", "key"),
}


def validate_webhook_url(url: str, *, kind: str) -> None:
    """Raise ValidationError unless `url` is a plausible webhook of `kind` that we may call."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("https", "http") or not host:
        raise ValidationError(
            _(
                "Enter the full webhook URL, e.g. https://oapi.dingtalk.com/robot/send?access_token=…"
            )
        )
    if host not in netguard.allowed_internal_hosts(netguard.ROBOT_SETTING):
        if parts.scheme != "https":
            raise ValidationError(
                _("The webhook must use https (only the hosts in %(setting)s may use http).")
                % {"setting": "PORTAL_ROBOT_ALLOWED_INTERNAL_HOSTS"}
            )
        # A host name is checked again on every send, after resolution.
        reason = netguard.internal_reason(host)
        if reason:
            raise ValidationError(
                _("%(reason)s; webhooks must go to the vendor's server.") % {"reason": reason}
            )
    suffix, credential = _SHAPES[RobotKind(kind)]
    if suffix not in parts.path:
        raise ValidationError(
            _("This is not a %(kind)s webhook: its path should contain %(suffix)s.")
            % {"kind": RobotKind(kind).label, "suffix": suffix}
        )
    if kind == RobotKind.FEISHU and not parts.path.split(suffix, 1)[1].strip("/"):
        raise ValidationError(_("The Feishu webhook must end with the bot's hook id."))
    if credential and not parse_qs(parts.query).get(credential, [""])[0]:
        raise ValidationError(
            _("The webhook URL lacks its %(name)s parameter; paste the whole URL from the robot.")
            % {"name": credential}
        )


def ensure_public_destination(url: str) -> None:
    """At send time: refuse a host that resolves to an internal address (unless allowed).

    Raises ValueError with a readable reason; resolution failures are left to the HTTP call.
    """
    address = netguard.resolved_internal_address(url, setting=netguard.ROBOT_SETTING)
    if address:
        raise ValueError(
            _("%(host)s resolves to the internal address %(address)s")
            % {"host": (urlsplit(url).hostname or "").lower(), "address": address}
        )
