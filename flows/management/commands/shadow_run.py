"""Map-only dry run of a flow over the last N days (writes nothing; issue 24 point 4)."""

from django.core.management.base import BaseCommand, CommandError

from flows.models import Flow
from flows.shadow import shadow_run


class Command(BaseCommand):
    help = "Map the last N days of a flow's source documents and report; writes nothing."

    def add_arguments(self, parser):
        parser.add_argument("flow_id", type=int)
        parser.add_argument("--days", type=int, default=7)

    def handle(self, *args, flow_id: int, days: int, **options):
        flow = Flow.objects.filter(pk=flow_id).select_related("integration").first()
        if flow is None:
            raise CommandError(f"no flow with id {flow_id}")
        run = shadow_run(flow=flow, days=days, requested_by="manage.py shadow_run")
        self.stdout.write(f"{flow}: {run.totals}" + (f" ({run.error})" if run.error else ""))
        for cause in run.causes:
            self.stdout.write(f"  {cause['count']:>5}  {cause['label']}  → {cause['fix_url']}")
