"""Encryption of secrets at rest (Fernet, AES-128-CBC + HMAC-SHA256) with key rotation.

Keys come from settings.ENCRYPTION_KEYS (PORTAL_ENCRYPTION_KEY, comma separated,
newest first): values are encrypted with the first key and decrypted with any.
"""

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.utils.translation import gettext_noop

from .errors import PortalError

PREFIX = "enc:v1:"
MASK = "••••••••"


class SecretDecryptionError(PortalError):
    default_message = gettext_noop("A stored secret cannot be decrypted with the configured keys.")


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    if not keys:
        # Development only (settings refuse production without a key): derive a stable
        # key from SECRET_KEY so a fresh checkout still works.
        digest = hashlib.sha256(("portal-encryption:" + secret_key).encode()).digest()
        keys = (base64.urlsafe_b64encode(digest).decode(),)
    return MultiFernet([Fernet(key.encode()) for key in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.ENCRYPTION_KEYS), settings.SECRET_KEY)


def encrypt(plaintext: str) -> str:
    """Return the stored form of `plaintext`; the empty string stays empty."""
    if not plaintext:
        return ""
    return PREFIX + fernet().encrypt(plaintext.encode()).decode()


def decrypt(stored: str) -> str:
    if not stored:
        return ""
    if not stored.startswith(PREFIX):
        raise SecretDecryptionError("A stored secret is not in the encrypted format.")
    try:
        return fernet().decrypt(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken as exc:
        raise SecretDecryptionError() from exc


def is_encrypted(stored: str) -> bool:
    return stored.startswith(PREFIX)


def mask(value: str) -> str:
    """What a person sees instead of a secret: a fixed mask, nothing of the value."""
    return MASK if value else ""
