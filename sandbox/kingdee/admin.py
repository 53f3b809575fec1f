"""Read-only admin of the simulated Kingdee: a person can look at documents, stock, sessions."""

from django.contrib import admin

from .models import (
    KdBaseData,
    KdBill,
    KdBillCustomField,
    KdBillEntry,
    KdCustomField,
    KdNumberSequence,
    KdSession,
    KdStockBalance,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class EntryInline(admin.TabularInline):
    model = KdBillEntry
    fields = ("seq", "material_number", "stock_number", "dest_stock_number", "qty", "applied_qty")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class CustomFieldInline(admin.TabularInline):
    model = KdBillCustomField
    fields = ("key", "value")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(KdBill)
class KdBillAdmin(ReadOnlyAdmin):
    list_display = (
        "bill_no",
        "form_id",
        "document_status",
        "bill_date",
        "org_number",
        "modified_at",
    )
    list_filter = ("form_id", "document_status")
    search_fields = ("bill_no", "custom_fields__value", "entries__material_number")
    date_hierarchy = "bill_date"
    inlines = (EntryInline, CustomFieldInline)
    readonly_fields = (
        "form_id",
        "bill_no",
        "document_status",
        "bill_date",
        "org_number",
        "fields",
        "model",
        "created_at",
        "modified_at",
        "approved_at",
    )


@admin.register(KdBaseData)
class KdBaseDataAdmin(ReadOnlyAdmin):
    list_display = ("number", "name", "form_id", "org_number", "document_status", "forbid_status")
    list_filter = ("form_id", "document_status", "forbid_status")
    search_fields = ("number", "name")


@admin.register(KdStockBalance)
class KdStockBalanceAdmin(ReadOnlyAdmin):
    list_display = (
        "material_number",
        "stock_number",
        "org_number",
        "base_qty",
        "lock_qty",
        "updated_at",
    )
    list_filter = ("stock_number", "org_number")
    search_fields = ("material_number", "stock_number")


@admin.register(KdSession)
class KdSessionAdmin(ReadOnlyAdmin):
    list_display = ("session_id", "username", "acct_id", "opened_by", "created_at", "last_seen_at")
    list_filter = ("opened_by",)
    search_fields = ("session_id", "username")


@admin.register(KdNumberSequence)
class KdNumberSequenceAdmin(ReadOnlyAdmin):
    list_display = ("prefix", "last_value")
    search_fields = ("prefix",)


@admin.register(KdCustomField)
class KdCustomFieldAdmin(admin.ModelAdmin):
    """The simulated tenant's BOS: add a custom field here as a tenant creates it in BOS, or
    delete it to see what the portal does when a field is missing (MsgCode 9)."""

    list_display = ("form_id", "key", "level", "field_type", "length")
    list_filter = ("form_id", "level")
    search_fields = ("form_id", "key")
