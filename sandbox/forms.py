"""Forms of the sandbox's own pages."""

from django import forms

from .models import FaultProfile


class FaultProfileForm(forms.ModelForm):
    """One simulated system's fault switches (the system itself comes from the URL)."""

    class Meta:
        model = FaultProfile
        fields = (
            "error_rate",
            "busy_rate",
            "timeout_after_commit_rate",
            "stall_seconds",
            "session_expiry_rate",
            "rate_limit_rate",
            "latency_ms",
            "latency_jitter_ms",
        )
