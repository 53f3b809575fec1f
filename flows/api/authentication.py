"""HMAC request signing for machine-to-machine calls to the flow endpoints.

A client sends three headers:
  X-Portal-Key:       its key id
  X-Portal-Timestamp: Unix seconds
  X-Portal-Signature: hex HMAC-SHA256(secret, message), where the message is the lines
                      timestamp, METHOD, path and the sha256 hex of the body, joined by \\n
The timestamp must be within ±REPLAY_WINDOW seconds, a signature is accepted once (replays
are rejected), and each client has a per-minute request limit.

A signature is 64 hex digits; it is normalised (trimmed, lower case) before it is compared and
before the replay store remembers it, so a case variant of a used signature is the same
signature. An unknown or disabled key, a client without a secret and a wrong signature all get
the same answer (one message, one header named), so nobody can probe which keys exist.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import string
import time

from django.core.cache import cache
from django.utils.translation import gettext as _
from rest_framework import authentication, exceptions

from ..models import ApiClient

REPLAY_WINDOW = 300
_HEX64 = re.compile(r"[0-9a-f]{64}")
# Compared against when the key is unknown, so both paths cost one HMAC (no timing probe).
_NO_SECRET = string.ascii_letters


def normalised_signature(value: str) -> str:
    """The one form a signature is compared and remembered in: trimmed, lower-case hex."""
    return (value or "").strip().lower()


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
        signature = normalised_signature(signature)
        expected = signature_for(
            secret=client.secret if client is not None and client.secret else _NO_SECRET,
            timestamp=timestamp,
            method=request.method,
            path=request.path,
            body=request.body,
        )
        # compare_digest needs ASCII: a signature of another shape is simply wrong.
        well_formed = bool(_HEX64.fullmatch(signature))
        matches = hmac.compare_digest(expected, signature if well_formed else "0" * 64)
        if client is None or not client.secret or not well_formed or not matches:
            raise SignatureRejected(
                _(
                    "The request signature is not valid: check X-Portal-Key and "
                    "X-Portal-Signature (HMAC-SHA256 of timestamp, method, path and body hash)."
                ),
                header="X-Portal-Signature",
            )
        if not cache.add(f"api:sig:{client.pk}:{signature}", 1, REPLAY_WINDOW * 2):
            raise SignatureRejected(
                _("This signed request was already used (replay)."), header="X-Portal-Signature"
            )
        minute = int(time.time() // 60)
        counter = f"api:rate:{client.pk}:{minute}"
        cache.add(counter, 0, 120)
        if cache.incr(counter) > client.requests_per_minute:
            raise Throttled(wait=60 - time.time() % 60)
        return ApiClientPrincipal(client), client
