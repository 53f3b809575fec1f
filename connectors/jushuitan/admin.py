from django.contrib import admin, messages
from django.http import HttpResponseRedirect
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
    actions = ("test_connection", "refresh_token_now")
    change_form_template = "admin/connectors/change_form_test.html"

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

    @admin.action(description=_("Test connection"))
    def test_connection(self, request, queryset):
        for connection in queryset:
            check = services.connection_test(connection=connection)
            self.message_user(
                request,
                f"{connection}: {check.message}",
                messages.SUCCESS if check.ok else messages.ERROR,
            )

    @admin.action(description=_("Refresh token now"))
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
