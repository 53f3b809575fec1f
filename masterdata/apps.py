from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MasterDataConfig(AppConfig):
    """Master data (主数据): material owners (F1.4), master-data checks (F9) and opening
    inventory (G2)."""

    name = "masterdata"
    label = "masterdata"
    verbose_name = _("Master data")
