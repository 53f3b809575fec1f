from django.contrib import admin

from .models import FxSource


@admin.register(FxSource)
class FxSourceAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "priority", "enabled", "official", "base_url")
    list_filter = ("kind", "enabled", "official")
    search_fields = ("name", "base_url")
    ordering = ("priority", "name")
