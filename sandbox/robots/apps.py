from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SandboxRobotsConfig(AppConfig):
    name = "sandbox.robots"
    label = "sandbox_robots"
    verbose_name = _("Sandbox: robots")
