"""Benchmark of F1 material sync at volume (issue #11): N materials audited in Kingdee reach
Jushuitan's item library as fast as Jushuitan's rate limits allow, never faster.

Not a test. Builds its own database (dropped and created again), starts the web server with
the simulators and worker processes, writes N finished-goods materials straight into the
Kingdee simulator's tables (copies of a demo material with their own numbers), switches the
Jushuitan simulator's own rate limit on (5 calls/s and 100 calls/min per app:
docs/protocols/jushuitan.md §2.1)
and runs the material sync flow until every SKU is in the simulator. Then it reads the
timestamps of the portal's Jushuitan calls (RemoteCall rows) and prints:

- calls per second and per minute: the busiest 1-s and 60-s windows of the calls' send times
  (estimated as answer time − duration, so the 1-s figure can read one high) and the mean
  rate over the run as a share of the binding limit (target >= 90%);
- answers the simulator's own limiter refused (must be 0: that limiter is the authority on
  "never above the limit", and the portal's shared limiter keeps below it instead of
  bouncing off it);
- exactly once: SKUs in Jushuitan per material (must be 1) and documents not synced.

    .venv/bin/python bench/material_sync_bench.py --materials 50000
"""

from __future__ import annotations

import argparse
import bisect
import json
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Processes, configure, log


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--materials", type=int, default=50_000)
    parser.add_argument("--workers", type=int, default=2, help="pool processes")
    parser.add_argument("--api-per-second", type=int, default=5, help="Jushuitan's limit")
    parser.add_argument("--api-per-minute", type=int, default=100, help="Jushuitan's limit")
    parser.add_argument(
        "--client-per-minute",
        type=int,
        default=0,
        help="the portal's limiter per minute (0: the connection's default)",
    )
    parser.add_argument(
        "--client-per-second",
        type=int,
        default=0,
        help="the portal's limiter per second (0: the connection's default)",
    )
    parser.add_argument("--port", type=int, default=8767)
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/portal_bench_f1"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--timeout", type=float, default=7200)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    return parser.parse_args()


ARGS = parse_args()
configure(database_url=ARGS.database_url, redis_url=ARGS.redis_url, port=ARGS.port)

from django.db import transaction
from django.db.models import Count
from django.utils import timezone


def setup(procs: Processes):
    from connectors.jushuitan.models import JushuitanConnection
    from flows.choices import FlowCode
    from flows.models import Flow, Watermark
    from sandbox.demo_setup import demo_integration_setup
    from sandbox.jushuitan.models import ApiSettings

    integration = demo_integration_setup(base_url=procs.base_url)
    Flow.objects.filter(integration=integration).exclude(code=FlowCode.MATERIAL_SYNC).update(
        enabled=False
    )
    flow = Flow.objects.get(integration=integration, code=FlowCode.MATERIAL_SYNC)
    api = ApiSettings.load()
    api.rate_limit_enabled = True
    api.per_second, api.per_minute = ARGS.api_per_second, ARGS.api_per_minute
    api.save()
    updates = {}
    if ARGS.client_per_minute:
        updates["rate_per_minute"] = ARGS.client_per_minute
    if ARGS.client_per_second:
        updates["rate_per_second"] = ARGS.client_per_second
    if updates:
        JushuitanConnection.objects.filter(pk=integration.jushuitan_id).update(**updates)
    Watermark.objects.filter(flow=flow).update(
        cursor=timezone.now() - timedelta(seconds=5), last_catchup_at=timezone.now()
    )
    return integration, flow


def seed_materials(count: int) -> list[str]:
    """`count` audited finished-goods materials, copies of the first demo material."""
    from sandbox import demo_catalogue as catalogue
    from sandbox.kingdee.models import KdBaseData

    template = KdBaseData.objects.get(
        form_id="BD_MATERIAL", number=catalogue.MATERIALS[0]["number"]
    )
    now = timezone.now()
    numbers = [f"BM-{n:06d}" for n in range(count)]
    rows = []
    for number in numbers:
        model = {**template.model, "FNumber": number, "FName": f"Bench material {number}"}
        fields = {**template.fields, "fnumber": number, "fname": f"Bench material {number}"}
        rows.append(
            KdBaseData(
                form_id="BD_MATERIAL",
                number=number,
                name=model["FName"],
                org_number=template.org_number,
                document_status=template.document_status,
                forbid_status=template.forbid_status,
                fields=fields,
                model=model,
                created_at=now,
                modified_at=now,
                approved_at=now,
            )
        )
    with transaction.atomic():
        KdBaseData.objects.bulk_create(rows, batch_size=2000)
    return numbers


def skus_landed(numbers: list[str]) -> int:
    from sandbox.jushuitan.models import Sku

    return sum(
        Sku.objects.filter(sku_id__in=numbers[i : i + 5000]).count()
        for i in range(0, len(numbers), 5000)
    )


def busiest(times: list[float], span: float) -> int:
    """Most calls in any window of `span` seconds (times sorted)."""
    best = 0
    for i, t in enumerate(times):
        best = max(best, bisect.bisect_left(times, t + span) - i)
    return best


class Autovacuum(threading.Thread):
    """Stands in for PostgreSQL's autovacuum daemon when the server has it switched off (it is
    on by default; the documents table's thresholds are tuned by migration flows 0006): a
    VACUUM ANALYZE of the documents table every `every` seconds."""

    def __init__(self, every: float) -> None:
        super().__init__(daemon=True)
        self.every = every
        self.stopped = threading.Event()
        self.runs = 0

    def run(self) -> None:
        import psycopg

        with psycopg.connect(ARGS.database_url, autocommit=True) as conn:
            while not self.stopped.wait(self.every):
                conn.execute("VACUUM (ANALYZE) flows_syncdocument")
                self.runs += 1


def autovacuum_is_on() -> bool:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW autovacuum")
        return cursor.fetchone()[0] == "on"


def main() -> None:
    from flows.models import SyncDocument
    from flows.tasks import flow_run
    from monitoring.models import RemoteCall

    procs = Processes(port=ARGS.port, tag="bench-f1")
    figures: dict = {"materials": ARGS.materials}
    try:
        procs.web()
        integration, flow = setup(procs)
        log(f"seeding {ARGS.materials} materials in the Kingdee simulator")
        numbers = seed_materials(ARGS.materials)
        vacuum = None
        if not autovacuum_is_on():
            log("PostgreSQL's autovacuum is off on this server: vacuuming the documents table")
            log("every 30 s instead, as autovacuum would with the table's tuned thresholds")
            vacuum = Autovacuum(30.0)
            vacuum.start()
        figures["autovacuum"] = "server" if vacuum is None else "stand-in every 30 s"
        procs.worker(ARGS.workers)
        procs.beat()  # the flow's 1-minute schedule and the token keeper, as deployed
        began = timezone.now()
        flow_run.delay(flow.pk)
        deadline = time.monotonic() + ARGS.timeout
        last_log, landed = 0.0, 0
        while (landed := skus_landed(numbers)) < len(numbers):
            if time.monotonic() > deadline:
                raise SystemExit(f"only {landed} of {len(numbers)} SKUs within the timeout")
            if time.monotonic() - last_log > 30:
                log(f"  {landed}/{len(numbers)} SKUs in Jushuitan")
                last_log = time.monotonic()
            time.sleep(1)
        finished = timezone.now()
        procs.stop_all()

        integration.jushuitan.refresh_from_db()
        calls = RemoteCall.objects.filter(
            system="jushuitan", created_at__gte=began, created_at__lte=finished
        )
        # RemoteCall rows are written when the answer arrives; the duration gives the send time
        stamps = sorted(
            created.timestamp() - duration / 1000
            for created, duration in calls.values_list("created_at", "duration_ms")
        )
        wall = stamps[-1] - stamps[0] if len(stamps) > 1 else 0.0
        per_second_limit = min(ARGS.api_per_second, integration.jushuitan.rate_per_second)
        per_minute_limit = ARGS.api_per_minute
        binding = min(per_second_limit, per_minute_limit / 60)
        mean = (len(stamps) - 1) / wall if wall else 0.0
        refused = calls.filter(error__icontains="rate").count()
        figures.update(
            {
                "wall_seconds": round((finished - began).total_seconds(), 1),
                "jushuitan_calls": len(stamps),
                "by_operation": dict(calls.values_list("operation").annotate(n=Count("id"))),
                "busiest_second": busiest(stamps, 1.0),
                "busiest_minute": busiest(stamps, 60.0),
                "limits": {
                    "api_per_second": ARGS.api_per_second,
                    "api_per_minute": ARGS.api_per_minute,
                    "client_per_second": integration.jushuitan.rate_per_second,
                    "client_per_minute": integration.jushuitan.rate_per_minute,
                },
                "mean_calls_per_second": round(mean, 3),
                "share_of_api_limit": round(mean / binding, 3) if binding else None,
                "refused_for_rate_limit": refused,
                "skus_landed": skus_landed(numbers),
                "documents_not_synced": SyncDocument.objects.filter(
                    flow=flow, source_key__startswith="BM-"
                )
                .exclude(state="synced")
                .count(),
            }
        )
    finally:
        procs.stop_all()
    print(json.dumps(figures, indent=2, ensure_ascii=False))
    ok_rate = (figures.get("share_of_api_limit") or 0) >= 0.9
    # The simulator's own limiter is the authority (it refuses what exceeds 5/s or 100/min);
    # the busiest second from the client's timestamps is an estimate (send ≈ answer − duration).
    ok_limit = (
        figures["busiest_minute"] <= ARGS.api_per_minute and figures["refused_for_rate_limit"] == 0
    )
    log(
        f"mean {figures['mean_calls_per_second']} calls/s = "
        f"{figures['share_of_api_limit']:.0%} of the limit ({'≥' if ok_rate else '<'} 90%); "
        f"busiest second ≈{figures['busiest_second']}/{ARGS.api_per_second}, busiest minute "
        f"{figures['busiest_minute']}/{ARGS.api_per_minute}, refused "
        f"{figures['refused_for_rate_limit']}: {'within' if ok_limit else 'ABOVE'} the limits"
    )
    if ARGS.json:
        ARGS.json.write_text(json.dumps(figures, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
