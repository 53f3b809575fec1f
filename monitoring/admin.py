from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from . import (
    alert_admin,  # noqa: F401 - registers the alerting models
    services,
)
from .errors import TicketError
from .models import Event, ExceptionTicket, RemoteCall, TicketComment
from .permissions import acts_on_all_queues, role_may_work, ticket_can_act, tickets_visible_to


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
        "message_shown",
        "platform_order_no",
    )
    list_filter = ("level", "stage", "flow_code")
    search_fields = ("=platform_order_no", "=kingdee_bill_no")
    raw_id_fields = ("document",)
    exclude = ("message", "message_data")
    readonly_fields = ("message_shown",)

    @admin.display(description=_("message"))
    def message_shown(self, obj: Event) -> str:
        """Issue 20 point 4: in the reader's language."""
        return obj.message_text


class TicketCommentInline(admin.TabularInline):
    model = TicketComment
    extra = 1
    readonly_fields = ("author", "created_at")


class TicketAdminForm(forms.ModelForm):
    """The assignee must work the ticket's queue (as on the ticket pages)."""

    def clean(self):
        data = super().clean()
        assignee = data.get("assignee")
        role = data.get("role") or self.instance.role
        if assignee is not None and not role_may_work(user=assignee, role=role):
            self.add_error(
                "assignee",
                _("%(user)s does not work this queue.") % {"user": assignee.get_username()},
            )
        return data


@admin.register(ExceptionTicket)
class ExceptionTicketAdmin(admin.ModelAdmin):
    """Work queues as on the ticket pages (monitoring.permissions): each role sees and changes
    its own queue's tickets (managers see all, operators work all); only operators move a
    ticket to another queue or set its status by hand."""

    form = TicketAdminForm
    list_display = (
        "title_shown",
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
        "title_shown",
        "message_shown",
        "fix_shown",
        "detail",
        "occurrences",
    )
    # Issue 20 point 4: the generated texts are shown in the reader's language, not edited.
    exclude = ("title", "message", "suggested_fix", "title_data", "message_data", "fix_data")
    inlines = (TicketCommentInline,)
    actions = ("resolve", "approve_counts")

    @admin.display(description=_("title"), ordering="title")
    def title_shown(self, obj: ExceptionTicket) -> str:
        return obj.title_text

    @admin.display(description=_("what is wrong"))
    def message_shown(self, obj: ExceptionTicket) -> str:
        return obj.message_text

    @admin.display(description=_("what to do"))
    def fix_shown(self, obj: ExceptionTicket) -> str:
        return obj.fix_text

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .filter(pk__in=tickets_visible_to(user=request.user).values("pk"))
        )

    def has_change_permission(self, request, obj=None):
        if obj is None:
            return super().has_change_permission(request)
        return ticket_can_act(user=request.user, ticket=obj)

    def get_readonly_fields(self, request, obj=None):
        fields = tuple(super().get_readonly_fields(request, obj))
        if acts_on_all_queues(request.user):
            return fields
        return (*fields, "role", "status", "integration", "document", "flow_code")

    def save_formset(self, request, form, formset, change):
        for comment in formset.save(commit=False):
            comment.author = comment.author or request.user
            comment.save()
        formset.save_m2m()

    @admin.action(description=_("Mark resolved"), permissions=("change",))
    def resolve(self, request, queryset):
        # Through the ticket service: it applies the queue rule and records who resolved.
        done = 0
        for ticket in queryset:
            try:
                services.ticket_resolve(ticket=ticket, user=request.user)
            except TicketError as exc:
                self.message_user(request, f"{ticket}: {exc.message}", messages.WARNING)
            else:
                done += 1
        self.message_user(request, _("%(n)d tickets resolved.") % {"n": done})

    @admin.action(
        description=_("Approve stock counts (submit and audit in Kingdee)"),
        permissions=("change",),
    )
    def approve_counts(self, request, queryset):
        # Issue 19 point 5, the same service as the ticket page: finance only, one by one.
        from finance.stock_counts import count_approve

        done = 0
        for ticket in queryset.select_related("document", "document__flow"):
            try:
                count_approve(ticket=ticket, user=request.user)
            except TicketError as exc:
                self.message_user(request, f"{ticket}: {exc.message}", messages.WARNING)
            else:
                done += 1
        self.message_user(request, _("%(n)d stock counts approved.") % {"n": done})


@admin.register(RemoteCall)
class RemoteCallAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "system", "operation", "status", "duration_ms", "error")
    list_filter = ("system", "status")
    search_fields = ("operation",)
