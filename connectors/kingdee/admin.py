"""Admin of Kingdee connections, with a "test connection" action."""

from django.contrib import admin, messages
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
    actions = ("test_connection",)
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
        description=_("Test connection (log in and read the warehouses)"), permissions=("change",)
    )
    def test_connection(self, request, queryset):
        for connection in queryset:
            check = connection_test(connection=connection)
            self.message_user(
                request,
                f"{connection.name}: {check.message}",
                level=messages.SUCCESS if check.ok else messages.ERROR,
            )
