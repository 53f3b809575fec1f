"""Roles (Django groups) and the model permissions each needs.

The groups are created by a data migration (core 0001); their permissions are
granted after every migrate from ROLE_PERMISSIONS, so an app added later only
extends this table. Patterns are `app_label.codename` with shell wildcards; a pattern starting
with `!` takes away what the others grant (e.g. `!flows.*_apiclient`).
"""

from fnmatch import fnmatchcase

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    MASTER_DATA_ADMIN = "master_data_admin", _("Master-data admin")  # 主数据管理员
    FINANCE = "finance", _("Finance")  # 财务
    PURCHASING = "purchasing", _("Purchasing")  # 采购
    MANAGER = "manager", _("Manager")  # 管理层
    OPERATOR = "operator", _("Operator")  # 运维


# API clients hold the push API's signing secrets: only operators manage (or see) them.
_SEE_OPERATIONS = ("flows.view_*", "monitoring.view_*", "!flows.*_apiclient")
_WORK_TICKETS = ("monitoring.change_exceptionticket",)

ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    Role.MASTER_DATA_ADMIN: (
        "mappings.*",
        "masterdata.*",
        "connectors.view_*",
        *_SEE_OPERATIONS,
        *_WORK_TICKETS,
        "flows.change_syncdocument",
    ),
    Role.FINANCE: (
        "mappings.view_*",
        "mappings.*_taxtemplate",
        "mappings.*_accountmapping",
        "mappings.*_exchangerate",
        *_SEE_OPERATIONS,
        *_WORK_TICKETS,
        "flows.change_syncdocument",
        "finance.*",
    ),
    Role.PURCHASING: (
        *_SEE_OPERATIONS,
        *_WORK_TICKETS,
    ),
    Role.MANAGER: (
        "mappings.view_*",
        "masterdata.view_*",
        "connectors.view_*",
        *_SEE_OPERATIONS,
        "finance.view_*",
    ),
    Role.OPERATOR: (
        "connectors.*",
        "kingdee.*",
        "jushuitan.*",
        "dingtalk.*",
        "fx.*",
        "flows.*",
        "monitoring.*",
        "django_celery_beat.*",
        "sandbox*.*",
        "finance.view_*",
    ),
}


def permission_matches(patterns: tuple[str, ...], app_label: str, codename: str) -> bool:
    key = f"{app_label}.{codename}"
    if any(fnmatchcase(key, pattern[1:]) for pattern in patterns if pattern.startswith("!")):
        return False
    return any(fnmatchcase(key, pattern) for pattern in patterns if not pattern.startswith("!"))


def sync_role_permissions(*args, **kwargs) -> None:
    """Grant each role group exactly the permissions its patterns match (idempotent)."""
    from django.contrib.auth.models import Group, Permission

    permissions = list(Permission.objects.select_related("content_type"))
    for role, patterns in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=role)
        wanted = [
            p
            for p in permissions
            if permission_matches(patterns, p.content_type.app_label, p.codename)
        ]
        group.permissions.set(wanted)
