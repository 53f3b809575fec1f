"""Finance pages (thin: parse, call one service or selector, render)."""

from __future__ import annotations

from datetime import date, timedelta

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from connectors.models import Integration
from core.exports import attachment, has_control_characters
from monitoring.views.common import operations_view, page_context

from . import export_chain as chain
from .choices import RunStatus, RunTrigger
from .models import FinanceSettings, ReconciliationRun
from .reconciliation import mismatches_export, reconciliation_run

TREND_RUNS = 60


def _integration(request: HttpRequest) -> Integration | None:
    value = request.POST.get("integration") or request.GET.get("integration", "")
    rows = Integration.objects.order_by("name")
    return rows.filter(pk=value).first() if str(value).isdigit() else rows.first()


@operations_view("finance.view_reconciliationrun")
def reconciliation_trend(request: HttpRequest) -> HttpResponse:
    """K1: accuracy per run as a trend chart, the latest runs, and "reconcile now"."""
    integration = _integration(request)
    if request.method == "POST":
        if not request.user.has_perm("finance.add_reconciliationrun") or integration is None:
            raise Http404
        run = reconciliation_run(integration=integration, trigger=RunTrigger.MANUAL)
        if run.status == RunStatus.DONE:
            messages.success(
                request,
                _("Reconciled: %(matched)d of %(compared)d lines match (%(acc)s%%).")
                % {"matched": run.matched, "compared": run.compared, "acc": run.accuracy},
            )
        else:
            messages.error(request, _("Reconciliation failed: %(notes)s") % {"notes": run.notes})
        return redirect(f"{request.path}?integration={integration.pk}")
    runs = (
        list(
            ReconciliationRun.objects.filter(
                integration=integration, status=RunStatus.DONE
            ).order_by("-created_at")[:TREND_RUNS]
        )
        if integration
        else []
    )
    runs.reverse()
    target = FinanceSettings.for_integration(integration).accuracy_target if integration else None
    trend = {
        "labels": [timezone.localtime(r.created_at).strftime("%m-%d %H:%M") for r in runs],
        "accuracy": [float(r.accuracy) if r.accuracy is not None else None for r in runs],
        "target": [float(r.target) for r in runs],
    }
    return render(
        request,
        "finance/reconciliation.html",
        page_context(
            request,
            title=_("Inventory reconciliation"),
            integrations=Integration.objects.order_by("name"),
            integration=integration,
            runs=list(reversed(runs))[:20],
            trend=trend,
            target=target,
            can_run=request.user.has_perm("finance.add_reconciliationrun"),
        ),
    )


@operations_view("finance.view_reconciliationrun")
def reconciliation_export(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    if fmt not in ("csv", "xlsx"):
        raise Http404
    run = get_object_or_404(ReconciliationRun, pk=pk)
    content, content_type, name = mismatches_export(run=run, fmt=fmt)
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = attachment(name)
    return response


def _date(value: str, default: date | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else default
    except ValueError:
        return default


@operations_view("flows.view_syncdocument")
def export_chain(request: HttpRequest) -> HttpResponse:
    """K2: one view per platform order (?so=) or by ship-date range and shop, with exports."""
    integration = _integration(request)
    today = timezone.localdate()
    so = request.GET.get("so", "").strip()
    if has_control_characters(so) or has_control_characters(request.GET.get("shop", "")):
        return HttpResponseBadRequest(
            _("so / shop: a platform order number or shop id has no control characters."),
            content_type="text/plain; charset=utf-8",
        )
    start = None if so else _date(request.GET.get("start", ""), today - timedelta(days=30))
    end = None if so else _date(request.GET.get("end", ""), today)
    shop = request.GET.get("shop", "").strip()
    rows = (
        chain.chain_rows(
            integration=integration, start=start, end=end, shop_id=shop, platform_order_no=so
        )
        if integration
        else []
    )
    fmt = request.GET.get("format", "")
    if fmt in ("csv", "xlsx"):
        stem = f"export-chain-{so or f'{start}-{end}'}{f'-{shop}' if shop else ''}"
        if fmt == "csv":
            response = HttpResponse(chain.export_csv(rows), content_type="text/csv; charset=utf-8")
        else:
            response = HttpResponse(
                chain.export_xlsx(rows),
                content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            )
        response["Content-Disposition"] = attachment(f"{stem}.{fmt}")
        return response
    return render(
        request,
        "finance/export_chain.html",
        page_context(
            request,
            title=_("Export-refund data chain (9810 / 9710)"),
            integrations=Integration.objects.order_by("name"),
            integration=integration,
            rows=rows,
            columns=chain.COLUMNS,
            totals=sorted(chain.totals(rows).items()),
            gaps=sum(1 for r in rows if not r.complete),
            so=so,
            start=start,
            end=end,
            shop=shop,
            query=request.GET.urlencode(),
        ),
    )


@operations_view("finance.view_fxdifference")
def fx_differences_export(request: HttpRequest) -> HttpResponse:
    """Issue 19 point 4: the FX differences of a date range (default: last month) per currency,
    counterpart account and partner, for Kingdee's own period-end revaluation; csv or xlsx."""
    from .exports import table_csv, table_xlsx
    from .fx_differences import fx_differences_report

    integration = _integration(request)
    if integration is None:
        raise Http404
    first = timezone.localdate().replace(day=1)
    start = _date(request.GET.get("start", ""), (first - timedelta(days=1)).replace(day=1))
    end = _date(request.GET.get("end", ""), first - timedelta(days=1))
    header, rows = fx_differences_report(integration=integration, start=start, end=end)
    name = f"fx-differences-{start}-{end}"
    if request.GET.get("format") == "xlsx":
        response = HttpResponse(
            table_xlsx([(_("FX differences"), header, rows)]),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        response["Content-Disposition"] = attachment(f"{name}.xlsx")
        return response
    response = HttpResponse(table_csv(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = attachment(f"{name}.csv")
    return response
