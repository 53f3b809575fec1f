"""Admin of the mappings: the master-data admins' and finance's main tool. Every table has
import / export (xlsx, csv, dry-run preview), downloadable templates and history (M8)."""

from django.contrib import admin, messages
from django.http import HttpResponse
from django.urls import path
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from import_export.admin import ImportExportModelAdmin
from import_export.formats import base_formats
from simple_history.admin import SimpleHistoryAdmin

from . import resources
from .choices import MappingSource, RateSource
from .models import (
    AccountMapping,
    CodeMapping,
    ExchangeRate,
    KnownCode,
    MaterialMapping,
    RateFetch,
    ShopCustomerMapping,
    SupplierMapping,
    TaxTemplate,
    WarehouseMapping,
)
from .services import FORMATS, import_template

_SOURCE_COLOURS = {
    MappingSource.EXPLICIT: "#1a7f37",
    MappingSource.RULE: "#57606a",
    MappingSource.INITIALISED: "#9a6700",
}


class MappingAdminBase(ImportExportModelAdmin, SimpleHistoryAdmin):
    """Import / export with templates, history, and the integration preloaded."""

    formats = [base_formats.XLSX, base_formats.CSV]
    import_export_change_list_template = "admin/mappings/change_list_import_export.html"
    list_select_related = ("integration",)
    list_per_page = 100
    table_key = ""

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        extra = [
            path(
                "template/<str:file_format>/",
                self.admin_site.admin_view(self.template_view),
                name="{}_{}_import_template".format(*info),
            )
        ]
        return extra + super().get_urls()

    def template_view(self, request, file_format: str):
        if file_format not in FORMATS:
            return HttpResponse(status=404)
        content = import_template(table=self.table_key, file_format=file_format)
        fmt = FORMATS[file_format]()
        response = HttpResponse(content, content_type=fmt.get_content_type())
        filename = f"{self.opts.model_name}-template.{fmt.get_extension()}"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
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

    @admin.action(description=_("Confirm the selected rows (make them explicit)"))
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
    """The master-data snapshot the 1:1 rule checks against (filled by initialisation)."""

    list_display = ("code", "name", "system", "kind", "seen_at", "integration")
    list_filter = ("integration", "system", "kind")
    search_fields = ("code", "name")
    list_select_related = ("integration",)
    readonly_fields = ("seen_at",)


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


@admin.action(description=_("Initialise mappings from both systems (G1)"))
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
                % {"kind": item.kind, "system": item.system, "code": item.code},
                messages.WARNING,
            )


def _register_initialise_action() -> None:
    from connectors.models import Integration

    integration_admin = admin.site._registry.get(Integration)
    if integration_admin is not None and initialise_mappings not in integration_admin.actions:
        integration_admin.actions = (*integration_admin.actions, initialise_mappings)


_register_initialise_action()
