"""Jushuitan open-platform connection: app credentials and the company's tokens."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from core.fields import EncryptedTextField
from core.models import TimeStampedModel
from core.netguard import RemoteUrlValidator

from .choices import AppKind, TokenState, WindowBegin


class JushuitanConnection(TimeStampedModel):
    """A Jushuitan (聚水潭) self-developed app authorised for one company."""

    name = models.CharField(
        verbose_name=_("name"),
        max_length=100,
        unique=True,
        help_text=_("A name people recognise, e.g. 'Jushuitan cross-border company'."),
    )
    base_url = models.URLField(
        verbose_name=_("base URL"),
        max_length=500,
        help_text=_("API root, e.g. https://openapi.jushuitan.com"),
        validators=[RemoteUrlValidator()],
    )
    app_key = models.CharField(
        verbose_name=_("app key"),
        max_length=100,
        help_text=_("e.g. b0b7d1db226d4216a3d58df9ffa2dde5"),
    )
    app_secret = EncryptedTextField(
        verbose_name=_("app secret"),
        help_text=_("Stored encrypted, e.g. 0f3c9e1d6a7b4c2e8d5f1a9b3c7e6d2f"),
    )
    access_token = EncryptedTextField(
        verbose_name=_("access token"),
        help_text=_("Obtained by the portal; stored encrypted, e.g. 32 hex characters"),
    )
    refresh_token = EncryptedTextField(
        verbose_name=_("refresh token"),
        help_text=_("Obtained with the access token; stored encrypted"),
    )
    token_expires_at = models.DateTimeField(
        verbose_name=_("token expires at"),
        null=True,
        blank=True,
        help_text=_("When the access token stops working, e.g. 2026-04-01 08:00"),
    )
    company_id = models.CharField(
        verbose_name=_("company id"),
        max_length=64,
        blank=True,
        help_text=_("The authorising company (co_id), e.g. 10174711"),
    )
    shop_scope = models.JSONField(
        verbose_name=_("shop scope"),
        default=list,
        blank=True,
        help_text=_("Shop ids this connection may touch; empty means all, e.g. [10001, 10002]"),
    )
    timeout_seconds = models.PositiveIntegerField(
        verbose_name=_("timeout (seconds)"),
        default=30,
        help_text=_("Seconds to wait for an answer before giving up, e.g. 30"),
    )
    app_kind = models.CharField(
        verbose_name=_("app kind"),
        max_length=10,
        choices=AppKind.choices,
        default=AppKind.SELF_DEVELOPED,
        help_text=_(
            "Self-developed apps obtain and refresh their own tokens; ISV apps need the "
            "merchant to authorise again when a refresh fails, e.g. self"
        ),
    )
    window_begin = models.CharField(
        verbose_name=_("time window begin"),
        max_length=10,
        choices=WindowBegin.choices,
        default=WindowBegin.UNKNOWN,
        help_text=_(
            "Whether modified_begin includes its own second. The preflight observes it on the "
            "tenant and records it here; unknown re-reads one second per page, e.g. unknown"
        ),
    )
    refresh_before_hours = models.PositiveIntegerField(
        verbose_name=_("refresh before expiry (hours)"),
        default=24,
        help_text=_("Refresh the token this many hours before it expires, e.g. 24"),
    )
    token_state = models.CharField(
        verbose_name=_("token state"),
        max_length=10,
        choices=TokenState.choices,
        default=TokenState.NONE,
        help_text=_("Set by the token services, e.g. valid"),
    )
    token_refreshed_at = models.DateTimeField(
        verbose_name=_("token refreshed at"),
        null=True,
        blank=True,
        help_text=_("When the last token was obtained, e.g. 2026-03-01 08:00"),
    )
    token_error = models.TextField(
        verbose_name=_("last token error"),
        blank=True,
        help_text=_("Why the last refresh failed, e.g. 'code 100: token expired'"),
    )
    rate_per_second = models.PositiveIntegerField(
        verbose_name=_("calls per second"),
        default=4,
        help_text=_(
            "Shared by every worker; Jushuitan answers code 199 above 5/s, so keep a margin, e.g. 4"
        ),
    )
    rate_per_minute = models.PositiveIntegerField(
        verbose_name=_("calls per minute"),
        default=90,
        help_text=_("Shared by every worker; Jushuitan answers code 200 above 100/min, e.g. 90"),
    )
    verify_tls = models.BooleanField(
        verbose_name=_("verify TLS certificates"),
        default=True,
        help_text=_("Leave on in production; e.g. True"),
    )

    last_checked_at = models.DateTimeField(
        verbose_name=_("last connection test"),
        null=True,
        blank=True,
        help_text=_("When 'Test connection' last ran, e.g. 2026-05-01 10:00"),
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
        help_text=_("What the last test found, e.g. 'Connected: 3 shop(s) visible'"),
    )

    class Meta:
        ordering = ("name",)
        verbose_name = _("Jushuitan connection")
        verbose_name_plural = _("Jushuitan connections")

    def __str__(self) -> str:
        return self.name

    @property
    def api_root(self) -> str:
        return self.base_url.rstrip("/")
