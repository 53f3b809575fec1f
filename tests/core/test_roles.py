"""Roles exist as groups with the model permissions they need; demo users get one role each."""

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command

from core.roles import Role

pytestmark = pytest.mark.django_db


def test_every_role_is_a_group():
    assert set(Group.objects.values_list("name", flat=True)) >= {r.value for r in Role}


def test_role_permissions():
    """Master-data admins edit mappings; managers only view; operators run connections."""

    def perms(role):
        group = Group.objects.get(name=role)
        return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}

    operator = perms(Role.OPERATOR)
    assert "connectors.change_integration" in operator
    assert "kingdee.change_kingdeeconnection" in operator
    assert "django_celery_beat.change_periodictask" in operator
    manager = perms(Role.MANAGER)
    assert "connectors.view_integration" in manager
    assert not any(p.split(".")[1].startswith(("add_", "change_", "delete_")) for p in manager)
    assert "kingdee.view_kingdeeconnection" not in perms(Role.FINANCE)


def test_demo_users_one_per_role(capsys):
    call_command("create_demo_users")
    out = capsys.readouterr().out
    assert "admin" in out
    for role in Role:
        users = User.objects.filter(groups__name=role)
        assert users.count() == 1
        assert users.get().is_staff
    assert User.objects.get(username="admin").is_superuser
    call_command("create_demo_users")  # idempotent
    assert User.objects.count() == 1 + len(Role)
