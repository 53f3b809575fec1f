from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SandboxJushuitanConfig(AppConfig):
    name = "sandbox.jushuitan"
    label = "sandbox_jushuitan"
    verbose_name = _("Sandbox: Jushuitan")
