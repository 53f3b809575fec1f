"""HMAC request signing for machine-to-machine calls to the flow endpoints.

A client sends three headers:
  X-Portal-Key:       its key id
  X-Portal-Timestamp: Unix seconds
  X-Portal-Signature: hex HMAC-SHA256(secret, message), where the message is the lines
                      timestamp, METHOD, path and the sha256 hex of the body, joined by \\n
The timestamp must be within ±REPLAY_WINDOW seconds, a signature is accepted once (replays
are rejected), and each client has a per-minute request limit.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from django.core.cache import cache
from django.utils.translation import gettext as _
from rest_framework import authentication, exceptions

from ..models import ApiClient

REPLAY_WINDOW = 300


def signature_for(*, secret: str, timestamp: str, method: str, path: str, body: bytes) -> str:
    message = "\n".join([timestamp, method.upper(), path, hashlib.sha256(body).hexdigest()])
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def signed_headers(*, client_key: str, secret: str, method: str, path: str, body: bytes) -> dict:
    """What a client sends (used by tests, the demo and the README example)."""
    timestamp = str(int(time.time()))
    return {
        "X-Portal-Key": client_key,
        "X-Portal-Timestamp": timestamp,
        "X-Portal-Signature": signature_for(
            secret=secret, timestamp=timestamp, method=method, path=path, body=body
        ),
    }


class ApiClientPrincipal:
    """request.user for a signed machine call."""

    is_authenticated = True
    is_staff = False
    is_active = True

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self.username = f"api:{client.name}"
        self.pk = None

    def __str__(self) -> str:
        return self.username


class Throttled(exceptions.Throttled):
    """The client's per-minute limit is used up (429); extra.field names the key."""

    def __init__(self, wait: float) -> None:
        super().__init__(wait=wait)
        self.extra = {"field": "X-Portal-Key"}


class SignatureRejected(exceptions.AuthenticationFailed):
    """A signed call refused (401), naming the header at fault in extra.field."""

    def __init__(self, message: str, *, header: str) -> None:
        super().__init__(message)
        self.extra = {"field": header}


class HmacAuthentication(authentication.BaseAuthentication):
    www_authenticate_realm = "portal-hmac"

    def authenticate_header(self, request) -> str:
        return 'HMAC-SHA256 realm="portal"'

    def authenticate(self, request):
        key = request.headers.get("X-Portal-Key")
        if not key:
            return None  # not a signed call: let session authentication try
        timestamp = request.headers.get("X-Portal-Timestamp", "")
        signature = request.headers.get("X-Portal-Signature", "")
        if not timestamp or not signature:
            raise SignatureRejected(
                _("Signed calls need X-Portal-Key, X-Portal-Timestamp and X-Portal-Signature."),
                header="X-Portal-Timestamp" if not timestamp else "X-Portal-Signature",
            )
        try:
            skew = abs(time.time() - int(timestamp))
        except ValueError as exc:
            raise SignatureRejected(
                _("X-Portal-Timestamp must be Unix seconds."), header="X-Portal-Timestamp"
            ) from exc
        if skew > REPLAY_WINDOW:
            raise SignatureRejected(
                _(
                    "X-Portal-Timestamp is %(skew)d s away from the server clock "
                    "(limit %(limit)d s)."
                )
                % {"skew": skew, "limit": REPLAY_WINDOW},
                header="X-Portal-Timestamp",
            )
        client = (
            ApiClient.objects.select_related("integration").filter(key_id=key, enabled=True).first()
        )
        if client is None:
            raise SignatureRejected(
                _("X-Portal-Key: unknown or disabled API key."), header="X-Portal-Key"
            )
        expected = signature_for(
            secret=client.secret,
            timestamp=timestamp,
            method=request.method,
            path=request.path,
            body=request.body,
        )
        if not hmac.compare_digest(expected, signature.lower()):
            raise SignatureRejected(
                _(
                    "X-Portal-Signature does not match the request (HMAC-SHA256 of timestamp, "
                    "method, path and body hash)."
                ),
                header="X-Portal-Signature",
            )
        if not cache.add(f"api:sig:{signature}", 1, REPLAY_WINDOW * 2):
            raise SignatureRejected(
                _("This signed request was already used (replay)."), header="X-Portal-Signature"
            )
        minute = int(time.time() // 60)
        counter = f"api:rate:{client.pk}:{minute}"
        cache.add(counter, 0, 120)
        if cache.incr(counter) > client.requests_per_minute:
            raise Throttled(wait=60 - time.time() % 60)
        return ApiClientPrincipal(client), client
