"""G1 against both simulators: "Initialise from systems" reads Kingdee and Jushuitan through
the connectors, pairs by the brief's 1:1 rules, and lists what cannot be paired."""

import pytest

from connectors.models import Integration
from mappings.models import KnownCode, MaterialMapping, ShopCustomerMapping, WarehouseMapping

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def live_integration(kingdee_connection, jushuitan_connection):
    return Integration.objects.create(
        name="G1", code="g1", kingdee=kingdee_connection, jushuitan=jushuitan_connection
    )


def test_g1_initialise_from_both_sandboxes_via_the_admin_action(live_integration, admin_client):
    """GIVEN the demo world in both simulators WHEN an operator runs the admin action THEN shops,
    warehouses and SKUs pair 1:1 by code, the shop whose customer code differs pairs by name,
    the SKU Kingdee lacks is reported unpaired, and a second run creates nothing."""
    answer = admin_client.post(
        "/admin/connectors/integration/",
        {"action": "initialise_mappings", "_selected_action": [live_integration.pk]},
        follow=True,
        HTTP_ACCEPT_LANGUAGE="en",
    )
    page = answer.content.decode()
    assert "pairs proposed" in page and "SKU-GIFT-9001" in page
    shops = dict(
        ShopCustomerMapping.objects.filter(integration=live_integration).values_list(
            "shop_id", "customer_number"
        )
    )
    assert shops["10001"] == "10001" and shops["10005"] == "CUST-AMZ-DE"
    assert WarehouseMapping.objects.filter(integration=live_integration).count() == 3
    assert MaterialMapping.objects.filter(
        integration=live_integration, sku_id="SKU-PB-1001"
    ).exists()
    assert not MaterialMapping.objects.filter(
        integration=live_integration, sku_id="SKU-GIFT-9001"
    ).exists()
    assert (
        KnownCode.objects.filter(
            integration=live_integration, system="kingdee", kind="material"
        ).count()
        >= 12
    )
    rows = ShopCustomerMapping.objects.count() + MaterialMapping.objects.count()
    admin_client.post(
        "/admin/connectors/integration/",
        {"action": "initialise_mappings", "_selected_action": [live_integration.pk]},
    )
    assert ShopCustomerMapping.objects.count() + MaterialMapping.objects.count() == rows
