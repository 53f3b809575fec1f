"""Issue 24 point 8, in a real browser: from an empty portal (no demo) the guided setup leads
to a synced canary order, and three planted misconfigurations are each caught on the go-live
checklist before the first order is pulled: a wrong Kingdee app secret, a warehouse that
exists only in Jushuitan, and a shop without a Kingdee customer.

The customer's two systems are the seeded simulators. Everything a consultant clicks in the
guided steps is clicked here (connections, integration, connection tests, initialisation, the
one-side mappings, preflight, the flow's canary scope); the reference tables a consultant
imports from files (currency codes, tax templates, accounts) and the FX fetch are loaded with
the demo's own loaders, which the import tests cover through the admin.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from flows.choices import DocumentState as S
from flows.choices import FlowCode
from flows.models import Flow, SyncDocument

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SHANGHAI = timezone.get_fixed_timezone(8 * 60)


def _checklist_row(page, code: str) -> str:
    page.goto("/monitoring/checklist/")
    return page.locator(f'tr[data-code="{code}"]').inner_text()


def _plant_in_jushuitan():
    """The customer's Jushuitan has a warehouse and a shop Kingdee does not know."""
    from sandbox.jushuitan.models import Partner, Shop
    from sandbox.jushuitan.services import stamp

    modified, ts = stamp()
    Partner.objects.create(wms_co_id=20004, name="海外仓 overflow", modified=modified, ts=ts)
    modified, ts = stamp()
    Shop.objects.create(
        shop_id=10006,
        shop_name="Walmart CA 新店",
        shop_site="CA",
        currency="USD",
        modified=modified,
        ts=ts,
    )


def _ship_order(connection, so_id: str):
    from connectors.jushuitan.client import JushuitanClient

    client = JushuitanClient(connection)
    now = timezone.now().astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
    order = {
        "shop_id": 10001,
        "so_id": so_id,
        "order_date": now,
        "shop_status": "WAIT_SELLER_SEND_GOODS",
        "shop_buyer_id": f"buyer-{so_id}",
        "receiver_country": "US",
        "currency": "USD",
        "pay_amount": "29.99",
        "freight": "0",
        "cb_total_tax": "0",
        "cb_finances": {"platform_commission": "0", "product_tax": "0"},
        "wms_co_id": 20001,
        "items": [
            {
                "sku_id": "SKU-PB-1001",
                "name": "SKU-PB-1001",
                "qty": 1,
                "price": "29.99",
                "amount": "29.99",
                "outer_oi_id": f"{so_id}-1",
            }
        ],
        "pay": {"outer_pay_id": f"P{so_id}", "amount": "29.99", "payment": "card", "pay_date": now},
    }
    uploaded = client.upload_orders([order])
    assert all(r.ok for r in uploaded), [r.message for r in uploaded]
    shipped = client.upload_shipments(
        [
            {
                "o_id": int(uploaded[0].remote_id),
                "shop_id": 10001,
                "so_id": so_id,
                "l_id": f"FBA{uploaded[0].remote_id}",
                "lc_id": "AMZFBA",
                "lc_name": "Amazon FBA",
            }
        ]
    )
    assert all(r.ok for r in shipped), [r.message for r in shipped]


def test_guided_setup_from_an_empty_portal_to_a_synced_canary_order(
    open_browser, live_server, kingdee_sandbox, jushuitan_sandbox, settings, shot
):
    """GIVEN an empty portal and the customer's seeded systems, with a Jushuitan-only
    warehouse and a shop without a Kingdee customer WHEN the admin follows the guided setup,
    entering a wrong Kingdee app secret THEN the checklist shows the wrong secret (C1), the
    two one-side codes (G1) and, once the shop's currency is set, its missing currency
    mapping (FX1) before any order is pulled; once each is fixed as the checklist says, a
    canary of one shop and one warehouse syncs a shipped order into Kingdee."""
    from connectors.models import Integration
    from sandbox import demo_setup
    from sandbox.jushuitan.services import DEMO_APP_KEY, DEMO_APP_SECRET, DEMO_CO_ID
    from sandbox.kingdee import conf

    settings.PORTAL_DEMO = False
    kd = conf.current()
    page = open_browser("admin")

    # 1. The admin home starts with the guided setup; nothing is set up yet.
    assert page.locator("#guided-setup-module").is_visible()
    assert page.locator('tr[data-step="connections"]').get_attribute("data-status") == "todo"
    shot(page, "golive-01-empty-home")
    _plant_in_jushuitan()

    # 2. Connections, through the admin forms; the Kingdee app secret is mistyped.
    page.click('tr[data-step="connections"] a')
    page.goto("/admin/kingdee/kingdeeconnection/add/")
    page.fill("#id_name", "Kingdee production")
    page.fill("#id_server_url", f"{live_server.url}/sandbox/kingdee/k3cloud/")
    page.fill("#id_acct_id", kd.acct_id)
    page.fill("#id_org_number", "100")
    page.fill("#id_username", kd.username)
    page.fill("#id_app_id", kd.app_id)
    page.fill("#id_app_secret", "0" * 32)  # wrong
    page.click("input[name=_save]")
    page.goto("/admin/jushuitan/jushuitanconnection/add/")
    page.fill("#id_name", "Jushuitan production")
    page.fill("#id_base_url", f"{live_server.url}/sandbox/jushuitan")
    page.fill("#id_app_key", DEMO_APP_KEY)
    page.fill("#id_app_secret", DEMO_APP_SECRET)
    page.fill("#id_company_id", str(DEMO_CO_ID))
    page.click("input[name=_save]")
    page.goto("/admin/connectors/integration/add/")
    page.fill("#id_name", "Main")
    page.fill("#id_code", "main")
    page.select_option("#id_kingdee", label="Kingdee production")
    page.select_option("#id_jushuitan", label="Jushuitan production")
    page.click("input[name=_save]")
    integration = Integration.objects.get(code="main")

    # 3. The checklist's live test catches the wrong secret before any order.
    page.goto("/monitoring/checklist/")
    page.click('button[data-action="test_connections"]')
    row = page.locator('tr[data-code="C1"]').inner_text()
    assert "Kingdee: failed at" in row and "Jushuitan: passed at" in row, row
    shot(page, "golive-02-wrong-secret")
    page.goto(f"/admin/kingdee/kingdeeconnection/{integration.kingdee_id}/change/")
    page.fill("#id_app_secret", kd.app_secret)
    page.click('input[data-action="test_connection"]')
    assert "Connected" in page.locator("ul.messagelist").inner_text()
    assert "Both connections passed" in _checklist_row(page, "C1")

    # 4. Initialise from both systems: the two planted codes show on G1, currencies on FX1.
    page.goto("/admin/connectors/integration/")
    page.check(f'input[name=_selected_action][value="{integration.pk}"]')
    page.select_option("select[name=action]", value="initialise_mappings")
    page.click("button[name=index]")
    g1 = _checklist_row(page, "G1")
    assert "warehouse only in Jushuitan: 20004" in g1, g1
    assert "shop without a Kingdee customer: 10006" in g1, g1
    assert "No shop has a settlement currency yet" in _checklist_row(page, "FX1")
    shot(page, "golive-03-one-side-codes")
    assert not SyncDocument.objects.exists()  # all caught before the first order

    # 5. Map the two codes as G1 says (mapping forms), load the reference tables.
    page.goto("/admin/mappings/shopcustomermapping/add/")
    page.select_option("#id_integration", label=str(integration))
    page.fill("#id_shop_id", "10006")
    page.fill("#id_customer_number", "10001")
    page.fill("#id_settle_currency", "USD")
    page.click("input[name=_save]")
    page.goto("/admin/mappings/warehousemapping/add/")
    page.select_option("#id_integration", label=str(integration))
    page.fill("#id_wms_co_id", "20004")
    page.fill("#id_stock_number", "20003")
    page.click("input[name=_save]")
    fx1 = _checklist_row(page, "FX1")  # the new shop sells in USD: no currency number yet
    assert "USD → ?" in fx1, fx1
    demo_setup.fx_sources_ensure(base_url=live_server.url)
    from mappings.rates import fetch_latest_rates

    fetch_latest_rates(days=10)
    demo_setup.reference_data_ensure(integration=integration)
    demo_setup.business_rates_ensure()
    g1 = _checklist_row(page, "G1")
    assert "20004" not in g1 and "10006" not in g1, g1
    assert "✅" in _checklist_row(page, "FX1")

    # 6. Preflight from the checklist, then the flow with a canary of 1 shop + 1 warehouse.
    page.goto("/monitoring/checklist/")
    page.click('button[data-action="preflight"]')
    assert page.locator('tr[data-code="P1"]').count() == 1
    demo_setup.flows_ensure(integration=integration, enabled=False)
    flow = Flow.objects.get(integration=integration, code=FlowCode.SALES_OUTBOUND)
    page.goto(f"/admin/flows/flow/{flow.pk}/change/")
    page.check("#id_enabled")
    page.check('input[name=canary_shops][value="10001"]')
    page.check('input[name=canary_warehouses][value="20001"]')
    page.click("input[name=_save]")
    flow.refresh_from_db()
    assert flow.enabled and flow.canary_shops == ["10001"] and flow.canary_warehouses == ["20001"]
    assert "one shop and one warehouse" not in _checklist_row(page, "G6")

    # 7. The first order: shipped in Jushuitan, synced into Kingdee by the canary.
    _ship_order(integration.jushuitan, "112-0000024-9000001")
    Flow.objects.filter(pk=flow.pk).update(canary_since=timezone.now() - timedelta(minutes=1))
    from flows.tasks import flow_run

    flow_run(flow.pk)
    doc = SyncDocument.objects.get(flow=flow, platform_order_no="112-0000024-9000001")
    assert doc.state == S.SYNCED and doc.kingdee_bill_no, (doc.state, doc.last_error_message)
    page.goto("/admin/")
    assert re.search(r"\d+ of \d+ steps done", page.locator("#guided-setup-module").inner_text())
    shot(page, "golive-04-synced-canary")
