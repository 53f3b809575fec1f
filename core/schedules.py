"""Collect the periodic tasks declared by the apps and create them in django-celery-beat.

An app declares `SCHEDULES = [{"name": ..., "task": ..., "every_seconds": 60}]` (optionally
"kwargs") in `<app>/schedules.py`. Creation is idempotent and never overwrites what people
changed in the admin (interval, enabled).
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
