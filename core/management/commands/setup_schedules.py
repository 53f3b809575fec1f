"""Create the periodic tasks every app declares in `<app>/schedules.py` (SCHEDULES).

Idempotent: a missing task is created; an existing one keeps the interval and enabled flag
people set in the admin (only its task path is kept current).
"""

from django.core.management.base import BaseCommand

from core.schedules import schedules_setup


class Command(BaseCommand):
    help = "Create the periodic tasks declared by the apps (edits made in the admin survive)."

    def handle(self, *args, **options):
        created, kept = schedules_setup()
        self.stdout.write(f"periodic tasks: {created} created, {kept} already present")
