"""Issue 16 #2: every admin action declares the permission it needs.

The list is not written by hand: every action of every admin registered on the portal's site
(its own, the site-wide ones and third-party ones) is enumerated, so an action added later
without `allowed_permissions` fails here, and the site hides it from everyone but superusers
until it declares one."""

import pytest
from django.contrib import admin
from django.test import RequestFactory

pytestmark = pytest.mark.django_db


def registered_actions():
    """(model label, action name, function, model admin) of every registered action."""
    found = []
    for model, model_admin in admin.site._registry.items():
        for function, name, _description in model_admin._get_base_actions():
            found.append((model._meta.label, name, function, model_admin))
    return found


def test_the_enumeration_sees_the_actions():
    names = {(label, name) for label, name, _f, _a in registered_actions()}
    # A few that the issue named: if these vanish, the enumeration is broken, not the rule.
    assert ("flows.SyncDocument", "ignore") in names
    assert ("finance.FinanceSettings", "collect_and_post_fx") in names
    assert ("masterdata.OpeningInventoryImport", "push") in names
    assert ("connectors.Integration", "initialise_mappings") in names
    assert ("django_celery_beat.PeriodicTask", "run_tasks") in names
    assert len(names) > 40


def test_every_admin_action_declares_allowed_permissions():
    """Issue 16 #2: GIVEN every action registered on the admin site THEN each declares
    allowed_permissions, and each permission it names has its has_<name>_permission check."""
    missing = [
        f"{label}: {name}"
        for label, name, function, _admin in registered_actions()
        if not getattr(function, "allowed_permissions", None)
    ]
    assert not missing, "actions without allowed_permissions:\n" + "\n".join(missing)
    unchecked = [
        f"{label}: {name} needs has_{permission}_permission"
        for label, name, function, model_admin in registered_actions()
        for permission in function.allowed_permissions
        if not callable(getattr(model_admin, f"has_{permission}_permission", None))
    ]
    assert not unchecked, "\n".join(unchecked)


def test_an_action_without_permissions_is_offered_to_superusers_only(django_user_model):
    """Fail closed: an action registered without allowed_permissions is hidden from every
    staff user who is not a superuser, whatever their model permissions."""
    from django.contrib.auth.models import Permission

    from flows.models import Flow

    flow_admin = admin.site._registry[Flow]

    def undeclared(modeladmin, request, queryset):
        return None

    staff = django_user_model.objects.create_user("op", is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label="flows"))
    root = django_user_model.objects.create_superuser("root")
    request = RequestFactory().get("/admin/flows/flow/")
    saved = flow_admin.actions
    flow_admin.actions = (*saved, undeclared)
    try:
        request.user = django_user_model.objects.get(pk=staff.pk)
        assert "undeclared" not in flow_admin.get_actions(request)
        assert "run_now" in flow_admin.get_actions(request)
        request.user = root
        assert "undeclared" in flow_admin.get_actions(request)
    finally:
        flow_admin.actions = saved
