"""O3 trace search: one box for a platform order no., a Kingdee bill no., a SKU or a source key."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from .. import selectors
from .common import operations_view, page_context


@operations_view("flows.view_syncdocument")
def search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:200]
    trace = selectors.trace_search(query=query) if query else None
    return render(
        request,
        "monitoring/search.html",
        page_context(request, title=_("Trace search"), query=query, trace=trace),
    )
