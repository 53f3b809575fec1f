"""G1 "Initialise from systems": pairing by the brief's 1:1 rules from what each system lists,
fed here as plain lists built from the sandbox's demo catalogue."""

import pytest

from mappings import selectors
from mappings.choices import MappingKind, MappingSource, MasterKind, System
from mappings.errors import MappingMissing
from mappings.initialise import (
    JushuitanMasterData,
    KingdeeMasterData,
    MasterRecord,
    initialise_from_systems,
    propose_pairs,
)
from mappings.models import KnownCode, MaterialMapping, ShopCustomerMapping, WarehouseMapping
from sandbox import demo_catalogue as demo

pytestmark = pytest.mark.django_db


def _kingdee() -> KingdeeMasterData:
    return KingdeeMasterData(
        customers=[MasterRecord(s["customer_number"], s["shop_name"]) for s in demo.SHOPS],
        warehouses=[MasterRecord(w["stock_number"], w["name"]) for w in demo.WAREHOUSES],
        suppliers=[MasterRecord(s["supplier_code"], s["name"]) for s in demo.SUPPLIERS],
        materials=[MasterRecord(m["number"], m["name"]) for m in demo.MATERIALS],
    )


def _jushuitan() -> JushuitanMasterData:
    return JushuitanMasterData(
        shops=[MasterRecord(str(s["shop_id"]), s["shop_name"]) for s in demo.SHOPS],
        warehouses=[MasterRecord(str(w["wms_co_id"]), w["name"]) for w in demo.WAREHOUSES],
        suppliers=[MasterRecord(s["supplier_code"], s["name"]) for s in demo.SUPPLIERS],
        skus=[MasterRecord(m["number"], m["name"]) for m in demo.MATERIALS]
        + [MasterRecord(s["sku_id"], s["name"]) for s in demo.JUSHUITAN_ONLY_SKUS],
    )


def test_pairs_by_code_then_by_unique_name_and_lists_the_rest():
    """G1: same codes pair by rule; shop 10005 pairs with customer CUST-AMZ-DE by its unique
    name (to be checked); the gift SKU only Jushuitan has is listed as unpaired."""
    plan = propose_pairs(kingdee=_kingdee(), jushuitan=_jushuitan())
    pairs = {(p.kind, p.jushuitan_code): p for p in plan.pairs}
    assert pairs[(MappingKind.CUSTOMER, "10001")].source == MappingSource.RULE
    amazon_de = pairs[(MappingKind.CUSTOMER, "10005")]
    assert (amazon_de.kingdee_code, amazon_de.source) == ("CUST-AMZ-DE", MappingSource.INITIALISED)
    assert len([p for p in plan.pairs if p.kind == MappingKind.MATERIAL]) == len(demo.MATERIALS)
    assert [(u.kind, u.system, u.code) for u in plan.unpaired] == [
        (MappingKind.MATERIAL, System.JUSHUITAN, "SKU-GIFT-9001")
    ]
    assert plan.counts() == {"rule": 4 + 3 + 3 + 12, "initialised": 1, "unpaired": 1}


def test_name_matching_needs_a_unique_name_on_both_sides():
    """G1: two Kingdee customers with the same name are never guessed between."""
    plan = propose_pairs(
        kingdee=KingdeeMasterData(
            customers=[MasterRecord("C1", "Shop A"), MasterRecord("C2", "shop  a")]
        ),
        jushuitan=JushuitanMasterData(shops=[MasterRecord("9", "Shop A")]),
    )
    assert plan.pairs == []
    assert {u.code for u in plan.unpaired} == {"9", "C1", "C2"}


@pytest.mark.usefixtures("english")
def test_initialise_creates_rows_and_the_snapshot_then_rules_check_it(integration, admin_user):
    """G1 + M1–M4: initialisation stores the pairs (rule / initialised), the codes each side
    has, keeps explicit rows, is idempotent, and from then on the 1:1 rule refuses a code the
    other side does not have (F1.3)."""
    ShopCustomerMapping.objects.create(
        integration=integration, shop_id="10002", customer_number="UK-SPECIAL"
    )
    result = initialise_from_systems(
        integration=integration, kingdee=_kingdee(), jushuitan=_jushuitan(), user=admin_user
    )
    assert result.created == {"customer": 4, "warehouse": 3, "supplier": 3, "material": 12}
    assert [p.jushuitan_code for p in result.kept] == ["10002"]
    assert ShopCustomerMapping.objects.get(shop_id="10002").customer_number == "UK-SPECIAL"
    de = ShopCustomerMapping.objects.get(shop_id="10005")
    assert (de.customer_number, de.source) == ("CUST-AMZ-DE", MappingSource.INITIALISED)
    assert de.history.get().history_user == admin_user
    assert WarehouseMapping.objects.filter(source=MappingSource.RULE).count() == 3
    assert KnownCode.objects.filter(system=System.JUSHUITAN, kind=MasterKind.SKU).count() == 13

    again = initialise_from_systems(
        integration=integration, kingdee=_kingdee(), jushuitan=_jushuitan()
    )
    assert sum(again.created.values()) == 0
    assert MaterialMapping.objects.count() == 12

    with pytest.raises(MappingMissing) as caught:
        selectors.material_for_sku(integration=integration, sku_id="SKU-GIFT-9001")
    assert "Kingdee has no material" in caught.value.message
    assert selectors.customer_for_shop(integration=integration, shop_id=10005) == "CUST-AMZ-DE"


def test_preview_changes_no_mapping(integration):
    """G1: a preview (apply=False) proposes and lists, and writes only the snapshot."""
    result = initialise_from_systems(
        integration=integration, kingdee=_kingdee(), jushuitan=_jushuitan(), apply=False
    )
    assert result.plan.counts()["rule"] == 22
    assert not ShopCustomerMapping.objects.exists()
    assert KnownCode.objects.filter(integration=integration).count() == result.known_codes


def test_record_known_codes_touches_only_listed_codes_unless_the_listing_is_complete(integration):
    """M4 snapshot (#11): GIVEN 4,500 known SKUs WHEN a synced batch records 3 codes (one new)
    THEN only those are written and the rest stay; WHEN a complete listing of 2 codes arrives
    THEN every other code is forgotten. Listings longer than one IN (...) lookup work too."""
    from mappings.initialise import LOOKUP_CHUNK, record_known_codes

    codes = [f"BM-{n:05d}" for n in range(4500)]
    assert len(codes) > 2 * LOOKUP_CHUNK
    kept = record_known_codes(
        integration=integration,
        system=System.JUSHUITAN,
        kind=MasterKind.SKU,
        records=[MasterRecord(c, "first") for c in codes],
    )
    assert kept == 4500
    snapshot = KnownCode.objects.filter(integration=integration, system=System.JUSHUITAN)

    record_known_codes(
        integration=integration,
        system=System.JUSHUITAN,
        kind=MasterKind.SKU,
        records=[MasterRecord("BM-00007", "renamed"), MasterRecord("BM-09999", "new")],
        complete=False,
    )
    assert snapshot.count() == 4501
    assert dict(snapshot.filter(name__in=["renamed", "new"]).values_list("code", "name")) == {
        "BM-00007": "renamed",
        "BM-09999": "new",
    }
    assert snapshot.filter(name="first").count() == 4499

    record_known_codes(
        integration=integration,
        system=System.JUSHUITAN,
        kind=MasterKind.SKU,
        records=[MasterRecord("BM-00007", "renamed"), MasterRecord("BM-00008", "again")],
    )
    assert sorted(snapshot.values_list("code", flat=True)) == ["BM-00007", "BM-00008"]
