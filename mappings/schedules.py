"""Periodic tasks of mappings, collected by `manage.py setup_schedules`.

The parity is published once a day at 09:15 Beijing time; the fetch runs hourly so the day's
fixing lands within the hour whatever time the schedule was set up (one small request; a read
of an already stored day changes nothing).
"""

SCHEDULES = [
    {
        "name": "Fetch exchange rates (PBOC central parity)",
        "task": "mappings.fetch_exchange_rates",
        "every_seconds": 3600,
    },
]
