from django.contrib import admin

from . import faults
from .models import FaultProfile


@admin.register(FaultProfile)
class FaultProfileAdmin(admin.ModelAdmin):
    list_display = (
        "system",
        "error_rate",
        "busy_rate",
        "timeout_after_commit_rate",
        "session_expiry_rate",
        "rate_limit_rate",
        "latency_ms",
        "updated_at",
    )

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        faults.clear_cache()
