"""Collect the periodic tasks declared by the apps and create them in django-celery-beat.

An app declares `SCHEDULES = [{"name": ..., "task": ..., "every_seconds": 60}]` (optionally
"kwargs") in `<app>/schedules.py`. Creation is idempotent and never overwrites what people
changed in the admin (interval, enabled).

They are part of the install: `schedules_install` runs after every `migrate` (post_migrate),
so a plain install without the demo has every system schedule; `setup_schedules` stays as
the manual way to put back one that was deleted.
"""

import json
from importlib import import_module

from django.apps import apps
from django.db import transaction


def declared_schedules() -> list[dict]:
    found: list[dict] = []
    for config in apps.get_app_configs():
        try:
            module = import_module(f"{config.name}.schedules")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.schedules":
                raise
            continue
        found.extend(getattr(module, "SCHEDULES", []))
    return found


@transaction.atomic
def periodic_task_ensure(*, name: str, task: str, every_seconds: int, kwargs: dict | None = None):
    """Create the task if missing; return (task, created). Admin edits are kept."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    existing = PeriodicTask.objects.filter(name=name).first()
    if existing is not None:
        if existing.task != task:
            existing.task = task
            existing.save(update_fields=["task"])
        return existing, False
    interval, _ = IntervalSchedule.objects.get_or_create(
        every=every_seconds, period=IntervalSchedule.SECONDS
    )
    created = PeriodicTask.objects.create(
        name=name, task=task, interval=interval, kwargs=json.dumps(kwargs or {})
    )
    return created, True


def schedules_setup() -> tuple[int, int]:
    created = kept = 0
    for entry in declared_schedules():
        _, was_created = periodic_task_ensure(
            name=entry["name"],
            task=entry["task"],
            every_seconds=int(entry["every_seconds"]),
            kwargs=entry.get("kwargs"),
        )
        created += was_created
        kept += not was_created
    return created, kept


def schedules_install(sender=None, *, using: str = "default", **kwargs) -> None:
    """post_migrate receiver: create the declared schedules once the beat tables exist (a
    partial `migrate <app>` before django_celery_beat is migrated skips quietly)."""
    from django.db import connections

    connection = connections[using]
    if "django_celery_beat_periodictask" not in connection.introspection.table_names():
        return
    schedules_setup()


def schedules_status() -> list[tuple[dict, str]]:
    """Every declared system schedule with its state: "ok", "missing" or "disabled"."""
    from django_celery_beat.models import PeriodicTask

    present = {task.name: task for task in PeriodicTask.objects.all()}
    found = []
    for entry in declared_schedules():
        task = present.get(entry["name"])
        if task is None:
            found.append((entry, "missing"))
        elif not task.enabled:
            found.append((entry, "disabled"))
        else:
            found.append((entry, "ok"))
    return found
