from django.contrib import admin

from .models import ReceivedMessage, SandboxRobot


@admin.register(SandboxRobot)
class SandboxRobotAdmin(admin.ModelAdmin):
    list_display = ("name", "vendor", "token", "keyword", "throttled_until")
    list_filter = ("vendor",)
    search_fields = ("name", "token")


@admin.register(ReceivedMessage)
class ReceivedMessageAdmin(admin.ModelAdmin):
    """Read-only: the inbox is what the robots received, nobody edits it."""

    list_display = (
        "received_at",
        "vendor",
        "robot",
        "accepted",
        "errcode",
        "errmsg",
        "signature_checked",
        "title",
    )
    list_filter = ("vendor", "accepted", "errcode", "signature_checked")
    search_fields = ("title", "content", "errmsg", "robot__name", "robot__token")
    list_select_related = ("robot",)
    date_hierarchy = "received_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
