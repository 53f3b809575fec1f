from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DingtalkConfig(AppConfig):
    name = "connectors.dingtalk"
    label = "dingtalk"
    verbose_name = _("Group robots")
