"""O1 process board (流程看板): the page and the JSON it polls."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from connectors.models import Integration
from flows.choices import DocumentState

from .. import selectors
from .common import operations_view, page_context

PERMISSION = "flows.view_syncdocument"
REFRESH_SECONDS = 5


def _integration_id(request: HttpRequest) -> int | None:
    value = request.GET.get("integration", "")
    return int(value) if value.isdigit() else None


@operations_view(PERMISSION)
def board(request: HttpRequest) -> HttpResponse:
    integration_id = _integration_id(request)
    data = selectors.board_build(integration_id=integration_id)
    states = dict(DocumentState.choices)
    return render(
        request,
        "monitoring/board.html",
        page_context(
            request,
            title=_("Process board"),
            board=data,
            board_json=data.as_dict(),
            state_labels=[(s, states[s]) for s in selectors.BACKLOG_STATES],
            integrations=Integration.objects.order_by("name"),
            integration_id=integration_id,
            refresh_seconds=REFRESH_SECONDS,
            latest_reconciliation=_latest_reconciliation(request, integration_id),
            # Issue 20 point 5: the board's twenty columns need the sidebar's width on a
            # 1366-px screen; the operations links above the board stay.
            is_nav_sidebar_enabled=False,
        ),
    )


def _latest_reconciliation(request: HttpRequest, integration_id):
    """K1: the latest reconciliation run, for a link on the board (finance may see it)."""
    if not request.user.has_perm("finance.view_reconciliationrun"):
        return None
    from finance.selectors import latest_run

    integration = Integration.objects.filter(pk=integration_id).first() if integration_id else None
    return latest_run(integration=integration)


@operations_view(PERMISSION)
def board_data(request: HttpRequest) -> JsonResponse:
    return JsonResponse(selectors.board_data(integration_id=_integration_id(request)))
