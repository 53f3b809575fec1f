"""Choices of the master-data app."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class CheckKind(models.TextChoices):
    """What a master-data check line compares (F9.1)."""

    WAREHOUSE = "warehouse", _("Warehouse")  # 仓库
    SHOP = "shop", _("Shop ↔ customer")  # 店铺 ↔ 客户
    SUPPLIER = "supplier", _("Supplier")  # 供应商


class CheckStatus(models.TextChoices):
    OK = "ok", _("In step")
    UNMAPPED = "unmapped", _("No mapping")
    MISSING_IN_JUSHUITAN = "missing_jushuitan", _("Missing in Jushuitan")
    MISSING_IN_KINGDEE = "missing_kingdee", _("Missing in Kingdee")
    NAME_DIFFERS = "name_differs", _("Name differs")


# Statuses a person has to act on (each opens an exception ticket).
CHECK_PROBLEMS = frozenset(
    {
        CheckStatus.UNMAPPED,
        CheckStatus.MISSING_IN_JUSHUITAN,
        CheckStatus.MISSING_IN_KINGDEE,
    }
)


class ImportStatus(models.TextChoices):
    """Where an opening-inventory import (历史库存期初) stands (G2)."""

    PREVIEWED = "previewed", _("Previewed (nothing sent yet)")
    INVALID = "invalid", _("Invalid rows: fix the file and import again")
    PUSHING = "pushing", _("Being pushed to Jushuitan")
    PUSHED = "pushed", _("Pushed to Jushuitan")
    FAILED = "failed", _("Push failed: retry")
