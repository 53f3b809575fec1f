from django.contrib import admin

from .models import JushuitanConnection


@admin.register(JushuitanConnection)
class JushuitanConnectionAdmin(admin.ModelAdmin):
    list_display = ("name", "base_url", "app_key", "company_id", "token_expires_at")
    search_fields = ("name", "app_key", "company_id")
