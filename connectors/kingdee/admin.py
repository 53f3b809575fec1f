"""Admin of Kingdee connections, with a "test connection" action."""

from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.utils.translation import gettext_lazy as _

from .models import KingdeeConnection
from .services import connection_test


@admin.register(KingdeeConnection)
class KingdeeConnectionAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "server_url",
        "acct_id",
        "username",
        "org_number",
        "auth_mode",
        "last_check_ok",
        "last_checked_at",
    )
    list_filter = ("auth_mode", "last_check_ok")
    search_fields = ("name", "acct_id", "username", "server_url")
    readonly_fields = ("last_checked_at", "last_check_ok", "last_check_message")
    actions = ("test_connection", "run_preflight")
    # The change page shows a "Run preflight" button that posts the action below.
    change_form_template = "admin/kingdee/kingdeeconnection/change_form.html"

    def response_change(self, request, obj):
        if "_test_connection" in request.POST:
            return HttpResponseRedirect(request.path)  # tested below, once saved
        return super().response_change(request, obj)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        """ "Save and test connection" on the change page (issue 24 point 7): saved, then
        tested live once the save is committed (the test must not hold the save's
        transaction open while it waits on the remote); the result shows here and on the
        go-live checklist (C1)."""
        response = super().changeform_view(request, object_id, form_url, extra_context)
        testing = request.method == "POST" and "_test_connection" in request.POST
        if testing and object_id and response.status_code == 302:
            obj = self.get_object(request, object_id)
            check = connection_test(connection=obj)
            self.message_user(
                request,
                f"{obj}: {check.message}",
                messages.SUCCESS if check.ok else messages.ERROR,
            )
        return response

    fieldsets = (
        (None, {"fields": ("name", "server_url", "acct_id", "org_number", "lcid")}),
        (
            _("Credentials"),
            {"fields": ("auth_mode", "username", "app_id", "app_secret", "password")},
        ),
        (_("Transport"), {"fields": ("timeout_seconds", "verify_tls")}),
        (_("Last test"), {"fields": readonly_fields}),
    )

    @admin.action(
        description=_("Test connection (log in and read the warehouses)"),
        permissions=("change",),
    )
    def test_connection(self, request, queryset):
        for connection in queryset:
            check = connection_test(connection=connection)
            self.message_user(
                request,
                f"{connection.name}: {check.message}",
                level=messages.SUCCESS if check.ok else messages.ERROR,
            )

    @admin.action(
        description=_("Run preflight (prove the forms, fields and base data the flows use)"),
        permissions=("change",),
    )
    def run_preflight(self, request, queryset):
        from connectors.preflight import checks_of, preflight_run

        for connection in queryset:
            integrations = list(connection.integrations.all())
            if not integrations:
                self.message_user(
                    request,
                    _("%(name)s: no integration uses this connection yet.")
                    % {"name": connection.name},
                    level=messages.WARNING,
                )
            for integration in integrations:
                run = preflight_run(
                    integration=integration,
                    systems=["kingdee"],
                    requested_by=request.user.get_username(),
                )
                failed = [c for c in checks_of(run) if not c.ok and not c.info]
                if not failed:
                    self.message_user(
                        request,
                        _("%(integration)s: Kingdee preflight passed (%(n)d checks).")
                        % {"integration": integration, "n": len(run.results)},
                        level=messages.SUCCESS,
                    )
                    continue
                self.message_user(
                    request,
                    _("%(integration)s: Kingdee preflight failed %(n)d of %(total)d checks.")
                    % {"integration": integration, "n": len(failed), "total": len(run.results)},
                    level=messages.ERROR,
                )
                for check in failed[:20]:
                    self.message_user(
                        request,
                        f"{check.title}: {check.detail} → {check.fix}",
                        level=messages.ERROR,
                    )
