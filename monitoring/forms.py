"""Forms of the ticket pages (O4): filters, assign, comment, edit-and-retry, ignore, bulk."""

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from core.roles import Role
from flows.choices import ErrorClass, flow_choices

from .models import TicketStatus
from .services import BulkAction

ASSIGNED_CHOICES = (
    ("", _("anyone or nobody")),
    ("me", _("me")),
    ("nobody", _("nobody")),
)
STATUS_CHOICES = (("active", _("Open or in progress")), *TicketStatus.choices, ("all", _("All")))


def flow_filter_choices():
    """Every registered flow (issue 23 point 3: a new flow is listed without an edit here)."""
    return [("", _("All")), *flow_choices()]


class TicketFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=STATUS_CHOICES, required=False)
    role = forms.ChoiceField(
        label=_("Queue"), choices=(("", _("All queues")), *Role.choices), required=False
    )
    error_class = forms.ChoiceField(
        label=_("Error class"), choices=(("", _("All")), *ErrorClass.choices), required=False
    )
    flow = forms.ChoiceField(label=_("Flow"), choices=flow_filter_choices, required=False)
    integration = forms.IntegerField(label=_("Integration"), required=False, min_value=1)
    assigned = forms.ChoiceField(label=_("Assigned to"), choices=ASSIGNED_CHOICES, required=False)
    q = forms.CharField(label=_("Title or key"), required=False, max_length=200)


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(
        label=_("Assign to"),
        queryset=get_user_model().objects.none(),
        required=False,
        empty_label=_("nobody (back to the queue)"),
    )

    def __init__(self, *args, users=None, **kwargs):
        super().__init__(*args, **kwargs)
        if users is not None:
            self.fields["assignee"].queryset = users


class CommentForm(forms.Form):
    text = forms.CharField(label=_("Comment"), widget=forms.Textarea(attrs={"rows": 3}))


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=1000)


class ResolveForm(forms.Form):
    note = forms.CharField(label=_("Note"), max_length=1000, required=False)


class PayloadForm(forms.Form):
    target_payload = forms.CharField(
        label=_("Target payload (JSON)"),
        widget=forms.Textarea(attrs={"rows": 18, "cols": 100, "class": "vLargeTextField"}),
    )


class BulkForm(forms.Form):
    action = forms.ChoiceField(
        label=_("Action"),
        choices=(
            (BulkAction.ASSIGN_TO_ME, _("Assign to me")),
            (BulkAction.RETRY, _("Retry")),
            (BulkAction.RESOLVE, _("Resolve")),
            (BulkAction.IGNORE, _("Ignore (reason required)")),
        ),
    )
    reason = forms.CharField(label=_("Reason / note"), required=False, max_length=1000)
