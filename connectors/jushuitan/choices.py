"""Choices of the Jushuitan connector."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class AppKind(models.TextChoices):
    """How the app was authorised: decides how a lost token is recovered.

    docs/protocols/jushuitan.md §1.4."""

    SELF_DEVELOPED = "self", _("Self-developed app (自研应用)")
    ISV = "isv", _("ISV / third-party app (服务商应用)")


class TokenState(models.TextChoices):
    NONE = "none", _("No token yet")
    VALID = "valid", _("Valid")
    REFRESH_FAILED = "failed", _("Refresh failed: re-authorise or check the credentials")
