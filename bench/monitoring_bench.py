"""Benchmark of the operations pages on PostgreSQL (issue #9): trace search latency per key
type at ten million events, and process-board render time at a million documents.

Not a test. Fills a dedicated database with bulk SQL (generate_series), then measures:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_bench \\
        .venv/bin/python bench/monitoring_bench.py --documents 1000000 --events-per-document 10

The database is wiped first (its tables are truncated), so never point it at real data.
Event indexes are dropped during the load and rebuilt after (as a bulk import would).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "integration_portal.settings")
os.environ.setdefault("PORTAL_DEBUG", "true")

import django

django.setup()

from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import Client

SKUS = 5000


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def run(sql: str, params=None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])


def scalar(sql: str, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchone()[0]


def fill(documents: int, events_per_document: int, chunk: int) -> None:
    from connectors.jushuitan.models import JushuitanConnection
    from connectors.kingdee.models import KingdeeConnection
    from connectors.models import Integration
    from flows.choices import FlowCode
    from flows.models import Flow

    log("truncating")
    run(
        "TRUNCATE monitoring_event, monitoring_remotecall, monitoring_ticketcomment, "
        "monitoring_exceptionticket, flows_documentsku, flows_stockhold, flows_syncdocument, "
        "flows_watermark, flows_flow, connectors_integration, kingdee_kingdeeconnection, "
        "jushuitan_jushuitanconnection CASCADE"
    )
    kd = KingdeeConnection.objects.create(
        name="bench-kd",
        server_url="https://kingdee.invalid/k3cloud/",
        acct_id="a",
        username="u",
        app_id="1_x",
        app_secret="s",
    )
    js = JushuitanConnection.objects.create(
        name="bench-js", base_url="https://jushuitan.invalid", app_key="k", app_secret="s"
    )
    integration = Integration.objects.create(name="bench", code="bench", kingdee=kd, jushuitan=js)
    flows = [Flow.objects.create(integration=integration, code=c, enabled=True) for c in FlowCode]
    flow_ids = "ARRAY[" + ",".join(str(f.pk) for f in flows) + "]"

    log(f"inserting {documents:,} documents")
    # 97 % synced over the last 90 days; the rest spread over the backlog states.
    started = time.monotonic()
    for low in range(1, documents + 1, chunk):
        high = min(low + chunk - 1, documents)
        run(
            f"""
            INSERT INTO flows_syncdocument (
                created_at, updated_at, integration_id, flow_id, source_system, source_key,
                idempotency_key, source_payload, target_payload, payload_edited, target_key,
                target_id, state, attempts, retries, outcome_unknown, progress,
                last_error_class, last_error_code, last_error_message, last_error_stage,
                filter_reason, platform_order_no, kingdee_bill_no, shop_id, warehouse_code,
                synced_at, next_attempt_at)
            SELECT ts, ts, %s, ({flow_ids})[1 + g %% {len(flows)}], 'jushuitan', 'so:' || g,
                'bench:' || g, '{{}}'::jsonb, '{{}}'::jsonb, false,
                CASE WHEN st = 'synced' THEN 'XS-' || g ELSE '' END, '', st, 1,
                CASE WHEN st = 'waiting' THEN 2 ELSE 0 END, false, '{{}}'::jsonb,
                CASE st WHEN 'blocked' THEN 'missing_mapping' WHEN 'held'
                    THEN 'insufficient_stock' WHEN 'waiting' THEN 'connection'
                    WHEN 'failed' THEN 'remote_rejected' ELSE '' END,
                '', '', '', '', 'PO-' || g,
                CASE WHEN st = 'synced' THEN 'XS-' || g ELSE '' END,
                (10001 + g %% 20)::text, '20001',
                CASE WHEN st = 'synced' THEN ts + interval '2 minutes' END,
                CASE WHEN st = 'waiting' THEN now() + interval '5 minutes' END
            FROM (
                SELECT g,
                    now() - (({documents} - g)::float / {documents}) * interval '90 days' AS ts,
                    CASE WHEN g %% 100 < 97 THEN 'synced'
                         WHEN g %% 100 = 97 THEN 'blocked'
                         WHEN g %% 200 = 98 THEN 'held'
                         WHEN g %% 200 = 198 THEN 'failed'
                         ELSE 'waiting' END AS st
                FROM generate_series(%s, %s) AS g
            ) AS s
            """,
            [integration.pk, low, high],
        )
        run(
            f"""
            INSERT INTO flows_documentsku (document_id, sku)
            SELECT d.id, 'SKU-' || lpad(((d.g) %% {SKUS})::text, 5, '0')
            FROM (SELECT id, substr(source_key, 4)::int AS g FROM flows_syncdocument
                  WHERE idempotency_key IN (SELECT 'bench:' || x FROM generate_series(%s, %s) x)
            ) AS d
            UNION ALL
            SELECT d.id, 'SKU-B' || lpad(((d.g * 7) %% {SKUS})::text, 5, '0')
            FROM (SELECT id, substr(source_key, 4)::int AS g FROM flows_syncdocument
                  WHERE idempotency_key IN (SELECT 'bench:' || x FROM generate_series(%s, %s) x)
            ) AS d
            """,
            [low, high, low, high],
        )
    log(f"documents in {time.monotonic() - started:.0f} s")

    log("dropping event indexes for the load")
    indexes = [
        (name, definition)
        for name, definition in connection.cursor()
        .execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'monitoring_event' "
            "AND indexname NOT LIKE '%%_pkey'"
        )
        .fetchall()
    ]
    for name, _definition in indexes:
        run(f'DROP INDEX IF EXISTS "{name}"')
    total = documents * events_per_document
    log(f"inserting {total:,} events ({events_per_document} per document)")
    started = time.monotonic()
    low_id, high_id = (
        scalar("SELECT min(id) FROM flows_syncdocument"),
        scalar("SELECT max(id) FROM flows_syncdocument"),
    )
    for low in range(low_id, high_id + 1, chunk):
        run(
            f"""
            INSERT INTO monitoring_event (
                created_at, integration_id, document_id, flow_code, stage, level, from_state,
                to_state, message, detail, batch_id, platform_order_no, kingdee_bill_no)
            SELECT d.created_at + n * interval '20 seconds', d.integration_id, d.id, f.code,
                CASE WHEN n = 1 THEN 'extract' WHEN n = {events_per_document} THEN 'load'
                     ELSE 'transform' END,
                CASE WHEN n = {events_per_document} AND d.state IN ('blocked', 'failed')
                     THEN 'error' ELSE 'info' END,
                '', CASE WHEN n = {events_per_document} THEN d.state ELSE 'mapped' END,
                'Benchmark event ' || n || ' of ' || d.source_key, '{{}}'::jsonb,
                md5('batch-' || (d.id / 200))::uuid, d.platform_order_no, d.kingdee_bill_no
            FROM flows_syncdocument d JOIN flows_flow f ON f.id = d.flow_id
            CROSS JOIN generate_series(1, {events_per_document}) AS n
            WHERE d.id BETWEEN %s AND %s
            """,
            [low, low + chunk - 1],
        )
        done = scalar("SELECT count(*) FROM monitoring_event") if low % (chunk * 10) == 1 else 0
        if done:
            log(f"  {done:,} events")
    log(f"events in {time.monotonic() - started:.0f} s; rebuilding indexes")
    started = time.monotonic()
    for _name, definition in indexes:
        run(definition)
    log(f"event indexes rebuilt in {time.monotonic() - started:.0f} s")
    run(
        """
        INSERT INTO monitoring_remotecall (created_at, system, operation, url, request,
            response, status, duration_ms, error, batch_id)
        SELECT min(created_at), 'kingdee', 'BatchSave SAL_OUTSTOCK', '',
            '{"app_secret": "bench-secret"}', '{"Result": {}}', 200, 120, '', batch_id
        FROM monitoring_event WHERE stage = 'load' GROUP BY batch_id
        """
    )
    run("ANALYZE")


def median_ms(fn, samples) -> float:
    times = []
    for sample in samples:
        started = time.perf_counter()
        fn(sample)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def measure(documents: int, repeats: int) -> None:
    import random

    from django.contrib.auth import get_user_model

    from monitoring.selectors import board_build, trace_search

    rng = random.Random(9)
    docs = scalar("SELECT count(*) FROM flows_syncdocument")
    events = scalar("SELECT count(*) FROM monitoring_event")
    log(f"measuring with {docs:,} documents and {events:,} events")

    def synced_no():
        while True:
            g = rng.randint(1, documents)
            if g % 100 < 97:
                return g

    cases = {
        "platform order no.": [f"PO-{rng.randint(1, documents)}" for _ in range(repeats)],
        "Kingdee bill no.": [f"XS-{synced_no()}" for _ in range(repeats)],
        "SKU": [f"SKU-{rng.randint(0, SKUS - 1):05d}" for _ in range(repeats)],
        "source key": [f"so:{rng.randint(1, documents)}" for _ in range(repeats)],
        "unknown key": [f"NOPE-{n}" for n in range(repeats)],
    }
    print("\nTrace search (selector: documents + events + remote calls), median of", repeats)
    for label, keys in cases.items():
        found = trace_search(query=keys[0])
        ms = median_ms(lambda k: trace_search(query=k), keys)
        print(
            f"  {label:<20} {ms:8.1f} ms   (first key: {len(found.documents)} documents, "
            f"{len(found.entries)} trace entries)"
        )
    settings.PORTAL_BOARD_CACHE_SECONDS = 0
    board_ms = median_ms(lambda _x: board_build(), range(repeats))
    user, _created = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]

    def render(path):
        response = client.get(path)
        assert response.status_code == 200, response.status_code

    page_ms = median_ms(lambda _x: render("/monitoring/board/"), range(repeats))
    json_ms = median_ms(lambda _x: render("/monitoring/board/data/"), range(repeats))
    search_page_ms = median_ms(
        lambda k: render(f"/monitoring/search/?q={k}"), cases["platform order no."]
    )
    metrics_ms = median_ms(lambda _x: render("/monitoring/metrics"), range(repeats))
    print("\nProcess board, median of", repeats)
    print(f"  board_build()            {board_ms:8.1f} ms")
    print(f"  GET /monitoring/board/   {page_ms:8.1f} ms (full HTML render)")
    print(f"  GET /monitoring/board/data/ {json_ms:5.1f} ms (uncached JSON)")
    print(f"  GET /monitoring/search/  {search_page_ms:8.1f} ms (full HTML, platform order no.)")
    print(f"  GET /monitoring/metrics  {metrics_ms:8.1f} ms (every state of every document)")


def create_database_if_missing() -> None:
    """The benchmark's database is created on first use (its tables are wiped on every run)."""
    import psycopg

    params = connection.get_connection_params()
    name = connection.settings_dict["NAME"]
    admin = {k: v for k, v in params.items() if k in ("host", "port", "user", "password")}
    with psycopg.connect(dbname="postgres", autocommit=True, **admin) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return
        conn.execute(f'CREATE DATABASE "{name}"')
        log(f"created database {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=1_000_000)
    parser.add_argument("--events-per-document", type=int, default=10)
    parser.add_argument("--chunk", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--skip-fill", action="store_true", help="measure the existing data")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Set DATABASE_URL to a PostgreSQL database reserved for the benchmark.")
    create_database_if_missing()
    call_command("migrate", verbosity=0)
    if not args.skip_fill:
        started = time.monotonic()
        fill(args.documents, args.events_per_document, args.chunk)
        log(f"filled in {time.monotonic() - started:.0f} s")
    measure(args.documents, args.repeats)


if __name__ == "__main__":
    main()
