"""F2 sales outbound, end to end: orders created and shipped through the Jushuitan sandbox's
own API become audited SAL_OUTSTOCK bills in the Kingdee sandbox, via a real Celery worker."""

from decimal import ROUND_HALF_UP, Decimal

import pytest

from flows.choices import DocumentState as S
from flows.choices import FlowCode
from flows.models import Flow, SyncDocument
from flows.tasks import flow_run
from mappings.rates import rate_for

pytestmark = pytest.mark.django_db(transaction=True)
CENT = Decimal("0.01")


def cny(amount: Decimal, currency: str, on_date) -> Decimal:
    """The test's own conversion: the published parity of the date, per its quoting unit."""
    quote = rate_for(currency=currency, on_date=on_date)
    return (amount * quote.rate / quote.quote_unit).quantize(CENT, rounding=ROUND_HALF_UP)


def test_f2_shipped_orders_become_audited_outbounds_exactly_once(
    demo_integration, storefront, kingdee_bills, celery_worker, wait_until
):
    """F2.1/F2.2: GIVEN two shipped orders (USD, two lines with freight, coupon, tariff and
    commission; JPY) WHEN the scheduled run executes in a worker THEN each is one audited
    SAL_OUTSTOCK carrying every F2.2 field, with CNY amounts equal to the cent to the test's
    own calculation; a second run writes nothing more."""
    usd = storefront.order(
        so_id="112-0000001-0000001",
        shop_id=10001,
        currency="USD",
        country="US",
        lines=[("SKU-PB-1001", 2, "29.99"), ("SKU-CBL-1201", 1, "8.99")],
        freight="5.99",
        coupon="2.00",
        commission="10.35",
        tariff="2.36",
    )
    jpy = storefront.order(
        so_id="503-0000002-0000002",
        shop_id=10004,
        currency="JPY",
        country="JP",
        lines=[("SKU-CASE-1301", 3, "1960")],
        commission="588",
    )
    storefront.place_and_ship(usd, jpy)
    flow = Flow.objects.get(integration=demo_integration, code=FlowCode.SALES_OUTBOUND)

    flow_run.delay(flow.pk)
    wait_until(lambda: SyncDocument.objects.filter(flow=flow, state=S.SYNCED).count() == 2, 60)
    flow_run.delay(flow.pk)  # a second run finds nothing new to write

    bills = kingdee_bills("SAL_OUTSTOCK", [usd["so_id"], jpy["so_id"]])
    assert {k: len(v) for k, v in bills.items()} == {usd["so_id"]: 1, jpy["so_id"]: 1}
    bill = bills[usd["so_id"]][0]
    assert bill["_status"] == "C"
    doc = SyncDocument.objects.get(flow=flow, platform_order_no=usd["so_id"])
    assert doc.kingdee_bill_no == bill_no(bill)
    ship_date = doc.target_payload["FDate"]
    # Header (F2.2 order fields).
    assert field(bill, "CustomerID") == "10001"
    assert field(bill, "F_PAEZ_BuyerId") == f"buyer-{usd['so_id']}"
    assert field(bill, "F_PAEZ_LogisticsNo").startswith("FBA")
    assert Decimal(field(bill, "F_PAEZ_TradeAmount")) == Decimal("72.96")  # 59.98+8.99+5.99-2
    assert Decimal(field(bill, "F_PAEZ_Commission")) == Decimal("10.35")
    from datetime import date

    day = date.fromisoformat(ship_date)
    assert Decimal(field(bill, "F_PAEZ_TradeAmountCNY")) == cny(Decimal("72.96"), "USD", day)
    # Lines: coupon (discount), freight and tariff spread over the lines by amount, to the cent.
    lines = entries(bill)
    assert [line_field(x, "F_PAEZ_Discount") for x in lines] == [Decimal("1.74"), Decimal("0.26")]
    assert [line_field(x, "F_PAEZ_Freight") for x in lines] == [Decimal("5.21"), Decimal("0.78")]
    assert [line_field(x, "F_PAEZ_Tariff") for x in lines] == [Decimal("2.05"), Decimal("0.31")]
    nets = [Decimal("59.98") - Decimal("1.74"), Decimal("8.99") - Decimal("0.26")]
    assert [line_field(x, "F_PAEZ_NetAmountCNY") for x in lines] == [
        cny(n, "USD", day) for n in nets
    ]
    assert doc.progress["fx"]["currency"] == "USD"
    # JPY: quoted per 100 yen by the parity.
    jpy_doc = SyncDocument.objects.get(flow=flow, platform_order_no=jpy["so_id"])
    jpy_bill = bills[jpy["so_id"]][0]
    assert Decimal(field(jpy_bill, "F_PAEZ_TradeAmountCNY")) == cny(
        Decimal("5880"), "JPY", date.fromisoformat(jpy_doc.target_payload["FDate"])
    )


# --- reading a viewed bill (the sandbox returns what was saved, ORM-style names) ------------


def bill_no(bill: dict) -> str:
    return bill.get("BillNo") or bill.get("FBillNo")


def _get(row: dict, name: str):
    lowered = {key.lower(): value for key, value in row.items()}
    for key in (name, f"F{name}", name.removeprefix("F")):
        if key.lower() in lowered:
            value = lowered[key.lower()]
            if isinstance(value, dict):
                return value.get("Number") or value.get("FNumber")
            return value
    raise KeyError(f"{name} not in {sorted(row)}")


def field(bill: dict, name: str):
    return _get(bill, name)


def entries(bill: dict) -> list[dict]:
    for key in ("FEntity", "Entity", "SAL_OUTSTOCKENTRY"):
        if key in bill:
            return bill[key]
    raise KeyError(sorted(bill))


def line_field(line: dict, name: str) -> Decimal:
    return Decimal(str(_get(line, name)))
