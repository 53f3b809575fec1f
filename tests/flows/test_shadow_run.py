"""Issue 24 point 4: the map-only dry run (shadow run) reads the last N days of real source
documents, maps and transforms them and writes nothing; per document it shows what it would
write or why it would block, grouped by cause with links to fix each cause."""

import pytest

from flows.choices import FlowCode
from flows.models import Flow, ShadowRun, SyncDocument

pytestmark = pytest.mark.django_db(transaction=True)


def test_shadow_run_lists_what_would_block_over_the_last_7_days_and_writes_nothing(
    demo_integration, storefront, admin_client, celery_worker, wait_until
):
    """GIVEN four shipped orders of the last days in Jushuitan: two fine (USD, JPY), two
    carrying the gift SKU that has no Kingdee material WHEN the admin runs the flow's
    "Map-only dry run over the last 7 days" (filled by a worker) THEN the report says two
    would be written (with their payload) and two would block, grouped under one cause
    (SKU → material SKU-GIFT-9001) whose link opens the material mappings; no document,
    ticket or Kingdee write exists afterwards."""
    from monitoring.models import ExceptionTicket, RemoteCall

    good = [
        storefront.order(
            so_id="112-0000024-1000001",
            shop_id=10001,
            currency="USD",
            lines=[("SKU-PB-1001", 1, "29.99")],
        ),
        storefront.order(
            so_id="503-0000024-1000002",
            shop_id=10004,
            currency="JPY",
            country="JP",
            lines=[("SKU-CASE-1301", 1, "1960")],
        ),
    ]
    gifts = [
        storefront.order(
            so_id=f"112-0000024-200000{n}",
            shop_id=10001,
            currency="USD",
            lines=[("SKU-PB-1001", 1, "29.99"), ("SKU-GIFT-9001", 1, "0")],
        )
        for n in (1, 2)
    ]
    storefront.place_and_ship(*good, *gifts)
    flow = Flow.objects.get(integration=demo_integration, code=FlowCode.SALES_OUTBOUND)
    writes_before = RemoteCall.objects.filter(system="kingdee", operation__icontains="save").count()

    response = admin_client.post(
        "/admin/flows/flow/",
        {"action": "shadow", "_selected_action": [flow.pk]},
        HTTP_ACCEPT_LANGUAGE="en",
        follow=True,
    )
    assert response.redirect_chain  # to the report, filled by a worker
    run = wait_until(
        lambda: ShadowRun.objects.filter(flow=flow, finished_at__isnull=False).first(), 60
    )
    page = admin_client.get(response.redirect_chain[-1][0], HTTP_ACCEPT_LANGUAGE="en")
    page = page.content.decode()
    assert run.totals == {"would_write": 2, "would_block": 2}, run.documents
    by_order = {d["platform_order_no"]: d for d in run.documents}
    assert by_order["112-0000024-1000001"]["outcome"] == "would_write"
    assert "F_PAEZ_PlatformOrderNo" in by_order["112-0000024-1000001"]["payload"]
    assert [c["count"] for c in run.causes] == [2]
    cause = run.causes[0]
    assert cause["error_class"] == "missing_mapping" and "SKU-GIFT-9001" in cause["label"]
    assert cause["fix_url"] == "/admin/mappings/materialmapping/"
    assert sorted(cause["examples"]) == ["112-0000024-2000001", "112-0000024-2000002"]
    assert (
        'data-total="would_block">2<' in page and 'href="/admin/mappings/materialmapping/"' in page
    )

    assert not SyncDocument.objects.filter(flow=flow).exists()
    assert not ExceptionTicket.objects.exists()
    assert (
        RemoteCall.objects.filter(system="kingdee", operation__icontains="save").count()
        == writes_before
    )
