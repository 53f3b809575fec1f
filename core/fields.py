"""EncryptedTextField: a secret that is plaintext in Python and encrypted in the database."""

from django import forms
from django.db import models
from django.utils.translation import gettext_lazy as _

from . import crypto


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
