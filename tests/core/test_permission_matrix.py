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


# --- issue 16: every admin action and every change view, for every role --------------------
#
# The README's role table, per model (app label or model label): who may view, who may change
# (add and delete are "change" unless said otherwise), and who holds the custom permissions
# some actions declare. Written from the README, not from core/roles.py, so the two are
# checked against each other.

ALL = frozenset(ROLES)
NOBODY = frozenset()
MAPPINGS_VIEW = frozenset({"mdm", "finance", "manager"})
FINANCE_VIEW = frozenset({"finance", "manager", "operator"})
OPERATOR = frozenset({"operator"})

README_TABLE: dict[str, dict[str, frozenset]] = {
    # Mappings: view mdm, finance, manager; add, edit, import mdm.
    "mappings": {"view": MAPPINGS_VIEW, "change": frozenset({"mdm"})},
    # Tax templates, account mappings, exchange rates: edit mdm and finance.
    "mappings.TaxTemplate": {"view": MAPPINGS_VIEW, "change": frozenset({"mdm", "finance"})},
    "mappings.AccountMapping": {"view": MAPPINGS_VIEW, "change": frozenset({"mdm", "finance"})},
    "mappings.ExchangeRate": {"view": MAPPINGS_VIEW, "change": frozenset({"mdm", "finance"})},
    # Connections (Kingdee, Jushuitan, robots, FX sources): operator.
    "kingdee": {"view": OPERATOR, "change": OPERATOR},
    "jushuitan": {"view": OPERATOR, "change": OPERATOR},
    "dingtalk": {"view": OPERATOR, "change": OPERATOR},
    "fx": {"view": OPERATOR, "change": OPERATOR},
    # The integrations (pairs of connections) are read by mdm and managers, run by operators;
    # initialising mappings from them writes mappings (mdm); pulling the code tables is for
    # those who map codes (mdm here; finance pulls them from Mappings › known codes).
    "connectors": {
        "view": frozenset({"mdm", "manager", "operator"}),
        "change": OPERATOR,
        "initialise_mappings": frozenset({"mdm"}),
        "pull_code_tables": frozenset({"mdm"}),
    },
    # Schedules (beat), flows, sandbox: operator; everyone reads the flows' operations.
    "django_celery_beat": {"view": OPERATOR, "change": OPERATOR},
    "sandbox": {"view": OPERATOR, "change": OPERATOR},
    "sandbox_kingdee": {"view": OPERATOR, "change": OPERATOR},
    "sandbox_jushuitan": {"view": OPERATOR, "change": OPERATOR},
    "sandbox_robots": {"view": OPERATOR, "change": OPERATOR},
    "sandbox_fx": {"view": OPERATOR, "change": OPERATOR},
    "flows": {"view": ALL, "change": OPERATOR},
    # Push API from a machine: API clients (signing secrets) are the operators'.
    "flows.ApiClient": {"view": OPERATOR, "change": OPERATOR},
    # Documents: edit-and-retry for mdm and finance (in their queue) and operators.
    "flows.SyncDocument": {
        "view": ALL,
        "change": frozenset({"mdm", "finance", "operator"}),
        "delete": OPERATOR,
    },
    # Monitoring is read by all; work orders: own queue (mdm, finance, purchasing), all
    # (operator), read-only (manager).
    "monitoring": {"view": ALL, "change": OPERATOR},
    "monitoring.ExceptionTicket": {
        "view": ALL,
        "change": frozenset({"mdm", "finance", "purchasing", "operator"}),
        "delete": OPERATOR,
    },
    # Master data (F1/F9 checks, opening inventory): the master-data admins; managers read.
    "masterdata": {"view": frozenset({"mdm", "manager"}), "change": frozenset({"mdm"})},
    # Finance (FX differences, reconciliation K1): finance runs, manager and operator view.
    "finance": {"view": FINANCE_VIEW, "change": frozenset({"finance"})},
    "finance.ReconciliationRun": {
        "view": FINANCE_VIEW,
        "change": frozenset({"finance"}),
        "reconcile": frozenset({"finance"}),
    },
    # Users, groups and login lock-outs: superusers only.
    "auth": {"view": NOBODY, "change": NOBODY},
    "axes": {"view": NOBODY, "change": NOBODY},
}


def readme_row(model) -> dict[str, frozenset]:
    row = README_TABLE.get(model._meta.label) or README_TABLE.get(model._meta.app_label)
    assert row is not None, f"{model._meta.label}: which row of the README's role table?"
    return row


def allowed_roles(model, permission: str) -> frozenset:
    """The roles the README gives `permission` (view, change, add, delete or custom) on model."""
    row = readme_row(model)
    if permission in row:
        return row[permission]
    if permission in ("add", "delete"):
        return row["change"]
    raise AssertionError(f"{model._meta.label}: the README says nothing of {permission!r}")


def _registered():
    from django.contrib import admin

    return sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


@pytest.fixture
def recorded_actions(monkeypatch):
    """Actions reach their function only if the admin lets the user run them; the functions
    are replaced by recorders (so no remote system is called), keeping their declared
    permissions, and every call is listed as (model label, action, user)."""
    import functools

    from django.contrib.admin import ModelAdmin

    calls: list[tuple[str, str, str]] = []
    original = ModelAdmin.get_actions

    def get_actions(self, request):
        wrapped = {}
        for name, (function, action_name, description) in original(self, request).items():

            @functools.wraps(function)
            def record(modeladmin, request, queryset, _name=action_name):
                calls.append((modeladmin.model._meta.label, _name, request.user.username))

            wrapped[name] = (record, action_name, description)
        return wrapped

    monkeypatch.setattr(ModelAdmin, "get_actions", get_actions)
    return calls


def test_every_admin_action_for_every_role(client, users, recorded_actions):
    """Issue 16 #2 / README "Roles": GIVEN every action of every registered admin WHEN each role
    posts it from the model's change list THEN exactly the roles the README's table gives the
    action's declared permissions get it run; the others are refused (403 on the list, or the
    action is not offered and nothing runs)."""
    from django.contrib.auth import get_user_model
    from django.urls import reverse

    root = _request_for(get_user_model().objects.create_superuser("root-matrix"))
    expected: set[tuple[str, str, str]] = set()
    posted = 0
    for username, user in sorted(users.items()):
        client.force_login(user)
        for model, model_admin in _registered():
            url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
            for function, name, _description in model_admin._get_base_actions():
                permissions = function.allowed_permissions
                # Read-only admins refuse some permissions to everyone (even superusers).
                offered = all(
                    getattr(model_admin, f"has_{p}_permission")(root) for p in permissions
                )
                if offered and all(username in allowed_roles(model, p) for p in permissions):
                    expected.add((model._meta.label, name, username))
                answer = client.post(
                    url,
                    {"action": name, "_selected_action": ["0"], "select_across": "1", "index": "0"},
                )
                posted += 1
                assert answer.status_code in (200, 302, 403), (model._meta.label, name, username)
        client.logout()
    assert posted > 5 * 40
    ran = set(recorded_actions)
    assert ran == expected, {
        "ran but the README refuses": sorted(ran - expected),
        "refused but the README allows": sorted(expected - ran),
    }


def _some_pk(model) -> str:
    pk = model._default_manager.order_by("pk").values_list("pk", flat=True).first()
    return str(pk) if pk is not None else "0"


def test_every_change_view_for_every_role(client, users, world):
    """Issue 16 #3 / README "Roles": GIVEN every registered admin model (with an object where
    the test world has one) WHEN each role opens its change view and posts to it THEN opening
    is refused (403) exactly to the roles the README gives neither view nor change, and posting
    to every role it gives no change (records kept read-only by design, such as events and
    remote calls, refuse everyone): the admin says the same as the table."""
    from django.urls import reverse

    checked = with_objects = 0
    for model, _model_admin in _registered():
        pk = _some_pk(model)
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[pk])
        may_view = allowed_roles(model, "view") | allowed_roles(model, "change")
        may_change = allowed_roles(model, "change")
        if model._meta.label in ("flows.SyncDocument", "monitoring.ExceptionTicket"):
            continue  # object-level work queues: test_admin_work_queues below
        for username, user in sorted(users.items()):
            client.force_login(user)
            opened = client.get(url)
            assert (opened.status_code == 403) == (username not in may_view), (
                model._meta.label,
                username,
                opened.status_code,
            )
            model_admin = _model_admin
            change_allowed = username in may_change and model_admin.has_change_permission(
                _request_for(user), model._default_manager.filter(pk=pk).first()
            )
            posted = client.post(url, {})
            assert (posted.status_code == 403) == (not change_allowed), (
                model._meta.label,
                username,
                posted.status_code,
            )
            checked += 1
            client.logout()
        with_objects += pk != "0"
    assert checked > 5 * 40 and with_objects > 10, (checked, with_objects)


def _request_for(user):
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.user = user
    return request


def _form_data(response) -> dict:
    """What the change form would post back unchanged: the main form's values and every
    inline formset's management data (read from the page a superuser was shown)."""
    import json as _json

    data: dict = {}
    form = response.context["adminform"].form
    for name in form.fields:
        value = form[name].value()
        if value is None:
            continue
        if isinstance(value, dict | list):
            value = _json.dumps(value)
        data[name] = value
    for inline in response.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        for name in management.fields:
            data[f"{management.prefix}-{name}"] = management[name].value()
    return data


def test_admin_work_queues(client, users, world, django_user_model):
    """Issue 16 #3 / README "Work orders: own queue": GIVEN open tickets in the master-data,
    finance and purchasing queues (and their documents) WHEN each role works them in the admin
    THEN the ticket pages' queue rules hold there too: mdm cannot close, move or assign a
    purchasing ticket, nor edit the target payload of a document in finance's queue; in its own
    queue it may assign within the queue but not move the ticket or set its status by hand;
    purchasing cannot resolve an mdm ticket with the action; the manager changes nothing;
    the operator works every queue."""
    from flows.models import SyncDocument
    from monitoring.models import ExceptionTicket
    from monitoring.services import ticket_of_document

    root = django_user_model.objects.create_superuser("root-queues")
    tickets = {  # the open ticket holding each document: its own or its cause's (issue 20)
        queue: ticket_of_document(doc)
        for queue, doc in (
            ("mdm", world["mapping"][0]),
            ("finance", world["duplicate"]),
            ("purchasing", world["held"]),
        )
    }
    assert {t.role for t in tickets.values()} == {"master_data_admin", "finance", "purchasing"}

    def url(ticket):
        return f"/admin/monitoring/exceptionticket/{ticket.pk}/change/"

    client.force_login(root)
    unchanged = {queue: _form_data(client.get(url(t))) for queue, t in tickets.items()}
    client.logout()

    def post_as(username, queue, **changes):
        client.force_login(users[username])
        answer = client.post(url(tickets[queue]), {**unchanged[queue], **changes})
        client.logout()
        return answer, ExceptionTicket.objects.get(pk=tickets[queue].pk)

    mdm, purchasing = users["mdm"], users["purchasing"]
    # mdm on a purchasing ticket: close it, move it to its own queue, take it: all refused.
    answer, ticket = post_as(
        "mdm", "purchasing", status="resolved", role="master_data_admin", assignee=mdm.pk
    )
    assert answer.status_code in (302, 403) and "/change/" not in answer.get("Location", "")
    assert (ticket.status, ticket.role, ticket.assignee_id) == ("open", "purchasing", None)
    # The manager reads every queue and changes none.
    answer, ticket = post_as("manager", "mdm", status="resolved", assignee=mdm.pk)
    assert answer.status_code == 403
    assert (ticket.status, ticket.assignee_id) == ("open", None)
    # mdm in its own queue: may not give the ticket to someone outside the queue...
    answer, ticket = post_as("mdm", "mdm", assignee=purchasing.pk)
    assert answer.status_code == 200 and ticket.assignee_id is None
    # ...may assign it within the queue, but role and status stay as they were.
    answer, ticket = post_as(
        "mdm", "mdm", assignee=mdm.pk, status="resolved", role="finance", _save="Save"
    )
    assert answer.status_code == 302, answer.content[:2000]
    assert (ticket.assignee_id, ticket.role, ticket.status) == (mdm.pk, "master_data_admin", "open")
    # The operator works every queue: it may move a ticket to the right one.
    answer, ticket = post_as("operator", "purchasing", role="finance", _save="Save")
    assert answer.status_code == 302 and ticket.role == "finance"
    ExceptionTicket.objects.filter(pk=ticket.pk).update(role="purchasing")

    # The "Mark resolved" action: purchasing on an mdm ticket does nothing.
    client.force_login(purchasing)
    client.post(
        "/admin/monitoring/exceptionticket/",
        {"action": "resolve", "_selected_action": [tickets["mdm"].pk], "index": "0"},
    )
    client.logout()
    assert ExceptionTicket.objects.get(pk=tickets["mdm"].pk).status == "open"

    # Documents: mdm may read but not edit a document in finance's queue.
    finance_doc = world["duplicate"]
    doc_url = f"/admin/flows/syncdocument/{finance_doc.pk}/change/"
    client.force_login(mdm)
    assert client.get(doc_url).status_code == 200
    refused = client.post(doc_url, {"target_payload": '{"forged": true}'})
    assert refused.status_code == 403
    # ... and its "Ignore" action skips documents outside its queue.
    client.post(
        "/admin/flows/syncdocument/",
        {"action": "ignore", "_selected_action": [finance_doc.pk], "index": "0"},
    )
    client.logout()
    doc = SyncDocument.objects.get(pk=finance_doc.pk)
    assert doc.state == finance_doc.state and doc.target_payload != {"forged": True}
    assert ExceptionTicket.objects.get(pk=tickets["finance"].pk).status == "open"
    # Finance, whose queue it is, may edit it (edit-and-retry).
    client.force_login(users["finance"])
    edited = client.post(doc_url, {"target_payload": '{"edited": true}'})
    client.logout()
    assert edited.status_code == 302
    assert SyncDocument.objects.get(pk=finance_doc.pk).target_payload == {"edited": True}


def test_api_schema_and_docs_are_for_staff(client, users):
    """Issue 16 #10: GIVEN the OpenAPI schema and its docs page WHEN asked anonymously THEN
    they are refused; WHEN a signed-in staff member of any role asks THEN they are served."""
    for url in ("/api/schema/", "/api/docs/"):
        assert client.get(url).status_code in (401, 403), url
        for username in ROLES:
            client.force_login(users[username])
            assert client.get(url).status_code == 200, (url, username)
            client.logout()
