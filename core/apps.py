"""Shared foundations: base models, encrypted fields, roles, health check, API errors."""

from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = _("Portal core")

    def ready(self) -> None:
        from . import checks  # noqa: F401 - registers the deployment checks
        from .logging import install_masking_record_factory
        from .roles import sync_role_permissions
        from .schedules import schedules_install

        install_masking_record_factory()

        # Permissions exist only after every app migrated: grant them then, idempotently.
        post_migrate.connect(sync_role_permissions, dispatch_uid="core.sync_role_permissions")
        # Every system schedule the apps declare is installed by `migrate` (issue 24 point 1);
        # once per migrate (sender=core), after all apps' migrations ran.
        post_migrate.connect(schedules_install, sender=self, dispatch_uid="core.schedules_install")


class PortalAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with the portal's site as the default (core.admin_site)."""

    default = False  # core's own config stays CoreConfig
    default_site = "core.admin_site.PortalAdminSite"
