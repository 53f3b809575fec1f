"""Periodic tasks of monitoring, collected by `manage.py setup_schedules`."""

SCHEDULES = [
    {
        # Alerts are enqueued on commit; this catches any whose enqueue was lost (O2: 30 s).
        "name": "monitoring: dispatch queued alerts (safety net)",
        "task": "monitoring.tasks.alerts_dispatch_due",
        "every_seconds": 15,
    },
]
