"""Periodic tasks of finance, collected by `manage.py setup_schedules`."""

SCHEDULES = [
    {
        # K1: inventory accuracy, measured every six hours (a trend point per run).
        "name": "finance: reconcile inventory Kingdee ↔ Jushuitan",
        "task": "finance.tasks.reconcile",
        "every_seconds": 6 * 3600,
    },
    {
        # F6.1: FX differences of the past week collected, yesterday's vouchers posted.
        "name": "finance: FX differences and vouchers",
        "task": "finance.tasks.fx_differences",
        "every_seconds": 3600,
    },
    {
        # K2: declarations, purchase invoices and FX receipts where the tenant keeps them in
        # Kingdee (finance.kingdee_sources; nothing to do without an enabled source).
        "name": "finance: K2 declarations from Kingdee",
        "task": "finance.tasks.kingdee_declarations",
        "every_seconds": 3600,
    },
]
