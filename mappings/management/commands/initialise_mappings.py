"""G1: initialise the mapping tables of an integration from both systems."""

from django.core.management.base import BaseCommand, CommandError

from connectors.models import Integration
from mappings.sources import initialise_from_connections


class Command(BaseCommand):
    help = "Pair Kingdee and Jushuitan master data by the brief's 1:1 rules (G1)."

    def add_arguments(self, parser):
        parser.add_argument("integration", help="Integration code, e.g. demo")
        parser.add_argument("--preview", action="store_true", help="Show the plan, create nothing")

    def handle(self, *args, integration, preview, **options):
        found = Integration.objects.filter(code=integration).first()
        if found is None:
            raise CommandError(f"No integration with code {integration!r}.")
        result = initialise_from_connections(integration=found, apply=not preview)
        self.stdout.write(f"pairs proposed: {len(result.plan.pairs)}")
        for kind, count in sorted(result.created.items()):
            self.stdout.write(f"  created {kind}: {count}")
        for item in result.plan.unpaired:
            self.stdout.write(f"  unpaired {item.kind} in {item.system}: {item.code}")
