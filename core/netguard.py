"""Outbound URL checks: the portal calls remote systems people configure, so a configured URL
must not turn it against its own network (SSRF). Internal targets (loopback, private ranges,
link-local, internal host names) are refused unless the host is explicitly allowed in
PORTAL_ALLOWED_INTERNAL_HOSTS (an on-premise Kingdee server, the sandbox).

The one implementation for every outbound target: the connection URLs (RemoteUrlValidator)
and the group-robot webhooks (connectors.dingtalk.validators, which add the vendor's URL shape).
Robots are allowed the hosts of PORTAL_ROBOT_ALLOWED_INTERNAL_HOSTS, which defaults to
PORTAL_ALLOWED_INTERNAL_HOSTS.

A URL checked when it is saved can still lead inside: its name may later resolve to an internal
address (DNS rebinding) or the server may answer with a redirect to one. So every outbound
client (Kingdee, Jushuitan, the FX sources, the robots) sends through `guarded_session()`,
whose transport adapter checks the address each connection is about to use, after DNS
resolution and on every redirect hop, and connects to exactly the address it checked (no
second lookup between check and connect). A refused connection raises DestinationRefused.
Host names are compared without their trailing dot (`metadata.google.internal.` is
`metadata.google.internal`)."""

import ipaddress
import socket
from functools import cache
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible

from core.messages import gettext as _

INTERNAL_SUFFIXES = (".local", ".localhost", ".internal", ".lan", ".home.arpa")


GENERAL_SETTING = "ALLOWED_INTERNAL_HOSTS"
ROBOT_SETTING = "ROBOT_ALLOWED_INTERNAL_HOSTS"


def normalise_host(host: str) -> str:
    """A host as the guard compares it: no brackets, lower case, no trailing dot (the DNS root
    label: `foo.localhost.` is the same name as `foo.localhost`)."""
    return str(host or "").strip().strip("[]").lower().rstrip(".")


def allowed_internal_hosts(setting: str = GENERAL_SETTING) -> set[str]:
    """The internal hosts `setting` (GENERAL_SETTING or ROBOT_SETTING) allows, normalised."""
    return {normalise_host(h) for h in getattr(settings, setting, [])}


def host_allowed(host: str, setting: str = GENERAL_SETTING) -> bool:
    return normalise_host(host) in allowed_internal_hosts(setting)


def internal_reason(host: str) -> str:
    """Why `host` counts as internal ('' when it does not)."""
    host = normalise_host(host)
    if (
        not host
        or host == "localhost"
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
    host = normalise_host(urlsplit(url).hostname or "")
    if host in allowed_internal_hosts(setting):
        return ""
    try:
        infos = resolve(host, None)
    except OSError:
        return ""
    for info in infos:
        address = str(info[4][0]).split("%", 1)[0]
        if internal_reason(address) and not host_allowed(address, setting):
            return address
    return ""


@deconstructible
class RemoteUrlValidator:
    """Model-field validator for URLs of remote systems (http or https)."""

    def __call__(self, value: str) -> None:
        parts = urlsplit(str(value).strip())
        host = normalise_host(parts.hostname or "")
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


# --- connect-time guard ---------------------------------------------------------------------


class DestinationRefused(requests.exceptions.ConnectionError):
    """The guard refused to connect: the host resolves to (or is) an internal address that no
    setting allows. Raised by the adapter of guarded_session(); a configuration problem, never
    worth a retry."""

    def __init__(self, *, host: str, address: str, request=None) -> None:
        self.host = host
        self.address = address
        self.message = _(
            "The portal refuses to connect to %(host)s: it resolves to the internal address "
            "%(address)s (add the host to PORTAL_ALLOWED_INTERNAL_HOSTS if this is intended)."
        ) % {"host": host, "address": address}
        super().__init__(self.message, request=request)


def resolve(host: str, port: int | None) -> list[tuple]:
    """The addresses of `host` (getaddrinfo, TCP). The one resolver of the guard: tests replace
    it to fake DNS answers."""
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


def _refusal(host: str, port: int, setting: str) -> tuple[str, list[tuple]]:
    """('', the addresses to connect to) or (the refused address, []). A host allowed by name
    may resolve anywhere; otherwise every address must be public or itself allowed."""
    infos = resolve(host, port)
    if host_allowed(host, setting):
        return "", infos
    allowed = allowed_internal_hosts(setting)
    for info in infos:
        address = str(info[4][0]).split("%", 1)[0]
        if internal_reason(address) and normalise_host(address) not in allowed:
            return address, []
    return "", infos


@cache
def _connection_classes(setting: str):
    """urllib3 connection and pool classes that check each address before connecting."""
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
    from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
    from urllib3.util import connection as u3connection

    class RefusedAddress(NewConnectionError):
        def __init__(self, conn, host: str, address: str) -> None:
            super().__init__(conn, f"refused internal address {address} of {host}")
            self.host = host
            self.address = address

    class Guard:
        def _new_conn(self):
            host = self._dns_host
            try:
                refused, infos = _refusal(host, self.port, setting)
            except socket.gaierror as exc:
                raise NameResolutionError(self.host, self, exc) from exc
            if refused:
                raise RefusedAddress(self, normalise_host(host), refused)
            error: Exception | None = None
            for _family, _type, _proto, _name, sockaddr in infos:
                # The very address just checked: no second resolution an attacker could change.
                try:
                    return u3connection.create_connection(
                        (sockaddr[0], self.port),
                        self.timeout,
                        source_address=self.source_address,
                        socket_options=self.socket_options,
                    )
                except TimeoutError as exc:
                    raise ConnectTimeoutError(
                        self, f"Connection to {self.host} timed out ({self.timeout})"
                    ) from exc
                except OSError as exc:
                    error = exc
            raise NewConnectionError(self, f"Failed to establish a new connection: {error}")

    class GuardedHTTPConnection(Guard, HTTPConnection):
        pass

    class GuardedHTTPSConnection(Guard, HTTPSConnection):
        pass

    class GuardedHTTPPool(HTTPConnectionPool):
        ConnectionCls = GuardedHTTPConnection

    class GuardedHTTPSPool(HTTPSConnectionPool):
        ConnectionCls = GuardedHTTPSConnection

    return RefusedAddress, {"http": GuardedHTTPPool, "https": GuardedHTTPSPool}


class GuardedAdapter(requests.adapters.HTTPAdapter):
    """A requests transport adapter whose connections pass the guard at connect time (after
    DNS, on every hop of a redirect). `setting` names the allowance (GENERAL or ROBOT)."""

    __attrs__ = [*requests.adapters.HTTPAdapter.__attrs__, "netguard_setting"]

    def __init__(self, *args, setting: str = GENERAL_SETTING, **kwargs) -> None:
        self.netguard_setting = setting
        super().__init__(*args, **kwargs)

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _connection_classes(self.netguard_setting)[1]

    def send(self, request, *args, **kwargs):
        refused_cls = _connection_classes(self.netguard_setting)[0]
        try:
            return super().send(request, *args, **kwargs)
        except requests.exceptions.ConnectionError as exc:
            reason = getattr(exc.args[0], "reason", None) if exc.args else None
            if isinstance(reason, refused_cls):
                raise DestinationRefused(
                    host=reason.host, address=reason.address, request=request
                ) from exc
            raise


def guarded_session(
    *, setting: str = GENERAL_SETTING, pool_connections: int = 4, pool_maxsize: int = 16
) -> requests.Session:
    """A requests.Session for calls to configured remote systems: every connection passes the
    guard. (Behind an HTTP proxy from the environment the proxy resolves the names; the guard
    then only sees the proxy, see docs/security.md.)"""
    session = requests.Session()
    guard_session(
        session, setting=setting, pool_connections=pool_connections, pool_maxsize=pool_maxsize
    )
    return session


def guard_session(
    session: requests.Session,
    *,
    setting: str = GENERAL_SETTING,
    pool_connections: int = 4,
    pool_maxsize: int = 16,
) -> requests.Session:
    """Mount the guarded adapter on an existing session (http and https)."""
    adapter = GuardedAdapter(
        setting=setting,
        pool_connections=pool_connections,
        pool_maxsize=pool_maxsize,
        max_retries=0,
    )
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
