"""Kingdee K3Cloud connection settings (one account set / data centre, one org)."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from core.fields import EncryptedTextField
from core.models import TimeStampedModel


class KingdeeAuthMode(models.TextChoices):
    SIGNATURE = "signature", _("App signature headers (SDK 8.x)")
    LOGIN_BY_APP_SECRET = "login_app_secret", _("Session login: LoginByAppSecret")
    VALIDATE_USER = "validate_user", _("Session login: ValidateUser (password)")


class KingdeeConnection(TimeStampedModel):
    """A Kingdee Cloud Galaxy (金蝶云星空) WebAPI account: server, account set, user, app."""

    name = models.CharField(
        verbose_name=_("name"),
        max_length=100,
        unique=True,
        help_text=_("A name people recognise, e.g. 'Kingdee main account set'."),
    )
    server_url = models.URLField(
        verbose_name=_("server URL"),
        max_length=500,
        help_text=_(
            "Site root with the virtual directory, e.g. https://tenant.ik3cloud.com/k3cloud/"
        ),
    )
    acct_id = models.CharField(
        verbose_name=_("account set (data centre) id"),
        max_length=64,
        help_text=_("账套ID / DCID, e.g. 62e8d5f1a1b2c3"),
    )
    username = models.CharField(
        verbose_name=_("user name"),
        max_length=100,
        help_text=_("The integration user in Kingdee, e.g. api_user"),
    )
    app_id = models.CharField(
        verbose_name=_("app id"),
        max_length=100,
        blank=True,
        help_text=_("Third-party system app id, e.g. 100001_AAECAwQFBgcICQoLDA0ODxAREhMU"),
    )
    app_secret = EncryptedTextField(
        verbose_name=_("app secret"),
        help_text=_("32 hexadecimal characters; stored encrypted."),
    )
    password = EncryptedTextField(
        verbose_name=_("password"),
        help_text=_("Only for the ValidateUser login mode; stored encrypted."),
    )
    auth_mode = models.CharField(
        verbose_name=_("authentication"),
        max_length=20,
        choices=KingdeeAuthMode.choices,
        default=KingdeeAuthMode.SIGNATURE,
    )
    lcid = models.PositiveIntegerField(
        verbose_name=_("language id"),
        default=2052,
        help_text=_("2052 Simplified Chinese, 1033 English, 3076 Traditional Chinese."),
    )
    org_number = models.CharField(
        verbose_name=_("organisation number"),
        max_length=50,
        default="100",
        help_text=_("The business organisation the portal works in, e.g. 100."),
    )
    timeout_seconds = models.PositiveIntegerField(
        verbose_name=_("timeout (seconds)"),
        default=30,
    )
    verify_tls = models.BooleanField(
        verbose_name=_("verify TLS certificates"),
        default=True,
    )

    class Meta:
        ordering = ("name",)
        verbose_name = _("Kingdee connection")
        verbose_name_plural = _("Kingdee connections")

    def __str__(self) -> str:
        return self.name
