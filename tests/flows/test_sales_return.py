"""F3 sales returns, end to end: a returned after-sale in the Jushuitan sandbox becomes an
audited SAL_RETURNSTOCK in the Kingdee sandbox linked to the original outbound, once."""

from decimal import Decimal

import pytest

from flows.choices import DocumentState as S
from flows.choices import FlowCode
from flows.models import Flow, SyncDocument
from flows.tasks import flow_run
from tests.flows.test_sales_outbound import cny, entries, field, line_field

pytestmark = pytest.mark.django_db(transaction=True)


def _after_sale(client, order, *, sku, qty, amount, type_="普通退货"):
    created = client.call(
        "/open/aftersale/upload",
        [
            {
                "shop_id": order["shop_id"],
                "outer_as_id": f"RMA-{order['so_id']}-{sku}-{type_}",
                "so_id": order["so_id"],
                "type": type_,
                "shop_status": "WAIT_SELLER_CONFIRM_GOODS",
                "good_status": "BUYER_RETURNED_GOODS",
                "refund": amount,
                "question_type": "不想要了",
                "items": [
                    {
                        "outer_oi_id": f"{order['so_id']}-1",
                        "sku_id": sku,
                        "qty": qty,
                        "amount": amount,
                        "type": "退货",
                    }
                ],
            }
        ],
        write=True,
    )
    return created["datas"][0]["as_id"]


def _receive(client, as_id, *, sku, qty, batch):
    """One receipt batch at the warehouse (confirmgoods, docId=272)."""
    answer = client.call(
        "/open/webapi/aftersaleapi/confirmgoods",
        [
            {
                "as_id": as_id,
                "return_id": f"R-{as_id}-{batch}",
                "items": [{"sku_id": sku, "qty": qty}],
            }
        ],
        write=True,
    )
    assert answer["success_count"] == 1 and answer["fail"] == [], answer
    return answer["success"][0]["io_id"]


def test_f3_receipts_in_two_batches_book_two_returns_linked_to_outbound(
    demo_integration, storefront, kingdee_bills, celery_worker, wait_until
):
    """F3.1, issue 18 point 2: GIVEN a shipped USD order synced as an outbound WHEN the buyer
    returns two units and the warehouse receives them in two batches (the after-sale confirmed
    between them, which moves no stock) THEN two audited SAL_RETURNSTOCK bills, one per
    receipt, each with its received quantity, the CNY amount at the parity of the receipt date
    and the link to the outbound bill; a refund-only after-sale books nothing."""
    from connectors.jushuitan.client import JushuitanClient
    from sandbox.jushuitan.models import Stock

    client = JushuitanClient(demo_integration.jushuitan)
    order = storefront.order(
        so_id="RET-1", shop_id=10001, currency="USD", lines=[("SKU-WATCH-1801", 2, "59.99")]
    )
    storefront.place_and_ship(order)
    outbound = Flow.objects.get(integration=demo_integration, code=FlowCode.SALES_OUTBOUND)
    returns = Flow.objects.get(integration=demo_integration, code=FlowCode.SALES_RETURN)
    flow_run.delay(outbound.pk)
    out_doc = wait_until(
        lambda: SyncDocument.objects.filter(flow=outbound, state=S.SYNCED).first(), 60
    )
    as_id = _after_sale(client, order, sku="SKU-WATCH-1801", qty=2, amount="119.98")
    _after_sale(client, order, sku="SKU-WATCH-1801", qty=1, amount="5.00", type_="仅退款")
    stock = Stock.objects.get(wms_co_id=20001, sku_id="SKU-WATCH-1801")
    first = _receive(client, as_id, sku="SKU-WATCH-1801", qty=1, batch=1)
    confirmed = client.call(
        "/open/webapi/aftersaleapi/open/confirm", {"as_ids": [as_id]}, write=True
    )
    assert confirmed["success_count"] == 1 and confirmed["fail_count"] == 0
    after_confirm = Stock.objects.get(pk=stock.pk)
    assert after_confirm.return_qty == stock.return_qty + 1  # confirm moved nothing
    second = _receive(client, as_id, sku="SKU-WATCH-1801", qty=1, batch=2)
    flow_run.delay(returns.pk)
    docs = wait_until(
        lambda: (
            list(SyncDocument.objects.filter(flow=returns, state=S.SYNCED).order_by("pk"))
            if SyncDocument.objects.filter(flow=returns, state=S.SYNCED).count() == 2
            else None
        ),
        60,
    )
    assert [d.source_key for d in docs] == [f"rcv:{first}", f"rcv:{second}"]
    assert SyncDocument.objects.filter(flow=returns).count() == 2  # refund-only: no receipt
    flow_run.delay(returns.pk)

    bills = kingdee_bills("SAL_RETURNSTOCK", ["RET-1"])["RET-1"]
    assert sorted(b["BillNo"] if "BillNo" in b else b["FBillNo"] for b in bills) == sorted(
        d.kingdee_bill_no for d in docs
    )
    for bill, doc in zip(
        sorted(bills, key=lambda b: b.get("BillNo") or b.get("FBillNo")),
        sorted(docs, key=lambda d: d.kingdee_bill_no),
        strict=True,
    ):
        assert bill["_status"] == "C"
        assert field(bill, "RetcustId") == "10001"
        assert field(bill, "F_PAEZ_SrcBillNo") == out_doc.kingdee_bill_no
        (line,) = (
            entries(bill) if "FEntity" in bill or "Entity" in bill else bill["SAL_RETURNSTOCKENTRY"]
        )
        assert line_field(line, "RealQty") == Decimal("1")
        from datetime import date

        day = date.fromisoformat(doc.target_payload["FDate"])
        assert line_field(line, "F_PAEZ_AmountCNY") == cny(Decimal("59.99"), "USD", day)
        assert field(line, "StockId") == "20001"
