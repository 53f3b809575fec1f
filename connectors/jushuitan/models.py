"""Jushuitan open-platform connection: app credentials and the company's tokens."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from core.fields import EncryptedTextField
from core.models import TimeStampedModel


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
    )
    app_key = models.CharField(
        verbose_name=_("app key"),
        max_length=100,
        help_text=_("e.g. b0b7d1db226d4216a3d58df9ffa2dde5"),
    )
    app_secret = EncryptedTextField(
        verbose_name=_("app secret"),
        help_text=_("Stored encrypted."),
    )
    access_token = EncryptedTextField(
        verbose_name=_("access token"),
    )
    refresh_token = EncryptedTextField(
        verbose_name=_("refresh token"),
    )
    token_expires_at = models.DateTimeField(
        verbose_name=_("token expires at"),
        null=True,
        blank=True,
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
    )

    class Meta:
        ordering = ("name",)
        verbose_name = _("Jushuitan connection")
        verbose_name_plural = _("Jushuitan connections")

    def __str__(self) -> str:
        return self.name
