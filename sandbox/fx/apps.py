from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SandboxFxConfig(AppConfig):
    name = "sandbox.fx"
    label = "sandbox_fx"
    verbose_name = _("Sandbox: FX sources")
