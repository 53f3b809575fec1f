"""What the benchmarks share: a dedicated database and Redis db, the portal's processes (web
server with the simulators, Celery workers, beat) as children, and shipped orders written
straight into the Jushuitan simulator's tables.

Call `configure()` before importing anything of Django; the rest imports models lazily.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
FORM = "SAL_OUTSTOCK"
ORDER_NO_KEY = "f_paez_platformorderno"  # the sandbox stores custom header keys lower-cased


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def configure(*, database_url: str, redis_url: str, port: int, **extra: str) -> None:
    """Environment of every process (this database and Redis, production-like settings with
    DEBUG off so no query log, plain HTTP, the simulators on), a fresh database and Redis db
    (dropped and created again: never point it at real data), then django.setup()."""
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "integration_portal.settings",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "CELERY_BROKER_URL": redis_url,
            "PORTAL_SANDBOX_ENABLED": "true",
            "PORTAL_DEBUG": "false",
            "PORTAL_SSL_REDIRECT": "false",
            "PORTAL_SECURE_COOKIES": "false",
            "PORTAL_HSTS_SECONDS": "0",
            "PORTAL_LOG_LEVEL": "WARNING",
            "PORTAL_BASE_URL": f"http://127.0.0.1:{port}",
            "PORTAL_DB_CONN_MAX_AGE": "60",
            **extra,
        }
    )
    # The development keys of .env (written by make) are fine for a benchmark.
    dotenv = ROOT / ".env"
    if dotenv.exists():
        for line in dotenv.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and key in ("PORTAL_SECRET_KEY", "PORTAL_ENCRYPTION_KEY"):
                os.environ.setdefault(key, value.strip())
    import psycopg
    import redis

    url = urlparse(database_url)
    name = url.path.lstrip("/")
    admin = url._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    redis.Redis.from_url(redis_url).flushdb()
    (ROOT / "var").mkdir(exist_ok=True)

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


# --- processes --------------------------------------------------------------------------------
class Processes:
    """The web server, workers and beat as child processes of this script."""

    def __init__(self, *, port: int, tag: str = "bench") -> None:
        self.port = port
        self.tag = tag
        self.children: dict[str, subprocess.Popen] = {}

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, name: str, argv: list[str]) -> subprocess.Popen:
        logfile = open(ROOT / "var" / f"{self.tag}-{name}.log", "ab")  # noqa: SIM115
        proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=os.environ.copy(),
            stdout=logfile,
            stderr=logfile,
            start_new_session=True,
        )
        self.children[name] = proc
        return proc

    def stop(self, name: str) -> None:
        proc = self.children.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def stop_all(self) -> None:
        for name in list(self.children):
            self.stop(name)

    def web(self) -> None:
        self.start(
            "web",
            [
                str(VENV_BIN / "gunicorn"),
                "integration_portal.wsgi",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                "2",
                "--threads",
                "8",
                "--timeout",
                "120",
            ],
        )
        import requests

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.base_url}/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise SystemExit("the web server did not answer /healthz within 60 s")

    def worker(self, concurrency: int, name: str = "worker") -> subprocess.Popen:
        proc = self.start(
            name,
            [
                str(VENV_BIN / "celery"),
                "-A",
                "integration_portal",
                "worker",
                "--loglevel",
                "WARNING",
                "--concurrency",
                str(concurrency),
                "--hostname",
                f"{self.tag}-{name}{concurrency}@%h",
                "--without-mingle",
                "--without-gossip",
            ],
        )
        self._wait_worker(proc, concurrency, name)
        return proc

    def beat(self) -> None:
        self.start(
            "beat",
            [
                str(VENV_BIN / "celery"),
                "-A",
                "integration_portal",
                "beat",
                "--loglevel",
                "WARNING",
                "--scheduler",
                "django_celery_beat.schedulers:DatabaseScheduler",
                "--schedule",
                str(ROOT / "var" / f"{self.tag}-beat-schedule"),
            ],
        )

    def _wait_worker(self, proc: subprocess.Popen, concurrency: int, name: str) -> None:
        import psutil

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"the worker exited; see var/{self.tag}-{name}.log")
            if len(psutil.Process(proc.pid).children()) >= concurrency:
                time.sleep(2)  # the pool is up; let it connect to the broker
                return
            time.sleep(0.2)
        raise SystemExit("the worker pool did not start within 60 s")


class RssSampler(threading.Thread):
    """Peak RSS of the worker's pool processes (the prefork children that run tasks)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        import psutil

        self.main = psutil.Process(pid)
        self.peak = 0
        self.stopped = threading.Event()

    def run(self) -> None:
        import psutil

        while not self.stopped.is_set():
            try:
                for child in self.main.children(recursive=True):
                    self.peak = max(self.peak, child.memory_info().rss)
            except psutil.Error:
                pass
            self.stopped.wait(0.2)

    def stop(self) -> int:
        self.stopped.set()
        self.join(timeout=2)
        return self.peak


# --- data -----------------------------------------------------------------------------------
def seed_kingdee_stock(stock_number: str, quantity: int = 10**9) -> None:
    """Enough stock in the Kingdee simulator that no outbound is held (F2.4 is not benched)."""
    from sandbox import demo_catalogue as catalogue
    from sandbox.kingdee.models import KdStockBalance

    for material in catalogue.MATERIALS:
        KdStockBalance.objects.update_or_create(
            org_number=catalogue.ORG_NUMBER,
            stock_number=stock_number,
            material_number=material["number"],
            defaults={"base_qty": Decimal(quantity)},
        )


CENT = Decimal("0.01")
COMMISSION = {"amazon": Decimal("0.15"), "ebay": Decimal("0.12"), "shopee": Decimal("0.06")}
COUNTRY = {"USD": "US", "EUR": "DE", "GBP": "GB", "JPY": "JP"}


def _order_data(rng: random.Random, shop: dict, so_id: str, o_id: int, when: str) -> dict:
    """An order row's fields as the simulator keeps them (cross-border, 1–5 lines)."""
    from sandbox import demo_catalogue as catalogue

    currency = shop["currency"]
    unit = Decimal("1") if currency == "JPY" else CENT
    rate = catalogue.BUSINESS_RATES["USD"] / catalogue.BUSINESS_RATES[currency]
    # Materials with an HS code only: the demo's lamp has none on purpose (a blocked order).
    syncable = [m for m in catalogue.MATERIALS if m["hs_code"]]
    items, goods = [], Decimal("0")
    for number, material in enumerate(rng.sample(syncable, k=rng.randint(1, 5)), 1):
        qty = rng.choice([1, 1, 1, 2, 3])
        base = (material["sale_price"] * rate).quantize(unit, rounding=ROUND_HALF_UP)
        price = (base * (1 - Decimal(rng.choice(["0", "0", "0.1"])))).quantize(
            unit, rounding=ROUND_HALF_UP
        )
        goods += price * qty
        items.append(
            {
                "oi_id": o_id * 100 + number,
                "sku_id": material["number"],
                "shop_sku_id": material["number"],
                "name": material["name"],
                "qty": qty,
                "price": float(price),
                "base_price": float(base),
                "amount": float(price * qty),
                "outer_oi_id": f"{so_id}-{number}",
                "item_status": "Sent",
                "refund_status": "none",
                "sku_type": "normal",
            }
        )
    freight = (Decimal(rng.choice(["0", "3.99"])) * rate).quantize(unit, rounding=ROUND_HALF_UP)
    coupon = (Decimal(rng.choice(["0", "0", "2"])) * rate).quantize(unit, rounding=ROUND_HALF_UP)
    pay_amount = goods + freight - coupon
    tariff = (goods * Decimal("0.03")).quantize(CENT, rounding=ROUND_HALF_UP)
    amazon = shop["platform"] == "amazon"
    return {
        "shop_name": shop["shop_name"],
        "shop_site": shop["platform"],
        "currency": currency,
        "shop_status": "WAIT_BUYER_CONFIRM_GOODS",
        "type": "普通订单",
        "order_from": "OPEN",
        "shop_buyer_id": f"buyer-{rng.randint(100000, 999999)}",
        "receiver_country": COUNTRY[currency],
        "pay_amount": float(pay_amount),
        "paid_amount": float(pay_amount),
        "freight": float(freight),
        "free_amount": float(coupon),
        "cb_total_tax": float(tariff),
        "cb_finances": {
            "platform_commission": str(
                (goods * COMMISSION[shop["platform"]]).quantize(CENT, rounding=ROUND_HALF_UP)
            ),
            "product_tax": str(tariff),
        },
        "l_id": f"FBA{o_id:09d}U000001" if amazon else f"YT{o_id:016d}",
        "lc_id": "AMZFBA" if amazon else "YUNEXPRESS",
        "logistics_company": "Amazon FBA" if amazon else "云途物流",
        "items": items,
        "pays": [{"pay_id": o_id, "o_id": o_id, "amount": float(pay_amount), "pay_date": when}],
        "created": when,
        "pay_date": when,
    }


def generate_orders(
    count: int, *, tag: str, start: datetime, end: datetime, wms_co_id: int, seed: int
) -> list[str]:
    """`count` shipped orders straight into the Jushuitan simulator's tables, their ship
    (= modified) times spread evenly over [start, end], each with its sales-out document (one
    shipment io_id, what F2 reads by default). Returns their platform order nos."""
    from django.db import transaction

    from sandbox import demo_catalogue as catalogue
    from sandbox.jushuitan.models import Order, StockDocument
    from sandbox.jushuitan.services import fmt, next_number

    rng = random.Random(seed)
    step = (end - start) / max(count, 1)
    so_ids: list[str] = []
    with transaction.atomic():
        first_o_id = next_number("o_id", count)
        first_io_id = next_number("io_id", count)
        first_ts = next_number("ts", 2 * count)
        rows, outs = [], []
        for n in range(count):
            o_id = first_o_id + n
            shop = catalogue.SHOPS[n % len(catalogue.SHOPS)]
            so_id = f"{tag}-{o_id:08d}-{rng.randint(1000, 9999)}"
            shipped = (start + step * n).replace(microsecond=0)
            when = fmt(shipped)
            rows.append(
                Order(
                    o_id=o_id,
                    shop_id=shop["shop_id"],
                    so_id=so_id,
                    status="Sent",
                    wms_co_id=wms_co_id,
                    order_date=shipped - timedelta(hours=6),
                    send_date=shipped,
                    modified=shipped,
                    ts=first_ts + n,
                    data=_order_data(rng, shop, so_id, o_id, when),
                    history=[{"status": "WaitConfirm", "at": when}, {"status": "Sent", "at": when}],
                )
            )
            outs.append(_sales_out(rows[-1], first_io_id + n, first_ts + count + n))
            so_ids.append(so_id)
        Order.objects.bulk_create(rows, batch_size=1000)
        StockDocument.objects.bulk_create(outs, batch_size=1000)
    return so_ids


def _sales_out(order, io_id: int, ts: int):
    """The sales-out document of a shipped order (as /open/order/sent/upload creates it)."""
    from sandbox.jushuitan.models import DocumentKind, StockDocument

    data = order.data
    keep = (
        "shop_name", "currency", "pay_amount", "paid_amount", "freight", "free_amount",
        "shop_buyer_id", "receiver_country", "cb_total_tax", "cb_finances", "l_id", "lc_id",
        "logistics_company",
    )  # fmt: skip
    items = [
        {
            "ioi_id": io_id * 100 + n,
            "io_id": io_id,
            "sku_id": line["sku_id"],
            "name": line["name"],
            "qty": line["qty"],
            "sale_price": line["price"],
            "sale_amount": line["amount"],
            "sale_base_price": line["base_price"],
            "outer_oi_id": line["outer_oi_id"],
            "oi_id": line["oi_id"],
        }
        for n, line in enumerate(data["items"], start=1)
    ]
    return StockDocument(
        io_id=io_id,
        kind=DocumentKind.SALES_OUT,
        key="",
        so_id=order.so_id,
        status="Confirmed",
        wms_co_id=order.wms_co_id,
        io_date=order.send_date,
        modified=order.modified,
        ts=ts,
        data={
            **{k: data[k] for k in keep if k in data},
            "o_id": order.o_id,
            "shop_id": order.shop_id,
            "wh_id": 1,
            "type": "销售出库",
            "items": items,
        },
    )


def bills_of(so_ids: list[str]):
    from sandbox.kingdee.models import KdBillCustomField

    return KdBillCustomField.objects.filter(form_id=FORM, key=ORDER_NO_KEY, value__in=so_ids)


def audited_count(so_ids: list[str]) -> int:
    return bills_of(so_ids).filter(bill__document_status="C").count()


def wait_audited(so_ids: list[str], *, timeout: float, label: str) -> None:
    deadline = time.monotonic() + timeout
    done, last_log = 0, 0.0
    while time.monotonic() < deadline:
        done = sum(audited_count(so_ids[i : i + 5000]) for i in range(0, len(so_ids), 5000))
        if done >= len(so_ids):
            return
        if time.monotonic() - last_log > 15:
            log(f"  {label}: {done}/{len(so_ids)} audited")
            last_log = time.monotonic()
        time.sleep(0.5)
    raise SystemExit(f"{label}: only {done} of {len(so_ids)} audited within {timeout:.0f} s")


def exactly_once(so_ids: list[str]) -> dict:
    """Bills per platform order no. in the Kingdee simulator: every order must have one."""
    from django.db.models import Count

    per_order: dict[str, int] = {}
    for i in range(0, len(so_ids), 5000):
        part = so_ids[i : i + 5000]
        for value, n in bills_of(part).values_list("value").annotate(n=Count("bill_id")):
            per_order[value] = n
    twice = sum(1 for n in per_order.values() if n > 1)
    missing = len(so_ids) - len(per_order)
    return {
        "orders": len(so_ids),
        "bills": sum(per_order.values()),
        "twice": twice,
        "missing": missing,
    }


def remote_calls(since: datetime, until: datetime) -> dict[str, int]:
    from django.db.models import Count

    from monitoring.models import RemoteCall

    rows = (
        RemoteCall.objects.filter(created_at__gte=since, created_at__lte=until)
        .values_list("system")
        .annotate(n=Count("id"))
    )
    return dict(rows)


def calls_by_operation(since: datetime, until: datetime) -> dict[str, int]:
    from django.db.models import Count

    from monitoring.models import RemoteCall

    rows = (
        RemoteCall.objects.filter(created_at__gte=since, created_at__lte=until)
        .values_list("operation")
        .annotate(n=Count("id"))
    )
    return dict(rows)
