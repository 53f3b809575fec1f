"""Resolving mappings: the brief's 1:1 rules, explicit rows, the known-code check, the batch
binder, code mappings (M1–M5), tax templates (M6, G3) and accounts (M7, G5)."""

from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone

from mappings import selectors
from mappings.choices import AccountPurpose, CodeKind, MappingKind, MasterKind, System
from mappings.errors import MappingMissing
from mappings.models import (
    AccountMapping,
    CodeMapping,
    KnownCode,
    MaterialMapping,
    ShopCustomerMapping,
    SupplierMapping,
    TaxTemplate,
    WarehouseMapping,
)

pytestmark = pytest.mark.django_db


def _known(integration, system, kind, *codes):
    for code in codes:
        KnownCode.objects.create(
            integration=integration, system=system, kind=kind, code=code, seen_at=timezone.now()
        )


def test_rules_apply_blindly_while_nothing_is_known(integration):
    """M1–M4: with no master-data snapshot the brief's 1:1 rules map each code to itself."""
    assert selectors.customer_for_shop(integration=integration, shop_id=10001) == "10001"
    assert selectors.stock_for_warehouse(integration=integration, wms_co_id=20001) == "20001"
    assert selectors.supplier_for(integration=integration, supplier_code="SUP001") == "SUP001"
    assert (
        selectors.material_for_sku(integration=integration, sku_id="SKU-PB-1001") == "SKU-PB-1001"
    )
    assert selectors.sku_for_material(integration=integration, material_number="X1") == "X1"
    assert selectors.warehouse_for_stock(integration=integration, stock_number="20002") == "20002"
    assert selectors.jst_supplier_for(integration=integration, supplier_number="SUP002") == "SUP002"


def test_rule_needs_the_target_code_to_exist_once_codes_are_known(integration):
    """M1 + M5: GIVEN Kingdee's customers are known WHEN shop 10005 has no customer 10005
    THEN MappingMissing says which mapping is missing and where to add it; an explicit row
    (the code-mapping exception) then resolves it."""
    _known(integration, System.KINGDEE, MasterKind.CUSTOMER, "10001", "CUST-AMZ-DE")
    assert selectors.customer_for_shop(integration=integration, shop_id="10001") == "10001"
    with pytest.raises(MappingMissing) as caught:
        selectors.customer_for_shop(integration=integration, shop_id=10005)
    error = caught.value
    assert (error.kind, error.key, error.integration_id) == (
        MappingKind.CUSTOMER,
        "10005",
        integration.pk,
    )
    assert error.where == "/admin/mappings/shopcustomermapping/"
    assert "10005" in error.message and "Cross-border main" in error.message
    assert error.where in error.message
    ShopCustomerMapping.objects.create(
        integration=integration, shop_id="10005", customer_number="CUST-AMZ-DE"
    )
    assert selectors.customer_for_shop(integration=integration, shop_id=10005) == "CUST-AMZ-DE"
    assert (
        selectors.shop_for_customer(integration=integration, customer_number="CUST-AMZ-DE")
        == "10005"
    )


@pytest.mark.usefixtures("english")
def test_rule_never_maps_onto_a_code_another_row_already_uses(integration):
    """M4: GIVEN SKU-OLD is explicitly mapped to material M-1 WHEN SKU M-1 is resolved THEN
    the rule does not also send it to M-1 (two SKUs would book as one material)."""
    MaterialMapping.objects.create(integration=integration, sku_id="SKU-OLD", material_number="M-1")
    assert selectors.material_for_sku(integration=integration, sku_id="SKU-OLD") == "M-1"
    assert selectors.sku_for_material(integration=integration, material_number="M-1") == "SKU-OLD"
    with pytest.raises(MappingMissing) as caught:
        selectors.material_for_sku(integration=integration, sku_id="M-1")
    assert "already mapped" in caught.value.reason


def test_warehouse_sub_warehouse_rows_and_reverse(integration):
    """M2: a row for (wms_co_id, sub-warehouse 2) wins for returns; other sub-warehouses fall
    back to the wms_co_id row or the rule; the reverse gives the wms_co_id."""
    WarehouseMapping.objects.create(
        integration=integration, wms_co_id="20001", wh_id=2, stock_number="20001-RET"
    )
    WarehouseMapping.objects.create(
        integration=integration, wms_co_id="20009", wh_id=0, stock_number="WH-PARTNER"
    )
    resolve = selectors.stock_for_warehouse
    assert resolve(integration=integration, wms_co_id=20001, wh_id=2) == "20001-RET"
    assert resolve(integration=integration, wms_co_id=20001, wh_id=1) == "20001"
    assert resolve(integration=integration, wms_co_id=20009, wh_id=4) == "WH-PARTNER"
    assert (
        selectors.warehouse_for_stock(integration=integration, stock_number="20001-RET") == "20001"
    )
    assert (
        selectors.warehouse_for_stock(integration=integration, stock_number="WH-PARTNER") == "20009"
    )


def test_supplier_both_directions_with_an_exception(integration):
    """M3: Jushuitan SUP-X is Kingdee VEN-009; the rule covers the rest."""
    SupplierMapping.objects.create(
        integration=integration, jst_supplier_code="SUP-X", supplier_number="VEN-009"
    )
    _known(integration, System.JUSHUITAN, MasterKind.SUPPLIER, "SUP-X", "SUP001")
    assert selectors.supplier_for(integration=integration, supplier_code="SUP-X") == "VEN-009"
    assert selectors.jst_supplier_for(integration=integration, supplier_number="VEN-009") == "SUP-X"
    assert selectors.jst_supplier_for(integration=integration, supplier_number="SUP001") == "SUP001"
    with pytest.raises(MappingMissing) as caught:
        selectors.jst_supplier_for(integration=integration, supplier_number="SUP777")
    assert caught.value.kind == MappingKind.JST_SUPPLIER


def test_mappings_of_two_integrations_never_mix(integration):
    """Every table belongs to an Integration: a row of another one changes nothing here."""
    from connectors.models import Integration

    other = Integration.objects.create(
        name="Second ERP",
        code="second",
        kingdee=integration.kingdee,
        jushuitan=integration.jushuitan,
    )
    MaterialMapping.objects.create(integration=other, sku_id="SKU-1", material_number="OTHER-1")
    assert selectors.material_for_sku(integration=integration, sku_id="SKU-1") == "SKU-1"
    assert selectors.material_for_sku(integration=other.pk, sku_id="SKU-1") == "OTHER-1"


def test_batch_binder_answers_like_the_selectors_in_a_few_queries(
    integration, django_assert_max_num_queries
):
    """GIVEN 2,000 explicit rows and a snapshot WHEN 10,000 lookups go through one
    MappingBinder THEN the answers match the selectors and cost a handful of queries."""
    MaterialMapping.objects.bulk_create(
        MaterialMapping(integration=integration, sku_id=f"SKU-{n}", material_number=f"MAT-{n}")
        for n in range(2000)
    )
    _known(integration, System.KINGDEE, MasterKind.MATERIAL, "PLAIN-1")
    binder = selectors.MappingBinder(integration)
    with django_assert_max_num_queries(4):
        answers = [binder.material.to_external(f"SKU-{n % 2000}") for n in range(10_000)]
        assert binder.material.to_external("PLAIN-1") == "PLAIN-1"
        with pytest.raises(MappingMissing):
            binder.material.to_external("PLAIN-2")
        assert binder.material.to_internal("MAT-7") == "SKU-7"
        assert binder.customer.to_external(10001) == "10001"
    assert answers[:3] == ["MAT-0", "MAT-1", "MAT-2"]
    assert selectors.material_for_sku(integration=integration, sku_id="SKU-1999") == "MAT-1999"


def test_binder_answers_both_directions_per_kind_in_a_batch_and_one_by_one(
    integration, django_assert_max_num_queries
):
    """M1–M4 (issue 23): GIVEN explicit rows of every kind WHEN a MappingBinder is asked
    `to_external` (Jushuitan code → Kingdee number) and `to_internal` (the reverse) THEN the
    batch binder (tables loaded once) and the one-question binder (`loaded=False`) give the
    module functions' answers and errors."""
    ShopCustomerMapping.objects.create(
        integration=integration, shop_id="10005", customer_number="CUST-AMZ-DE"
    )
    WarehouseMapping.objects.create(integration=integration, wms_co_id="20001", stock_number="S1")
    WarehouseMapping.objects.create(
        integration=integration, wms_co_id="20001", wh_id=4, stock_number="S1-RET"
    )
    SupplierMapping.objects.create(
        integration=integration, jst_supplier_code="SUP-X", supplier_number="VEN-9"
    )
    MaterialMapping.objects.create(integration=integration, sku_id="SKU-OLD", material_number="M-1")
    batch = selectors.MappingBinder(integration)
    single = selectors.MappingBinder(integration, loaded=False)
    with django_assert_max_num_queries(8):  # each kind and direction reads its table once
        answers = [
            batch.customer.to_external(10005),
            batch.customer.to_internal("CUST-AMZ-DE"),
            batch.warehouse.to_external(20001),
            batch.warehouse.to_external(20001, 4),
            batch.warehouse.to_internal("S1-RET"),
            batch.supplier.to_external("SUP-X"),
            batch.supplier.to_internal("VEN-9"),
            batch.material.to_external("SKU-OLD"),
            batch.material.to_internal("M-1"),
        ]
    assert answers == [
        "CUST-AMZ-DE",
        "10005",
        "S1",
        "S1-RET",
        "20001",
        "VEN-9",
        "SUP-X",
        "M-1",
        "SKU-OLD",
    ]
    assert single.warehouse.to_external(20001, 4) == "S1-RET"
    assert single.material.to_internal("M-1") == "SKU-OLD"
    assert selectors.stock_for_warehouse(integration=integration, wms_co_id=20001, wh_id=4) == (
        "S1-RET"
    )
    for binder in (batch, single):
        with pytest.raises(MappingMissing) as caught:
            binder.material.to_external("M-1")  # the 1:1 code is already another SKU's
        assert caught.value.kind == MappingKind.MATERIAL
    assert not hasattr(selectors, "MappingResolver")  # one name: the binder


def test_code_mapping_converts_currencies(integration):
    """M5: CNY is Kingdee's preset PRE001; other currencies need a code-mapping row."""
    assert selectors.currency_for(integration=integration, currency="cny") == "PRE001"
    with pytest.raises(MappingMissing) as caught:
        selectors.currency_for(integration=integration, currency="USD")
    assert caught.value.key == "currency:USD"
    CodeMapping.objects.create(
        integration=integration, kind=CodeKind.CURRENCY, jushuitan_code="USD", kingdee_code="PRE007"
    )
    assert selectors.currency_for(integration=integration, currency="usd") == "PRE007"


def _template(integration, prefix, number, start="2026-01-01", end=None, country="US"):
    return TaxTemplate.objects.create(
        integration=integration,
        country=country,
        hs_prefix=prefix,
        kingdee_tax_number=number,
        vat_rate=Decimal("0"),
        effective_from=date.fromisoformat(start),
        effective_to=date.fromisoformat(end) if end else None,
    )


def test_tax_template_most_specific_prefix_wins(integration):
    """M6 / G3: for HS 8507600090 to the US the 10-digit row beats the 8- and 6-digit rows;
    another HS code of the chapter falls back to 8 then 6 digits."""
    _template(integration, "850760", "SL-6")
    _template(integration, "85076000", "SL-8")
    _template(integration, "8507600090", "SL-10")
    on = date(2026, 6, 1)
    pick = selectors.tax_template_for
    assert (
        pick(
            integration=integration, country="us", hs_code="8507600090", on_date=on
        ).kingdee_tax_number
        == "SL-10"
    )
    assert (
        pick(
            integration=integration, country="US", hs_code="8507.6000.10", on_date=on
        ).kingdee_tax_number
        == "SL-8"
    )
    assert (
        pick(
            integration=integration, country="US", hs_code="8507609900", on_date=on
        ).kingdee_tax_number
        == "SL-6"
    )
    with pytest.raises(MappingMissing) as caught:
        pick(integration=integration, country="DE", hs_code="8507600090", on_date=on)
    assert caught.value.kind == MappingKind.TAX_TEMPLATE
    binder = selectors.MappingBinder(integration)
    assert (
        binder.tax_template_for(country="US", hs_code="8507600090", on_date=on).kingdee_tax_number
        == "SL-10"
    )


def test_tax_template_effective_dates(integration):
    """M6: a template applies from its start to its end date; the newer period wins."""
    _template(integration, "851830", "OLD", start="2025-01-01", end="2025-12-31")
    _template(integration, "851830", "NEW", start="2026-01-01")
    pick = selectors.tax_template_for
    assert (
        pick(
            integration=integration, country="US", hs_code="8518300000", on_date=date(2025, 12, 31)
        ).kingdee_tax_number
        == "OLD"
    )
    assert (
        pick(
            integration=integration, country="US", hs_code="8518300000", on_date=date(2026, 1, 1)
        ).kingdee_tax_number
        == "NEW"
    )
    with pytest.raises(MappingMissing):
        pick(
            integration=integration, country="US", hs_code="8518300000", on_date=date(2024, 12, 31)
        )


def test_account_for_prefers_the_shop_row_and_gaps_list_the_rest(integration):
    """M7 / G5: a shop's own revenue account wins over the organisation's; the checklist
    lists every purpose still without an organisation-wide account."""
    AccountMapping.objects.create(
        integration=integration,
        org_number="100",
        purpose=AccountPurpose.REVENUE,
        account_number="6001",
    )
    AccountMapping.objects.create(
        integration=integration,
        org_number="100",
        purpose=AccountPurpose.REVENUE,
        shop_id="10001",
        account_number="6001.01",
    )
    assert (
        selectors.account_for(
            integration=integration, org_number="100", purpose="revenue", shop_id=10001
        )
        == "6001.01"
    )
    assert (
        selectors.account_for(
            integration=integration, org_number="100", purpose="revenue", shop_id=10002
        )
        == "6001"
    )
    with pytest.raises(MappingMissing) as caught:
        selectors.account_for(integration=integration, org_number="100", purpose="fx_gain_loss")
    assert caught.value.kind == MappingKind.ACCOUNT
    gaps = selectors.account_mapping_gaps(integration=integration)
    assert {(g.org_number, g.purpose) for g in gaps} == {
        ("100", p) for p in AccountPurpose.values if p != AccountPurpose.REVENUE
    }
    ShopCustomerMapping.objects.create(
        integration=integration, shop_id="10004", customer_number="10004", sale_org_number="200"
    )
    purposes = len(AccountPurpose.values)
    assert len(selectors.account_mapping_gaps(integration=integration)) == purposes - 1 + purposes
    for purpose in AccountPurpose.values:
        for org in ("100", "200"):
            AccountMapping.objects.get_or_create(
                integration=integration,
                org_number=org,
                purpose=purpose,
                shop_id="",
                defaults={"account_number": "9999"},
            )
    assert selectors.account_mapping_gaps(integration=integration) == []
