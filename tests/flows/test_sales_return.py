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


def _return(client, order, *, sku, qty, amount, type_="普通退货"):
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
    as_id = created["datas"][0]["as_id"]
    client.call("/open/webapi/aftersaleapi/open/confirm", {"as_ids": [as_id]}, write=True)
    return as_id


def test_f3_returned_after_sale_becomes_audited_return_linked_to_outbound(
    demo_integration, storefront, kingdee_bills, celery_worker, wait_until
):
    """F3.1: GIVEN a shipped USD order synced as an outbound WHEN the buyer returns one unit and
    the warehouse confirms it THEN one audited SAL_RETURNSTOCK with the received quantity, the
    CNY amount at the parity of the return date and a link to the outbound bill; a refund-only
    after-sale is kept as filtered with its reason."""
    from connectors.jushuitan.client import JushuitanClient

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
    as_id = _return(client, order, sku="SKU-WATCH-1801", qty=1, amount="59.99")
    refund_only = _return(client, order, sku="SKU-WATCH-1801", qty=1, amount="5.00", type_="仅退款")
    flow_run.delay(returns.pk)
    doc = wait_until(
        lambda: SyncDocument.objects.filter(
            flow=returns, source_key=f"as:{as_id}", state=S.SYNCED
        ).first(),
        60,
    )
    kept = wait_until(
        lambda: SyncDocument.objects.filter(flow=returns, source_key=f"as:{refund_only}").first(),
        30,
    )
    assert kept.state == S.FILTERED and "仅退款" in kept.filter_reason
    flow_run.delay(returns.pk)

    bills = kingdee_bills("SAL_RETURNSTOCK", ["RET-1"])["RET-1"]
    assert len(bills) == 1
    bill = bills[0]
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
