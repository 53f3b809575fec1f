"""Periodic tasks of the engine (each flow also gets its own poll schedule)."""

SCHEDULES = [
    {"name": "flows: sweep due documents", "task": "flows.tasks.sweep", "every_seconds": 30},
    # F2.4: held outbounds resume by themselves once Kingdee shows the stock.
    {
        "name": "flows: check stock for held outbounds",
        "task": "flows.tasks.holds_check",
        "every_seconds": 120,
    },
    # Issue 15: documents and flows that should have moved, silent beat or workers.
    {"name": "flows: watchdog", "task": "flows.tasks.watchdog", "every_seconds": 60},
]
