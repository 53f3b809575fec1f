"""Webhook URL checks: https to a public address, unless the host is explicitly allowed."""

import ipaddress
import socket
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from .choices import RobotKind

# Path suffix and credential each vendor's webhook carries (protocol §1.1-1.3).
_SHAPES = {
    RobotKind.DINGTALK: ("/robot/send", "access_token"),
    RobotKind.FEISHU: ("/open-apis/bot/v2/hook/", ""),
    RobotKind.WECOM: ("/cgi-bin/webhook/send", "key"),
}
_INTERNAL_SUFFIXES = (".local", ".localhost", ".internal", ".lan", ".home.arpa")


def _allowed_internal_hosts() -> set[str]:
    return {h.strip("[]").lower() for h in settings.ROBOT_ALLOWED_INTERNAL_HOSTS}


def _is_public_ip(text: str) -> bool:
    address = ipaddress.ip_address(text)
    return address.is_global and not address.is_multicast


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
    allowed = host in _allowed_internal_hosts()
    if not allowed:
        if parts.scheme != "https":
            raise ValidationError(
                _("The webhook must use https (only the hosts in %(setting)s may use http).")
                % {"setting": "PORTAL_ROBOT_ALLOWED_INTERNAL_HOSTS"}
            )
        if host == "localhost" or host.endswith(_INTERNAL_SUFFIXES) or "." not in host:
            raise ValidationError(
                _("%(host)s is an internal host name; webhooks must go to the vendor's server.")
                % {"host": host}
            )
        try:
            public = _is_public_ip(host)
        except ValueError:
            public = True  # a host name: checked again on every send, after resolution
        if not public:
            raise ValidationError(
                _("%(host)s is an internal address; webhooks must go to the vendor's server.")
                % {"host": host}
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
    host = (urlsplit(url).hostname or "").lower()
    if host in _allowed_internal_hosts():
        return
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return
    for info in infos:
        address = str(info[4][0]).split("%", 1)[0]
        if not _is_public_ip(address):
            raise ValueError(
                _("%(host)s resolves to the internal address %(address)s")
                % {"host": host, "address": address}
            )
