"""Outbound URL checks: the portal calls remote systems people configure, so a configured URL
must not turn it against its own network (SSRF). Internal targets (loopback, private ranges,
link-local, internal host names) are refused unless the host is explicitly allowed in
PORTAL_ALLOWED_INTERNAL_HOSTS (an on-premise Kingdee server, the sandbox)."""

import ipaddress
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext as _

INTERNAL_SUFFIXES = (".local", ".localhost", ".internal", ".lan", ".home.arpa")


def allowed_internal_hosts() -> set[str]:
    return {h.strip("[]").lower() for h in getattr(settings, "ALLOWED_INTERNAL_HOSTS", [])}


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
