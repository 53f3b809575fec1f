"""Outbound URL checks: the portal calls remote systems people configure, so a configured URL
must not turn it against its own network (SSRF). Internal targets (loopback, private ranges,
link-local, internal host names) are refused unless the host is explicitly allowed in
PORTAL_ALLOWED_INTERNAL_HOSTS (an on-premise Kingdee server, the sandbox).

The one implementation for every outbound target: the connection URLs (RemoteUrlValidator)
and the group-robot webhooks (connectors.dingtalk.validators, which add the vendor's URL shape
and check the resolved address on every send). Robots are allowed the hosts of
PORTAL_ROBOT_ALLOWED_INTERNAL_HOSTS, which defaults to PORTAL_ALLOWED_INTERNAL_HOSTS."""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext as _

INTERNAL_SUFFIXES = (".local", ".localhost", ".internal", ".lan", ".home.arpa")


GENERAL_SETTING = "ALLOWED_INTERNAL_HOSTS"
ROBOT_SETTING = "ROBOT_ALLOWED_INTERNAL_HOSTS"


def allowed_internal_hosts(setting: str = GENERAL_SETTING) -> set[str]:
    """The internal hosts `setting` (GENERAL_SETTING or ROBOT_SETTING) allows, normalised."""
    return {h.strip("[]").lower() for h in getattr(settings, setting, [])}


def internal_reason(host: str) -> str:
    """Why `host` counts as internal ('' when it does not)."""
    host = host.strip("[]").lower()
    if (
        host == "localhost"
        or host.endswith(INTERNAL_SUFFIXES)
        or ("." not in host and ":" not in host)
    ):
        return _("%(host)s is an internal host name") % {"host": host}
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return ""
    if not address.is_global or address.is_multicast:
        return _("%(host)s is an internal address") % {"host": host}
    return ""


def resolved_internal_address(url: str, *, setting: str = GENERAL_SETTING) -> str:
    """At call time: the internal address the host of `url` resolves to, '' when every address
    is public or the host is allowed by `setting`. A host that does not resolve gives '' (the
    HTTP call reports it)."""
    host = (urlsplit(url).hostname or "").lower()
    if host in allowed_internal_hosts(setting):
        return ""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return ""
    for info in infos:
        address = str(info[4][0]).split("%", 1)[0]
        if internal_reason(address):
            return address
    return ""


@deconstructible
class RemoteUrlValidator:
    """Model-field validator for URLs of remote systems (http or https)."""

    def __call__(self, value: str) -> None:
        parts = urlsplit(str(value).strip())
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("http", "https") or not host:
            raise ValidationError(_("Enter a full http(s) URL, e.g. https://api.example.com/"))
        if host in allowed_internal_hosts():
            return
        reason = internal_reason(host)
        if reason:
            raise ValidationError(
                _("%(reason)s; add it to PORTAL_ALLOWED_INTERNAL_HOSTS if this is intended.")
                % {"reason": reason}
            )

    def __eq__(self, other) -> bool:
        return isinstance(other, RemoteUrlValidator)
