from django.contrib import admin

from .models import Integration


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "kingdee", "jushuitan", "enabled")
    list_filter = ("enabled",)
    search_fields = ("name", "code")
    list_select_related = ("kingdee", "jushuitan")
