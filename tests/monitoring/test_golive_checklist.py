"""Issue 24 point 3: the go-live checklist catches what it can know before the first order:
live connection tests with their last result, codes found on one side only at initialisation,
currency code mappings for the shops' currencies, alert rules that can never match, a canary
wider than one shop and one warehouse, opening inventory for the warehouses of both systems,
and the latest preflight of each system (with a run-now action)."""

import pytest
from django.contrib.auth.models import Group, User

from connectors import preflight
from connectors.kingdee.models import KingdeeConnection
from connectors.preflight import Check
from flows.choices import FlowCode
from flows.models import Flow, SyncDocument
from monitoring.checklist import checklist_for

pytestmark = pytest.mark.django_db(transaction=True)


def by_code(integration):
    integration.refresh_from_db()
    return {item.code: item for item in checklist_for(integration=integration)}


@pytest.fixture
def golive_provider():
    """A preflight provider of a test system (the runner's public API only)."""

    @preflight.provider("golive_test")
    def checks(integration):
        yield Check(system="golive_test", key="golive_test.login", title="login", ok=True)
        yield Check(
            system="golive_test",
            key="golive_test.form.SAL_OUTSTOCK",
            title="Form SAL_OUTSTOCK usable",
            ok=False,
            detail="MsgCode 9: field F_PAEZ_PlatformOrderNo not found",
            fix="Add the field in BOS, then run the preflight again.",
        )

    yield
    preflight._PROVIDERS.pop("golive_test", None)


def post(client, integration, action):
    return client.post(
        "/monitoring/checklist/",
        {"integration": integration.pk, "action": action},
        HTTP_ACCEPT_LANGUAGE="en",
    )


@pytest.mark.usefixtures("english")
def test_planted_misconfigurations_show_before_the_first_order(
    demo_integration, admin_client, golive_provider, robot_channel
):
    """GIVEN an initialised portal where a consultant planted a Jushuitan-only warehouse
    (20004), a shop without a Kingdee customer (10006, selling in CAD, which has no currency
    mapping), a wrong Kingdee app secret, a canary of 2 shops + 2 warehouses and an alert rule
    using the help text's old values WHEN the checklist is read (and its two live actions run)
    THEN each shows, named, with its fix, and no order was pulled at all."""
    from mappings.sources import initialise_from_connections
    from monitoring.models import AlertRule
    from sandbox.jushuitan.models import Partner, Shop

    # C1 passes after a live test of both systems.
    assert by_code(demo_integration)["C1"].status == "missing"  # never tested
    assert post(admin_client, demo_integration, "test_connections").status_code == 302
    assert by_code(demo_integration)["C1"].status == "ok"

    # Plants: a Jushuitan-only warehouse and a shop with no Kingdee customer, then initialise.
    from sandbox.jushuitan.services import stamp

    modified, ts = stamp()
    Partner.objects.create(
        wms_co_id=20004, name="Golive overflow warehouse", modified=modified, ts=ts
    )
    modified, ts = stamp()
    Shop.objects.create(
        shop_id=10006,
        shop_name="Golive Canada shop",
        shop_site="CA",
        currency="CAD",
        modified=modified,
        ts=ts,
    )
    initialise_from_connections(integration=demo_integration)
    items = by_code(demo_integration)
    assert items["G1"].status == "missing"
    assert any("warehouse only in Jushuitan: 20004" in d for d in items["G1"].details)
    assert any("shop without a Kingdee customer: 10006" in d for d in items["G1"].details)
    assert items["G1"].role == "master_data_admin"
    # Jushuitan's shop rows carry no currency: FX1 asks for the shops' settlement currency,
    # and once one is set without a Kingdee currency number, names it.
    assert items["FX1"].status == "warning"
    from mappings.models import ShopCustomerMapping

    ShopCustomerMapping.objects.filter(integration=demo_integration, shop_id="10001").update(
        settle_currency="CAD"
    )
    items = by_code(demo_integration)
    assert items["FX1"].status == "missing" and items["FX1"].details[0].startswith("CAD")

    # A wrong Kingdee secret, saved as the admin does: stale until tested, then failed.
    connection = KingdeeConnection.objects.get(pk=demo_integration.kingdee_id)
    connection.app_secret = "wrong-secret"
    connection.save()
    items = by_code(demo_integration)
    assert items["C1"].status == "missing"
    assert any("changed after its last test" in d for d in items["C1"].details)
    post(admin_client, demo_integration, "test_connections")
    items = by_code(demo_integration)
    assert any(d.startswith("Kingdee: failed at") for d in items["C1"].details)

    # A canary of 2 shops + 2 warehouses, and an alert rule that can never match.
    Flow.objects.filter(integration=demo_integration, code=FlowCode.SALES_OUTBOUND).update(
        canary_shops=[10001, 10002], canary_warehouses=["20001", "20002"]
    )
    AlertRule.objects.create(
        name="Old help text",
        channel=robot_channel,
        error_classes="MappingMissing, Remote*",
        flow_codes="F2",
    )
    items = by_code(demo_integration)
    assert items["G6"].status == "warning" and "wider than one shop" in items["G6"].summary
    assert items["R1"].status == "missing"
    problems = " ".join(items["R1"].details)
    assert "“MappingMissing” matches nothing" in problems and "missing_mapping" in problems
    assert "“F2” matches nothing" in problems and "sales_outbound" in problems

    # P1: the latest preflight per system, with each failure's detail and fix; run from here.
    assert by_code(demo_integration)["P1"].status == "missing"
    post(admin_client, demo_integration, "preflight")
    p1 = by_code(demo_integration)["P1"]
    assert p1.status == "missing"
    lines = " ".join(p1.details)
    assert "golive_test: 1 checks failed at" in lines
    assert "field F_PAEZ_PlatformOrderNo not found" in lines and "Add the field in BOS" in lines

    page = admin_client.get("/monitoring/checklist/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    for code in ("S1", "C1", "G1", "FX1", "G2", "R1", "P1", "G6"):
        assert f'data-code="{code}"' in page
    assert 'data-action="test_connections"' in page and 'data-action="preflight"' in page
    assert not SyncDocument.objects.exists()  # all of it before the first order


@pytest.mark.usefixtures("english")
def test_each_link_is_right_for_the_role_that_follows_it(demo_integration, client):
    """GIVEN a finance user WHEN reading the checklist THEN G1 names the master-data admin as
    the one who fixes it and shows no link finance cannot open (no 403); the master-data admin
    gets the link to the Integration list, where the initialise action is."""
    from mappings.models import KnownCode

    KnownCode.objects.filter(integration=demo_integration).delete()  # never initialised
    finance = User.objects.create_user("fin", password="x", is_staff=True)
    finance.groups.add(Group.objects.get(name="finance"))
    mdm = User.objects.create_user("mdm", password="x", is_staff=True)
    mdm.groups.add(Group.objects.get(name="master_data_admin"))

    client.force_login(finance)
    page = client.get("/monitoring/checklist/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    row = page.split('data-code="G1"')[1].split("</tr>")[0]
    assert "/admin/connectors/integration/" not in row and "Done by: Master-data admin" in row
    assert 'data-action="preflight"' not in page

    client.force_login(mdm)
    page = client.get("/monitoring/checklist/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    row = page.split('data-code="G1"')[1].split("</tr>")[0]
    assert 'href="/admin/connectors/integration/"' in row
    listing = client.get("/admin/connectors/integration/", HTTP_ACCEPT_LANGUAGE="en")
    assert listing.status_code == 200 and "initialise_mappings" in listing.content.decode()


@pytest.mark.usefixtures("english")
def test_a_kingdee_only_warehouse_warns_and_a_jushuitan_only_one_blocks(make_integration):
    """GIVEN initialised codes where Kingdee has a warehouse Jushuitan does not list THEN G1
    warns (it may be a warehouse the shops never use); GIVEN also a Jushuitan warehouse with
    no Kingdee pair THEN G1 is missing (its documents would block)."""
    from mappings.initialise import MasterRecord, record_known_codes

    integration = make_integration()
    for system, codes in (("kingdee", ["20001", "CK-99"]), ("jushuitan", ["20001"])):
        record_known_codes(
            integration=integration,
            system=system,
            kind="warehouse",
            records=[MasterRecord(code) for code in codes],
        )
    g1 = by_code(integration)["G1"]
    assert g1.status == "warning" and g1.details == ["warehouse only in Kingdee: CK-99"]
    record_known_codes(
        integration=integration,
        system="jushuitan",
        kind="warehouse",
        records=[MasterRecord("20001"), MasterRecord("20009")],
    )
    g1 = by_code(integration)["G1"]
    assert g1.status == "missing" and "warehouse only in Jushuitan: 20009" in g1.details
