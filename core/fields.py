"""EncryptedTextField: a secret that is plaintext in Python and encrypted in the database."""

import secrets

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext_lazy as _

from . import crypto

#: The shortest secret the portal accepts where it chooses the rule (API signing secrets).
MIN_SECRET_LENGTH = 32


def new_secret() -> str:
    """A fresh random secret (43 URL-safe characters, 256 bits)."""
    return secrets.token_urlsafe(32)


@deconstructible
class StrongSecretValidator:
    """A secret people choose must be long and varied: at least MIN_SECRET_LENGTH characters
    and 12 distinct ones (a generated one, `new_secret()`, always is)."""

    def __call__(self, value: str) -> None:
        value = value or ""
        if len(value) < MIN_SECRET_LENGTH or len(set(value)) < 12:
            raise ValidationError(
                _(
                    "The secret must be at least %(min)d characters long with at least 12 "
                    "different characters; leave it blank to have one generated."
                )
                % {"min": MIN_SECRET_LENGTH},
                code="weak_secret",
            )

    def __eq__(self, other) -> bool:
        return isinstance(other, StrongSecretValidator)


class SecretInput(forms.PasswordInput):
    """Never renders the stored value; a blank submission keeps it (see save_form_data)."""

    def __init__(self, attrs=None):
        attrs = {"autocomplete": "new-password", **(attrs or {})}
        super().__init__(attrs=attrs, render_value=False)

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        if value:
            context["widget"]["attrs"]["placeholder"] = str(
                _("Set (%(mask)s). Leave blank to keep it.") % {"mask": crypto.MASK}
            )
        return context


class EncryptedTextField(models.TextField):
    """Stores `enc:v1:<fernet token>`; the plaintext never reaches the database or a form."""

    description = _("Encrypted secret")

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        super().__init__(*args, **kwargs)

    def from_db_value(self, value, expression, connection):
        if value is None:
            return value
        return crypto.decrypt(value)

    def to_python(self, value):
        return value

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None:
            return value
        if crypto.is_encrypted(value):
            return value
        return crypto.encrypt(value)

    def formfield(self, **kwargs):
        # Forced, not defaulted: the admin would otherwise put the plaintext in a textarea.
        kwargs["widget"] = SecretInput
        kwargs.setdefault("required", False)
        return super().formfield(**kwargs)

    def save_form_data(self, instance, data):
        # A blank or masked submission means "unchanged": the form never shows the value.
        if data in ("", None, crypto.MASK) and getattr(instance, self.attname, ""):
            return
        super().save_form_data(instance, data)
