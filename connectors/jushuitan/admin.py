from django.contrib import admin, messages
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from connectors.errors import ConnectorError

from . import services
from .models import JushuitanConnection


@admin.register(JushuitanConnection)
class JushuitanConnectionAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "base_url",
        "app_key",
        "company_id",
        "app_kind",
        "token_state",
        "token_expires_at",
    )
    list_filter = ("app_kind", "token_state")
    search_fields = ("name", "app_key", "company_id")
    readonly_fields = (
        "token_state",
        "token_expires_at",
        "token_refreshed_at",
        "token_error",
        "last_checked_at",
        "last_check_ok",
        "last_check_message",
    )
    actions = ("test_connection", "refresh_token_now", "run_preflight")
    # Run preflight (object tools) and "Save and test connection" (submit row).
    change_form_template = "admin/jushuitan/jushuitanconnection/change_form.html"

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
            check = services.connection_test(connection=obj)
            self.message_user(
                request,
                f"{obj}: {check.message}",
                messages.SUCCESS if check.ok else messages.ERROR,
            )
        return response

    def get_urls(self):
        return [
            path(
                "<path:object_id>/preflight/",
                self.admin_site.admin_view(self.preflight_view),
                name="jushuitan_jushuitanconnection_preflight",
            ),
            *super().get_urls(),
        ]

    def preflight_view(self, request, object_id):
        """The "Run preflight" button of the change page (POST, change permission)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        connection = get_object_or_404(JushuitanConnection, pk=object_id)
        if not self.has_change_permission(request, connection):
            return redirect("admin:index")
        self._preflight(request, [connection])
        return redirect(reverse("admin:jushuitan_jushuitanconnection_change", args=[connection.pk]))

    def _preflight(self, request, connections) -> None:
        from connectors.preflight import checks_of, preflight_run

        for connection in connections:
            integrations = list(connection.integrations.all())
            if not integrations:
                self.message_user(
                    request,
                    gettext("%(c)s: no integration uses this connection yet.") % {"c": connection},
                    messages.WARNING,
                )
            for integration in integrations:
                run = preflight_run(
                    integration=integration,
                    systems=["jushuitan"],
                    requested_by=request.user.get_username(),
                )
                failed = [c for c in checks_of(run) if not c.ok and not c.info]
                summary = gettext("%(i)s: preflight %(result)s, %(n)d check(s), %(f)d failed.") % {
                    "i": integration,
                    "result": gettext("passed") if run.ok else gettext("failed"),
                    "n": len(run.results),
                    "f": len(failed),
                }
                self.message_user(request, summary, messages.SUCCESS if run.ok else messages.ERROR)
                for check in failed:
                    self.message_user(
                        request,
                        f"{check.title}: {check.detail} → {check.fix}",
                        messages.ERROR,
                    )

    @admin.action(description=_("Run preflight"), permissions=["change"])
    def run_preflight(self, request, queryset):
        self._preflight(request, list(queryset))

    @admin.action(description=_("Test connection"), permissions=("change",))
    def test_connection(self, request, queryset):
        for connection in queryset:
            check = services.connection_test(connection=connection)
            self.message_user(
                request,
                f"{connection}: {check.message}",
                messages.SUCCESS if check.ok else messages.ERROR,
            )

    @admin.action(description=_("Refresh token now"), permissions=("change",))
    def refresh_token_now(self, request, queryset):
        for connection in queryset:
            try:
                services.token_refresh(connection=connection)
            except ConnectorError as exc:
                self.message_user(request, f"{connection}: {exc.message}", messages.ERROR)
            else:
                self.message_user(
                    request,
                    _("%(c)s: new token valid until %(until)s.")
                    % {"c": connection, "until": connection.token_expires_at},
                    messages.SUCCESS,
                )
