"""Issue 19 points 1 and 2, end to end: Kingdee's own amounts (outbound lines, receivables,
returns) are what the buyer paid in Jushuitan (docs/finance/receivables.md)."""

from collections import defaultdict
from decimal import Decimal

import pytest

from connectors.kingdee.client import client_for, quote
from flows.choices import DocumentState as S
from flows.choices import FlowCode
from flows.models import Flow, SyncDocument
from flows.tasks import flow_run
from tests.flows.test_sales_return import _after_sale, _receive

pytestmark = pytest.mark.django_db(transaction=True)


def _synced(flow, count: int):
    def ready():
        docs = list(SyncDocument.objects.filter(flow=flow, state=S.SYNCED).order_by("pk"))
        return docs if len(docs) == count else None

    return ready


def _receivable_rows(kingdee, numbers: list[str]) -> list[list]:
    """Rows of the audited receivables whose bill numbers are given (one row per line)."""
    return kingdee.execute_bill_query(
        "AR_receivable",
        [
            "FBillNo",
            "FDocumentStatus",
            "FSourceBillNo",
            "FCOSTID.FNumber",
            "FALLAMOUNTFOR_D",
            "FALLAMOUNTFOR",
            "FCURRENCYID.FNumber",
        ],
        filter_string=f"FBillNo in ({','.join(quote(n) for n in numbers)})",
        order_string="FBillNo, FEntityDetail_FSeq",
    )


def _bill_total(kingdee, form_id: str, number: str) -> Decimal:
    (row,) = kingdee.execute_bill_query(
        form_id, ["FBillAllAmount"], filter_string=f"FBillNo = {quote(number)}"
    )
    return Decimal(str(row[0]))


def test_issue19_point1_worked_example_coupon_in_lines_freight_on_the_receivable(
    demo_integration, storefront, celery_worker, wait_until
):
    """Issue 19 points 1 and 2 (worked example, docs/finance/receivables.md §3): GIVEN an order
    of 59.98 (2 × 29.99) + 8.99 freight with a 2.00 coupon, 9.00 commission and 4.20 collected
    tax WHEN synced with the default settings THEN the outbound's Kingdee line total is 57.98
    (the coupon in FDiscount, 0 % export tax combination SL00_CB), the receivable pushed from it
    is audited, linked to the outbound, and carries the goods line 57.98 and a freight line
    8.99 (expense item FYXM_FREIGHT): 66.97, what the buyer paid; commission and collected tax
    are left to the tenant. WHEN the tenant books them too (setting charges) THEN the next
    order's receivable carries them as signed lines."""
    kingdee = client_for(demo_integration.kingdee)
    order = storefront.order(
        so_id="AMT-WORKED-1",
        shop_id=10001,
        currency="USD",
        country="US",
        lines=[("SKU-PB-1001", 2, "29.99")],
        freight="8.99",
        coupon="2.00",
        commission="9.00",
        marketplace_tax="4.20",
    )
    storefront.place_and_ship(order)
    flow = Flow.objects.get(integration=demo_integration, code=FlowCode.SALES_OUTBOUND)
    flow_run.delay(flow.pk)
    (doc,) = wait_until(_synced(flow, 1), 60)

    assert _bill_total(kingdee, "SAL_OUTSTOCK", doc.kingdee_bill_no) == Decimal("57.98")
    (line,) = kingdee.execute_bill_query(
        "SAL_OUTSTOCK",
        ["FDiscount", "FTaxCombination.FNumber", "FEntryTaxRate", "FTaxAmount"],
        filter_string=f"FBillNo = {quote(doc.kingdee_bill_no)}",
    )
    assert [Decimal(str(line[0])), line[1], Decimal(str(line[2])), Decimal(str(line[3]))] == [
        Decimal("2.00"),
        "SL00_CB",
        Decimal("0"),
        Decimal("0"),
    ]
    receivable = doc.progress["receivable"]["number"]
    rows = _receivable_rows(kingdee, [receivable])
    assert [(r[1], r[2] or "", r[3] or "", Decimal(str(r[4]))) for r in rows] == [
        ("C", doc.kingdee_bill_no, "", Decimal("57.98")),
        ("C", "", "FYXM_FREIGHT", Decimal("8.99")),
    ]
    assert Decimal(str(rows[0][5])) == Decimal("66.97") == Decimal(doc.progress["paid"])

    flow.settings = {
        **flow.settings,
        "charges": {"marketplace_tax": "receivable", "platform_fee": "receivable"},
    }
    flow.save()
    second = storefront.order(
        so_id="AMT-WORKED-2",
        shop_id=10001,
        currency="USD",
        country="US",
        lines=[("SKU-PB-1001", 2, "29.99")],
        freight="8.99",
        coupon="2.00",
        commission="9.00",
        marketplace_tax="4.20",
    )
    storefront.place_and_ship(second)
    flow_run.delay(flow.pk)
    docs = wait_until(_synced(flow, 2), 60)
    rows = _receivable_rows(kingdee, [docs[1].progress["receivable"]["number"]])
    assert [(r[3] or "", Decimal(str(r[4]))) for r in rows] == [
        ("", Decimal("57.98")),
        ("FYXM_FREIGHT", Decimal("8.99")),
        ("FYXM_MKTTAX", Decimal("4.20")),
        ("FYXM_PLATFEE", Decimal("-9.00")),
    ]
    assert Decimal(str(rows[0][5])) == Decimal("62.17")  # 66.97 + 4.20 − 9.00


def test_issue19_done_when_kingdee_amounts_equal_what_buyers_paid_per_currency(
    demo_integration, storefront, celery_worker, wait_until
):
    """Issue 19 "done when" and point 2: GIVEN demo-like orders in USD, EUR and JPY (coupons,
    freight, several lines, a gift) and a USD return of one unit received back WHEN the
    outbound and return flows sync THEN every outbound and return has an audited receivable
    (red for the return) linked to it, and per currency outbound line totals + freight lines −
    return line totals = receivables = what the buyers paid in Jushuitan − what was refunded,
    to the cent."""
    from connectors.jushuitan.client import JushuitanClient

    kingdee = client_for(demo_integration.kingdee)
    orders = [
        storefront.order(
            so_id="REC-USD-1",
            shop_id=10001,
            currency="USD",
            lines=[("SKU-PB-1001", 2, "29.99"), ("SKU-CBL-1201", 3, "8.99")],
            freight="5.99",
            coupon="2.00",
        ),
        storefront.order(
            so_id="REC-USD-2",
            shop_id=10001,
            currency="USD",
            lines=[("SKU-WATCH-1801", 1, "59.99"), ("SKU-CBL-1202", 1, "0")],
        ),
        storefront.order(
            so_id="REC-EUR-1",
            shop_id=10005,
            currency="EUR",
            country="DE",
            lines=[("SKU-EAR-1101", 1, "39.99"), ("SKU-CBL-1201", 1, "7.49")],
            freight="3.99",
            coupon="1.00",
        ),
        storefront.order(
            so_id="REC-JPY-1",
            shop_id=10004,
            currency="JPY",
            country="JP",
            lines=[("SKU-CASE-1301", 3, "1960")],
            coupon="100",
        ),
    ]
    storefront.place_and_ship(*orders)
    outbound = Flow.objects.get(integration=demo_integration, code=FlowCode.SALES_OUTBOUND)
    returns = Flow.objects.get(integration=demo_integration, code=FlowCode.SALES_RETURN)
    flow_run.delay(outbound.pk)
    sold = wait_until(_synced(outbound, len(orders)), 90)

    client = JushuitanClient(demo_integration.jushuitan)
    # One of the two 29.99 units comes back: the buyer paid 58.61 for both (59.98 less its
    # 1.37 share of the 2.00 coupon over 86.95 of goods), so 29.31 (half-up) is refunded.
    as_id = _after_sale(client, orders[0], sku="SKU-PB-1001", qty=1, amount="29.31")
    _receive(client, as_id, sku="SKU-PB-1001", qty=1, batch=1)
    flow_run.delay(returns.pk)
    (returned,) = wait_until(_synced(returns, 1), 90)

    paid: dict[str, Decimal] = defaultdict(Decimal)
    for order in orders:
        paid[order["currency"]] += Decimal(order["pay_amount"])
    paid["USD"] -= Decimal("29.31")

    booked: dict[str, Decimal] = defaultdict(Decimal)
    receivables: dict[str, Decimal] = defaultdict(Decimal)
    for doc in [*sold, returned]:
        currency = doc.progress["currency"]
        form = "SAL_OUTSTOCK" if doc in sold else "SAL_RETURNSTOCK"
        sign = 1 if doc in sold else -1
        booked[currency] += sign * _bill_total(kingdee, form, doc.kingdee_bill_no)
        rows = _receivable_rows(kingdee, [doc.progress["receivable"]["number"]])
        assert {r[1] for r in rows} == {"C"}
        assert rows[0][2] == doc.kingdee_bill_no  # linked to its source bill
        booked[currency] += sum((Decimal(str(r[4])) for r in rows if r[3]), Decimal(0))
        receivables[currency] += Decimal(str(rows[0][5]))
    assert dict(booked) == dict(paid) == dict(receivables)
    assert paid == {
        "USD": Decimal("59.98")
        + Decimal("26.97")
        + Decimal("5.99")
        - 2
        + Decimal("59.99")
        - Decimal("29.31"),
        "EUR": Decimal("39.99") + Decimal("7.49") + Decimal("3.99") - 1,
        "JPY": Decimal("5780"),
    }


def test_issue19_point2_refund_only_after_sale_is_a_red_receivable(
    demo_integration, storefront, celery_worker, wait_until
):
    """Issue 19 point 2: GIVEN a synced USD outbound and a refund-only after-sale (仅退款) of
    5.00 confirmed in Jushuitan WHEN the return flow runs THEN an audited red receivable of
    −5.00 (expense item FYXM_ALLOW, sales allowance) names the after-sale, the order and the
    outbound; no stock moves and a second run writes nothing more."""
    from connectors.jushuitan.client import JushuitanClient
    from sandbox.kingdee.models import KdStockBalance

    kingdee = client_for(demo_integration.kingdee)
    order = storefront.order(
        so_id="AMT-RO-1", shop_id=10001, currency="USD", lines=[("SKU-WATCH-1801", 1, "59.99")]
    )
    storefront.place_and_ship(order)
    outbound = Flow.objects.get(integration=demo_integration, code=FlowCode.SALES_OUTBOUND)
    returns = Flow.objects.get(integration=demo_integration, code=FlowCode.SALES_RETURN)
    flow_run.delay(outbound.pk)
    (sold,) = wait_until(_synced(outbound, 1), 60)
    client = JushuitanClient(demo_integration.jushuitan)
    as_id = _after_sale(client, order, sku="SKU-WATCH-1801", qty=1, amount="5.00", type_="仅退款")
    confirmed = client.call(
        "/open/webapi/aftersaleapi/open/confirm", {"as_ids": [as_id]}, write=True
    )
    assert confirmed["success_count"] == 1
    stock = list(KdStockBalance.objects.values_list("material_number", "base_qty"))

    flow_run.delay(returns.pk)
    (doc,) = wait_until(_synced(returns, 1), 60)
    flow_run.delay(returns.pk)

    assert doc.source_key == f"ro:{as_id}" and doc.kingdee_bill_no == f"JSTTK-{as_id}"
    rows = _receivable_rows(kingdee, [doc.kingdee_bill_no])
    assert [(r[1], r[3], Decimal(str(r[4])), Decimal(str(r[5])), r[6]) for r in rows] == [
        ("C", "FYXM_ALLOW", Decimal("-5.00"), Decimal("-5.00"), "PRE007")
    ]
    remark = kingdee.view("AR_receivable", number=doc.kingdee_bill_no)["AR_Remark"]
    assert str(as_id) in remark and "AMT-RO-1" in remark and sold.kingdee_bill_no in remark
    assert list(KdStockBalance.objects.values_list("material_number", "base_qty")) == stock
    assert SyncDocument.objects.filter(flow=returns).count() == 1


@pytest.mark.usefixtures("english")
def test_issue19_point2_preflight_checks_the_tenants_own_receivables(
    demo_integration, storefront, celery_worker, wait_until
):
    """Issue 19 point 2: GIVEN the outbound flow set to rely on the tenant's own receivables
    (receivable = tenant) WHEN the Kingdee preflight runs before any outbound THEN the check is
    informational; WHEN an outbound is audited without a receivable THEN the check fails,
    gates sales_outbound and says how to fix it; WHEN Kingdee has the receivable THEN it
    passes. No receivable is pushed by the portal in that mode."""
    from connectors.preflight import checks_of, preflight_run

    def check():
        run = preflight_run(integration=demo_integration, systems=["kingdee"], requested_by="t")
        return next(c for c in checks_of(run) if c.key == "kingdee.receivable.SAL_OUTSTOCK")

    flow = Flow.objects.get(integration=demo_integration, code=FlowCode.SALES_OUTBOUND)
    flow.settings = {**flow.settings, "receivable": "tenant"}
    flow.save()
    first = check()
    assert first.ok and first.info
    order = storefront.order(
        so_id="AMT-TENANT-1", shop_id=10001, currency="USD", lines=[("SKU-PB-1001", 1, "29.99")]
    )
    storefront.place_and_ship(order)
    flow_run.delay(flow.pk)
    (doc,) = wait_until(_synced(flow, 1), 60)
    assert "receivable" not in doc.progress
    missing = check()
    assert not missing.ok and missing.gates("sales_outbound")
    assert doc.kingdee_bill_no in missing.detail and "receivable setting to push" in missing.fix
    kingdee = client_for(demo_integration.kingdee)
    pushed = kingdee.push(
        "SAL_OUTSTOCK",
        numbers=[doc.kingdee_bill_no],
        target_form_id="AR_receivable",
        enable_default_rule=True,
    )
    assert pushed.ok
    assert check().ok
