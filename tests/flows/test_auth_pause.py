"""Issue 24 point 5: auth and configuration errors need a person. A rejected login pauses the
flow at once (the circuit) with one operator ticket and one alert; no timed retries. "Last
successful run" counts only runs that synced something, or says nothing was due."""

import pytest

from connectors.kingdee.models import KingdeeConnection
from flows.choices import DocumentState as S
from flows.choices import ErrorClass, FlowCode
from flows.engine import AUTH_PAUSED_UNTIL
from flows.models import Flow, SyncDocument
from flows.services import flow_resume
from flows.tasks import flow_run

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.usefixtures("english")
def test_wrong_kingdee_secret_pauses_the_flow_with_one_ticket_and_one_alert(
    demo_integration, storefront, alert_rule, admin_client
):
    """GIVEN a live canary flow and a Kingdee app secret changed to a wrong one after go-live
    WHEN two shipped orders are pulled and the flow runs three times THEN the flow is paused
    until a person resumes it, the orders wait with no timed retry (no next attempt, no retry
    count), exactly one operator ticket (class auth) and one alert exist, and "last successful
    run" did not move; WHEN the secret is fixed and the flow resumed THEN both orders sync, the
    ticket is resolved and "last successful run" moves."""
    from monitoring.models import Alert, ExceptionTicket, RemoteCall

    flow = Flow.objects.get(integration=demo_integration, code=FlowCode.SALES_OUTBOUND)
    connection = KingdeeConnection.objects.get(pk=demo_integration.kingdee_id)
    right = connection.app_secret
    connection.app_secret = "wrong"
    connection.save()  # as the admin does
    orders = [
        storefront.order(
            so_id=f"112-0000024-00000{n}",
            shop_id=10001,
            currency="CNY",
            lines=[("SKU-PB-1001", 1, "100")],
        )
        for n in (1, 2)
    ]
    storefront.place_and_ship(*orders)
    before = Flow.objects.get(pk=flow.pk).last_success_at

    flow_run(flow.pk)
    calls = RemoteCall.objects.filter(system="kingdee").count()
    flow_run(flow.pk)
    flow_run(flow.pk)
    assert RemoteCall.objects.filter(system="kingdee").count() == calls  # nothing retried

    flow.refresh_from_db()
    assert flow.paused_until == AUTH_PAUSED_UNTIL, list(
        SyncDocument.objects.filter(flow=flow).values_list("state", "last_error_message")
    )
    docs = list(SyncDocument.objects.filter(flow=flow, platform_order_no__startswith="112-0000024"))
    assert len(docs) == 2
    for doc in docs:
        assert (doc.state, doc.next_attempt_at, doc.retries) == (S.WAITING, None, 0)
        assert doc.last_error_class == ErrorClass.AUTH
    tickets = ExceptionTicket.objects.filter(error_class=ErrorClass.AUTH)
    assert tickets.count() == 1, list(tickets.values_list("trace_key", "status", "document_id"))
    ticket = tickets.get()
    assert ticket.trace_key == f"flow:{flow.pk}:circuit" and ticket.role == "operator"
    assert "will not help" in ticket.message
    assert Alert.objects.filter(error_class=ErrorClass.AUTH).count() == 1
    assert flow.last_success_at == before
    board = admin_client.get("/monitoring/board/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "credentials rejected, a person must resume it" in board

    connection.app_secret = right
    connection.save()
    assert flow_resume(flow=flow) is True
    flow_run(flow.pk)

    assert {d.state for d in SyncDocument.objects.filter(pk__in=[d.pk for d in docs])} == {S.SYNCED}
    ticket.refresh_from_db()
    assert ticket.status == "resolved"
    flow.refresh_from_db()
    assert flow.paused_until is None and flow.last_success_at and flow.last_success_at != before


def test_a_run_with_nothing_due_says_so_instead_of_counting_as_a_success(
    demo_integration, admin_client
):
    """GIVEN an enabled flow with nothing to pull WHEN it runs THEN "last successful run" stays
    empty and the board says nothing was due."""
    flow = Flow.objects.get(integration=demo_integration, code=FlowCode.PURCHASE_INBOUND)
    Flow.objects.filter(pk=flow.pk).update(last_success_at=None, last_idle_at=None)
    flow_run(flow.pk)
    flow.refresh_from_db()
    assert flow.last_success_at is None and flow.last_idle_at is not None
    board = admin_client.get("/monitoring/board/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "nothing was due at" in board
