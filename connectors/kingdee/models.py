"""Kingdee K3Cloud connection settings (one account set / data centre, one org)."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from core.fields import EncryptedTextField
from core.models import TimeStampedModel
from core.netguard import RemoteUrlValidator


class KingdeeAuthMode(models.TextChoices):
    """How the client authenticates: signature headers or session logins.

    docs/protocols/kingdee.md §1.2 (signature headers), §1.5 (session logins)."""

    SIGNATURE = "signature", _("App signature headers (SDK 8.x)")
    LOGIN_BY_APP_SECRET = "login_app_secret", _("Session login: LoginByAppSecret")
    VALIDATE_USER = "validate_user", _("Session login: ValidateUser (password)")
    LOGIN_BY_SIGN = "login_sign", _("Session login: LoginBySign (signed, recommended)")


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
        validators=[RemoteUrlValidator()],
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
        help_text=_(
            "Signature headers for Kingdee-hosted tenants; a session login for on-premise "
            "servers, e.g. LoginBySign."
        ),
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
        help_text=_(
            "How long to wait for an answer, e.g. 30. A write that times out is looked up "
            "before it is sent again."
        ),
    )
    verify_tls = models.BooleanField(
        verbose_name=_("verify TLS certificates"),
        default=True,
        help_text=_("Keep on. Turn off only for a test server with a self-signed certificate."),
    )
    last_checked_at = models.DateTimeField(
        verbose_name=_("last connection test"),
        null=True,
        blank=True,
        help_text=_("When the 'test connection' action last ran, e.g. 2026-05-01 10:00"),
    )
    last_check_ok = models.BooleanField(
        verbose_name=_("last test succeeded"),
        null=True,
        blank=True,
        help_text=_("Result of the last connection test (empty: never tested)."),
    )
    last_check_message = models.TextField(
        verbose_name=_("last test result"),
        blank=True,
        help_text=_("What the last test found, e.g. 'Signed in; 3 warehouses visible.'"),
    )

    class Meta:
        ordering = ("name",)
        verbose_name = _("Kingdee connection")
        verbose_name_plural = _("Kingdee connections")

    def __str__(self) -> str:
        return self.name
