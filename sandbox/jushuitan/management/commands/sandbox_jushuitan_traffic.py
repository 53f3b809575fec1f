from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from sandbox.jushuitan import demo
from sandbox.jushuitan.services import DEMO_APP_KEY, DEMO_APP_SECRET


class Command(BaseCommand):
    help = (
        "Create cross-border demo traffic through the Jushuitan sandbox's HTTP API "
        "(orders uploaded and shipped, some returns, some stock counts)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--rate", type=float, default=0.5, help="orders per second")
        parser.add_argument("--seed", type=int, default=1, help="same seed, same orders")
        parser.add_argument("--duration", type=float, help="seconds to run")
        parser.add_argument("--orders", type=int, help="number of orders")
        parser.add_argument(
            "--base-url",
            default=f"{settings.PORTAL_BASE_URL}/sandbox/jushuitan",
            help="the sandbox API root",
        )

    def handle(self, *args, **options):
        if options["duration"] is None and options["orders"] is None:
            raise CommandError("Give --duration SECONDS or --orders N.")
        stats = demo.run(
            base_url=options["base_url"],
            app_key=DEMO_APP_KEY,
            app_secret=DEMO_APP_SECRET,
            rate=options["rate"],
            seed=options["seed"],
            duration=options["duration"],
            orders=options["orders"],
        )
        self.stdout.write(f"Jushuitan demo traffic: {dict(stats)}")
