from django.contrib import admin

from .models import KingdeeConnection


@admin.register(KingdeeConnection)
class KingdeeConnectionAdmin(admin.ModelAdmin):
    list_display = ("name", "server_url", "acct_id", "username", "org_number", "auth_mode")
    search_fields = ("name", "acct_id", "username")
