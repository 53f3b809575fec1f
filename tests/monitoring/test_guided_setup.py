"""Issue 24 point 2: the guided setup is the admin home's first section: the ordered go-live
steps with the role that does each, its live status and its link; the admin home is grouped
around the work (connections first, library apps last)."""

import re

import pytest
from django.contrib.auth.models import Group, User

pytestmark = pytest.mark.django_db(transaction=True)

ORDER = [
    "connections",
    "integration",
    "initialise",
    "mappings",
    "tax",
    "accounts",
    "fx",
    "alerts",
    "opening",
    "preflight",
    "dryrun",
    "canary",
    "widen",
]


def steps(page: str) -> list[tuple[str, str]]:
    return re.findall(r'data-step="([a-z]+)" data-status="([a-z]+)"', page)


def test_empty_portal_home_starts_with_the_guided_setup(admin_client):
    """GIVEN an empty portal (no demo) WHEN the admin opens the admin home THEN its first
    section is the guided setup, whose first two steps say what to create (connections,
    integration) and link there; the app list starts with the connections and ends with the
    library apps (axes, users, periodic tasks)."""
    page = admin_client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert page.index('id="guided-setup-module"') < page.index('id="operations-module"')
    assert "Start here: guided setup" in page
    assert steps(page) == [("connections", "todo"), ("integration", "todo")]
    assert 'href="/admin/kingdee/kingdeeconnection/"' in page
    apps = re.findall(r'class="app-([a-z_]+) module', page)
    assert apps.index("kingdee") < apps.index("mappings") < apps.index("flows")
    assert apps.index("finance") < apps.index("sandbox_kingdee") < apps.index("axes")
    assert apps.index("connectors") < apps.index("auth")


@pytest.mark.usefixtures("english")
def test_guided_page_lists_every_step_in_order_with_live_status_and_role_links(
    demo_integration, admin_client, client
):
    """GIVEN the demo integration WHEN the guided page is read THEN all thirteen steps appear in
    the go-live order with their live status (initialise done, opening inventory missing); a
    finance user sees the operator's steps named with their role instead of a link that
    would answer 403, and gets the links of finance's own steps."""
    page = admin_client.get("/monitoring/setup/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    found = dict(steps(page))
    assert [key for key, _status in steps(page)] == ORDER
    assert found["integration"] == "ok" and found["initialise"] == "ok"
    assert found["opening"] == "missing"

    finance = User.objects.create_user("fin", password="x", is_staff=True)
    finance.groups.add(Group.objects.get(name="finance"))
    client.force_login(finance)
    page = client.get("/monitoring/setup/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    row = page.split('data-step="connections"')[1].split("</tr>")[0]
    assert "Done by: Operator" in row and "<a " not in row
    row = page.split('data-step="accounts"')[1].split("</tr>")[0]
    assert "<a href=" in row
    home = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'id="guided-setup-module"' in home
