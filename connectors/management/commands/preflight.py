"""`python manage.py preflight [--integration CODE] [--system kingdee|jushuitan ...]`:
prove the tenant before go-live; prints every check and exits 1 when one fails."""

from django.core.management.base import BaseCommand, CommandError

from connectors.models import Integration
from connectors.preflight import checks_of, preflight_run


class Command(BaseCommand):
    help = "Check the live Kingdee and Jushuitan tenants against what the enabled flows need."

    def add_arguments(self, parser):
        parser.add_argument("--integration", help="Integration code (default: every enabled one)")
        parser.add_argument(
            "--system", action="append", help="Only this system (repeatable): kingdee, jushuitan"
        )

    def handle(self, *args, integration=None, system=None, **options):
        integrations = Integration.objects.filter(enabled=True)
        if integration:
            integrations = Integration.objects.filter(code=integration)
            if not integrations.exists():
                raise CommandError(f"no integration with code {integration!r}")
        failed = 0
        for item in integrations:
            run = preflight_run(integration=item, systems=system, requested_by="manage.py")
            self.stdout.write(f"== {item.code}: {'PASS' if run.ok else 'FAIL'}")
            for check in checks_of(run):
                mark = "info" if check.info else ("ok" if check.ok else "FAIL")
                self.stdout.write(f"[{mark}] {check.system} {check.key}: {check.title}")
                if check.detail:
                    self.stdout.write(f"       {check.detail}")
                if not check.ok and check.fix:
                    self.stdout.write(f"       → {check.fix}")
            failed += 0 if run.ok else 1
        if failed:
            raise SystemExit(1)
