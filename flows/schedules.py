"""Periodic tasks of the engine (each flow also gets its own poll schedule)."""

SCHEDULES = [
    {"name": "flows: sweep due documents", "task": "flows.tasks.sweep", "every_seconds": 30},
]
