from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class JushuitanConfig(AppConfig):
    name = "connectors.jushuitan"
    label = "jushuitan"
    verbose_name = _("Jushuitan")
