from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KingdeeConfig(AppConfig):
    name = "connectors.kingdee"
    label = "kingdee"
    verbose_name = _("Kingdee K3Cloud")
