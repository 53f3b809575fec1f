"""Finance pages (thin: parse, call one service or selector, render)."""

from __future__ import annotations

from datetime import date, timedelta

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from connectors.models import Integration
from core.exports import attachment, has_control_characters
from monitoring.views.common import operations_view, page_context

from . import selectors, services
from .choices import RunStatus, RunTrigger
from .declarations import template_xlsx
from .export_chain import COLUMNS, export_csv, export_xlsx, item_totals, totals
from .exports import table_csv, table_xlsx
from .models import ReconciliationRun
from .reconciliation import mismatches_export

TREND_RUNS = 60


def _integration(request: HttpRequest) -> Integration | None:
    value = request.POST.get("integration") or request.GET.get("integration", "")
    return selectors.integration_chosen(value=value)


@operations_view("finance.view_reconciliationrun")
def reconciliation_trend(request: HttpRequest) -> HttpResponse:
    """K1: both figures per run (raw, after pending documents) as a trend chart, the latest
    runs, and "reconcile now"."""
    integration = _integration(request)
    if request.method == "POST":
        if not request.user.has_perm("finance.add_reconciliationrun") or integration is None:
            raise Http404
        run = services.reconciliation_run(integration=integration, trigger=RunTrigger.MANUAL)
        if run.status == RunStatus.DONE:
            messages.success(
                request,
                _(
                    "Reconciled: %(matched)d of %(compared)d lines match (%(acc)s%%); "
                    "after pending documents %(after)d (%(acc_after)s%%)."
                )
                % {
                    "matched": run.matched,
                    "compared": run.compared,
                    "acc": run.accuracy,
                    "after": run.matched_after_pending,
                    "acc_after": run.accuracy_after_pending,
                },
            )
            return redirect("finance:reconciliation-run", pk=run.pk)
        messages.error(request, _("Reconciliation failed: %(notes)s") % {"notes": run.notes})
        return redirect(f"{request.path}?integration={integration.pk}")
    trend = selectors.reconciliation_trend(integration=integration, limit=TREND_RUNS)
    return render(
        request,
        "finance/reconciliation.html",
        page_context(
            request,
            title=_("Inventory reconciliation"),
            integrations=Integration.objects.order_by("name"),
            integration=integration,
            runs=trend.runs,
            trend=trend.chart,
            target=trend.target,
            can_run=request.user.has_perm("finance.add_reconciliationrun"),
        ),
    )


@operations_view("finance.view_reconciliationrun")
def reconciliation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """K1: one run — both figures, and per mismatching line the documents behind it."""
    run = get_object_or_404(ReconciliationRun.objects.select_related("integration"), pk=pk)
    lines = selectors.reconciliation_mismatches(run=run)
    return render(
        request,
        "finance/reconciliation_run.html",
        page_context(
            request,
            title=_("Inventory reconciliation as of %(cut_off)s")
            % {
                "cut_off": timezone.localtime(run.cut_off or run.created_at).strftime(
                    "%Y-%m-%d %H:%M:%S"
                )
            },
            run=run,
            lines=lines,
            unexplained=sum(1 for line in lines if not line.matched_after_pending),
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
    """K2: declaration items (sold / unsold, refund, gaps), the consumer sales that drew on
    them with their returns, by platform order (?so=) or date range and shop; exports."""
    integration = _integration(request)
    today = timezone.localdate()
    so = request.GET.get("so", "").strip()
    if has_control_characters(so) or has_control_characters(request.GET.get("shop", "")):
        return HttpResponseBadRequest(
            _("so / shop: a platform order number or shop id has no control characters."),
            content_type="text/plain; charset=utf-8",
        )
    start = None if so else _date(request.GET.get("start", ""), today - timedelta(days=90))
    end = None if so else _date(request.GET.get("end", ""), today)
    shop = request.GET.get("shop", "").strip()
    view = selectors.export_chain_view(
        integration=integration, start=start, end=end, shop_id=shop, platform_order_no=so
    )
    rows, items, returns = view.rows, view.items, view.returns
    fmt = request.GET.get("format", "")
    if fmt in ("csv", "xlsx") and view.declarations is not None:
        files = view.for_files()
        stem = f"export-chain-{so or f'{start}-{end}'}{f'-{shop}' if shop else ''}"
        if fmt == "csv":
            response = HttpResponse(export_csv(rows, files), content_type="text/csv; charset=utf-8")
        else:
            response = HttpResponse(
                export_xlsx(rows, files),
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
            items=items,
            item_gaps=sum(1 for i in items if i.gaps),
            returns=returns,
            rows=rows,
            columns=COLUMNS,
            totals=sorted(totals(rows).items()),
            item_totals=item_totals(items),
            gaps=sum(1 for r in rows if not r.complete),
            so=so,
            start=start,
            end=end,
            shop=shop,
            query=request.GET.urlencode(),
            can_import=request.user.has_perm("finance.add_customsdeclaration"),
        ),
    )


@operations_view("finance.add_customsdeclaration")
def declarations_import(request: HttpRequest) -> HttpResponse:
    """K2: upload the broker's / single window's workbook; a dry run first, then the import."""
    integration = _integration(request)
    report = None
    if request.method == "POST" and integration is not None:
        upload = request.FILES.get("file")
        if upload is None:
            messages.error(request, _("Choose the xlsx file to import."))
        else:
            report = services.declarations_import(
                integration=integration,
                content=upload.read(),
                dry_run=bool(request.POST.get("dry_run")),
            )
            if report.ok and not report.dry_run:
                messages.success(
                    request,
                    _(
                        "Imported %(declarations)d declarations with %(items)d items, "
                        "%(invoices)d purchase invoices and %(receipts)d FX receipts."
                    )
                    % {
                        "declarations": report.declarations,
                        "items": report.items,
                        "invoices": report.invoices,
                        "receipts": report.receipts,
                    },
                )
                return redirect(f"{reverse('finance:export-chain')}?integration={integration.pk}")
    return render(
        request,
        "finance/declarations_import.html",
        page_context(
            request,
            title=_("Import customs declarations"),
            integrations=Integration.objects.order_by("name"),
            integration=integration,
            report=report,
        ),
    )


@operations_view("finance.view_customsdeclaration")
def declarations_template(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(
        template_xlsx(),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = attachment("customs-declarations-template.xlsx")
    return response


@operations_view("finance.view_fxdifference")
def fx_differences_export(request: HttpRequest) -> HttpResponse:
    """Issue 19 point 4: the FX differences of a date range (default: last month) per currency,
    counterpart account and partner, for Kingdee's own period-end revaluation; csv or xlsx."""
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


@operations_view("finance.view_reconciliationrun")
def stock_counts_export(request: HttpRequest) -> HttpResponse:
    """Issue 19 point 5: the count bills of a date range (default: this month) with their
    approval, Kingdee's cost, the input VAT transferred out and the abnormal-loss flag."""
    integration = _integration(request)
    if integration is None:
        raise Http404
    today = timezone.localdate()
    start = _date(request.GET.get("start", ""), today.replace(day=1))
    end = _date(request.GET.get("end", ""), today)
    header, rows = selectors.stock_count_report(integration=integration, start=start, end=end)
    name = f"stock-counts-{start}-{end}"
    if request.GET.get("format") == "xlsx":
        response = HttpResponse(
            table_xlsx([(_("Stock counts"), header, rows)]),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        response["Content-Disposition"] = attachment(f"{name}.xlsx")
        return response
    response = HttpResponse(table_csv(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = attachment(f"{name}.csv")
    return response
