"""F8.3 inventory adjustments made in Kingdee, end to end: audited other-inbound and
other-outbound bills reach Jushuitan as other-in / other-out documents once, moving its stock;
bills the portal wrote from Jushuitan stock counts (F8.1) are not sent back."""

import pytest

from flows.choices import DocumentState as S
from flows.choices import FlowCode
from flows.models import Flow, SyncDocument

pytestmark = pytest.mark.django_db(transaction=True)


def test_f8_3_kingdee_adjustments_reach_jushuitan_once(
    demo_integration, kingdee_desk, jst_warehouse, run_flow_until
):
    """F8.3: GIVEN an audited other-inbound of 6 earbuds into 20001, an audited other-outbound
    of 2 from 20002, and an other-outbound numbered like an F8.1 count loss (…-PK) WHEN the
    F8.3 flow runs THEN Jushuitan has one other-in and one other-out (stock +6 / −2), the
    count-loss bill is kept as filtered with the reason, and another run writes nothing."""
    main, us = (
        jst_warehouse.stock("SKU-EAR-1101", 20001),
        jst_warehouse.stock("SKU-EAR-1101", 20002),
    )
    gain = kingdee_desk.adjustment(
        "STK_MISCELLANEOUS", "QTRKD-T8-0001", lines=[("SKU-EAR-1101", "20001", 6)], note="退回样品"
    )
    loss = kingdee_desk.adjustment(
        "STK_MisDelivery", "QTCKD-T8-0001", lines=[("SKU-EAR-1101", "20002", 2)], note="展会领用"
    )
    count = kingdee_desk.adjustment(
        "STK_MisDelivery", "900123-PK", lines=[("SKU-EAR-1101", "20001", 1)]
    )
    flow = Flow.objects.get(integration=demo_integration, code=FlowCode.INVENTORY_ADJUST)
    docs = SyncDocument.objects.filter(flow=flow)
    run_flow_until(
        flow,
        lambda: (
            docs.filter(state=S.SYNCED).count() == 2 and docs.filter(kingdee_bill_no=count).exists()
        ),
    )
    run_flow_until(flow)  # one more whole run writes nothing

    keys = [f"{gain}-20001-QTIN", f"{loss}-20002-QTOUT", f"{count}-20001-QTOUT"]
    docs = jst_warehouse.documents("other_inout", keys)
    assert {k: len(v) for k, v in docs.items()} == {keys[0]: 1, keys[1]: 1, keys[2]: 0}
    assert docs[keys[0]][0]["remark"] == "退回样品"
    assert jst_warehouse.stock("SKU-EAR-1101", 20001) == main + 6
    assert jst_warehouse.stock("SKU-EAR-1101", 20002) == us - 2
    filtered = SyncDocument.objects.get(flow=flow, kingdee_bill_no=count)
    assert filtered.state == S.FILTERED
    assert "F8.1" in filtered.filter_reason
