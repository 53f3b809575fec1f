"""Fault injection is set per run through the control endpoint, the admin or the environment."""

from decimal import Decimal

import pytest
import requests

from sandbox import faults

pytestmark = pytest.mark.django_db(transaction=True)


def test_control_endpoint_sets_and_clears(live_server):
    """GIVEN the control endpoint WHEN a profile is PUT THEN simulators see it; DELETE clears."""
    url = f"{live_server.url}/sandbox/faults/kingdee/"
    answer = requests.put(url, json={"error_rate": 0.2, "latency_ms": 15}, timeout=5)
    assert answer.status_code == 200
    assert answer.json()["faults"]["error_rate"] == "0.2"
    faults.clear_cache()
    assert faults.current("kingdee").error_rate == Decimal("0.2")
    assert faults.current("kingdee").latency_ms == 15
    assert requests.delete(url, timeout=5).json()["faults"]["error_rate"] == "0"


def test_control_endpoint_rejects_unknown_settings(live_server):
    answer = requests.put(
        f"{live_server.url}/sandbox/faults/jushuitan/", json={"eror_rate": 1}, timeout=5
    )
    assert answer.status_code == 400
    assert "eror_rate" in answer.json()["message"]
    assert requests.get(f"{live_server.url}/sandbox/faults/nope/", timeout=5).status_code == 404


def test_environment_gives_defaults(monkeypatch):
    monkeypatch.setenv("PORTAL_SANDBOX_FAULTS_FX", '{"error_rate": 1}')
    faults.clear_cache()
    assert faults.roll(faults.current("fx").error_rate)
    assert not faults.roll(faults.current("robots").error_rate)
