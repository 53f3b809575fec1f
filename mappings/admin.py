"""Admin of the mappings: the master-data admins' and finance's main tool. Every table has
import / export (xlsx, csv, dry-run preview), downloadable templates and history (M8)."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.templatetags.admin_urls import admin_urlname
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import translation
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from import_export.admin import ImportExportModelAdmin
from import_export.formats import base_formats
from simple_history.admin import SimpleHistoryAdmin

from core.exports import attachment

from . import resources
from .choices import MappingKind, MappingSource, RateSource, System
from .errors import ImportNotConfirmable
from .models import (
    AccountMapping,
    CodeMapping,
    ExchangeRate,
    FxCurrencySource,
    FxPolicy,
    ImportJob,
    KnownCode,
    MaterialMapping,
    RateFetch,
    ShopCustomerMapping,
    SupplierMapping,
    TaxTemplate,
    WarehouseMapping,
)
from .selectors import import_job_progress
from .services import FORMATS, import_job_confirm, import_job_start, import_template

_SOURCE_COLOURS = {
    MappingSource.EXPLICIT: "#1a7f37",
    MappingSource.RULE: "#57606a",
    MappingSource.INITIALISED: "#9a6700",
}


# What an import does to a row, as the preview and the summary name it.
_OUTCOMES = (
    ("new", _("New")),
    ("update", _("Updated")),
    ("skip", _("Unchanged")),
    ("delete", _("Deleted")),
    ("error", _("Errors")),
    ("invalid", _("Invalid")),
)


#: codes offered as suggestions under one field of a mapping form
SUGGESTED_CODES = 2000


class SnapshotCodeInput(forms.TextInput):
    """A code field that suggests the codes the target system listed (the snapshot pulled
    by the initialisation or 'Pull code tables'): a text input with a datalist."""

    def __init__(self, *, system: str, kind: str, attrs=None):
        super().__init__(attrs)
        self.system, self.kind = system, kind

    def suggestions(self) -> list[tuple[str, str]]:
        rows = KnownCode.objects.filter(system=self.system, kind=self.kind).order_by("code")
        seen: dict[str, str] = {}
        for code, name, extra in rows.values_list("code", "name", "extra")[:SUGGESTED_CODES]:
            details = (extra or {}).get("iso") or (extra or {}).get("rate") or ""
            seen.setdefault(code, f"{name} ({details})" if details != "" else name)
        return list(seen.items())

    def render(self, name, value, attrs=None, renderer=None):
        attrs = {**(attrs or {}), "list": f"{(attrs or {}).get('id', name)}_codes"}
        options = format_html_join("", '<option value="{}">{}</option>', self.suggestions())
        return format_html(
            '{}<datalist id="{}">{}</datalist>',
            super().render(name, value, attrs, renderer),
            attrs["list"],
            options,
        )


class MappingAdminBase(ImportExportModelAdmin, SimpleHistoryAdmin):
    """Import / export with templates, history, and the integration preloaded.

    An uploaded file is not imported in the request: it becomes an ImportJob that the worker
    runs (first a dry run, then, once confirmed, the import), while the job's page shows a
    progress bar polled from its status URL, then the preview with per-row errors or the
    summary. Import-export's own checks (form, formats, permission) stay in front."""

    formats = [base_formats.XLSX, base_formats.CSV]
    import_export_change_list_template = "admin/mappings/change_list_import_export.html"
    import_job_template_name = "admin/mappings/import_job.html"
    list_select_related = ("integration",)
    list_per_page = 100
    table_key = ""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        """Fields the import checks against a snapshot suggest its codes (issue 24 point 6)."""
        target = self._snapshot_target(db_field.name)
        if target is not None:
            kwargs["widget"] = SnapshotCodeInput(system=target[0], kind=target[1])
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def _snapshot_target(self, name: str) -> tuple[str, str] | None:
        resource = resources.RESOURCES.get(self.table_key)
        if resource is None:
            return None
        checks = dict(resource.snapshot_checks)
        if resource.snapshot_checks_by is not None:
            for more in resource.snapshot_checks_by[1].values():
                checks.update(more)
        return checks.get(name)

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        extra = [
            path(
                "template/<str:file_format>/",
                self.admin_site.admin_view(self.template_view),
                name="{}_{}_import_template".format(*info),
            ),
            path(
                "import/<uuid:job_id>/",
                self.admin_site.admin_view(self.import_job_view),
                name="{}_{}_import_job".format(*info),
            ),
            path(
                "import/<uuid:job_id>/status/",
                self.admin_site.admin_view(self.import_job_status_view),
                name="{}_{}_import_job_status".format(*info),
            ),
            path(
                "import/<uuid:job_id>/confirm/",
                self.admin_site.admin_view(self.import_job_confirm_view),
                name="{}_{}_import_job_confirm".format(*info),
            ),
        ]
        return extra + super().get_urls()

    # --- import through the worker, with progress ---------------------------------------
    def import_action(self, request, **kwargs):
        """The import form. A valid upload is queued as a dry run and the browser goes to the
        job's progress page; the form itself (and its errors) is import-export's."""
        if request.method != "POST":
            return super().import_action(request, **kwargs)
        if not self.has_import_permission(request):
            raise PermissionDenied
        form = self.create_import_form(request)
        if not form.is_valid():
            return super().import_action(request, **kwargs)
        file_format = self.get_import_formats()[int(form.cleaned_data["format"])]()
        upload = form.cleaned_data["import_file"]
        job = import_job_start(
            table=self.table_key,
            content=b"".join(upload.chunks()),
            file_format=file_format.get_extension(),
            file_name=upload.name,
            dry_run=True,
            user=request.user,
            language=translation.get_language() or "",
        )
        return redirect(self._import_job_url(job))

    def _import_job_url(self, job: ImportJob, name: str = "import_job") -> str:
        return reverse(admin_urlname(self.opts, name), args=[job.pk])

    def _import_job(self, request, job_id) -> ImportJob:
        """The job, for people who may import into this table: their own jobs (all of them
        for a superuser)."""
        if not self.has_import_permission(request):
            raise PermissionDenied
        jobs = ImportJob.objects.filter(table=self.table_key).defer("content")
        if not request.user.is_superuser:
            jobs = jobs.filter(user=request.user)
        return get_object_or_404(jobs, pk=job_id)

    def import_job_view(self, request, job_id):
        """Progress bar while the job runs; then its preview (dry run) or summary."""
        job = self._import_job(request, job_id)
        progress = import_job_progress(job=job)
        totals = [(label, job.totals.get(key, 0)) for key, label in _OUTCOMES]
        outcome_labels = dict(_OUTCOMES)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Import preview") if job.dry_run else _("Import"),
            "opts": self.opts,
            "job": job,
            "progress": progress,
            "totals": [(label, count) for label, count in totals if count],
            "more_errors": max(job.error_count - len(job.row_errors), 0),
            "sample": [
                (number, outcome_labels.get(outcome, outcome), outcome, values)
                for number, outcome, values in job.sample
            ],
            "status_url": self._import_job_url(job, "import_job_status"),
            "confirm_url": self._import_job_url(job, "import_job_confirm"),
            "import_url": reverse(admin_urlname(self.opts, "import")),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, [self.import_job_template_name], context)

    @method_decorator(never_cache)
    def import_job_status_view(self, request, job_id):
        """Where the job stands, as JSON: the progress page polls it."""
        job = self._import_job(request, job_id)
        return JsonResponse(import_job_progress(job=job))

    @method_decorator(require_POST)
    def import_job_confirm_view(self, request, job_id):
        """Import for real the file a dry run checked; the browser follows the new job."""
        preview = self._import_job(request, job_id)
        try:
            job = import_job_confirm(preview=preview, user=request.user)
        except ImportNotConfirmable as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return redirect(self._import_job_url(preview))
        return redirect(self._import_job_url(job))

    def template_view(self, request, file_format: str):
        if file_format not in FORMATS:
            return HttpResponse(status=404)
        content = import_template(table=self.table_key, file_format=file_format)
        fmt = FORMATS[file_format]()
        response = HttpResponse(content, content_type=fmt.get_content_type())
        filename = f"{self.opts.model_name}-template.{fmt.get_extension()}"
        response["Content-Disposition"] = attachment(filename)
        return response


class SourcedMappingAdmin(MappingAdminBase):
    """Mapping tables whose rows say where they came from (explicit / rule / initialised)."""

    list_filter = ("integration", "source")
    actions = ("confirm_rows",)

    @admin.display(description=_("source"), ordering="source")
    def source_badge(self, obj):
        return format_html(
            '<span style="color:{};font-weight:600">{}</span>',
            _SOURCE_COLOURS.get(obj.source, "#000"),
            obj.get_source_display(),
        )

    @admin.action(
        description=_("Confirm the selected rows (make them explicit)"), permissions=("change",)
    )
    def confirm_rows(self, request, queryset):
        count = 0
        for row in queryset.exclude(source=MappingSource.EXPLICIT):
            row.source = MappingSource.EXPLICIT
            row.save(update_fields=["source", "updated_at"])
            count += 1
        self.message_user(
            request,
            ngettext("%(count)d row confirmed.", "%(count)d rows confirmed.", count)
            % {"count": count},
            messages.SUCCESS,
        )


@admin.register(ShopCustomerMapping)
class ShopCustomerMappingAdmin(SourcedMappingAdmin):
    resource_classes = [resources.ShopCustomerMappingResource]
    table_key = "shop_customer"
    list_display = (
        "shop_id",
        "shop_name",
        "customer_number",
        "sale_org_number",
        "settle_currency",
        "source_badge",
        "integration",
    )
    search_fields = ("shop_id", "shop_name", "customer_number")


@admin.register(WarehouseMapping)
class WarehouseMappingAdmin(SourcedMappingAdmin):
    resource_classes = [resources.WarehouseMappingResource]
    table_key = "warehouse"
    list_display = (
        "wms_co_id",
        "wh_id",
        "warehouse_name",
        "stock_number",
        "stock_org_number",
        "source_badge",
        "integration",
    )
    search_fields = ("wms_co_id", "warehouse_name", "stock_number")


@admin.register(SupplierMapping)
class SupplierMappingAdmin(SourcedMappingAdmin):
    resource_classes = [resources.SupplierMappingResource]
    table_key = "supplier"
    list_display = (
        "jst_supplier_code",
        "jst_supplier_id",
        "supplier_number",
        "supplier_name",
        "source_badge",
        "integration",
    )
    search_fields = ("jst_supplier_code", "supplier_number", "supplier_name")


@admin.register(MaterialMapping)
class MaterialMappingAdmin(SourcedMappingAdmin):
    resource_classes = [resources.MaterialMappingResource]
    table_key = "material"
    list_display = (
        "sku_id",
        "material_number",
        "material_name",
        "unit_factor",
        "source_badge",
        "integration",
    )
    search_fields = ("sku_id", "material_number", "material_name")


@admin.register(CodeMapping)
class CodeMappingAdmin(SourcedMappingAdmin):
    resource_classes = [resources.CodeMappingResource]
    table_key = "code"
    list_display = ("kind", "jushuitan_code", "kingdee_code", "note", "source_badge", "integration")
    list_filter = ("integration", "kind", "source")
    search_fields = ("jushuitan_code", "kingdee_code", "note")


@admin.register(TaxTemplate)
class TaxTemplateAdmin(MappingAdminBase):
    resource_classes = [resources.TaxTemplateResource]
    table_key = "tax_template"
    list_display = (
        "country",
        "hs_prefix",
        "name",
        "kingdee_tax_number",
        "vat_rate",
        "duty_rate",
        "refund_rate",
        "effective_from",
        "effective_to",
        "integration",
    )
    list_filter = ("integration", "country")
    search_fields = ("hs_prefix", "name", "kingdee_tax_number")
    date_hierarchy = "effective_from"


@admin.register(AccountMapping)
class AccountMappingAdmin(MappingAdminBase):
    resource_classes = [resources.AccountMappingResource]
    table_key = "account"
    list_display = (
        "org_number",
        "purpose",
        "shop_id",
        "account_number",
        "account_name",
        "integration",
    )
    list_filter = ("integration", "org_number", "purpose")
    search_fields = ("account_number", "account_name", "shop_id")


@admin.register(ExchangeRate)
class ExchangeRateAdmin(MappingAdminBase):
    """Rates fetched from the sources, and those finance sets by hand (manual overrides)."""

    resource_classes = [resources.ExchangeRateResource]
    table_key = "exchange_rate"
    list_display = (
        "rate_date",
        "currency",
        "rate_type",
        "rate",
        "quote_unit",
        "inverse",
        "source",
        "manual_override",
        "fetched_at",
    )
    list_filter = ("rate_type", "source", "manual_override", "currency")
    search_fields = ("currency", "note")
    date_hierarchy = "rate_date"
    list_select_related = ()
    readonly_fields = ("source", "fetched_at")

    def save_model(self, request, obj, form, change):
        # A person's rate is an override: later fetches leave it alone.
        obj.manual_override = True
        obj.source = RateSource.MANUAL
        super().save_model(request, obj, form, change)


@admin.register(KnownCode)
class KnownCodeAdmin(admin.ModelAdmin):
    """The snapshot of both systems' codes: master data (filled by initialisation) and the
    customer's code tables (currencies, accounts, tax rates, shops, warehouses), which the
    import dry runs check codes against. 'Pull code tables' refreshes the latter."""

    list_display = ("code", "name", "system", "kind", "details", "seen_at", "integration")
    list_filter = ("integration", "system", "kind")
    search_fields = ("code", "name")
    list_select_related = ("integration",)
    readonly_fields = ("seen_at",)

    @admin.display(description=_("details"))
    def details(self, obj):
        return ", ".join(f"{key}={value}" for key, value in sorted((obj.extra or {}).items()))

    def get_urls(self):
        pull = path(
            "pull/",
            self.admin_site.admin_view(self.pull_view),
            name="mappings_knowncode_pull",
        )
        return [pull, *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        from connectors.models import Integration

        extra_context = {
            **(extra_context or {}),
            "can_pull_code_tables": has_pull_code_tables_permission(self, request),
            "integrations": Integration.objects.order_by("code"),
            "pull_url": reverse("admin:mappings_knowncode_pull"),
        }
        return super().changelist_view(request, extra_context)

    @method_decorator(require_POST)
    def pull_view(self, request):
        """Issue 24 point 6: pull one integration's code tables, back to the list."""
        from connectors.models import Integration

        from .code_tables import pull_code_tables as pull

        if not has_pull_code_tables_permission(self, request):
            raise PermissionDenied
        pk = str(request.POST.get("integration", ""))
        integration = get_object_or_404(
            Integration.objects.select_related("kingdee", "jushuitan"),
            pk=int(pk) if pk.isdigit() else 0,
        )
        _report_code_tables(self, request, integration, pull(integration=integration))
        return redirect(reverse("admin:mappings_knowncode_changelist"))


@admin.register(RateFetch)
class RateFetchAdmin(admin.ModelAdmin):
    list_display = (
        "fetched_at",
        "source",
        "requested_from",
        "requested_to",
        "settled_to",
        "ok",
        "records",
        "error",
    )
    list_filter = ("ok", "source")
    search_fields = ("error",)
    list_select_related = ("source",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# --- G1 "Initialise from systems", an action on the Integration list -----------------------


@admin.action(
    description=_("Initialise mappings from both systems (G1)"),
    permissions=("initialise_mappings",),
)
def initialise_mappings(modeladmin, request, queryset):
    from connectors.errors import ConnectorError

    from .sources import initialise_from_connections

    for integration in queryset:
        try:
            result = initialise_from_connections(integration=integration, user=request.user)
        except ConnectorError as exc:
            modeladmin.message_user(
                request,
                _("%(integration)s: a system could not be read: %(error)s")
                % {"integration": integration, "error": exc.message},
                messages.ERROR,
            )
            continue
        created = sum(result.created.values())
        modeladmin.message_user(
            request,
            _(
                "%(integration)s: %(pairs)d pairs proposed, %(created)d rows created, "
                "%(unpaired)d unpaired."
            )
            % {
                "integration": integration,
                "pairs": len(result.plan.pairs),
                "created": created,
                "unpaired": len(result.plan.unpaired),
            },
        )
        for item in result.plan.unpaired[:30]:
            modeladmin.message_user(
                request,
                _("Unpaired %(kind)s in %(system)s: %(code)s")
                % {
                    "kind": MappingKind(item.kind).label
                    if item.kind in MappingKind.values
                    else item.kind,
                    "system": System(item.system).label
                    if item.system in System.values
                    else item.system,
                    "code": item.code,
                },
                messages.WARNING,
            )
        if result.code_tables is not None:
            _report_code_tables(modeladmin, request, integration, result.code_tables)
        if result.plan.unpaired:
            # Issue 24: every one-side code stays listed on the checklist (G1) with its fix.
            modeladmin.message_user(
                request,
                format_html(
                    '<a href="{}">{}</a>',
                    reverse("monitoring:checklist"),
                    _("The go-live checklist (G1) lists every unpaired code and where to map it."),
                ),
                messages.WARNING,
            )


def _report_code_tables(modeladmin, request, integration, result) -> None:
    """One message per code table pulled (how many codes) and one per table not read."""
    from .choices import MasterKind

    def label(key):
        system, kind = key
        return f"{System(system).label} {MasterKind(kind).label}"

    if result.counts:
        modeladmin.message_user(
            request,
            _("%(integration)s: code tables pulled: %(tables)s.")
            % {
                "integration": integration,
                "tables": ", ".join(f"{label(k)} {n}" for k, n in sorted(result.counts.items())),
            },
            messages.SUCCESS,
        )
    for key, error in sorted(result.errors.items()):
        modeladmin.message_user(
            request,
            _("%(integration)s: %(table)s could not be read: %(error)s")
            % {"integration": integration, "table": label(key), "error": error},
            messages.ERROR,
        )


@admin.action(
    description=_("Pull code tables: currencies, accounts, tax rates, shops, warehouses"),
    permissions=("pull_code_tables",),
)
def pull_code_tables(modeladmin, request, queryset):
    """Issue 24 point 6: the customer's code tables into the snapshot the import dry runs
    check codes against (and the mapping forms suggest)."""
    from .code_tables import pull_code_tables as pull

    for integration in queryset.select_related("kingdee", "jushuitan"):
        _report_code_tables(modeladmin, request, integration, pull(integration=integration))


def has_pull_code_tables_permission(modeladmin, request) -> bool:
    """For those who map codes against these tables: master-data admins and finance."""
    return any(
        request.user.has_perm(f"mappings.change_{model}")
        for model in ("codemapping", "accountmapping", "taxtemplate", "shopcustomermapping")
    )


def has_initialise_mappings_permission(modeladmin, request) -> bool:
    """Initialising writes mapping rows: for those who may add and change them (mdm)."""
    return request.user.has_perms(
        [f"mappings.{verb}_{model}" for verb in ("add", "change") for model in _INITIALISED]
    )


_INITIALISED = ("shopcustomermapping", "warehousemapping", "suppliermapping", "materialmapping")


def _register_initialise_action() -> None:
    from connectors.models import Integration

    integration_admin = admin.site._registry.get(Integration)
    if integration_admin is None:
        return
    for action in (initialise_mappings, pull_code_tables):
        if action not in integration_admin.actions:
            integration_admin.actions = (*integration_admin.actions, action)
    cls = type(integration_admin)
    cls.has_initialise_mappings_permission = has_initialise_mappings_permission
    cls.has_pull_code_tables_permission = has_pull_code_tables_permission


_register_initialise_action()


class FxCurrencySourceInline(admin.TabularInline):
    model = FxCurrencySource
    extra = 1
    fields = ("currency", "source", "reference_source", "basis")


@admin.register(FxPolicy)
class FxPolicyAdmin(SimpleHistoryAdmin):
    """Issue 19 point 3: the rate date and the source per currency of one integration."""

    list_display = ("integration", "rate_date_rule", "period_months", "allow_fallback")
    fields = ("integration", "rate_date_rule", "period_months", "period_anchor", "allow_fallback")
    inlines = (FxCurrencySourceInline,)
