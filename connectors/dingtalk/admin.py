from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from core.errors import PortalError

from .models import RobotChannel
from .services import robot_channel_send_test


@admin.register(RobotChannel)
class RobotChannelAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "kind",
        "masked_webhook_url",
        "keyword",
        "language",
        "effective_limit_per_minute",
        "throttled_until",
        "enabled",
    )
    list_filter = ("kind", "language", "enabled")
    search_fields = ("name", "keyword")
    readonly_fields = ("throttled_until", "created_at", "updated_at")
    actions = ("send_test_message",)

    @admin.display(description=_("webhook URL"))
    def masked_webhook_url(self, obj: RobotChannel) -> str:
        return obj.masked_webhook_url

    @admin.display(description=_("messages per minute"))
    def effective_limit_per_minute(self, obj: RobotChannel) -> int:
        return obj.effective_limit_per_minute

    @admin.action(description=_("Send a test message"), permissions=("change",))
    def send_test_message(self, request, queryset):
        for channel in queryset:
            try:
                robot_channel_send_test(channel=channel, user_name=request.user.get_username())
            except PortalError as exc:
                self.message_user(
                    request,
                    _("%(channel)s: the test message failed: %(error)s")
                    % {"channel": channel, "error": exc.message},
                    messages.ERROR,
                )
            else:
                self.message_user(
                    request,
                    _("%(channel)s: the test message was delivered.") % {"channel": channel},
                    messages.SUCCESS,
                )
