"""Seed the simulated Kingdee with the demo world (idempotent); --reset forgets documents first."""

from django.core.management.base import BaseCommand

from sandbox.kingdee import services


class Command(BaseCommand):
    help = "Seed the simulated Kingdee K3Cloud (org 100, warehouses, customers, materials, stock)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Delete every simulated document, balance and session before seeding.",
        )

    def handle(self, *args, **options):
        if options["reset"]:
            services.reset()
            self.stdout.write("Simulated Kingdee reset.")
        counts = services.seed_demo()
        summary = ", ".join(f"{name}: {count}" for name, count in counts.items())
        self.stdout.write(self.style.SUCCESS(f"Simulated Kingdee seeded ({summary})."))
