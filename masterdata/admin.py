"""Admin of the master-data app: material owners, master-data checks, opening inventory."""

from django import forms
from django.contrib import admin, messages
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from connectors.models import Integration

from . import services
from .models import (
    MasterDataCheck,
    MasterDataCheckLine,
    MaterialOwner,
    OpeningInventoryImport,
    OpeningInventoryLine,
)


@admin.register(MaterialOwner)
class MaterialOwnerAdmin(admin.ModelAdmin):
    list_display = ("integration", "material_group", "owner_role", "owner_user", "note")
    list_filter = ("integration", "owner_role")
    search_fields = ("material_group", "owner_user__username", "note")
    list_select_related = ("integration", "owner_user")
    autocomplete_fields = ()


class CheckLineInline(admin.TabularInline):
    model = MasterDataCheckLine
    extra = 0
    can_delete = False
    fields = (
        "kind",
        "status",
        "kingdee_code",
        "kingdee_name",
        "jushuitan_code",
        "jushuitan_name",
        "message",
    )
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(MasterDataCheck)
class MasterDataCheckAdmin(admin.ModelAdmin):
    list_display = ("integration", "created_at", "compared", "problems", "started_by", "error")
    list_filter = ("integration",)
    search_fields = ("lines__kingdee_code", "lines__jushuitan_code")
    list_select_related = ("integration", "started_by")
    readonly_fields = ("integration", "started_by", "compared", "problems", "error", "created_at")
    inlines = (CheckLineInline,)
    actions = ("run_again",)

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(
        description=_("Run the master-data check again for these integrations"),
        permissions=("change",),
    )
    def run_again(self, request, queryset):
        integrations = Integration.objects.filter(
            pk__in=queryset.values_list("integration_id", flat=True)
        ).select_related("kingdee", "jushuitan")
        for integration in integrations:
            run = services.master_data_check(integration=integration, user=request.user)
            level = messages.WARNING if run.problems or run.error else messages.SUCCESS
            self.message_user(
                request,
                _("%(integration)s: %(n)d compared, %(p)d problems. %(error)s")
                % {
                    "integration": integration,
                    "n": run.compared,
                    "p": run.problems,
                    "error": run.error,
                },
                level,
            )


class OpeningLineInline(admin.TabularInline):
    model = OpeningInventoryLine
    extra = 0
    can_delete = False
    fields = ("row", "material_number", "sku_id", "jushuitan_qty", "qty", "change")
    readonly_fields = fields

    @admin.display(description=_("change in Jushuitan"))
    def change(self, obj) -> str:
        value = obj.change
        return f"+{value}" if value > 0 else str(value)

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class OpeningInventoryUploadForm(forms.Form):
    integration = forms.ModelChoiceField(
        queryset=Integration.objects.filter(enabled=True), label=_("integration")
    )
    file = forms.FileField(
        label=_("file"),
        help_text=_(
            "xlsx or UTF-8 csv with the columns warehouse, material, qty (仓库, 物料, 数量)"
        ),
    )
    sub_warehouse = forms.IntegerField(
        label=_("Jushuitan sub-warehouse"), initial=1, min_value=1, max_value=15
    )


@admin.register(OpeningInventoryImport)
class OpeningInventoryImportAdmin(admin.ModelAdmin):
    """G2: upload a file (preview only), check the changes, then push."""

    list_display = (
        "stock_number",
        "wms_co_id",
        "integration",
        "status",
        "file_name",
        "created_at",
        "pushed_at",
    )
    list_filter = ("status", "integration")
    search_fields = ("stock_number", "wms_co_id", "file_name", "lines__sku_id")
    list_select_related = ("integration",)
    readonly_fields = (
        "integration",
        "stock_number",
        "wms_co_id",
        "sub_warehouse",
        "file_name",
        "status",
        "errors",
        "progress",
        "created_by",
        "pushed_by",
        "pushed_at",
        "last_error",
    )
    inlines = (OpeningLineInline,)
    actions = ("push",)
    change_list_template = "admin/masterdata/openinginventoryimport/change_list.html"

    def has_add_permission(self, request) -> bool:
        return False

    def get_urls(self):
        return [
            path(
                "upload/",
                self.admin_site.admin_view(self.upload_view),
                name="masterdata_openinginventoryimport_upload",
            ),
            *super().get_urls(),
        ]

    def upload_view(self, request):
        if not self.has_change_permission(request):
            return redirect("admin:index")
        form = OpeningInventoryUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                imports = services.opening_inventory_preview(
                    integration=form.cleaned_data["integration"],
                    content=upload.read(),
                    file_name=upload.name,
                    user=request.user,
                    sub_warehouse=form.cleaned_data["sub_warehouse"],
                )
            except services.MasterDataError as exc:
                form.add_error("file", str(exc.message))
            else:
                self.message_user(
                    request,
                    _(
                        "Previewed %(n)d warehouse(s); nothing was sent. Check the changes, "
                        "then use 'Push to Jushuitan'."
                    )
                    % {"n": len(imports)},
                )
                return redirect(reverse("admin:masterdata_openinginventoryimport_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Import opening inventory (preview)"),
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/masterdata/opening_inventory_upload.html", context)

    @admin.action(description=_("Push to Jushuitan"), permissions=("change",))
    def push(self, request, queryset):
        for batch in queryset.select_related("integration", "integration__jushuitan"):
            try:
                done = services.opening_inventory_push(batch=batch, user=request.user)
            except services.MasterDataError as exc:
                self.message_user(request, f"{batch}: {exc.message}", messages.ERROR)
                continue
            level = messages.SUCCESS if not done.last_error else messages.ERROR
            self.message_user(
                request,
                _("%(batch)s: %(status)s %(error)s")
                % {"batch": done, "status": done.get_status_display(), "error": done.last_error},
                level,
            )
