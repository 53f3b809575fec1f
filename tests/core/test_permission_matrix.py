"""Issue #12 / README "Roles": each role × each page, action and API, as documented in the
README's permission matrix. 200 = allowed, 403 = refused (signed in but not allowed)."""

import json

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db

ROLES = ("mdm", "finance", "purchasing", "manager", "operator")

# (what, method, url, {user: expected status}) — the README table is generated from the same facts.
MATRIX = [
    ("Process board", "get", "/monitoring/board/", dict.fromkeys(ROLES, 200)),
    ("Trace search", "get", "/monitoring/search/?q=x", dict.fromkeys(ROLES, 200)),
    ("Work orders (own queue)", "get", "/monitoring/tickets/", dict.fromkeys(ROLES, 200)),
    ("Go-live checklist", "get", "/monitoring/checklist/", dict.fromkeys(ROLES, 200)),
    (
        "Mappings: list",
        "get",
        "/admin/mappings/shopcustomermapping/",
        {"mdm": 200, "finance": 200, "purchasing": 403, "manager": 200, "operator": 403},
    ),
    (
        "Mappings: add / import",
        "get",
        "/admin/mappings/shopcustomermapping/add/",
        {"mdm": 200, "finance": 403, "purchasing": 403, "manager": 403, "operator": 403},
    ),
    (
        "Tax templates: add",
        "get",
        "/admin/mappings/taxtemplate/add/",
        {"mdm": 200, "finance": 200, "purchasing": 403, "manager": 403, "operator": 403},
    ),
    (
        "Exchange rates: add",
        "get",
        "/admin/mappings/exchangerate/add/",
        {"mdm": 200, "finance": 200, "purchasing": 403, "manager": 403, "operator": 403},
    ),
    (
        "Connections (Kingdee)",
        "get",
        "/admin/kingdee/kingdeeconnection/",
        {"mdm": 403, "finance": 403, "purchasing": 403, "manager": 403, "operator": 200},
    ),
    (
        "Schedules",
        "get",
        "/admin/django_celery_beat/periodictask/",
        {"mdm": 403, "finance": 403, "purchasing": 403, "manager": 403, "operator": 200},
    ),
    (
        "Reconciliation (K1)",
        "get",
        "/finance/reconciliation/",
        {"mdm": 403, "finance": 200, "purchasing": 403, "manager": 200, "operator": 200},
    ),
    (
        "Export-refund chain (K2)",
        "get",
        "/finance/export-chain/",
        dict.fromkeys(ROLES, 200),
    ),
    (
        "Push API (staff session)",
        "post",
        "/jushuitan/order/outbound?integration=none",
        {"mdm": 400, "finance": 400, "purchasing": 403, "manager": 403, "operator": 400},
    ),
]


@pytest.fixture
def users(db):
    from django.contrib.auth import get_user_model

    call_command("create_demo_users", stdout=open("/dev/null", "w"))  # noqa: SIM115
    return {u.username: u for u in get_user_model().objects.filter(username__in=ROLES)}


@pytest.mark.parametrize(("what", "method", "url", "expected"), MATRIX, ids=[m[0] for m in MATRIX])
def test_permission_matrix(client, users, what, method, url, expected):
    for username, status in expected.items():
        client.force_login(users[username])
        if method == "get":
            answer = client.get(url)
        else:
            answer = client.post(url, data=json.dumps({}), content_type="application/json")
        assert answer.status_code == status, (what, username, answer.status_code)
        client.logout()


def test_anonymous_is_sent_to_login(client):
    assert client.get("/monitoring/board/").status_code == 302
    assert client.post(
        "/jushuitan/order/outbound", data="{}", content_type="application/json"
    ).status_code in (401, 403)
