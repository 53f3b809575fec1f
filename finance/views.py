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

from . import export_chain as chain
from .choices import RunStatus, RunTrigger
from .declarations import declarations_import as declarations_read
from .declarations import template_xlsx
from .models import FinanceSettings, ReconciliationRun
from .reconciliation import mismatches_export, reconciliation_run

TREND_RUNS = 60


def _integration(request: HttpRequest) -> Integration | None:
    value = request.POST.get("integration") or request.GET.get("integration", "")
    rows = Integration.objects.order_by("name")
    return rows.filter(pk=value).first() if str(value).isdigit() else rows.first()


def _figure(value) -> float | None:
    return float(value) if value is not None else None


@operations_view("finance.view_reconciliationrun")
def reconciliation_trend(request: HttpRequest) -> HttpResponse:
    """K1: both figures per run (raw, after pending documents) as a trend chart, the latest
    runs, and "reconcile now"."""
    integration = _integration(request)
    if request.method == "POST":
        if not request.user.has_perm("finance.add_reconciliationrun") or integration is None:
            raise Http404
        run = reconciliation_run(integration=integration, trigger=RunTrigger.MANUAL)
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
    # Chart labels are translated here, in Python: a literal "%" in a template translation
    # comes out doubled ("%%") in the msgid and in what the template shows.
    trend = {
        "labels": [timezone.localtime(r.created_at).strftime("%m-%d %H:%M") for r in runs],
        "accuracy": [_figure(r.accuracy) for r in runs],
        "after_pending": [_figure(r.accuracy_after_pending) for r in runs],
        "target": [float(r.target) for r in runs],
        "legend": {
            "accuracy": _("Accuracy, raw (%)"),
            "after_pending": _("Accuracy after pending documents (%)"),
            "target": _("Target (%)"),
        },
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
def reconciliation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """K1: one run — both figures, and per mismatching line the documents behind it."""
    run = get_object_or_404(ReconciliationRun.objects.select_related("integration"), pk=pk)
    lines = list(
        run.lines.filter(matched=False)
        .prefetch_related("items__ticket")
        .order_by("matched_after_pending", "stock_number", "material_number", "sku_id")
    )
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
    declarations = (
        chain.declaration_chain(integration=integration, start=start, end=end)
        if integration
        else None
    )
    rows = (
        chain.chain_rows(
            integration=integration,
            start=start,
            end=end,
            shop_id=shop,
            platform_order_no=so,
            chain=declarations,
        )
        if integration
        else []
    )
    items = declarations.items if declarations else []
    returns = declarations.returns if declarations else []
    if so:  # the items and returns of that order only
        drawn = {(n, i) for r in rows for n, i, _q in r.allocations}
        drawn |= {(n, i) for r in rows for line in r.returns for n, i, _q, _f in line.items}
        items = [i for i in items if (i.declaration_no, i.item_no) in drawn]
        returns = [r for r in returns if r.platform_order_no == so]
    fmt = request.GET.get("format", "")
    if fmt in ("csv", "xlsx") and declarations is not None:
        view = chain.DeclarationChain(
            items=items,
            sales=declarations.sales,
            returns=returns,
            allocations_by_sale=declarations.allocations_by_sale,
            returns_by_sale=declarations.returns_by_sale,
            unallocated=declarations.unallocated,
        )
        stem = f"export-chain-{so or f'{start}-{end}'}{f'-{shop}' if shop else ''}"
        if fmt == "csv":
            response = HttpResponse(
                chain.export_csv(rows, view), content_type="text/csv; charset=utf-8"
            )
        else:
            response = HttpResponse(
                chain.export_xlsx(rows, view),
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
            columns=chain.COLUMNS,
            totals=sorted(chain.totals(rows).items()),
            item_totals=chain.item_totals(items),
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
            report = declarations_read(
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


@operations_view("finance.view_reconciliationrun")
def stock_counts_export(request: HttpRequest) -> HttpResponse:
    """Issue 19 point 5: the count bills of a date range (default: this month) with their
    approval, Kingdee's cost, the input VAT transferred out and the abnormal-loss flag."""
    from .exports import table_csv, table_xlsx
    from .selectors import stock_count_report

    integration = _integration(request)
    if integration is None:
        raise Http404
    today = timezone.localdate()
    start = _date(request.GET.get("start", ""), today.replace(day=1))
    end = _date(request.GET.get("end", ""), today)
    header, rows = stock_count_report(integration=integration, start=start, end=end)
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
