"""Issue 16 #1: a secret is never rendered by the admin, for any role, on any page.

Every model with a secret field (core.fields.EncryptedTextField) is found by enumeration; one
object of each gets fresh random secrets, and every admin page of it (list, add, change,
history, delete) is rendered as each role, a superuser and a staff user who may only view
these models. No page may contain a secret in any form (plain, URL- or base64-encoded)."""

import secrets

import pytest
from django.apps import apps
from django.core.management import call_command
from django.test import Client

from core.fields import EncryptedTextField
from tests.core.test_no_secret_leaks import forms_of

pytestmark = pytest.mark.django_db

ROLES = ("mdm", "finance", "purchasing", "manager", "operator")


def _secret(prefix: str) -> str:
    return f"{prefix}-{secrets.token_urlsafe(24)}"


def _objects(make_integration) -> list:
    """One object of every model with a secret field, each secret field set."""
    from connectors.dingtalk.models import RobotChannel
    from connectors.jushuitan.models import JushuitanConnection
    from connectors.kingdee.models import KingdeeConnection
    from flows.models import ApiClient
    from sandbox.jushuitan.models import ApiApp
    from sandbox.robots.models import SandboxRobot

    integration = make_integration("secrets")
    kingdee = KingdeeConnection.objects.get(pk=integration.kingdee_id)
    kingdee.app_secret, kingdee.password = _secret("kd-app"), _secret("kd-pw")
    kingdee.save()
    jushuitan = JushuitanConnection.objects.get(pk=integration.jushuitan_id)
    jushuitan.app_secret = _secret("jst-app")
    jushuitan.access_token, jushuitan.refresh_token = _secret("jst-at"), _secret("jst-rt")
    jushuitan.save()
    token = secrets.token_hex(16)
    return [
        kingdee,
        jushuitan,
        ApiClient.objects.create(name="hook", integration=integration, secret=_secret("api")),
        RobotChannel.objects.create(
            name="robot",
            webhook_url=f"https://oapi.dingtalk.com/robot/send?access_token={token}",
            secret="SEC" + secrets.token_hex(20),
        ),
        ApiApp.objects.create(app_key="probe-app", app_secret=_secret("sbx-app")),
        SandboxRobot.objects.create(name="probe", token="probe-token", secret=_secret("sbx-rb")),
    ]


def _secret_values(obj) -> dict[str, str]:
    values = {}
    for field in obj._meta.concrete_fields:
        if isinstance(field, EncryptedTextField):
            values[f"{obj._meta.label}.{field.name}"] = getattr(obj, field.attname)
    # The robot's access token travels inside the webhook URL: it is a secret too.
    if obj._meta.label == "dingtalk.RobotChannel":
        values["dingtalk.RobotChannel token"] = obj.webhook_url.rsplit("=", 1)[1]
    return values


def test_no_admin_page_renders_a_secret(make_integration, django_user_model):
    """Issue 16 #1: GIVEN one object of every model with a secret field WHEN every admin page
    of it is rendered as each role, a superuser and a view-only staff user THEN no secret
    appears in any form; the view-only user is told only whether each secret is set."""
    from django.contrib.auth.models import Permission

    objects = _objects(make_integration)
    with_secrets = {
        model._meta.label
        for model in apps.get_models()
        if any(isinstance(f, EncryptedTextField) for f in model._meta.concrete_fields)
    }
    assert {o._meta.label for o in objects} == with_secrets, "a new model with secrets: add it"

    call_command("create_demo_users", stdout=open("/dev/null", "w"))  # noqa: SIM115
    people = {u.username: u for u in django_user_model.objects.filter(username__in=ROLES)}
    people["superuser"] = django_user_model.objects.create_superuser("root-secrets")
    viewer = django_user_model.objects.create_user("viewer", is_staff=True)
    viewer.user_permissions.set(
        Permission.objects.filter(
            codename__in=[f"view_{o._meta.model_name}" for o in objects],
            content_type__app_label__in=[o._meta.app_label for o in objects],
        )
    )
    people["viewer"] = viewer

    needles = {name: value for o in objects for name, value in _secret_values(o).items()}
    assert all(needles.values()) and len(needles) >= 10
    rendered = 0
    found, no_status = [], []
    for username, user in people.items():
        browser = Client(HTTP_ACCEPT_LANGUAGE="en")
        browser.force_login(user)
        for obj in objects:
            base = f"/admin/{obj._meta.app_label}/{obj._meta.model_name}/"
            pages = [base, f"{base}add/", f"{base}{obj.pk}/change/"]
            pages += [f"{base}{obj.pk}/history/", f"{base}{obj.pk}/delete/"]
            for url in pages:
                answer = browser.get(url)
                if answer.status_code != 200:
                    continue
                rendered += 1
                page = answer.content.decode()
                for name, secret in needles.items():
                    for shape in forms_of(secret):
                        if shape in page:
                            found.append(f"{username} {url}: {name} as {shape!r}")
                flat = page.replace("\n", "").replace(" ", "")
                if username == "viewer" and url.endswith("/change/") and ">set<" not in flat:
                    no_status.append(url)
    assert not found, "\n".join(found)
    assert not no_status, f"the view-only user is not told the secret is set: {no_status}"
    # superuser, operator and viewer saw the pages (not a run of 403s).
    assert rendered >= 3 * len(objects) * 2, rendered
