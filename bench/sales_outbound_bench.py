"""Benchmark of F2 sales outbound (issues #6 and #11): shipped Jushuitan orders → audited
Kingdee SAL_OUTSTOCK, the portal against a naive cron script, on PostgreSQL + Redis.

Not a test. It builds a dedicated database (dropped and created again, so never point it at
real data), starts the portal's web server (gunicorn serving the simulators, as `make run`
does) and Celery workers as separate processes, sets up the demo integration
(sandbox/demo_setup.py), seeds stock in the Kingdee simulator and writes shipped orders
(1–5 lines each) straight into the Jushuitan simulator's tables. Then it measures:

- throughput: wall time and documents/second from the first pull to the last audited bill,
  with 1 and with 2 worker processes, and the remote calls per 1,000 documents (RemoteCall
  rows, i.e. the remote_call signal, both systems, pages and batches included);
- exactly once: bills per platform order no. in the Kingdee simulator (must be 1);
- the naive script (query the orders, then Save + Submit + Audit one order at a time with
  the same clients) over its own orders, the same figures;
- peak RSS of a worker process while it syncs (psutil, sampled every 0.2 s);
- latency shipped → audited with the 1-minute beat schedule (p95) and with a push to
  POST /jushuitan/order/outbound (p95);
- queries per document of the engine (CaptureQueriesContext around an in-process run),
  optionally under pyinstrument (--profile).

    .venv/bin/python bench/sales_outbound_bench.py --orders 10000 --runs 3

bench/README.md explains the options and holds the latest figures.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    FORM,
    ROOT,
    Processes,
    RssSampler,
    bills_of,
    calls_by_operation,
    configure,
    exactly_once,
    generate_orders,
    log,
    remote_calls,
    seed_kingdee_stock,
    wait_audited,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/portal_bench_f2"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=10_000, help="orders per throughput run")
    parser.add_argument("--naive-orders", type=int, default=10_000, help="orders of the naive run")
    parser.add_argument("--runs", type=int, default=3, help="runs per configuration (median)")
    parser.add_argument("--naive-runs", type=int, default=1, help="runs of the naive script")
    parser.add_argument(
        "--workers", default="1,2", help="worker process counts to measure, e.g. 1,2"
    )
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--latency-seconds", type=int, default=240, help="0 skips latency")
    parser.add_argument("--latency-rate", type=float, default=2.0, help="orders/s shipped")
    parser.add_argument("--push-orders", type=int, default=200, help="0 skips the push run")
    parser.add_argument("--queries-orders", type=int, default=1000, help="0 skips the count")
    parser.add_argument(
        "--no-catchup",
        action="store_true",
        help="skip measuring the catch-up pass after each throughput run",
    )
    parser.add_argument(
        "--backlog-orders",
        type=int,
        default=0,
        help="scale-out without the pull: this many pushed orders per worker count (0 skips)",
    )
    parser.add_argument(
        "--read-orders",
        type=int,
        default=0,
        help="read ceiling: time reading this many shipments by the F2 source alone (0 skips)",
    )
    parser.add_argument("--profile", action="store_true", help="pyinstrument the query run")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    return parser.parse_args()


ARGS = parse_args()


configure(database_url=ARGS.database_url, redis_url=ARGS.redis_url, port=ARGS.port)


from django.db import connection
from django.db.models import Max
from django.utils import timezone


def base_url() -> str:
    return f"http://127.0.0.1:{ARGS.port}"


# --- data ---------------------------------------------------------------------------------------
def demo_setup():
    from flows.choices import FlowCode
    from flows.models import Flow
    from sandbox.demo_setup import demo_integration_setup
    from sandbox.jushuitan.models import ApiSettings

    integration = demo_integration_setup(base_url=base_url())
    settings = ApiSettings.load()
    log(
        f"Jushuitan simulator: rate limit {'on' if settings.rate_limit_enabled else 'off'} "
        f"({settings.per_second}/s, {settings.per_minute}/min); client limiter "
        f"{integration.jushuitan.rate_per_second}/s, {integration.jushuitan.rate_per_minute}/min"
    )
    # Only F2 runs: the other flows' schedules would add calls that are not F2's.
    Flow.objects.filter(integration=integration).exclude(code=FlowCode.SALES_OUTBOUND).update(
        enabled=False
    )
    return integration, Flow.objects.get(integration=integration, code=FlowCode.SALES_OUTBOUND)


def last_audit(so_ids: list[str]) -> datetime:
    return max(
        bills_of(so_ids[i : i + 5000]).aggregate(at=Max("bill__approved_at"))["at"]
        for i in range(0, len(so_ids), 5000)
    )


# --- windows of modification time, so that runs never read each other's orders --------------
class Timeline:
    """Hands out disjoint hours of ship times in the past, oldest first: every flow run pulls
    from its own hour up to now, which holds no order of an earlier run; naive hours come
    first and lie before every flow hour minus the overlap and the catch-up window."""

    def __init__(self, slots: int) -> None:
        self.hour = timedelta(hours=1)
        self.next = timezone.now().replace(microsecond=0) - self.hour * (slots * 2 + 4)

    def take(self) -> tuple[datetime, datetime]:
        start = self.next
        self.next = start + self.hour * 2  # an empty hour between runs
        return start, start + self.hour


def flow_ready(flow, *, cursor: datetime, catchup_ts: int | None = None) -> None:
    """The flow as a running deployment has it: polled up to just before these orders, its
    catch-up pass done recently (the trailing catch-up is measured by its own figure)."""
    from flows.models import Watermark

    version = {"catchup_ts": catchup_ts} if catchup_ts else {}
    Watermark.objects.filter(flow=flow).update(
        cursor=cursor, last_catchup_at=timezone.now(), **version
    )


def newest_order_version() -> int:
    from django.db.models import Max

    from sandbox.jushuitan.models import Order, StockDocument

    return max(
        Order.objects.aggregate(ts=Max("ts"))["ts"] or 0,
        StockDocument.objects.aggregate(ts=Max("ts"))["ts"] or 0,
    )


def catchup_cost(flow, documents: int) -> dict:
    """The next catch-up pass (补漏), in this process: by row version it reads the orders
    changed since the last pass, i.e. this run's, once more."""
    from flows.engine import pull
    from flows.models import Flow
    from monitoring.models import RemoteCall

    before = RemoteCall.objects.filter(system="jushuitan").count()
    stats = pull(flow=Flow.objects.select_related("integration").get(pk=flow.pk), catchup=True)
    calls = RemoteCall.objects.filter(system="jushuitan").count() - before
    return {
        "calls": calls,
        "rows_read": stats.pulled,
        "calls_per_1000": round(calls * 1000 / max(documents, 1), 1),
    }


# --- throughput ---------------------------------------------------------------------------------
def throughput_run(procs: Processes, flow, timeline: Timeline, *, workers: int, seed: int):
    from flows.tasks import flow_run

    start, end = timeline.take()
    tag = f"W{workers}S{seed}"
    caught_up_to = newest_order_version() + 1  # a catch-up ran just before these orders came
    so_ids = generate_orders(ARGS.orders, tag=tag, start=start, end=end, wms_co_id=20001, seed=seed)
    flow_ready(flow, cursor=start - timedelta(seconds=1), catchup_ts=caught_up_to)
    worker = procs.worker(workers)
    sampler = RssSampler(worker.pid)
    sampler.start()
    began = timezone.now()
    flow_run.delay(flow.pk)
    wait_audited(so_ids, timeout=3600, label=f"{workers} worker(s)")
    finished = last_audit(so_ids)
    peak = sampler.stop()
    procs.stop("worker")
    wall = (finished - began).total_seconds()
    calls = remote_calls(began, finished + timedelta(seconds=1))
    total_calls = sum(calls.values())
    connection = flow.integration.jushuitan
    connection.refresh_from_db()
    page = 50 if (flow.settings or {}).get("source", "sales_out") == "sales_out" else 100
    # The read ceiling: full pages at the portal's share of the per-minute limit.
    ceiling = page * connection.rate_per_minute / 60
    figures = {
        "workers": workers,
        "documents": len(so_ids),
        "wall_seconds": round(wall, 1),
        "docs_per_second": round(len(so_ids) / wall, 1),
        "read_ceiling_docs_per_second": round(ceiling, 1),
        "share_of_ceiling": round(len(so_ids) / wall / ceiling, 3),
        "calls": calls,
        "calls_per_1000": round(total_calls * 1000 / len(so_ids), 1),
        "operations": calls_by_operation(began, finished + timedelta(seconds=1)),
        "peak_worker_rss_mb": round(peak / 2**20, 1),
        "exactly_once": exactly_once(so_ids),
        "catchup": None if ARGS.no_catchup else catchup_cost(flow, len(so_ids)),
    }
    log(f"  {json.dumps(figures, ensure_ascii=False)}")
    return figures


def ideal_seconds(calls: int, per_second: int, per_minute: int) -> float:
    """The least time `calls` calls can take under the portal's limiter windows (the first
    call at 0 s): the k-th waits for its second and its minute."""
    if calls <= 0:
        return 0.0
    last = calls - 1
    return 60.0 * (last // per_minute) + (last % per_minute) // per_second * 1.0


def read_run(flow, timeline: Timeline) -> dict:
    """The pull's read alone: every shipment of one hour through the F2 source's query at its
    largest page, against the fewest pages the page size allows under the portal's limiter
    (the read ceiling). Starts after a fresh minute window."""
    from connectors.jushuitan.client import ENDPOINTS, JushuitanClient
    from monitoring.models import RemoteCall

    start, end = timeline.take()
    generate_orders(ARGS.read_orders, tag="READ", start=start, end=end, wms_co_id=20001, seed=7)
    connection = flow.integration.jushuitan
    connection.refresh_from_db()
    client = JushuitanClient(connection)
    spec = ENDPOINTS["sales_out"]
    time.sleep(61)  # a fresh per-minute window, as a flow that was idle
    before = RemoteCall.objects.filter(system="jushuitan", operation=spec.path).count()
    began = time.monotonic()
    rows = {
        r["io_id"]
        for r in client.read(
            "sales_out",
            start=start - timedelta(seconds=1),
            end=end + timedelta(seconds=1),
            overlap=timedelta(0),
            status="Confirmed",
            is_get_cbfinance=True,
        )
    }
    seconds = time.monotonic() - began
    calls = RemoteCall.objects.filter(system="jushuitan", operation=spec.path).count() - before
    fewest = -(-len(rows) // spec.max_page_size)
    ideal = ideal_seconds(fewest, connection.rate_per_second, connection.rate_per_minute)
    figures = {
        "rows": len(rows),
        "calls": calls,
        "fewest_calls": fewest,
        "seconds": round(seconds, 1),
        "rows_per_second": round(len(rows) / seconds, 1),
        "ceiling_rows_per_second": round(len(rows) / ideal, 1) if ideal else None,
        "share_of_ceiling": round(ideal / seconds, 3) if ideal else None,
    }
    log(f"  read: {json.dumps(figures)}")
    return figures


# --- scale-out without the Jushuitan pull ---------------------------------------------------
def backlog_run(procs: Processes, flow, timeline: Timeline, *, workers: int, seed: int) -> dict:
    """A backlog of pushed orders (stored as the push endpoint stores them), then `workers`
    pool processes each asked to work the flow: what the workers themselves can do, with the
    Jushuitan rate limit out of the way (pushes do not page the order query)."""
    from flows.definitions import definition_for
    from flows.definitions.base import FlowContext
    from flows.engine import ingest
    from flows.tasks import flow_process
    from sandbox.jushuitan.api.orders import _order_row
    from sandbox.jushuitan.models import Order

    start, end = timeline.take()
    so_ids = generate_orders(
        ARGS.backlog_orders,
        tag=f"B{workers}S{seed}",
        start=start,
        end=end,
        wms_co_id=20001,
        seed=seed,
    )
    definition, ctx = definition_for(flow.code), FlowContext(flow)
    for i in range(0, len(so_ids), 1000):
        rows = Order.objects.filter(so_id__in=so_ids[i : i + 1000])
        ingest(
            flow=flow,
            records=(definition.parse_push(ctx, _order_row(row)) for row in rows),
            via="push",
        )
    worker = procs.worker(workers)
    sampler = RssSampler(worker.pid)
    sampler.start()
    began = timezone.now()
    for _n in range(workers):
        flow_process.delay(flow.pk)
    wait_audited(so_ids, timeout=3600, label=f"backlog, {workers} worker(s)")
    finished = last_audit(so_ids)
    peak = sampler.stop()
    procs.stop("worker")
    wall = (finished - began).total_seconds()
    calls = remote_calls(began, finished + timedelta(seconds=1))
    figures = {
        "workers": workers,
        "documents": len(so_ids),
        "wall_seconds": round(wall, 1),
        "docs_per_second": round(len(so_ids) / wall, 1),
        "calls_per_1000": round(sum(calls.values()) * 1000 / len(so_ids), 1),
        "peak_worker_rss_mb": round(peak / 2**20, 1),
        "exactly_once": exactly_once(so_ids),
    }
    log(f"  backlog: {json.dumps(figures, ensure_ascii=False)}")
    return figures


# --- the naive cron script ----------------------------------------------------------------------
def naive_run(integration, flow, timeline: Timeline, *, seed: int):
    """What a hand-written cron job does: query the shipped orders, then for each one build
    the bill and Save, Submit and Audit it, one order at a time, with the same clients."""
    from connectors.jushuitan.client import client_for as jushuitan_client
    from connectors.kingdee.client import client_for as kingdee_client
    from flows.definitions.base import FlowContext
    from flows.definitions.sales_outbound import SalesOutbound

    start, end = timeline.take()
    so_ids = generate_orders(
        ARGS.naive_orders, tag=f"N{seed}", start=start, end=end, wms_co_id=20001, seed=seed
    )
    jst = jushuitan_client(integration.jushuitan)
    kd = kingdee_client(integration.kingdee)
    definition, ctx = SalesOutbound(), FlowContext(flow)
    began = timezone.now()
    failures = 0
    for order in jst.orders(
        start=start, end=end + timedelta(seconds=1), status="Sent", is_get_cbfinance=True
    ):
        document = SimpleNamespace(
            source_key=f"o:{order.get('o_id')}", source_payload=order, progress={}
        )
        payload, number = definition.transform(ctx, document)
        saved = kd.save(FORM, payload)
        if not saved.ok:
            failures += 1
            continue
        kd.submit(FORM, numbers=[number])
        if not kd.audit(FORM, numbers=[number]).ok:
            failures += 1
    finished = timezone.now()
    wall = (finished - began).total_seconds()
    calls = remote_calls(began, finished)
    figures = {
        "documents": len(so_ids),
        "failures": failures,
        "wall_seconds": round(wall, 1),
        "docs_per_second": round(len(so_ids) / wall, 2),
        "calls": calls,
        "calls_per_1000": round(sum(calls.values()) * 1000 / len(so_ids), 1),
        "exactly_once": exactly_once(so_ids),
    }
    log(f"  naive: {json.dumps(figures, ensure_ascii=False)}")
    return figures


# --- latency --------------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def approvals(so_ids: list[str]) -> dict[str, datetime]:
    out = {}
    for i in range(0, len(so_ids), 5000):
        out.update(
            dict(
                bills_of(so_ids[i : i + 5000])
                .filter(bill__document_status="C")
                .values_list("value", "bill__approved_at")
            )
        )
    return out


def latency_scheduled(procs: Processes, flow) -> dict:
    """Orders ship at a steady rate while beat runs the flow every minute."""
    from flows.models import Watermark

    Watermark.objects.filter(flow=flow).update(
        cursor=timezone.now(), last_catchup_at=timezone.now()
    )
    procs.worker(2)
    procs.beat()
    shipped: dict[str, datetime] = {}
    rng = random.Random(7)
    began = time.monotonic()
    n = 0
    while time.monotonic() - began < ARGS.latency_seconds:
        due = int((time.monotonic() - began) * ARGS.latency_rate) - n
        if due > 0:
            now = timezone.now().replace(microsecond=0)
            for so_id in generate_orders(
                due, tag=f"L{n}", start=now, end=now, wms_co_id=20001, seed=rng.randint(0, 1 << 30)
            ):
                shipped[so_id] = now
            n += due
        time.sleep(0.2)
    wait_audited(list(shipped), timeout=600, label="scheduled")
    procs.stop("beat")
    procs.stop("worker")
    audited = approvals(list(shipped))
    # Ship times are whole seconds (as Jushuitan shows them): add half a second on average.
    delays = [(audited[s] - t).total_seconds() - 0.5 for s, t in shipped.items()]
    figures = {
        "orders": len(delays),
        "p50_seconds": round(percentile(delays, 0.5), 1),
        "p95_seconds": round(percentile(delays, 0.95), 1),
        "max_seconds": round(max(delays), 1),
        "exactly_once": exactly_once(list(shipped)),
    }
    log(f"  scheduled latency: {figures}")
    return figures


def latency_pushed(procs: Processes, integration) -> dict:
    """Each order is pushed to POST /jushuitan/order/outbound the moment it ships."""
    import requests

    from flows.api.authentication import signed_headers
    from flows.models import ApiClient
    from sandbox.jushuitan.api.orders import _order_row
    from sandbox.jushuitan.models import Order

    secret = "bench-push-secret-0123456789abcdef"  # noqa: S105
    client, _created = ApiClient.objects.update_or_create(
        name="bench pusher",
        defaults={"integration": integration, "secret": secret, "requests_per_minute": 100000},
    )
    procs.worker(2)
    session = requests.Session()
    sent: dict[str, float] = {}
    rng = random.Random(11)
    for n in range(ARGS.push_orders):
        now = timezone.now().replace(microsecond=0)
        (so_id,) = generate_orders(
            1, tag=f"P{n}", start=now, end=now, wms_co_id=20001, seed=rng.randint(0, 1 << 30)
        )
        row = _order_row(Order.objects.get(so_id=so_id))
        body = json.dumps(row, ensure_ascii=False).encode()
        path = "/jushuitan/order/outbound"
        headers = signed_headers(
            client_key=str(client.key_id), secret=secret, method="POST", path=path, body=body
        )
        sent[so_id] = time.time()
        answer = session.post(
            base_url() + path,
            data=body,
            headers={**headers, "Content-Type": "application/json"},
            timeout=30,
        )
        if answer.status_code != 202:
            raise SystemExit(f"push answered {answer.status_code}: {answer.text[:300]}")
        time.sleep(1.0 / ARGS.latency_rate)
    wait_audited(list(sent), timeout=300, label="pushed")
    procs.stop("worker")
    audited = approvals(list(sent))
    delays = [audited[s].timestamp() - t for s, t in sent.items()]
    figures = {
        "orders": len(delays),
        "p50_seconds": round(percentile(delays, 0.5), 2),
        "p95_seconds": round(percentile(delays, 0.95), 2),
        "max_seconds": round(max(delays), 2),
        "exactly_once": exactly_once(list(sent)),
    }
    log(f"  pushed latency: {figures}")
    return figures


# --- queries per document ----------------------------------------------------------------------
@contextmanager
def profiled(enabled: bool, name: str):
    if not enabled:
        yield
        return
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.002)
    profiler.start()
    try:
        yield
    finally:
        profiler.stop()
        out = ROOT / "var" / f"bench-profile-{name}.html"
        out.write_text(profiler.output_html())
        print(profiler.output_text(unicode=True, color=False, show_all=False)[:6000])
        log(f"  profile written to {out}")


def queries_per_document(flow, timeline: Timeline) -> dict:
    """Run pull + process in this process and count the portal's own SQL (the simulators
    answer from the web server's processes, so their queries are not counted)."""
    from django.test.utils import CaptureQueriesContext

    from flows.engine import run_flow
    from flows.models import Flow

    start, end = timeline.take()
    so_ids = generate_orders(
        ARGS.queries_orders, tag="Q", start=start, end=end, wms_co_id=20001, seed=99
    )
    flow_ready(flow, cursor=start - timedelta(seconds=1))
    fresh = Flow.objects.select_related("integration").get(pk=flow.pk)
    began = time.monotonic()
    with profiled(ARGS.profile, "engine"), CaptureQueriesContext(connection) as captured:
        stats = run_flow(flow=fresh)
    elapsed = time.monotonic() - began
    kinds: dict[str, int] = {}
    for query in captured.captured_queries:
        verb = query["sql"].split(None, 1)[0].upper()
        kinds[verb] = kinds.get(verb, 0) + 1
    figures = {
        "documents": len(so_ids),
        "synced": stats.synced,
        "queries": len(captured),
        "queries_per_document": round(len(captured) / max(len(so_ids), 1), 2),
        "by_statement": kinds,
        "seconds_in_process": round(elapsed, 1),
        "exactly_once": exactly_once(so_ids),
    }
    log(f"  queries: {figures}")
    return figures


# --- main ---------------------------------------------------------------------------------------
def median_of(runs: list[dict], key: str) -> float:
    return round(statistics.median(r[key] for r in runs), 1)


def main() -> None:
    (ROOT / "var").mkdir(exist_ok=True)
    log(f"database {ARGS.database_url}, Redis {ARGS.redis_url}")
    procs = Processes(port=ARGS.port)
    results: dict = {"orders": ARGS.orders, "runs": ARGS.runs}
    try:
        procs.web()
        integration, flow = demo_setup()
        seed_kingdee_stock("20001")
        worker_counts = [int(w) for w in ARGS.workers.split(",") if w]
        backlog_runs = ARGS.runs * len(worker_counts) if ARGS.backlog_orders else 0
        timeline = Timeline(ARGS.naive_runs + ARGS.runs * len(worker_counts) + backlog_runs + 2)
        if ARGS.naive_runs and ARGS.naive_orders:
            log(f"naive script: {ARGS.naive_orders} orders × {ARGS.naive_runs}")
            results["naive"] = [
                naive_run(integration, flow, timeline, seed=100 + i) for i in range(ARGS.naive_runs)
            ]
        results["portal"] = {}
        for workers in worker_counts if ARGS.orders else []:
            log(f"portal: {ARGS.orders} orders, {workers} worker process(es) × {ARGS.runs}")
            results["portal"][workers] = [
                throughput_run(procs, flow, timeline, workers=workers, seed=1000 * workers + i)
                for i in range(ARGS.runs)
            ]
        if ARGS.backlog_orders:
            results["backlog"] = {}
            for workers in worker_counts:
                log(f"backlog: {ARGS.backlog_orders} pushed orders, {workers} worker(s)")
                results["backlog"][workers] = [
                    backlog_run(procs, flow, timeline, workers=workers, seed=5000 * workers + i)
                    for i in range(ARGS.runs)
                ]
        if ARGS.read_orders:
            log(f"read ceiling: {ARGS.read_orders} shipments through the F2 source (in process)")
            results["read"] = read_run(flow, timeline)
        if ARGS.queries_orders:
            log(f"queries per document over {ARGS.queries_orders} orders (in process)")
            results["queries"] = queries_per_document(flow, timeline)
        if ARGS.latency_seconds:
            log(f"latency with the 1-minute schedule: {ARGS.latency_seconds} s of orders")
            results["latency_scheduled"] = latency_scheduled(procs, flow)
        if ARGS.push_orders:
            log(f"latency with pushes: {ARGS.push_orders} orders")
            results["latency_pushed"] = latency_pushed(procs, integration)
    finally:
        procs.stop_all()
    summary(results)
    if ARGS.json:
        ARGS.json.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str))


def summary(results: dict) -> None:
    print("\n=== F2 sales outbound benchmark (medians) ===")
    naive_rate = None
    if results.get("naive"):
        naive = results["naive"]
        naive_rate = round(statistics.median(r["docs_per_second"] for r in naive), 1)
        print(
            f"naive script   : {median_of(naive, 'wall_seconds')} s, {naive_rate} docs/s, "
            f"{median_of(naive, 'calls_per_1000')} calls/1000 docs"
        )
    for workers, runs in results.get("portal", {}).items():
        rate = round(statistics.median(r["docs_per_second"] for r in runs), 1)
        ratio = f", {rate / naive_rate:.1f}× naive" if naive_rate else ""
        twice = sum(r["exactly_once"]["twice"] + r["exactly_once"]["missing"] for r in runs)
        print(
            f"portal {workers} worker : {median_of(runs, 'wall_seconds')} s, {rate} docs/s"
            f"{ratio} ({statistics.median(r['share_of_ceiling'] for r in runs):.1%} of the read "
            f"ceiling {runs[0]['read_ceiling_docs_per_second']} docs/s), "
            f"{median_of(runs, 'calls_per_1000')} calls/1000 docs, peak worker RSS "
            f"{max(r['peak_worker_rss_mb'] for r in runs)} MB, orders not exactly once: {twice}"
        )
        if runs[0]["catchup"] is None:
            continue
        catchup = statistics.median(r["catchup"]["calls_per_1000"] for r in runs)
        print(
            f"  + catch-up   : {catchup} Jushuitan calls/1000 docs (the next pass, by row "
            f"version) → {median_of(runs, 'calls_per_1000') + catchup:.1f} calls/1000 in all"
        )
    for workers, runs in results.get("backlog", {}).items():
        rate = round(statistics.median(r["docs_per_second"] for r in runs), 1)
        twice = sum(r["exactly_once"]["twice"] + r["exactly_once"]["missing"] for r in runs)
        print(
            f"backlog {workers} wkr : {median_of(runs, 'wall_seconds')} s, {rate} docs/s, "
            f"peak worker RSS {max(r['peak_worker_rss_mb'] for r in runs)} MB, "
            f"orders not exactly once: {twice}"
        )
    if "read" in results:
        r = results["read"]
        print(
            f"read ceiling  : {r['rows']} shipments in {r['seconds']} s = {r['rows_per_second']}"
            f" rows/s, {r['calls']} calls (fewest {r['fewest_calls']}); ceiling "
            f"{r['ceiling_rows_per_second']} rows/s → {r['share_of_ceiling']:.1%}"
        )
    if "queries" in results:
        q = results["queries"]
        print(f"engine queries : {q['queries_per_document']} per document ({q['by_statement']})")
    for key in ("latency_scheduled", "latency_pushed"):
        if key in results:
            r = results[key]
            print(
                f"{key:15}: p50 {r['p50_seconds']} s, p95 {r['p95_seconds']} s, "
                f"max {r['max_seconds']} s over {r['orders']} orders"
            )


if __name__ == "__main__":
    main()
