from django.contrib import admin, messages
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
    readonly_fields = ("token_state", "token_expires_at", "token_refreshed_at", "token_error")
    actions = ("test_connection", "refresh_token_now")

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
