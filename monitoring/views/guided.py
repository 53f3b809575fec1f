"""The guided setup page (上线向导): the ordered go-live steps with role, live status, link."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from connectors.models import Integration

from ..guided import steps_for
from .common import operations_view, page_context


@operations_view("flows.view_flow")
def guided_setup(request: HttpRequest) -> HttpResponse:
    integrations = list(Integration.objects.select_related("kingdee", "jushuitan").order_by("name"))
    sections = [(i, steps_for(request.user, integration=i)) for i in integrations] or [
        (None, steps_for(request.user))
    ]
    return render(
        request,
        "monitoring/guided_setup.html",
        page_context(request, title=_("Guided setup"), sections=sections),
    )
