"""The go-live checklist page (上线 checklist), with the two live actions it offers: test both
connections now, run the preflight now (issue 24 point 3)."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import Resolver404, resolve, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from connectors.models import Integration
from core.roles import Role

from ..checklist import checklist_for
from .common import operations_view, page_context

# Permission a person needs to follow a link to an operations page (not an admin page).
_PAGE_PERMISSIONS = {
    "monitoring:tickets": "monitoring.view_exceptionticket",
    "monitoring:checklist": "flows.view_flow",
    "monitoring:board": "flows.view_flow",
}


def can_follow(user, url: str) -> bool:
    """Whether `user` may open `url` (an admin changelist/change page or an operations page):
    a checklist link is shown only to those it works for; others see whose step it is."""
    path = url.split("?", 1)[0].split("#", 1)[0]
    try:
        match = resolve(path)
    except Resolver404:
        return True
    name = match.view_name
    if name in _PAGE_PERMISSIONS:
        return user.has_perm(_PAGE_PERMISSIONS[name])
    if name.startswith("admin:") and name.endswith(("_changelist", "_change")):
        model_admin = getattr(match.func, "model_admin", None)
        if model_admin is not None:
            return model_admin.has_view_or_change_permission(_RequestUser(user))
    return True


class _RequestUser:
    """The smallest request a ModelAdmin's permission check reads."""

    def __init__(self, user) -> None:
        self.user = user


@operations_view("flows.view_flow")
@require_http_methods(["GET", "POST"])
def checklist(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _act(request)
    integrations = []
    for integration in Integration.objects.select_related("kingdee", "jushuitan").order_by("name"):
        items = checklist_for(integration=integration)
        for item in items:
            item.can_fix = not item.fix_url or can_follow(request.user, item.fix_url)
            item.role_label = Role(item.role).label if item.role in Role.values else ""
        integrations.append((integration, items))
    return render(
        request,
        "monitoring/checklist.html",
        page_context(
            request,
            title=_("Go-live checklist"),
            integrations=integrations,
            can_test=request.user.has_perm("kingdee.change_kingdeeconnection")
            and request.user.has_perm("jushuitan.change_jushuitanconnection"),
            can_preflight=request.user.has_perm("connectors.add_preflightrun"),
        ),
    )


def _act(request: HttpRequest) -> HttpResponse:
    from django.core.exceptions import PermissionDenied

    integration = get_object_or_404(Integration, pk=request.POST.get("integration"))
    action = request.POST.get("action")
    if action == "test_connections":
        if not (
            request.user.has_perm("kingdee.change_kingdeeconnection")
            and request.user.has_perm("jushuitan.change_jushuitanconnection")
        ):
            raise PermissionDenied
        from connectors.jushuitan.services import connection_test as jushuitan_test
        from connectors.kingdee.services import connection_test as kingdee_test

        for label, check in (
            (_("Kingdee"), kingdee_test(connection=integration.kingdee)),
            (_("Jushuitan"), jushuitan_test(connection=integration.jushuitan)),
        ):
            messages.add_message(
                request,
                messages.SUCCESS if check.ok else messages.ERROR,
                f"{label}: {check.message}",
            )
    elif action == "preflight":
        if not request.user.has_perm("connectors.add_preflightrun"):
            raise PermissionDenied
        from connectors.preflight import preflight_run

        run = preflight_run(integration=integration, requested_by=request.user.get_username())
        messages.add_message(
            request,
            messages.SUCCESS if run.ok else messages.ERROR,
            _("Preflight finished: %(state)s.")
            % {"state": _("passed") if run.ok else _("failures, see P1")},
        )
    return HttpResponseRedirect(reverse("monitoring:checklist") + f"#integration-{integration.pk}")
