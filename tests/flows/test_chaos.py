"""The chaos run in small (issue #12; bench/chaos.py is the full one): nothing lost, nothing
twice while both simulators fail calls, a worker is killed and Redis restarts."""

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def chaos_database_url():
    """A database of its own on the test run's PostgreSQL server (the chaos run's processes
    share it; the test database of this process stays untouched)."""
    if connection.vendor != "postgresql":
        pytest.skip("the chaos run needs PostgreSQL: its processes share one database")
    if shutil.which("redis-server") is None:
        pytest.skip("the chaos run needs redis-server (it restarts a private one)")
    params = connection.settings_dict
    name = f"portal_chaos_{os.getpid()}"
    host = params.get("HOST") or "127.0.0.1"
    auth = params["USER"] + (f":{params['PASSWORD']}" if params.get("PASSWORD") else "")
    url = f"postgres://{auth}@{host}:{params.get('PORT') or 5432}/{name}"
    yield url
    import psycopg

    admin = urlparse(url)._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.slow
def test_chaos_nothing_lost_nothing_twice(chaos_database_url, tmp_path):
    """F2.1/F4.1/F7.1 exactly once under chaos: GIVEN 240 shipped orders in four waves, 8
    audited purchase inbounds and 8 transfers, both simulators failing 20% of calls with
    latency spikes, answers lost after commit, session/token expiry and rate-limit answers,
    one worker SIGKILLed, one stopped with SIGTERM to its process group (issue 15) and Redis
    restarted (losing every queued task) WHEN the portal's own processes (web, beat, two
    workers) run until drained THEN every order has exactly one
    audited Kingdee outbound, every Kingdee bill exactly one Jushuitan document per external
    id, stock in both systems and money per currency equal the independent calculation, and
    no ticket is left for a transient cause."""
    out = tmp_path / "chaos.json"
    argv = [
        sys.executable,
        str(ROOT / "bench" / "chaos.py"),
        *("--orders", "240", "--purchases", "8", "--transfers", "8"),
        *("--waves", "4", "--wave-seconds", "8", "--kills", "1", "--redis-restarts", "1"),
        *("--terms", "1"),
        *("--workers", "2", "--concurrency", "1", "--lease-seconds", "30"),
        *("--drain-timeout", "420", "--tag", f"chaos-test-{os.getpid()}"),
        *("--port", str(_free_port()), "--redis-port", str(_free_port())),
        *("--database-url", chaos_database_url, "--json", str(out)),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    run = subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    assert out.exists(), run.stdout[-4000:] + run.stderr[-4000:]
    figures = json.loads(out.read_text())
    assert run.returncode == 0, json.dumps(figures, indent=1)[-4000:]

    assert figures["worker_kills"] == 1
    assert figures["worker_terms"] == 1  # issue 15: a SIGTERM stop on top of the kill
    assert figures["redis_restarts"] == 1
    assert figures["remote_calls_failed"] > 0  # the faults did bite
    assert figures["sales_outbound"] == {"orders": 240, "bills": 240, "twice": 0, "missing": 0}
    assert figures["sales_outbound_bills_total"] == 240
    assert figures["jushuitan_documents"] == {
        "purchase_in": {"expected": 8, "documents": 8, "twice": 0, "missing": 0},
        "other_inout": {"expected": 16, "documents": 16, "twice": 0, "missing": 0},
    }
    assert figures["kingdee_stock_equal"] and figures["kingdee_stock_checked"] > 0
    assert figures["jushuitan_stock_equal"] and figures["jushuitan_stock_checked"] > 0
    assert figures["money"]["equal"], figures["money"]
    for source, target in figures["money"]["trade"].values():
        assert source == target
    assert figures["tickets"]["open_transient"] == 0, figures["tickets"]
    assert figures["documents_by_state"] == {"synced": 240 + 8 + 8}
