"""Periodic tasks of monitoring (created by `manage.py setup_schedules`)."""

SCHEDULES = [
    # O3 retention: once a day; each run deletes in bounded batches until nothing is left.
    {
        "name": "monitoring: purge events past the retention",
        "task": "monitoring.tasks.events_purge",
        "every_seconds": 86400,
    },
]
