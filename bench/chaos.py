"""Chaos run (issue #12): nothing lost, nothing twice, while everything around the portal fails.

Not a test (tests/flows/test_chaos.py runs a small one). It builds a dedicated database
(dropped and created again: never point it at real data) and starts a private redis-server
(it is stopped and started again mid-run, so it must not be the machine's shared one), the
web server with the simulators, Celery beat and worker processes. Then:

1. seeds the simulators: stock in Kingdee, purchase inbounds (STK_InStock) and direct
   transfers (STK_TransferDirect) audited in Kingdee, all before any fault is switched on;
2. switches faults on in both simulators: errors (default 20% of calls), latency spikes,
   answers held past the client's timeout after the write committed, session / token expiry
   and rate-limit answers;
3. ships orders (1-5 lines) into the Jushuitan simulator in waves while beat runs the sales
   outbound (F2), purchase inbound (F4) and transfer (F7) flows; kills a worker process with
   SIGKILL `--kills` times, stops one with SIGTERM to its process group `--terms` times (as
   systemctl stop, docker stop and Ctrl-C do; it must finish or hand back its batch) and
   restarts Redis once along the way;
4. waits until everything has drained (faults still on unless --calm-drain), then checks
   against an independent calculation from the seeded data: every order one audited
   SAL_OUTSTOCK, every Kingdee bill one Jushuitan document per external id, Kingdee and
   Jushuitan stock moved by exactly the seeded quantities, trade and line money per currency
   equal to the orders', no open ticket of a transient error class. Prints the counts and
   exits 1 when any check fails.

    .venv/bin/python bench/chaos.py --orders 5000 --purchases 200 --transfers 200
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    FORM,
    ROOT,
    Processes,
    bills_of,
    configure,
    exactly_once,
    generate_orders,
    log,
    seed_kingdee_stock,
)

WAREHOUSES = ("20001", "20002", "20003")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--purchases", type=int, default=200, help="purchase inbound bills")
    parser.add_argument("--transfers", type=int, default=200, help="direct transfer bills")
    parser.add_argument("--waves", type=int, default=10, help="order waves over the run")
    parser.add_argument("--wave-seconds", type=float, default=20.0, help="pause between waves")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--concurrency", type=int, default=2, help="pool size per worker")
    parser.add_argument("--kills", type=int, default=3, help="SIGKILLs of a worker")
    parser.add_argument(
        "--terms", type=int, default=2, help="SIGTERMs to a worker's process group (issue 15)"
    )
    parser.add_argument("--grace-seconds", type=int, default=10, help="PORTAL_STOP_GRACE_SECONDS")
    parser.add_argument("--redis-restarts", type=int, default=1)
    parser.add_argument("--error-rate", type=float, default=0.2)
    parser.add_argument("--timeout-after-commit-rate", type=float, default=0.05)
    parser.add_argument("--session-expiry-rate", type=float, default=0.05)
    parser.add_argument("--rate-limit-rate", type=float, default=0.05)
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--latency-spike-ms", type=int, default=800, help="jitter on top")
    parser.add_argument("--client-timeout", type=int, default=5, help="seconds (both clients)")
    parser.add_argument("--lease-seconds", type=int, default=60, help="claim lease")
    parser.add_argument("--calm-drain", action="store_true", help="faults off while draining")
    parser.add_argument("--drain-timeout", type=float, default=3600.0)
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--redis-port", type=int, default=6391)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/portal_chaos")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--tag", default="chaos", help="names the log files under var/")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    return parser.parse_args(argv)


class RedisServer:
    """A private redis-server that keeps nothing on disk: a restart loses every queued task,
    lock and rate-limit window, as a Redis restart without persistence does in production."""

    def __init__(self, port: int, tag: str) -> None:
        self.port = port
        self.tag = tag
        self.proc: subprocess.Popen | None = None
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("redis-server is not installed")
        self.binary = binary

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redis

        logfile = open(ROOT / "var" / f"{self.tag}-redis.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                *(self.binary, "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(ROOT / "var")),
            ],
            stdout=logfile,
            stderr=logfile,
            start_new_session=True,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"redis-server exited: is port {self.port} taken?")
            try:
                if redis.Redis.from_url(self.url, socket_timeout=1).ping():
                    time.sleep(0.2)
                    if self.proc.poll() is not None:  # answered by another server
                        raise SystemExit(f"port {self.port} is taken by another Redis")
                    return
            except redis.RedisError:
                time.sleep(0.1)
        raise SystemExit(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
        self.proc = None


# --- seeding (before faults) ----------------------------------------------------------------
def setup_integration(base_url: str, args: argparse.Namespace):
    from connectors.jushuitan.models import JushuitanConnection
    from connectors.kingdee.models import KingdeeConnection
    from flows.choices import FlowCode
    from flows.models import Flow
    from sandbox.demo_setup import demo_integration_setup
    from sandbox.jushuitan.models import ApiSettings

    integration = demo_integration_setup(base_url=base_url)
    codes = (FlowCode.SALES_OUTBOUND, FlowCode.PURCHASE_INBOUND, FlowCode.TRANSFER)
    Flow.objects.filter(integration=integration).exclude(code__in=codes).update(enabled=False)
    flows = list(Flow.objects.filter(integration=integration, code__in=codes))
    for flow in flows:
        # Under sustained 20% faults a document may fail many times in a row: retry quickly
        # and long enough that only a lasting cause ends in a ticket.
        flow.settings = {
            **(flow.settings or {}),
            "retry": {"max_attempts": 40, "base_seconds": 2, "max_seconds": 60},
        }
        flow.enabled = True
        flow.save()
    JushuitanConnection.objects.filter(pk=integration.jushuitan_id).update(
        timeout_seconds=args.client_timeout
    )
    KingdeeConnection.objects.filter(pk=integration.kingdee_id).update(
        timeout_seconds=args.client_timeout
    )
    jst = ApiSettings.load()
    jst.allow_negative_stock = True  # transfers may leave a Jushuitan warehouse before a buy
    jst.save()
    integration.refresh_from_db()
    return integration, flows


def seed_kingdee_bills(integration, args: argparse.Namespace, rng: random.Random) -> dict:
    """Audited purchase inbounds and transfers in Kingdee, with what Jushuitan must end up
    with: external ids and stock deltas per (sku, warehouse)."""
    from connectors.kingdee.client import client_for
    from sandbox import demo_catalogue as catalogue
    from sandbox.kingdee import bills

    client = client_for(integration.kingdee)
    skus = [m["number"] for m in catalogue.MATERIALS if m["hs_code"]]
    delta: Counter = Counter()
    keys = {"purchase_in": [], "other_inout": []}
    purchases, transfers = [], []
    for n in range(args.purchases):
        stock = rng.choice(WAREHOUSES)
        lines = [
            (sku, stock, rng.randint(1, 40), "12.50", f"CGDD-CH-{n:05d}")
            for sku in rng.sample(skus, k=rng.randint(1, 3))
        ]
        number = f"CGRK-CH-{n:05d}"
        purchases.append(bills.purchase_inbound(number, lines=lines))
        keys["purchase_in"].append(number)
        for sku, wh, qty, _price, _po in lines:
            delta[(sku, int(wh))] += qty
    for n in range(args.transfers):
        src, dest = rng.sample(WAREHOUSES, k=2)
        lines = [(sku, src, dest, rng.randint(1, 10)) for sku in rng.sample(skus, k=2)]
        number = f"ZJDB-CH-{n:05d}"
        transfers.append(bills.transfer(number, lines=lines, note="chaos"))
        keys["other_inout"] += [f"{number}-OUT", f"{number}-IN"]
        for sku, s, d, qty in lines:
            delta[(sku, int(s))] -= qty
            delta[(sku, int(d))] += qty
    for form_id, models in (("STK_InStock", purchases), ("STK_TransferDirect", transfers)):
        for i in range(0, len(models), 100):
            answer = client.batch_save(form_id, models[i : i + 100], auto_submit_audit=True)
            if not answer.ok:
                raise SystemExit(f"seeding {form_id}: {[e.message for e in answer.errors][:5]}")
    return {"keys": keys, "jst_delta": delta}


def jst_stock(pairs) -> dict:
    from sandbox.jushuitan.models import Stock

    found = {
        (row.sku_id, row.wms_co_id): row.qty
        for row in Stock.objects.filter(sku_id__in={p[0] for p in pairs})
    }
    return {pair: found.get(pair, 0) for pair in pairs}


def kingdee_stock(stock_number: str) -> dict:
    from sandbox.kingdee.models import KdStockBalance

    return {
        row.material_number: row.base_qty
        for row in KdStockBalance.objects.filter(stock_number=stock_number)
    }


# --- chaos ----------------------------------------------------------------------------------
def faults_on(args: argparse.Namespace) -> dict:
    from sandbox import faults

    profile = {
        "error_rate": args.error_rate,
        "timeout_after_commit_rate": args.timeout_after_commit_rate,
        "stall_seconds": args.client_timeout + 1,
        "session_expiry_rate": args.session_expiry_rate,
        "rate_limit_rate": args.rate_limit_rate,
        "latency_ms": args.latency_ms,
        "latency_jitter_ms": args.latency_spike_ms,
    }
    for system in ("kingdee", "jushuitan"):
        faults.set_profile(system, **profile)
    return profile


def faults_off() -> None:
    from sandbox import faults

    for system in ("kingdee", "jushuitan"):
        faults.set_profile(system)


def kick(flows) -> None:
    """What beat does every minute, more often (a broker that is down is not an error here:
    beat and the next kick send again)."""
    from flows.tasks import flow_run

    for flow in flows:
        try:
            flow_run.apply_async((flow.pk,), retry=False)
        except Exception as exc:  # the broker is being restarted
            log(f"  kick failed ({type(exc).__name__}); beat will run the flow")
            return


def kill_worker(procs: Processes, name: str, concurrency: int) -> None:
    proc = procs.children.pop(name)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    log(f"  SIGKILL {name} (pid {proc.pid}); starting it again")
    time.sleep(2)
    procs.worker(concurrency, name=name)


def term_worker(procs: Processes, name: str, concurrency: int) -> dict:
    """Stop a worker the ordinary way (SIGTERM to its process group, as systemctl stop,
    docker stop and Ctrl-C do), measure how long it took and what it left without an owner
    (loading with no live claim), then start it again."""
    from flows.models import SyncDocument

    proc = procs.children.pop(name)
    started = time.monotonic()
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    seconds = round(time.monotonic() - started, 1)
    unowned = SyncDocument.objects.outcome_unknown().count()
    log(f"  SIGTERM {name} (pid {proc.pid}): stopped in {seconds} s, {unowned} loading unowned")
    time.sleep(2)
    procs.worker(concurrency, name=name)
    return {"seconds": seconds, "loading_unowned": unowned}


def drained(flows, so_ids: list[str], seeded: dict) -> tuple[bool, dict]:
    from flows.choices import DocumentState as S
    from flows.models import SyncDocument
    from sandbox.jushuitan.models import StockDocument

    states = Counter(
        SyncDocument.objects.filter(flow__in=flows).values_list("state", flat=True).iterator()
    )
    audited = sum(
        bills_of(so_ids[i : i + 5000]).filter(bill__document_status="C").count()
        for i in range(0, len(so_ids), 5000)
    )
    landed = {
        kind: StockDocument.objects.filter(kind=kind, key__in=keys).count()
        for kind, keys in seeded["keys"].items()
    }
    busy = sum(n for state, n in states.items() if state not in (S.SYNCED, S.FAILED, S.BLOCKED))
    done = (
        audited >= len(so_ids)
        and all(landed[k] >= len(v) for k, v in seeded["keys"].items())
        and busy == 0
    )
    return done, {"states": dict(states), "audited": audited, "landed": landed}


# --- checks ---------------------------------------------------------------------------------
def money_check(so_ids: list[str]) -> dict:
    """Trade amount and line money per currency: the orders (source) against the bills."""
    from sandbox.jushuitan.models import Order
    from sandbox.kingdee.models import KdBill, KdBillCustomField, KdBillEntry

    source_trade, source_lines = defaultdict(Decimal), defaultdict(Decimal)
    for i in range(0, len(so_ids), 2000):
        for data in Order.objects.filter(so_id__in=so_ids[i : i + 2000]).values_list(
            "data", flat=True
        ):
            currency = data["currency"]
            source_trade[currency] += Decimal(str(data["pay_amount"]))
            for item in data["items"]:
                source_lines[currency] += Decimal(str(item["price"])) * item["qty"]
    target_trade, target_lines = defaultdict(Decimal), defaultdict(Decimal)
    for i in range(0, len(so_ids), 2000):
        bill_ids = list(bills_of(so_ids[i : i + 2000]).values_list("bill_id", flat=True).distinct())
        custom = defaultdict(dict)
        for bill_id, key, value in KdBillCustomField.objects.filter(
            bill_id__in=bill_ids, key__in=("f_paez_currency", "f_paez_tradeamount")
        ).values_list("bill_id", "key", "value"):
            custom[bill_id][key] = value
        for fields in custom.values():
            target_trade[fields["f_paez_currency"]] += Decimal(fields["f_paez_tradeamount"])
        currency_of = {b: f["f_paez_currency"] for b, f in custom.items()}
        for bill_id, qty, fields in KdBillEntry.objects.filter(bill_id__in=bill_ids).values_list(
            "bill_id", "qty", "fields"
        ):
            target_lines[currency_of[bill_id]] += Decimal(str(fields["ftaxprice"])) * qty
    assert KdBill.objects.filter(form_id=FORM).exists()

    def pairs(source: dict, target: dict) -> dict:
        return {c: [f"{source[c]:.2f}", f"{target[c]:.2f}"] for c in sorted(source)}

    return {
        "trade": pairs(source_trade, target_trade),
        "lines": pairs(source_lines, target_lines),
        "equal": dict(source_trade) == dict(target_trade)
        and all(source_lines[c] == target_lines[c] for c in source_lines),
    }


def shipped_quantities(so_ids: list[str]) -> Counter:
    from sandbox.jushuitan.models import Order

    shipped: Counter = Counter()
    for i in range(0, len(so_ids), 2000):
        for data in Order.objects.filter(so_id__in=so_ids[i : i + 2000]).values_list(
            "data", flat=True
        ):
            for item in data["items"]:
                shipped[item["sku_id"]] += item["qty"]
    return shipped


def documents_check(seeded: dict) -> dict:
    from django.db.models import Count

    from sandbox.jushuitan.models import StockDocument

    out = {}
    for kind, keys in seeded["keys"].items():
        per_key = dict(
            StockDocument.objects.filter(kind=kind, key__in=keys)
            .values_list("key")
            .annotate(n=Count("io_id"))
        )
        out[kind] = {
            "expected": len(keys),
            "documents": sum(per_key.values()),
            "twice": sum(1 for n in per_key.values() if n > 1),
            "missing": sum(1 for k in keys if k not in per_key),
        }
    return out


def tickets_check(flows) -> dict:
    from flows.choices import TRANSIENT_ERRORS
    from monitoring.models import OPEN_TICKET_STATUSES, ExceptionTicket

    # Documents' tickets and the flows' own (a tripped circuit breaker's, for one).
    open_tickets = ExceptionTicket.objects.filter(
        integration_id=flows[0].integration_id,
        flow_code__in=[f.code for f in flows],
        status__in=OPEN_TICKET_STATUSES,
    )
    by_class = Counter(open_tickets.values_list("error_class", flat=True))
    return {
        "open_by_class": dict(by_class),
        "open_transient": sum(n for c, n in by_class.items() if c in set(TRANSIENT_ERRORS)),
    }


def run(args: argparse.Namespace) -> dict:
    redis_server = RedisServer(args.redis_port, args.tag)
    (ROOT / "var").mkdir(exist_ok=True)
    redis_server.start()
    procs = Processes(port=args.port, tag=args.tag)
    rng = random.Random(args.seed)
    try:
        configure(
            database_url=args.database_url,
            redis_url=redis_server.url,
            port=args.port,
            PORTAL_CLAIM_LEASE_SECONDS=str(args.lease_seconds),
            PORTAL_RUN_LOCK_SECONDS=str(max(args.lease_seconds // 2, 10)),
            PORTAL_STOP_GRACE_SECONDS=str(args.grace_seconds),
        )
        from django.utils import timezone

        from flows.models import SyncDocument, Watermark
        from monitoring.models import RemoteCall

        procs.web()
        integration, flows = setup_integration(procs.base_url, args)
        for stock in WAREHOUSES:
            seed_kingdee_stock(stock)
        seeded = seed_kingdee_bills(integration, args, rng)
        started = timezone.now()
        Watermark.objects.filter(flow__in=flows).update(
            cursor=started - timedelta(minutes=5), last_catchup_at=started
        )
        jst_before = jst_stock(seeded["jst_delta"])
        kd_before = kingdee_stock("20001")
        profile = faults_on(args)
        log(f"faults on: {profile}")
        procs.beat()
        workers = [f"worker{n + 1}" for n in range(args.workers)]
        for name in workers:
            procs.worker(args.concurrency, name=name)

        # Waves of orders; kills and the Redis restart spread over the waves.
        per_wave = [args.orders // args.waves] * args.waves
        per_wave[-1] += args.orders - sum(per_wave)
        kill_at = {round((k + 1) * args.waves / (args.kills + 1)) - 1 for k in range(args.kills)}
        restart_at = {
            round((r + 1) * args.waves / (args.redis_restarts + 1) + 0.5) - 1
            for r in range(args.redis_restarts)
        }
        term_at = {
            round((t + 1) * args.waves / (args.terms + 1) + 0.25) - 1 for t in range(args.terms)
        }
        terms: list[dict] = []
        so_ids: list[str] = []
        kills = restarts = 0
        for wave, count in enumerate(per_wave):
            now = timezone.now().replace(microsecond=0)
            so_ids += generate_orders(
                count,
                tag=f"CH{wave:02d}",
                start=now - timedelta(seconds=30),
                end=now,
                wms_co_id=20001,
                seed=rng.randint(0, 1 << 30),
            )
            log(f"wave {wave + 1}/{args.waves}: {len(so_ids)} orders shipped")
            kick(flows)
            time.sleep(args.wave_seconds / 2)
            if wave in kill_at and kills < args.kills:
                kill_worker(procs, workers[kills % len(workers)], args.concurrency)
                kills += 1
            if wave in term_at and len(terms) < args.terms:
                terms.append(
                    term_worker(procs, workers[len(terms) % len(workers)], args.concurrency)
                )
            if wave in restart_at and restarts < args.redis_restarts:
                log("  restarting Redis (nothing persisted: queued tasks and locks are lost)")
                redis_server.stop()
                time.sleep(3)
                redis_server.start()
                restarts += 1
            time.sleep(args.wave_seconds / 2)
            kick(flows)
        while kills < args.kills:  # fewer waves than kills: kill the rest now
            kill_worker(procs, workers[kills % len(workers)], args.concurrency)
            kills += 1
        while len(terms) < args.terms:
            terms.append(term_worker(procs, workers[len(terms) % len(workers)], args.concurrency))

        if args.calm_drain:
            faults_off()
            log("faults off for the drain")
        log("draining")
        deadline = time.monotonic() + args.drain_timeout
        last_log = 0.0
        while True:
            done, progress = drained(flows, so_ids, seeded)
            if done:
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"not drained within {args.drain_timeout:.0f} s: {progress}")
            if time.monotonic() - last_log > 20:
                log(f"  {progress}")
                last_log = time.monotonic()
                kick(flows)
            time.sleep(2)
        finished = timezone.now()
        faults_off()
        procs.stop_all()

        shipped = shipped_quantities(so_ids)
        kd_after = kingdee_stock("20001")
        kd_expected = {m: kd_before[m] - q for m, q in shipped.items()}
        jst_after = jst_stock(seeded["jst_delta"])
        jst_expected = {k: jst_before[k] + d for k, d in seeded["jst_delta"].items()}
        calls = RemoteCall.objects.filter(created_at__gte=started, created_at__lte=finished)
        figures = {
            "orders": len(so_ids),
            "purchases": args.purchases,
            "transfers": args.transfers,
            "faults": profile,
            "worker_kills": kills,
            "worker_terms": len(terms),
            "term_stop_seconds": [t["seconds"] for t in terms],
            "loading_unowned_after_term": [t["loading_unowned"] for t in terms],
            "redis_restarts": restarts,
            "wall_seconds": round((finished - started).total_seconds(), 1),
            "sales_outbound": exactly_once(so_ids),
            "sales_outbound_bills_total": bills_of(so_ids).count(),
            "jushuitan_documents": documents_check(seeded),
            "kingdee_stock_equal": all(kd_after[m] == kd_expected[m] for m in kd_expected),
            "kingdee_stock_checked": len(kd_expected),
            "jushuitan_stock_equal": jst_after == jst_expected,
            "jushuitan_stock_checked": len(jst_expected),
            "money": money_check(so_ids),
            "tickets": tickets_check(flows),
            "documents_by_state": dict(
                Counter(
                    SyncDocument.objects.filter(flow__in=flows)
                    .values_list("state", flat=True)
                    .iterator()
                )
            ),
            "remote_calls": calls.count(),
            "remote_calls_failed": calls.exclude(error="").count(),
            "attempts_max": max(
                SyncDocument.objects.filter(flow__in=flows).values_list("attempts", flat=True)
            ),
        }
        figures["ok"] = verdict(figures)
        return figures
    finally:
        procs.stop_all()
        redis_server.stop()


def verdict(figures: dict) -> bool:
    outbound = figures["sales_outbound"]
    docs = figures["jushuitan_documents"].values()
    return (
        outbound["twice"] == 0
        and outbound["missing"] == 0
        and all(d["twice"] == 0 and d["missing"] == 0 for d in docs)
        and figures["kingdee_stock_equal"]
        and figures["jushuitan_stock_equal"]
        and figures["money"]["equal"]
        and figures["tickets"]["open_transient"] == 0
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    log(f"chaos: {args.orders} orders, {args.purchases} purchases, {args.transfers} transfers")
    figures = run(args)
    text = json.dumps(figures, indent=2, ensure_ascii=False, default=str)
    print(text)
    if args.json:
        args.json.write_text(text)
    log("PASS: nothing lost, nothing twice" if figures["ok"] else "FAIL: see the figures above")
    return 0 if figures["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
