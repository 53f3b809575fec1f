"""The `demo` process of `make run`: configure the demo and keep storefront traffic flowing."""

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand

from sandbox import demo_run


class Command(BaseCommand):
    help = (
        "Wait for /healthz, configure the demo Integration against the sandboxes (idempotent), "
        "plant a missing mapping, a stock shortage and an FX outage, then create storefront "
        "traffic until stopped. PORTAL_DEMO=false (or the sandbox off) only idles."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--base-url", default=settings.PORTAL_BASE_URL, help="where the portal answers"
        )
        parser.add_argument(
            "--rate", type=float, default=settings.PORTAL_DEMO_RATE, help="orders per second"
        )
        parser.add_argument(
            "--once", action="store_true", help="set up and plant, then exit (no traffic)"
        )

    def handle(self, *args, **options):
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        if not (settings.PORTAL_DEMO and settings.SANDBOX_ENABLED):
            # honcho stops every process when one exits: idle until stopped.
            self.stdout.write("demo: off (PORTAL_DEMO=false or the sandbox is disabled)")
            if not options["once"]:
                stop.wait()
            return
        base_url = options["base_url"].rstrip("/")
        self.stdout.write(f"demo: waiting for {base_url}/healthz")
        while not demo_run.health_wait(base_url=base_url, timeout=60):
            if stop.is_set():
                return
            self.stdout.write("demo: the portal does not answer yet, still waiting")
        state = None
        while state is None and not stop.is_set():
            try:
                state = demo_run.setup(base_url=base_url)
            except Exception as exc:  # never take the portal down: log and try again
                self.stderr.write(f"demo: setup failed ({exc!r}); retrying in 10 s")
                stop.wait(10)
        if state is None:
            return
        planted = ", ".join(state.planted) or "already there"
        self.stdout.write(
            f"demo: integration ready; planted failures: {planted}. Board: "
            f"{base_url}/monitoring/board/  robot inbox: {base_url}/sandbox/robots/inbox/"
        )
        if options["once"]:
            return
        self.stdout.write(f"demo: storefront traffic at {options['rate']} orders/s")
        demo_run.traffic_forever(
            base_url=base_url,
            rate=options["rate"],
            should_stop=stop.is_set,
            report=lambda stats: self.stdout.write(f"demo traffic so far: {dict(stats)}"),
        )
