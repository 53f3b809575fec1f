"""Issue 23 point 6: every flow's transform (source record → target payload) on its own, fast.

The end-to-end tests next door (tests/flows/test_<flow>.py) prove the flows against the
simulators; these call one definition's `transform` with a stub context: the mapping lookups
answer from dicts (the resolver's method names, MappingMissing for an unknown key, like the
real resolver), the per-run memo holds what a batch has already looked up (currency numbers,
FX quotes, material facts, Jushuitan supplier ids), and the Kingdee and Jushuitan clients
refuse every call unless the test gives one an in-memory answer. No live server, no HTTP, no
Celery. F1 and F9 choose their target code from the mapping tables themselves (the 1:1 rule of
M3 / M4), so those two tests use the database, with no mapping rows.
"""

from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest

from flows.choices import ErrorClass, FlowCode
from flows.definitions import definition_for
from flows.definitions.base import FlowContext, Problem
from flows.models import SyncDocument
from mappings.errors import MappingMissing
from mappings.rates import RateQuote

ORG = "100"


class NoRemote:
    """A client the transform must not use: any call fails the test."""

    def __init__(self, system: str) -> None:
        self.system = system

    def __getattr__(self, name: str):
        raise AssertionError(f"transform called the {self.system} client ({name})")


class StubKind:
    """One kind of the binder (KindBinder): `to_external` (Jushuitan code → Kingdee number)
    and `to_internal` (the reverse), answered from two dicts."""

    def __init__(self, stub: "StubMappings", external: str, internal: str) -> None:
        self._stub, self._external, self._internal = stub, external, internal

    def to_external(self, code, wh_id=None) -> str:
        return self._stub._get(self._external, code if wh_id is None else f"{code}:{wh_id}")

    def to_internal(self, number) -> str:
        return self._stub._get(self._internal, number)


class StubMappings:
    """Answers FlowContext.mappings lookups from dicts, in MappingBinder's shape (one
    KindBinder per kind). Warehouses with a sub-warehouse are keyed "<wms_co_id>:<wh_id>"."""

    def __init__(self, **tables: dict) -> None:
        self.tables = tables
        self.customer = StubKind(self, "customer", "shop")
        self.warehouse = StubKind(self, "warehouse", "jst_warehouse")
        self.supplier = StubKind(self, "supplier", "jst_supplier")
        self.material = StubKind(self, "material", "sku")

    def _get(self, kind: str, key) -> str:
        try:
            return self.tables[kind][str(key)]
        except KeyError:
            raise MappingMissing(
                f"No {kind} mapping for {key}.", kind=kind, key=key, integration_id=None
            ) from None

    def tax_template_for(self, *, country, hs_code, on_date):
        return self._get("tax_template", f"{country}:{hs_code}")


class StubRates:
    """The batch's FX quotes (RateCache.quote): one official rate per currency."""

    def __init__(self, rates: dict[str, str]) -> None:
        self.rates = rates

    def quote(self, currency: str, on_date: date) -> RateQuote:
        return RateQuote(
            rate=Decimal(self.rates[currency]),
            rate_date=on_date,
            source="manual",
            fallback_used=False,
            currency=currency,
        )


def stub_context(*, integration=None, settings=None, memo=None, kingdee=None, **mappings):
    integration = integration or SimpleNamespace(
        pk=None, code="unit", kingdee=SimpleNamespace(org_number=ORG), kingdee_id=None
    )
    ctx = FlowContext(SimpleNamespace(integration=integration, settings=settings or {}))
    ctx.mappings = StubMappings(**mappings)
    ctx.kingdee = kingdee or NoRemote("kingdee")
    ctx.jushuitan = NoRemote("jushuitan")
    ctx.memo.update(memo or {})
    return ctx


def document(source_key: str, payload: dict) -> SyncDocument:
    return SyncDocument(source_key=source_key, source_payload=payload)


def pushed(code: str, ctx: FlowContext, item: dict) -> SyncDocument:
    """A document as the push stage stores it (parse_push of the definition)."""
    record = definition_for(code).parse_push(ctx, item)
    assert not record.filter_reason, record.filter_reason
    return document(record.source_key, record.payload)


# --- Jushuitan → Kingdee ----------------------------------------------------------------------

SHOP_MAPPINGS = {
    "customer": {"10001": "CUST-AMZ-US"},
    "material": {"SKU-PB-1001": "MAT-PB-1001"},
}


def sales_context(**kw) -> FlowContext:
    return stub_context(
        memo={
            "currency": {"USD": "PRE007"},
            "rates": StubRates({"USD": "7.1"}),
            "material_facts": {"MAT-PB-1001": {"hs_code": "8507600090"}},
        },
        **{**SHOP_MAPPINGS, **kw},
    )


def test_sales_outbound_transform_builds_the_sal_outstock_bill():
    """F2.2: GIVEN a confirmed sales-out of 2 units at 21.99 USD with a 2.00 coupon WHEN
    transformed THEN the SAL_OUTSTOCK bill is keyed by the shipment, maps shop, warehouse and
    SKU, books what the buyer paid (the coupon as discount) and converts at the quote."""
    ctx = sales_context(warehouse={"20001": "CK001"})
    shipment = {
        "io_id": 9001,
        "o_id": 1024,
        "so_id": "112-3456789-0000001",
        "shop_id": 10001,
        "wms_co_id": 20001,
        "io_date": "2026-11-28 10:15:00",
        "currency": "USD",
        "l_id": "1Z999",
        "free_amount": "2.00",
        "pay_amount": "41.98",
        "cb_finances": {"platform_commission": "3.30"},
        "items": [{"sku_id": "SKU-PB-1001", "qty": 2, "sale_price": "21.99"}],
    }
    doc = document("io:9001", shipment)
    payload, key = definition_for(FlowCode.SALES_OUTBOUND).transform(ctx, doc)

    assert key == payload["FBillNo"] == "JSTXS-9001"
    assert payload["FDate"] == "2026-11-28"
    assert payload["FCustomerID"] == {"FNumber": "CUST-AMZ-US"}
    assert payload["FSaleOrgId"] == payload["FStockOrgId"] == {"FNumber": ORG}
    assert payload["F_PAEZ_PlatformOrderNo"] == "112-3456789-0000001"
    assert payload["F_PAEZ_TradeAmount"] == "41.98"
    assert payload["F_PAEZ_TradeAmountCNY"] == "298.06"  # 41.98 × 7.1, to the cent
    assert payload["F_PAEZ_Commission"] == "3.30"
    assert payload["SubHeadEntity"]["FSettleCurrID"] == {"FNumber": "PRE007"}
    assert payload["SubHeadEntity"]["FExchangeRate"] == "7.1"
    (line,) = payload["FEntity"]
    assert line["FMaterialID"] == {"FNumber": "MAT-PB-1001"}
    assert line["FStockID"] == {"FNumber": "CK001"}
    assert (line["FRealQty"], line["FTaxPrice"], line["FDiscount"]) == ("2", "21.99", "2.00")
    assert line["F_PAEZ_NetAmount"] == "41.98"
    assert line["F_PAEZ_HSCode"] == "8507600090"
    assert line["FEntryTaxRate"] == "0"  # no destination country: 0 % export
    assert doc.progress["lines"] == [
        {"sku": "SKU-PB-1001", "qty": "2", "net": "41.98", "rate": "0", "combination": ""}
    ]


def test_sales_outbound_transform_names_a_missing_mapping():
    """F2.2 / M1: GIVEN a shop without a customer mapping WHEN transformed THEN the problem is a
    missing mapping naming the shop, not an error."""
    ctx = sales_context(customer={}, warehouse={"20001": "CK001"})
    order = {
        "o_id": 1024,
        "so_id": "112-3456789-0000001",
        "shop_id": 10002,
        "wms_co_id": 20001,
        "send_date": "2026-11-28 10:15:00",
        "currency": "USD",
        "items": [{"sku_id": "SKU-PB-1001", "qty": 1, "price": "21.99"}],
    }
    with pytest.raises(Problem) as problem:
        definition_for(FlowCode.SALES_OUTBOUND).transform(ctx, document("o:1024", order))
    assert problem.value.error_class == ErrorClass.MISSING_MAPPING
    assert problem.value.extra["key"] == "10002"


def test_sales_return_transform_reverses_what_was_paid(monkeypatch):
    """F3.1: GIVEN a receipt of 1 of the 2 units of an outbound that booked 41.98 USD net WHEN
    transformed THEN the SAL_RETURNSTOCK bill goes to the sales-return warehouse, links the
    original bill and takes back half of what was paid, at the sale's tax."""
    definition = definition_for(FlowCode.SALES_RETURN)
    sold = {"SKU-PB-1001": {"sku": "SKU-PB-1001", "qty": "2", "net": "41.98", "rate": "0"}}
    # The outbound it reverses is a SyncDocument lookup, not a mapping: answered here.
    monkeypatch.setattr(
        definition, "_original_outbound", lambda ctx, after_sale, skus: ("JSTXS-9001", "USD", sold)
    )
    ctx = sales_context(warehouse={"20001:2": "CK001-TH"})
    receipt = {
        "io_id": 7001,
        "as_id": 2048,
        "o_id": 1024,
        "so_id": "112-3456789-0000001",
        "shop_id": 10001,
        "wms_co_id": 20001,
        "io_date": "2026-12-01 09:00:00",
        "items": [{"sku_id": "SKU-PB-1001", "qty": 1, "sale_price": "21.99"}],
    }
    payload, key = definition.transform(ctx, document("rcv:7001", receipt))

    assert key == payload["FBillNo"] == "JSTTH-7001"
    assert payload["FDate"] == "2026-12-01"
    assert payload["FRetcustId"] == {"FNumber": "CUST-AMZ-US"}
    assert payload["F_PAEZ_SrcBillNo"] == "JSTXS-9001"
    assert payload["F_PAEZ_AfterSaleId"] == "2048"
    assert payload["F_PAEZ_Currency"] == "USD"  # the original's currency
    assert payload["F_PAEZ_RefundAmount"] == "20.99"
    assert payload["F_PAEZ_RefundAmountCNY"] == "149.03"  # 20.99 × 7.1
    (line,) = payload["FEntity"]
    assert line["FMaterialId"] == {"FNumber": "MAT-PB-1001"}
    assert line["FStockId"] == {"FNumber": "CK001-TH"}
    assert (line["FRealQty"], line["FTaxPrice"], line["FDiscount"]) == ("1", "21.99", "1.00")
    assert line["F_PAEZ_Amount"] == "20.99"
    assert line["FEntryTaxRate"] == "0"


def test_stock_count_loss_transform_builds_an_other_outbound_for_approval():
    """F8.1: GIVEN a confirmed count that found 3 units fewer than the book of 100 WHEN the loss
    is transformed THEN it is an STK_MisDelivery bill keyed <prefix><io_id>-PK with the book and
    counted quantities, waiting for finance, and an abnormal reason from the remark."""
    ctx = stub_context(warehouse={"20001:1": "CK001"}, material={"SKU-A": "MAT-A"})
    count = {
        "io_id": 5001,
        "io_date": "2026-11-30 18:00:00",
        "wms_co_id": 20001,
        "wh_id": 1,
        "remark": "月末盘点 丢失",
        "items": [{"sku_id": "SKU-A", "qty": -3, "r_qty": 97}],
    }
    payload, key = definition_for(FlowCode.STOCK_COUNT).transform(
        ctx, document("count:5001:loss", count)
    )
    bill = payload["bill"]
    assert key == bill["FBillNo"] == "JSTPD5001-PK"
    assert payload["form_id"] == "STK_MisDelivery"
    assert bill["FBillTypeID"] == {"FNumber": "QTCKD01_SYS"}
    assert bill["FDate"] == "2026-11-30"
    assert bill["FPickOrgId"] == {"FNumber": ORG}
    (line,) = bill["FEntity"]
    assert line["FMaterialId"] == {"FNumber": "MAT-A"}
    assert line["FStockId"] == {"FNumber": "CK001"}
    assert line["FQty"] == "3"
    assert (line["F_PAEZ_BookQty"], line["F_PAEZ_CountedQty"]) == ("100", "97")
    assert payload["approval"] is True
    assert payload["abnormal"] == "丢失"


def test_stock_count_gain_transform_prices_at_kingdee_unit_cost():
    """F8.1 / F8.2: GIVEN a count gain of 2 on a book of 100 (2 %, not over the threshold) WHEN
    transformed THEN it is an STK_MISCELLANEOUS bill priced at Kingdee's unit cost, audited
    without approval."""

    class UnitCosts:
        def iter_bill_query(self, form_id, keys, **kw):
            assert (form_id, keys) == ("BD_MATERIAL", ["FNumber", "F_PAEZ_UnitCost"])
            return [{"FNumber": "MAT-A", "F_PAEZ_UnitCost": "12.50"}]

    ctx = stub_context(
        kingdee=UnitCosts(), warehouse={"20001:1": "CK001"}, material={"SKU-A": "MAT-A"}
    )
    count = {
        "io_id": 5002,
        "io_date": "2026-11-30 18:00:00",
        "wms_co_id": 20001,
        "items": [{"sku_id": "SKU-A", "qty": 2, "r_qty": 102}],
    }
    payload, key = definition_for(FlowCode.STOCK_COUNT).transform(
        ctx, document("count:5002:gain", count)
    )
    assert key == "JSTPD5002-PY"
    assert payload["form_id"] == "STK_MISCELLANEOUS"
    (line,) = payload["bill"]["FEntity"]
    assert (line["FMATERIALID"], line["FSTOCKID"]) == ({"FNumber": "MAT-A"}, {"FNumber": "CK001"})
    assert (line["FQty"], line["FPrice"], line["FAmount"]) == ("2", "12.50", "25.00")
    assert payload["approval"] is False
    assert payload["review"][0]["variance_percent"] == "2.00"


# --- Kingdee → Jushuitan ----------------------------------------------------------------------

WAREHOUSE_MAPPINGS = {
    "sku": {"SKU-PB-1001": "PB1001", "SKU-PB-2001": "PB2001"},
    "jst_warehouse": {"20001": "10001", "20002": "10002"},
}
# The run memo after the M3 lookup: Kingdee supplier SUP001 is Jushuitan supplier_id 3001.
SUPPLIER_IDS = {"supplier_ids": {"SUP001": 3001}}


def test_purchase_inbound_transform_builds_one_purchase_in_per_warehouse():
    """F4.1 / F4.2: GIVEN an audited STK_InStock with lines in two warehouses WHEN transformed
    THEN each warehouse gets a confirmed purchase-in under <FBillNo>-<stock>, with the
    Jushuitan supplier id, SKU, quantity, tax-inclusive price, VAT rate and the PO no."""
    ctx = stub_context(memo=SUPPLIER_IDS, **WAREHOUSE_MAPPINGS)
    definition = definition_for(FlowCode.PURCHASE_INBOUND)
    bill = {
        **definition.push.example,
        "FInStockEntry": [
            *definition.push.example["FInStockEntry"],
            {
                "FMaterialId": {"FNumber": "SKU-PB-2001"},
                "FStockId": {"FNumber": "20002"},
                "FRealQty": 4,
                "FTaxPrice": "80.5",
                "FEntryTaxRate": "13",
            },
        ],
    }
    payload, key = definition.transform(ctx, pushed(FlowCode.PURCHASE_INBOUND, ctx, bill))

    assert key == "CGRK00012"
    first, second = payload["steps"]
    assert [first["key"], second["key"]] == ["CGRK00012-20001", "CGRK00012-20002"]
    assert first["kind"] == "purchase_in"
    body = first["body"]
    assert body["external_id"] == "CGRK00012-20001"
    assert (body["is_confirm"], body["supplier_id"], body["wms_co_id"]) == (True, 3001, 10001)
    assert body["tax_rate"] == "13"
    assert body["remark"].startswith("K3 CGRK00012") and "CGDD000123" in body["remark"]
    (item,) = body["items"]
    assert (item["sku_id"], item["qty"], item["price"]) == ("PB1001", 100, "62.00")
    assert "CGDD000123" in item["remark"]
    assert second["body"]["wms_co_id"] == 10002
    assert second["body"]["items"][0]["price"] == "80.50"


def test_purchase_return_transform_builds_a_purchase_out_with_the_reason():
    """F5.1: GIVEN an audited PUR_MRB WHEN transformed THEN it is one confirmed purchase-out
    under its FBillNo, to the mapped warehouse and supplier, with the return reason."""
    ctx = stub_context(memo=SUPPLIER_IDS, **WAREHOUSE_MAPPINGS)
    bill = {
        **definition_for(FlowCode.PURCHASE_RETURN).push.example,
        "FMRREASON": {"FDataValue": "来料不良"},
    }
    doc = pushed(FlowCode.PURCHASE_RETURN, ctx, bill)
    payload, key = definition_for(FlowCode.PURCHASE_RETURN).transform(ctx, doc)

    assert key == "CGTL00007"
    (step,) = payload["steps"]
    assert (step["kind"], step["key"]) == ("purchase_out", "CGTL00007")
    body = step["body"]
    assert (body["external_id"], body["is_confirm"], body["type"]) == ("CGTL00007", True, 0)
    assert (body["supplier_id"], body["wms_co_id"]) == (3001, 10001)
    assert body["remark"] == "K3 CGTL00007 来料不良"
    (item,) = body["items"]
    assert (item["sku_id"], item["qty"], item["price"]) == ("PB1001", 5, "62.00")
    assert item["supplier_id"] == 3001


def test_transfer_transform_sends_the_outbound_leg_first():
    """F7.1: GIVEN an audited direct transfer from 20001 to 20002 WHEN transformed THEN it is an
    other-out from the source warehouse, then an other-in to the destination, each under its own
    external id."""
    ctx = stub_context(**WAREHOUSE_MAPPINGS)
    bill = {
        "FormId": "STK_TransferDirect",
        "FBillNo": "ZJDB00001",
        "FDocumentStatus": "C",
        "note": "补货",
        "entries": [{"material": "SKU-PB-1001", "src": "20001", "dest": "20002", "qty": "3"}],
    }
    payload, key = definition_for(FlowCode.TRANSFER).transform(ctx, document("t", bill))

    assert key == "ZJDB00001"
    out, into = payload["steps"]
    assert [out["key"], into["key"]] == ["ZJDB00001-OUT", "ZJDB00001-IN"]
    assert [out["body"]["type"], into["body"]["type"]] == ["out", "in"]
    assert [out["body"]["wms_co_id"], into["body"]["wms_co_id"]] == [10001, 10002]
    assert out["body"]["external_id"] == "ZJDB00001-OUT"
    assert out["body"]["items"] == into["body"]["items"] == [{"sku_id": "PB1001", "qty": 3}]
    assert out["body"]["is_confirm"] is True
    assert "补货" in out["body"]["remark"]


def test_inventory_adjust_transform_builds_an_other_out():
    """F8.3: GIVEN an audited Kingdee other-outbound (STK_MisDelivery) WHEN transformed THEN it
    is a confirmed Jushuitan other-out per warehouse under <FBillNo>-<stock>-QTOUT."""
    ctx = stub_context(**WAREHOUSE_MAPPINGS)
    example = definition_for(FlowCode.INVENTORY_ADJUST).push.example
    doc = pushed(FlowCode.INVENTORY_ADJUST, ctx, example)
    payload, key = definition_for(FlowCode.INVENTORY_ADJUST).transform(ctx, doc)

    assert key == "QTCKD00003"
    (step,) = payload["steps"]
    assert (step["kind"], step["key"]) == ("other_inout", "QTCKD00003-20001-QTOUT")
    body = step["body"]
    assert (body["type"], body["wms_co_id"], body["is_confirm"]) == ("out", 10001, True)
    assert body["remark"] == "样品领用"
    assert body["items"] == [{"sku_id": "PB1001", "qty": 2}]


# --- master data: the target code comes from the mapping tables (database) -------------------


@pytest.mark.django_db
def test_material_sync_transform_builds_the_jushuitan_sku(make_integration):
    """F1.2 / F1.3: GIVEN a pushed finished-good material and no SKU mapping WHEN transformed
    THEN its SKU is its own code (M4 1:1) and the item carries name, weight in kg, brand, the
    F1.2 fields where the placement puts them and the battery label."""
    ctx = stub_context(integration=make_integration("unit-f1"))
    definition = definition_for(FlowCode.MATERIAL_SYNC)
    doc = pushed(FlowCode.MATERIAL_SYNC, ctx, definition.push.example)
    item, key = definition.transform(ctx, doc)

    assert key == item["sku_id"] == item["i_id"] == "SKU-PB-2001"
    assert item["name"] == "30000mAh 充电宝"
    assert (item["weight"], item["brand"], item["enabled"]) == ("0.62", "VoltPeak", 1)
    placed = doc.progress["placement"]
    assert item[placed["hs_code"]] == "8507600090"
    assert item[placed["english_name"]] == "30000mAh Power Bank"
    assert item[placed["declared_price"]] == "24.5"
    assert item[placed["net_weight"]] == "0.55"
    assert item["labels"] == ["带电"]


@pytest.mark.django_db
def test_master_data_transform_builds_the_jushuitan_supplier(make_integration):
    """F9.1: GIVEN a Kingdee supplier and no supplier mapping WHEN transformed THEN Jushuitan
    gets it under its own number (M3 1:1), with its name, remark and disabled when forbidden."""
    from flows.definitions.master_data import supplier_payload

    ctx = stub_context(integration=make_integration("unit-f9"))
    row = {
        "FNumber": "SUP001",
        "FName": "深圳电芯有限公司",
        "FForbidStatus": "B",
        "FDescription": "电芯供应商",
        "FModifyDate": "2026-11-28T10:15:00",
    }
    payload, key = definition_for(FlowCode.MASTER_DATA).transform(
        ctx, document("supplier:SUP001", supplier_payload(row))
    )
    assert key == payload["supplier_code"] == "SUP001"
    assert payload == {
        "supplier_code": "SUP001",
        "name": "深圳电芯有限公司",
        "enabled": False,
        "remark": "电芯供应商",
    }


def test_every_flow_has_a_transform_test_here():
    """Issue 23 point 6: each shipped flow definition has its transform test in this module."""
    from flows.definitions import definitions

    tested = {
        FlowCode.MATERIAL_SYNC,
        FlowCode.SALES_OUTBOUND,
        FlowCode.SALES_RETURN,
        FlowCode.PURCHASE_INBOUND,
        FlowCode.PURCHASE_RETURN,
        FlowCode.TRANSFER,
        FlowCode.STOCK_COUNT,
        FlowCode.INVENTORY_ADJUST,
        FlowCode.MASTER_DATA,
    }
    assert {d.code for d in definitions(include_test_flows=False)} == tested
