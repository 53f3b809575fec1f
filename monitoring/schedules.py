"""Periodic tasks of monitoring, collected by `manage.py setup_schedules`."""

SCHEDULES = [
    {
        # Alerts are enqueued on commit; this catches any whose enqueue was lost (O2: 30 s).
        "name": "monitoring: dispatch queued alerts (safety net)",
        "task": "monitoring.tasks.alerts_dispatch_due",
        "every_seconds": 15,
    },
    # O3 retention: once a day; each run deletes in bounded batches until nothing is left.
    {
        "name": "monitoring: purge events past the retention",
        "task": "monitoring.tasks.events_purge",
        "every_seconds": 86400,
    },
]
