"""The go-live checklist page (上线 checklist)."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from connectors.models import Integration

from ..checklist import checklist_for
from .common import operations_view, page_context


@operations_view("flows.view_flow")
def checklist(request: HttpRequest) -> HttpResponse:
    integrations = [
        (integration, checklist_for(integration=integration))
        for integration in Integration.objects.select_related("jushuitan").order_by("name")
    ]
    return render(
        request,
        "monitoring/checklist.html",
        page_context(request, title=_("Go-live checklist"), integrations=integrations),
    )
