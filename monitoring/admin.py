from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from . import (
    alert_admin,  # noqa: F401 - registers the alerting models
    services,
)
from .models import Event, ExceptionTicket, RemoteCall, TicketComment, TicketStatus


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "flow_code",
        "stage",
        "level",
        "to_state",
        "message",
        "platform_order_no",
    )
    list_filter = ("level", "stage", "flow_code")
    search_fields = ("=platform_order_no", "=kingdee_bill_no")
    raw_id_fields = ("document",)


class TicketCommentInline(admin.TabularInline):
    model = TicketComment
    extra = 1
    readonly_fields = ("author", "created_at")


@admin.register(ExceptionTicket)
class ExceptionTicketAdmin(admin.ModelAdmin):
    list_display = (
        "title",
        "role",
        "status",
        "error_class",
        "flow_code",
        "occurrences",
        "last_seen_at",
        "assignee",
    )
    list_filter = ("status", "role", "error_class", "flow_code")
    search_fields = ("title", "trace_key", "document__platform_order_no")
    raw_id_fields = ("document",)
    readonly_fields = (
        "trace_key",
        "error_class",
        "title",
        "message",
        "suggested_fix",
        "detail",
        "occurrences",
    )
    inlines = (TicketCommentInline,)
    actions = ("resolve",)

    def save_formset(self, request, form, formset, change):
        for comment in formset.save(commit=False):
            comment.author = comment.author or request.user
            comment.save()
        formset.save_m2m()

    @admin.action(description=_("Mark resolved"))
    def resolve(self, request, queryset):
        n = services.tickets_close_for(
            trace_keys=queryset.values_list("trace_key", flat=True),
            resolution=str(_("Resolved by %(user)s") % {"user": request.user.username}),
            user=request.user,
            status=TicketStatus.RESOLVED,
        )
        self.message_user(request, _("%(n)d tickets resolved.") % {"n": n})


@admin.register(RemoteCall)
class RemoteCallAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "system", "operation", "status", "duration_ms", "error")
    list_filter = ("system", "status")
    search_fields = ("operation",)
