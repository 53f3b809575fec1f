"""The fixture world the monitoring tests stand on is what it says (guards the other tests)."""

import pytest

from flows.choices import DocumentState as S
from monitoring.models import ExceptionTicket

pytestmark = pytest.mark.django_db(transaction=True)


def test_world_has_every_state(world):
    """GIVEN the engine-made world THEN each document is in the state the tests rely on, and
    the problems have tickets in the right queues (O4 queues per error class)."""
    for doc in world["synced"]:
        doc.refresh_from_db()
        assert doc.state == S.SYNCED
    assert {d.state for d in world["mapping"]} == {S.BLOCKED}
    assert world["duplicate"].state == S.BLOCKED
    assert world["held"].state == S.HELD
    assert world["waiting"].state == S.WAITING
    assert world["filtered"].state == S.FILTERED
    queues = dict(ExceptionTicket.objects.values_list("document__source_key", "role"))
    assert queues == {
        "so:4": "master_data_admin",
        "so:5": "master_data_admin",
        "so:6": "finance",
        "so:7": "purchasing",
    }
