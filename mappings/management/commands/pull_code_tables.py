"""Issue 24 point 6: pull the customer's code tables into the snapshot import dry runs check."""

from django.core.management.base import BaseCommand, CommandError

from connectors.models import Integration
from mappings.code_tables import pull_code_tables


class Command(BaseCommand):
    help = (
        "Pull Kingdee's currencies, accounts and tax rates and Jushuitan's shops and "
        "warehouses into the code snapshot (Mappings › known codes)."
    )

    def add_arguments(self, parser):
        parser.add_argument("integration", help="Integration code, e.g. main")

    def handle(self, *args, integration, **options):
        found = Integration.objects.filter(code=integration).first()
        if found is None:
            raise CommandError(f"No integration with code {integration!r}.")
        result = pull_code_tables(integration=found)
        for (system, kind), count in sorted(result.counts.items()):
            self.stdout.write(f"{system} {kind}: {count} codes")
        for (system, kind), error in sorted(result.errors.items()):
            self.stderr.write(f"{system} {kind}: not read: {error}")
        if not result.ok:
            raise CommandError("Some code tables could not be read (see above).")
