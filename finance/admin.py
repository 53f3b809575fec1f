"""Admin of finance: settings, FX differences and vouchers (F6.1), reconciliation runs (K1).
Actions are thin: one service call, reported with message_user."""

from datetime import timedelta

from django.contrib import admin, messages
from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from core.exports import attachment

from .choices import FxTreatment, RunStatus, RunTrigger, VoucherStatus
from .fx_differences import (
    fx_differences_collect,
    fx_voucher_retry,
    fx_vouchers_post,
    fx_vouchers_prepare,
)
from .fx_fallback import confirm as fallback_confirm
from .fx_fallback import rerate as fallback_rerate
from .kingdee_sources import kingdee_pull, report_summary
from .models import (
    CustomsDeclaration,
    DeclarationItem,
    FallbackRateBooking,
    FallbackRateStatus,
    FinanceSettings,
    FxDifference,
    FxReceipt,
    FxVoucher,
    KingdeeSource,
    PurchaseInvoice,
    ReconciliationLine,
    ReconciliationRun,
)
from .reconciliation import mismatches_export, reconciliation_run


class ReadOnlyMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(FinanceSettings)
class FinanceSettingsAdmin(admin.ModelAdmin):
    list_display = (
        "integration",
        "fx_treatment",
        "audit_vouchers",
        "voucher_mode",
        "account_book",
        "receivable_account",
        "payable_account",
        "accuracy_target",
        "quantity_tolerance",
        "enterprise_type",
    )
    list_filter = ("fx_treatment", "voucher_mode", "enterprise_type")
    search_fields = ("integration__name", "integration__code")
    actions = ("collect_and_post_fx",)

    @admin.action(
        description=_("Collect FX differences of the last 7 days and post vouchers"),
        permissions=("change",),
    )
    def collect_and_post_fx(self, request, queryset):
        today = timezone.localdate()
        for row in queryset.select_related("integration"):
            found = fx_differences_collect(
                integration=row.integration, start=today - timedelta(days=7), end=today
            )
            if row.fx_treatment == FxTreatment.REPORT:
                self.message_user(
                    request,
                    _("%(integration)s: %(lines)d new lines; report only, no voucher posted.")
                    % {"integration": row.integration, "lines": found.created},
                )
                continue
            prepared = fx_vouchers_prepare(integration=row.integration, through=today)
            posted = fx_vouchers_post(integration=row.integration)
            self.message_user(
                request,
                _("%(integration)s: %(lines)d new lines, %(vouchers)d vouchers, %(posted)d posted.")
                % {
                    "integration": row.integration,
                    "lines": found.created,
                    "vouchers": len(prepared),
                    "posted": sum(v.status == VoucherStatus.POSTED for v in posted),
                },
            )


@admin.register(FxDifference)
class FxDifferenceAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = (
        "business_date",
        "kingdee_bill_no",
        "line_no",
        "platform_order_no",
        "kind",
        "currency",
        "amount",
        "finance_rate",
        "business_rate",
        "difference",
        "gain_loss",
        "voucher",
    )
    list_filter = ("kind", "currency", "business_date")
    search_fields = ("=kingdee_bill_no", "=platform_order_no", "=material_number", "voucher__key")
    raw_id_fields = ("document", "voucher")
    date_hierarchy = "business_date"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("voucher")


class FxDifferenceInline(admin.TabularInline):
    model = FxDifference
    fields = (
        "kingdee_bill_no",
        "line_no",
        "platform_order_no",
        "amount",
        "finance_rate",
        "business_rate",
        "finance_cny",
        "business_cny",
        "gain_loss",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(FxVoucher)
class FxVoucherAdmin(admin.ModelAdmin):
    list_display = (
        "key",
        "voucher_date",
        "currency",
        "status",
        "total_gain_loss",
        "kingdee_number",
        "posted_at",
    )
    list_filter = ("status", "mode", "currency")
    search_fields = ("key", "kingdee_number")
    readonly_fields = (
        "integration",
        "key",
        "mode",
        "org_number",
        "currency",
        "voucher_date",
        "status",
        "total_gain_loss",
        "payload",
        "kingdee_id",
        "kingdee_number",
        "error",
        "posted_at",
    )
    inlines = (FxDifferenceInline,)
    actions = ("retry_failed",)

    def has_add_permission(self, request):
        return False

    @admin.action(
        description=_("Rebuild and post the selected failed vouchers"), permissions=("change",)
    )
    def retry_failed(self, request, queryset):
        touched = 0
        for voucher in queryset.filter(status=VoucherStatus.FAILED):
            fx_voucher_retry(voucher=voucher)
            touched += 1
        for integration_id in set(queryset.values_list("integration_id", flat=True)):
            fx_vouchers_post(
                integration=queryset.filter(integration_id=integration_id)[0].integration
            )
        self.message_user(request, _("%(n)d vouchers queued again.") % {"n": touched})


class MismatchInline(admin.TabularInline):
    model = ReconciliationLine
    verbose_name_plural = _("mismatches")
    fields = (
        "material_number",
        "sku_id",
        "stock_number",
        "wms_co_id",
        "kingdee_qty",
        "jushuitan_qty",
        "difference",
        "pending_qty",
        "unexplained_qty",
        "unexplained_value",
        "note",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False
    max_num = 0

    def get_queryset(self, request):
        return super().get_queryset(request).filter(matched=False)


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = (
        "created_at",
        "integration",
        "trigger",
        "status",
        "compared",
        "matched",
        "accuracy",
        "accuracy_after_pending",
        "target",
        "below_target",
        "overdue_documents",
        "exports",
    )
    list_filter = ("status", "trigger", "below_target", "integration")
    search_fields = ("integration__name", "notes")
    readonly_fields = (
        "integration",
        "trigger",
        "status",
        "finished_at",
        "compared",
        "matched",
        "accuracy",
        "target",
        "below_target",
        "cut_off",
        "matched_after_pending",
        "accuracy_after_pending",
        "pending_documents",
        "overdue_documents",
        "difference_value",
        "unexplained_value",
        "notes",
    )
    inlines = (MismatchInline,)
    actions = ("reconcile_now", "export_xlsx", "export_csv")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("integration")

    @admin.display(description=_("mismatches"))
    def exports(self, obj):
        return format_html(
            '{} · <a href="{}">xlsx</a> · <a href="{}">csv</a>',
            obj.mismatches,
            reverse("finance:reconciliation-export", args=(obj.pk, "xlsx")),
            reverse("finance:reconciliation-export", args=(obj.pk, "csv")),
        )

    @admin.action(
        description=_("Reconcile these runs' integrations again now"),
        permissions=("reconcile",),
    )
    def reconcile_now(self, request, queryset):
        integrations = {run.integration_id: run.integration for run in queryset}
        for integration in integrations.values():
            run = reconciliation_run(integration=integration, trigger=RunTrigger.MANUAL)
            level = messages.SUCCESS if run.status == RunStatus.DONE else messages.ERROR
            self.message_user(
                request,
                _("%(integration)s: %(matched)d of %(compared)d lines match (%(acc)s%%).")
                % {
                    "integration": integration,
                    "matched": run.matched,
                    "compared": run.compared,
                    "acc": run.accuracy,
                },
                level,
            )

    def has_add_permission(self, request, obj=None):
        return False

    def has_reconcile_permission(self, request):
        return request.user.has_perm("finance.add_reconciliationrun")

    def _export(self, request, queryset, fmt: str):
        if queryset.count() != 1:
            self.message_user(request, _("Select exactly one run to export."), messages.WARNING)
            return None
        content, content_type, name = mismatches_export(run=queryset.get(), fmt=fmt)
        response = HttpResponse(content, content_type=content_type)
        response["Content-Disposition"] = attachment(name)
        return response

    @admin.action(description=_("Export the mismatches (xlsx)"), permissions=("view",))
    def export_xlsx(self, request, queryset):
        return self._export(request, queryset, "xlsx")

    @admin.action(description=_("Export the mismatches (csv)"), permissions=("view",))
    def export_csv(self, request, queryset):
        return self._export(request, queryset, "csv")


class DeclarationItemInline(admin.TabularInline):
    model = DeclarationItem
    extra = 0
    fields = (
        "item_no",
        "sku_id",
        "hs_code",
        "goods_name",
        "quantity",
        "legal_unit",
        "legal_qty",
        "second_unit",
        "second_qty",
        "fob_usd",
        "hwc_yt",
    )


class FxReceiptInline(admin.TabularInline):
    model = FxReceipt
    extra = 0


@admin.register(CustomsDeclaration)
class CustomsDeclarationAdmin(admin.ModelAdmin):
    """K2: declarations come in by import (finance page "Import declarations"); here they can
    be read and corrected (e.g. the date the refund was filed)."""

    list_display = (
        "declaration_no",
        "mode",
        "export_date",
        "destination_country",
        "reference_no",
        "refund_filed_on",
        "source",
    )
    list_filter = ("mode", "source", "integration")
    search_fields = ("=declaration_no", "reference_no", "items__sku_id")
    date_hierarchy = "export_date"
    inlines = (DeclarationItemInline, FxReceiptInline)


@admin.register(KingdeeSource)
class KingdeeSourceAdmin(admin.ModelAdmin):
    """K2: where the tenant keeps declarations, purchase invoices and FX receipts in Kingdee;
    *Pull now* reads them (dry run first, as with the workbook import)."""

    list_display = ("integration", "kind", "form_id", "enabled", "last_pulled_at")
    list_filter = ("kind", "enabled")
    search_fields = ("integration__name", "integration__code", "form_id")
    readonly_fields = ("last_pulled_at", "last_result")
    actions = ("pull_dry_run", "pull_now")

    def _pull(self, request, queryset, *, dry_run: bool) -> None:
        for integration in {row.integration for row in queryset.select_related("integration")}:
            report = kingdee_pull(integration=integration, dry_run=dry_run)
            self.message_user(
                request,
                f"{integration}: {report_summary(report)}",
                messages.SUCCESS if report.ok else messages.ERROR,
            )

    @admin.action(
        description=_("Check against Kingdee (dry run, nothing written)"),
        permissions=("change",),
    )
    def pull_dry_run(self, request, queryset):
        self._pull(request, queryset, dry_run=True)

    @admin.action(description=_("Pull from Kingdee now"), permissions=("change",))
    def pull_now(self, request, queryset):
        self._pull(request, queryset, dry_run=False)


@admin.register(PurchaseInvoice)
class PurchaseInvoiceAdmin(admin.ModelAdmin):
    list_display = ("invoice_no", "item", "invoice_date", "amount", "tax")
    search_fields = ("=invoice_no", "item__declaration__declaration_no")
    raw_id_fields = ("item",)


@admin.register(FallbackRateBooking)
class FallbackRateBookingAdmin(admin.ModelAdmin):
    """Issue 19 point 3: documents booked at a fallback rate, to confirm or re-rate."""

    list_display = ("currency", "rate_date", "source", "rate", "status", "official_rate")
    list_filter = ("status", "currency")
    readonly_fields = (
        "integration",
        "currency",
        "rate_date",
        "source",
        "rate",
        "documents",
        "status",
        "official_rate",
        "outcome",
        "resolved_by",
    )
    actions = ("confirm_rate", "rerate_official")

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("Confirm the fallback rate"), permissions=("change",))
    def confirm_rate(self, request, queryset):
        bookings = list(queryset.filter(status=FallbackRateStatus.OPEN))
        for booking in bookings:
            fallback_confirm(booking, user=request.user)
        self.message_user(request, _("%(n)d bookings confirmed.") % {"n": len(bookings)})

    @admin.action(description=_("Re-rate at the official rate"), permissions=("change",))
    def rerate_official(self, request, queryset):
        from mappings.errors import RateUnavailable

        for booking in queryset.filter(status=FallbackRateStatus.OPEN):
            try:
                outcome = fallback_rerate(booking, user=request.user)
            except RateUnavailable as exc:
                self.message_user(request, f"{booking}: {exc.message}", messages.ERROR)
                continue
            failed = {bill: text for bill, text in outcome.items() if text != "ok"}
            if failed:
                self.message_user(
                    request,
                    _("%(booking)s: Kingdee refused %(bills)s")
                    % {
                        "booking": booking,
                        "bills": "; ".join(f"{b}: {t}" for b, t in failed.items()),
                    },
                    messages.ERROR,
                )
            else:
                self.message_user(
                    request,
                    _("%(booking)s: %(n)d bills re-rated at the official rate.")
                    % {"booking": booking, "n": len(outcome)},
                )
