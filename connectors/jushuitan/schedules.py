"""Periodic tasks of the Jushuitan connector, collected by `manage.py setup_schedules`."""

SCHEDULES = [
    {
        "name": "Jushuitan: keep tokens fresh",
        "task": "connectors.jushuitan.tasks.refresh_tokens",
        "every_seconds": 1800,
    },
]
