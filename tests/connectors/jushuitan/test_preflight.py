"""Issue 18 point 8: the Jushuitan preflight against the sandbox (token, endpoints of the
enabled flows, shipments per shop and source, warehouses, rate-limit headroom), through
`manage.py preflight` and the "Run preflight" button of the connection's admin page."""

import pytest
from django.core.management import call_command

from connectors.preflight import checks_of, preflight_failures, preflight_run
from flows.choices import FlowCode
from flows.models import Flow

pytestmark = pytest.mark.django_db(transaction=True)

CREATEBATCH = "/open/webapi/wmsapi/purchasein/createbatch"


@pytest.fixture
def tenant(demo_integration, storefront, jushuitan_sandbox):
    """A shipped order in shop 10001, an app without permission for the purchase-in
    createbatch route, a warehouse mapping Jushuitan does not know and the portal's limiter
    set to the whole of Jushuitan's per-minute limit."""
    from connectors.jushuitan.models import JushuitanConnection
    from mappings.models import WarehouseMapping

    order = storefront.order(
        so_id="PF-0001", shop_id=10001, currency="USD", lines=[("SKU-CBL-1201", 1, "8.99")]
    )
    storefront.place_and_ship(order)
    jushuitan_sandbox.denied_paths = [CREATEBATCH]
    jushuitan_sandbox.save()
    WarehouseMapping.objects.create(
        integration=demo_integration, wms_co_id="99999", wh_id=1, stock_number="GHOST"
    )
    JushuitanConnection.objects.filter(pk=demo_integration.jushuitan_id).update(
        rate_per_second=4, rate_per_minute=100
    )
    demo_integration.refresh_from_db()
    return demo_integration


@pytest.mark.usefixtures("english")
def test_preflight_reports_each_point(tenant):
    """Issue 18 point 8: GIVEN the tenant above WHEN the Jushuitan preflight runs THEN it shows
    the token with its expiry; the createbatch route without permission fails F4 only (code
    190) while the other endpoints answer; shop 10001's shipments of the last 7 days by both
    sources as an info row naming the chosen one; the unknown warehouse fails; and no headroom
    is left per minute for other programs on the app key."""
    run = preflight_run(integration=tenant, systems=["jushuitan"], requested_by="test")
    checks = {c.key: c for c in checks_of(run)}
    assert run.ok is False
    token = checks["jushuitan.token"]
    assert token.ok and ("days left" in token.detail or "天" in token.detail)
    denied = checks[f"jushuitan.endpoint.{CREATEBATCH}"]
    assert not denied.ok and denied.flows == ("purchase_inbound",) and "190" in denied.detail
    answered = checks["jushuitan.endpoint./open/orders/out/simple/query"]
    assert answered.ok and answered.flows == ("sales_outbound",)
    assert checks["jushuitan.endpoint./open/aftersale/received/query"].ok
    shop = checks["jushuitan.shipments.10001"]
    assert shop.ok and shop.info and "sales_out" in shop.detail
    assert "simple/query): 1" in shop.detail and "single/query): 1" in shop.detail
    assert checks["jushuitan.warehouse.20001"].ok
    assert not checks["jushuitan.warehouse.99999"].ok
    headroom = checks["jushuitan.rate_headroom"]
    assert not headroom.ok and "0/min" in headroom.detail.replace(" ", "")
    gating = {
        c.key
        for c in preflight_failures(
            integration=tenant, system="jushuitan", flow_code=FlowCode.PURCHASE_INBOUND
        )
    }
    assert f"jushuitan.endpoint.{CREATEBATCH}" in gating
    f2 = {
        c.key
        for c in preflight_failures(
            integration=tenant, system="jushuitan", flow_code=FlowCode.SALES_OUTBOUND
        )
    }
    assert f"jushuitan.endpoint.{CREATEBATCH}" not in f2


def test_chosen_source_without_a_shops_shipments_fails_f2(tenant, capsys):
    """Issue 18 points 1 and 8: GIVEN F2 set to the order source and a shop whose shipments
    only the sales-out query returns WHEN `manage.py preflight --system jushuitan` runs THEN
    that shop's row fails F2 and names the fix (switch the source); the command exits 1."""
    from sandbox.jushuitan.models import Order

    flow = Flow.objects.get(integration=tenant, code=FlowCode.SALES_OUTBOUND)
    flow.settings = {**(flow.settings or {}), "source": "orders"}
    flow.save()
    Order.objects.filter(so_id="PF-0001").update(shop_id=10005)  # the order query misses it
    with pytest.raises(SystemExit):
        call_command("preflight", integration=tenant.code, system=["jushuitan"])
    out = capsys.readouterr().out
    assert "[FAIL] jushuitan jushuitan.shipments.10001" in out
    assert "jushuitan.endpoint./open/orders/single/query" in out


def test_run_preflight_button_on_the_connection_page(tenant, client):
    """Issue 18 point 8: GIVEN an admin on the Jushuitan connection's change page WHEN the
    "Run preflight" button is pressed THEN a run is stored and its failures are shown; a GET
    does nothing; the admin action declares its permission."""
    from django.contrib.auth import get_user_model

    from connectors.jushuitan.admin import JushuitanConnectionAdmin
    from connectors.models import PreflightRun

    admin = get_user_model().objects.create_superuser("pf-admin", "pf@example.com", "pw-123456!")
    client.force_login(admin)
    url = f"/admin/jushuitan/jushuitanconnection/{tenant.jushuitan_id}/"
    page = client.get(f"{url}change/", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200 and b"preflight/" in page.content
    assert client.get(f"{url}preflight/").status_code == 405
    answer = client.post(f"{url}preflight/", follow=True, HTTP_ACCEPT_LANGUAGE="en")
    assert answer.status_code == 200
    # the demo setup ran its own preflight before enabling the flows (issue 17)
    run = PreflightRun.objects.get(integration=tenant, requested_by="pf-admin")
    assert run.systems == "jushuitan" and run.requested_by == "pf-admin"
    shown = [str(m) for m in answer.context["messages"]]
    assert any(CREATEBATCH in m for m in shown)
    assert JushuitanConnectionAdmin.run_preflight.allowed_permissions == ["change"]


@pytest.mark.parametrize("server_inclusive", [False, True])
@pytest.mark.usefixtures("english")
def test_issue18_p9_preflight_observes_and_records_the_window_begin(tenant, server_inclusive):
    """Issue 18 point 9 (docs/protocols/jushuitan.md §2.4, undocumented): GIVEN a tenant
    whose `modified_begin` is exclusive (or inclusive) WHEN the preflight runs THEN it asks
    one recent sales-out row again from its own second, reports what came back as an info row
    and records the reading on the connection, which the time-window walk then follows."""
    from connectors.jushuitan.models import JushuitanConnection
    from sandbox.jushuitan.models import ApiSettings

    ApiSettings.objects.update(window_begin_inclusive=server_inclusive)
    run = preflight_run(integration=tenant, systems=["jushuitan"], requested_by="test")
    check = {c.key: c for c in checks_of(run)}["jushuitan.window_begin"]
    expected = "inclusive" if server_inclusive else "exclusive"
    assert check.ok and check.info
    assert ("in the answer" if server_inclusive else "left out of") in check.detail
    assert JushuitanConnection.objects.get(pk=tenant.jushuitan_id).window_begin == expected
