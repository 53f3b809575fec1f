"""Issue 24 point 7, the small things: the startup banner shows the port the portal listens
on; "Test connection" is on the connection's change page; the canary scope is picked from the
systems' shops and warehouses, not typed as JSON; the engine's own fields are read-only."""

import os
import subprocess
from pathlib import Path

import pytest
from django.forms.models import model_to_dict

from flows.models import Flow
from flows.services import flow_ensure
from mappings.initialise import MasterRecord, record_known_codes

ROOT = Path(__file__).resolve().parents[2]


def test_banner_shows_the_port_it_listens_on():
    """GIVEN PORTAL_PORT=8109 WHEN `make run` prints its banner THEN it names port 8109 (the
    port the Procfile binds), and 8000 without it."""
    env = {**os.environ, "PORTAL_PORT": "8109"}
    out = subprocess.run(
        ["make", "-s", "banner"], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout
    assert "http://127.0.0.1:8109/admin/" in out
    env.pop("PORTAL_PORT")
    out = subprocess.run(
        ["make", "-s", "banner"], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout
    assert "http://127.0.0.1:8000/admin/" in out
    assert "${PORTAL_PORT:-8000}" in (ROOT / "Procfile").read_text()


@pytest.mark.django_db
def test_test_connection_is_on_the_change_page(make_integration, admin_client):
    """GIVEN a Kingdee connection WHEN its change page is saved with "Save and test
    connection" THEN it is tested at once: the result is stored (C1 reads it) and shown."""
    from connectors.kingdee.models import KingdeeConnection

    integration = make_integration()
    url = f"/admin/kingdee/kingdeeconnection/{integration.kingdee_id}/change/"
    page = admin_client.get(url).content.decode()
    assert 'data-action="test_connection"' in page
    current = model_to_dict(KingdeeConnection.objects.get())
    data = {k: v for k, v in current.items() if v is not None and not k.startswith("last_")}
    data["verify_tls"] = "on"
    data["server_url"] = "http://127.0.0.1:9/k3cloud/"  # nothing listens: fails at once
    response = admin_client.post(url, {**data, "_test_connection": "1"}, follow=True)
    assert response.redirect_chain and response.redirect_chain[-1][0] == url
    connection = KingdeeConnection.objects.get()
    assert connection.last_checked_at is not None and connection.last_check_ok is False
    assert connection.last_check_message in response.content.decode()


@pytest.mark.django_db
def test_canary_scope_is_a_form_and_engine_fields_are_read_only(make_integration, admin_client):
    """GIVEN shops and warehouses read at initialisation WHEN a flow's change page is opened
    THEN the canary scope offers them as checkboxes and the engine's fields (watermark,
    last run, failure counter, pause) are not editable; ticking one shop and one warehouse
    stores them and starts the canary clock."""
    integration = make_integration()
    for system, kind, codes in (
        ("jushuitan", "shop", ["10001", "10002"]),
        ("jushuitan", "warehouse", ["20001"]),
        ("kingdee", "warehouse", ["20001", "CK-02"]),
    ):
        record_known_codes(
            integration=integration,
            system=system,
            kind=kind,
            records=[MasterRecord(c, f"name {c}") for c in codes],
        )
    flow = flow_ensure(integration=integration, code="sales_outbound", enabled=False)
    url = f"/admin/flows/flow/{flow.pk}/change/"
    page = admin_client.get(url).content.decode()
    assert 'type="checkbox" name="canary_shops" value="10002"' in page
    assert 'type="checkbox" name="canary_warehouses" value="CK-02"' in page
    for internal in ("consecutive_failures", "last_run_at", "paused_until", "watermark-0-cursor"):
        assert f'name="{internal}"' not in page
    form = {
        "integration": integration.pk,
        "code": "sales_outbound",
        "batch_size": flow.batch_size,
        "poll_seconds": flow.poll_seconds,
        "settings": "{}",
        "canary_shops": ["10001"],
        "canary_warehouses": ["20001"],
        "watermark-TOTAL_FORMS": "1",
        "watermark-INITIAL_FORMS": "1",
        "watermark-MIN_NUM_FORMS": "0",
        "watermark-MAX_NUM_FORMS": "1",
        "watermark-0-id": flow.watermark.pk,
        "watermark-0-flow": flow.pk,
        "watermark-0-overlap_seconds": flow.watermark.overlap_seconds,
        "watermark-0-catchup_lag_seconds": flow.watermark.catchup_lag_seconds,
        "watermark-0-catchup_every_seconds": flow.watermark.catchup_every_seconds,
    }
    response = admin_client.post(url, form)
    assert response.status_code == 302, response.content.decode()[-3000:]
    flow = Flow.objects.get(pk=flow.pk)
    assert (flow.canary_shops, flow.canary_warehouses) == (["10001"], ["20001"])
    assert flow.canary_since is not None
