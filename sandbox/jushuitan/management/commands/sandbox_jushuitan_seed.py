from django.core.management.base import BaseCommand

from sandbox.jushuitan.services import DEMO_APP_KEY, seed_demo


class Command(BaseCommand):
    help = "Seed the Jushuitan sandbox from the demo catalogue (idempotent)."

    def handle(self, *args, **options):
        created = seed_demo()
        self.stdout.write(f"Jushuitan sandbox seeded (app key {DEMO_APP_KEY}): {created}")
