"""/healthz reports database and broker reachability (200 healthy, 503 otherwise)."""

from unittest import mock

import pytest

pytestmark = pytest.mark.django_db


def test_healthz_ok(client):
    """GIVEN a reachable database and broker WHEN /healthz THEN 200 with both checks ok."""
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is True


def test_healthz_broker_down(client, settings):
    """GIVEN an unreachable broker WHEN /healthz THEN 503 naming the broker as down."""
    from integration_portal.celery import app

    with mock.patch.object(app, "connection_for_write", side_effect=ConnectionRefusedError("down")):
        response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["broker"] == {
        "ok": False,
        "error": "ConnectionRefusedError",
        "detail": "down",
    }
    assert body["checks"]["database"]["ok"] is True


def test_healthz_database_down(client):
    """GIVEN a database that fails WHEN /healthz THEN 503 naming the database as down."""
    from django.db import OperationalError

    with mock.patch("core.views.connection.cursor", side_effect=OperationalError("gone")):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"]["ok"] is False
