"""The fixture world the monitoring tests stand on is what it says (guards the other tests)."""

import pytest

from flows.choices import DocumentState as S
from monitoring.models import ExceptionTicket
from monitoring.services import ticket_of_document

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
    # Issue 20 point 1: each document's ticket is its own or its cause's (one for both so:4
    # and so:5, blocked by the same missing shop mapping).
    queues = {
        doc.source_key: ticket_of_document(doc).role
        for doc in (*world["mapping"], world["duplicate"], world["held"])
    }
    assert ticket_of_document(world["mapping"][0]) == ticket_of_document(world["mapping"][1])
    assert ExceptionTicket.objects.count() == 3
    assert queues == {
        "so:4": "master_data_admin",
        "so:5": "master_data_admin",
        "so:6": "finance",
        "so:7": "purchasing",
    }
