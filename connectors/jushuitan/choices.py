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


class WindowBegin(models.TextChoices):
    """Whether a query's `modified_begin` includes rows modified at that very second. Not
    documented (docs/protocols/jushuitan.md §2.4): until the preflight has seen it on the
    tenant, the walk takes the safe reading."""

    UNKNOWN = "unknown", _("Not checked yet (read as exclusive: re-read one second)")
    INCLUSIVE = "inclusive", _("Inclusive: rows at the begin second are returned")
    EXCLUSIVE = "exclusive", _("Exclusive: rows at the begin second are left out")
