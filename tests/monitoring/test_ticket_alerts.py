"""O2: a ticket opened by the engine raises an alert through the matching rules; a newer
failure of the same record does not alert again unless its problem changed."""

import pytest

from flows import engine
from monitoring.models import Alert, AlertRule
from tests.flows.test_engine import order

pytestmark = pytest.mark.django_db(transaction=True)


def test_blocked_document_raises_one_alert(test_flow, fake_target, robot_channel):
    """GIVEN a rule for missing mappings WHEN a document blocks THEN one alert is stored for the
    robot, naming the record; retrying the same problem does not alert twice."""
    AlertRule.objects.create(
        name="master data", channel=robot_channel, error_classes="missing_mapping"
    )
    fake_target.known_mappings = {"10001"}
    engine.ingest(flow=test_flow, records=[order(70, shop="10009")])
    engine.process(flow=test_flow)
    alerts = Alert.objects.all()
    assert alerts.count() == 1
    alert = alerts.get()
    assert "shop 10009" in alert.title and "PO-70" in alert.text
    from flows import services
    from flows.models import SyncDocument

    services.document_retry(document=SyncDocument.objects.get(source_key="70"))
    engine.process(flow=test_flow)
    assert Alert.objects.count() == 1


def test_no_rule_no_alert(test_flow, fake_target):
    fake_target.fx_down = True
    engine.ingest(flow=test_flow, records=[order(71)])
    engine.process(flow=test_flow)
    assert not Alert.objects.exists()
