"""The portal's admin site: the rules every registered admin follows, enforced in one place.

`PortalAdminSite` is the default admin site (core.apps.PortalAdminConfig), so `@admin.register`
anywhere gives the admin class these rules without the class doing anything:

- Secrets are never rendered. A field that holds a secret (core.fields.EncryptedTextField) is
  an empty password input in an edit form; wherever it would be shown read-only (a view-only
  user, a read-only field, a list column) the admin shows "set" / "not set" instead.
- An admin action that declares no `allowed_permissions` is offered to superusers only (fail
  closed); `tests/core/test_admin_actions.py` fails for every such action. Third-party actions
  get theirs from THIRD_PARTY_ACTION_PERMISSIONS.

Object-level rules (the work queues of tickets and documents) live with their admins
(monitoring.admin, flows.admin), in monitoring.permissions, shared with the ticket pages.
"""

from __future__ import annotations

from functools import wraps

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .fields import EncryptedTextField

# Actions of third-party admins: (app_label, action name) -> the permissions they need.
THIRD_PARTY_ACTION_PERMISSIONS: dict[tuple[str, str], tuple[str, ...]] = {
    ("django_celery_beat", "enable_tasks"): ("change",),
    ("django_celery_beat", "disable_tasks"): ("change",),
    ("django_celery_beat", "toggle_tasks"): ("change",),
    ("django_celery_beat", "run_tasks"): ("change",),
    ("axes", "cleanup_expired_attempts"): ("delete",),
}


def secret_field_names(model) -> list[str]:
    return [f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]


def _status_display(field):
    """A read-only display of a secret field: whether it is set, never its value."""

    def status(obj) -> str:
        return _("set") if obj is not None and getattr(obj, field.attname, "") else _("not set")

    status.__name__ = f"{field.name}_status"
    status.short_description = field.verbose_name
    return status


class PortalAdminMixin:
    """Mixed into every admin class registered on the portal's site (see the module doc)."""

    def _secret_displays(self) -> dict:
        cached = self.__dict__.get("_portal_secret_displays")
        if cached is None:
            cached = {
                name: _status_display(self.model._meta.get_field(name))
                for name in secret_field_names(self.model)
            }
            self.__dict__["_portal_secret_displays"] = cached
        return cached

    def _mask(self, names, *, all_secrets: bool, readonly=()) -> list:
        displays = self._secret_displays()
        if not displays:
            return list(names)
        return [
            displays[name]
            if isinstance(name, str) and name in displays and (all_secrets or name in readonly)
            else name
            for name in names
        ]

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        return self._mask(fields, all_secrets=True)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        displays = self._secret_displays()
        if not displays:
            return fieldsets
        # A view-only user sees every field read-only; otherwise only the read-only ones are.
        view_only = obj is not None and not self.has_change_permission(request, obj)
        readonly = set(super().get_readonly_fields(request, obj))
        masked = []
        for title, options in fieldsets:
            rows = []
            for row in options.get("fields", ()):
                if isinstance(row, list | tuple):
                    rows.append(tuple(self._mask(row, all_secrets=view_only, readonly=readonly)))
                else:
                    rows.append(self._mask([row], all_secrets=view_only, readonly=readonly)[0])
            masked.append((title, {**options, "fields": rows}))
        return masked

    def get_list_display(self, request):
        return self._mask(super().get_list_display(request), all_secrets=True)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if request.user.is_superuser:
            return actions
        return {
            name: action
            for name, action in actions.items()
            if getattr(action[0], "allowed_permissions", None)
        }


def _declared_action(function, permissions: tuple[str, ...]):
    @wraps(function)
    def action(modeladmin, request, queryset):
        return function(modeladmin, request, queryset)

    action.allowed_permissions = permissions
    return action


class PortalAdminSite(admin.AdminSite):
    """The default admin site: every admin class registered gets PortalAdminMixin."""

    def register(self, model_or_iterable, admin_class=None, **options):
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, PortalAdminMixin):
            models = (
                [model_or_iterable]
                if not isinstance(model_or_iterable, list | tuple | set)
                else list(model_or_iterable)
            )
            attrs = {"__module__": admin_class.__module__, "__doc__": admin_class.__doc__}
            for model in models:
                for name in admin_class.actions or ():
                    if not isinstance(name, str):
                        continue
                    wanted = THIRD_PARTY_ACTION_PERMISSIONS.get((model._meta.app_label, name))
                    function = getattr(admin_class, name, None)
                    if wanted and function and not getattr(function, "allowed_permissions", None):
                        attrs[name] = _declared_action(function, wanted)
            admin_class = type(admin_class.__name__, (PortalAdminMixin, admin_class), attrs)
        return super().register(model_or_iterable, admin_class, **options)
