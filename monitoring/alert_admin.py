"""Admin of the alerting models (registered from monitoring.admin)."""

from django import forms
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from flows.choices import flow_choices

from .alert_choices import alert_error_class_choices
from .alert_models import Alert, AlertContact, AlertDelivery, AlertRule
from .alerts import alert_raise, alerts_requeue


@admin.register(AlertContact)
class AlertContactAdmin(admin.ModelAdmin):
    list_display = ("user", "mobile", "dingtalk_user_id", "feishu_open_id", "enabled")
    list_filter = ("enabled", "user__groups")
    search_fields = ("user__username", "mobile", "dingtalk_user_id", "feishu_open_id")
    list_select_related = ("user",)


def _split(value: str) -> list[str]:
    """The values of a comma separated field (older rules also used ; or spaces)."""
    text = (value or "").replace(";", ",").replace(" ", ",")
    return [part for part in text.split(",") if part]


class AlertRuleForm(forms.ModelForm):
    """Error classes and flows are picked from the values that really occur, not typed (a
    typed `MappingMissing` or `F2` never matched). A value kept from an older rule that is
    not one of them stays listed, so saving never drops it silently; the go-live checklist
    (R1) names it."""

    error_classes = forms.MultipleChoiceField(
        label=_("error classes"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every class."),
    )
    flow_codes = forms.MultipleChoiceField(
        label=_("flows"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every flow."),
    )
    mention_mobiles = forms.MultipleChoiceField(
        label=_("@ mobiles"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "The alert contacts to @ by mobile (Monitoring › alert contacts adds a person)."
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, choices in (
            ("error_classes", alert_error_class_choices()),
            ("flow_codes", [(v, f"{label} ({v})") for v, label in flow_choices()]),
            ("mention_mobiles", _contact_choices()),
        ):
            known = {value for value, _label in choices}
            kept = [v for v in _split(getattr(self.instance, name, "")) if v not in known]
            self.fields[name].choices = choices + [(v, v) for v in kept]
            if self.instance.pk:
                self.initial[name] = _split(getattr(self.instance, name, ""))

    def clean_error_classes(self):
        return ", ".join(self.cleaned_data["error_classes"])

    def clean_flow_codes(self):
        return ", ".join(self.cleaned_data["flow_codes"])

    def clean_mention_mobiles(self):
        return ", ".join(self.cleaned_data["mention_mobiles"])


def _contact_choices() -> list[tuple[str, str]]:
    """(mobile, "user (mobile)") of every enabled alert contact with a mobile."""
    contacts = AlertContact.objects.filter(enabled=True).exclude(mobile="")
    return [
        (c.mobile, f"{c.user.get_full_name() or c.user.get_username()} ({c.mobile})")
        for c in contacts.select_related("user").order_by("user__username")
    ]


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    form = AlertRuleForm
    list_display = (
        "name",
        "channel",
        "error_classes",
        "flow_codes",
        "integration",
        "min_severity",
        "threshold_count",
        "threshold_minutes",
        "mention_role",
        "enabled",
    )
    list_filter = ("enabled", "min_severity", "channel", "mention_role")
    search_fields = ("name", "error_classes", "flow_codes")
    list_select_related = ("channel", "integration")
    actions = ("raise_test_alert",)

    @admin.action(
        description=_("Raise a test alert through the selected rules"), permissions=("change",)
    )
    def raise_test_alert(self, request, queryset):
        raised = 0
        for rule in queryset.select_related("channel"):
            if not rule.enabled or not rule.channel.enabled:
                continue
            pattern = (rule.error_class_patterns or ["TestAlert"])[0].replace("*", "Test")
            flow = (rule.flow_code_patterns or [""])[0].replace("*", "X")
            raised += len(
                alert_raise(
                    title=str(_("Test alert of rule %(name)s") % {"name": rule.name}),
                    text=str(_("Raised from the admin by %(user)s.") % {"user": request.user}),
                    error_class=pattern,
                    flow_code=flow,
                    integration_id=rule.integration_id,
                    severity="critical",
                    dedupe_key=f"admin-test:{rule.pk}:{timezone.now().timestamp()}",
                )
            )
        self.message_user(
            request,
            _("%(count)s test alert(s) queued; they reach the robots within seconds.")
            % {"count": raised},
            messages.SUCCESS if raised else messages.WARNING,
        )


_ALERT_TEXTS = ("title", "text", "title_data", "text_data")


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "severity",
        "title_shown",
        "error_class",
        "flow_code",
        "channel",
        "status",
        "occurrences",
        "attempts",
        "sent_at",
    )
    list_filter = ("status", "severity", "channel", "flow_code", "error_class")
    search_fields = ("title", "text", "dedupe_key", "error_class")
    list_select_related = ("channel", "rule")
    date_hierarchy = "created_at"
    # Issue 20 point 4: title and text in the reader's language (posted in the channel's).
    readonly_fields = [
        "title_shown",
        "text_shown",
        *(f.name for f in Alert._meta.fields if f.name not in _ALERT_TEXTS),
    ]
    exclude = _ALERT_TEXTS
    actions = ("retry_now",)

    @admin.display(description=_("title"), ordering="title")
    def title_shown(self, obj: Alert) -> str:
        return obj.title_text

    @admin.display(description=_("text"))
    def text_shown(self, obj: Alert) -> str:
        return obj.text_shown

    def has_add_permission(self, request):
        return False

    @admin.action(
        description=_("Send again now (failed or waiting alerts)"), permissions=("change",)
    )
    def retry_now(self, request, queryset):
        count = alerts_requeue(alert_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(
            request, _("%(count)s alert(s) queued again.") % {"count": count}, messages.SUCCESS
        )


@admin.register(AlertDelivery)
class AlertDeliveryAdmin(admin.ModelAdmin):
    """Read-only: every message posted (or attempted) to a robot."""

    list_display = ("reserved_at", "channel", "kind", "alert_count", "status", "error_code")
    list_filter = ("status", "kind", "channel")
    search_fields = ("title", "text", "error")
    list_select_related = ("channel",)
    date_hierarchy = "reserved_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
