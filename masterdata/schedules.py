"""Periodic tasks of the master-data app, collected by `manage.py setup_schedules`."""

SCHEDULES = [
    {
        # F9.1: warehouses, shops and suppliers compared between Kingdee and Jushuitan.
        "name": "masterdata: check warehouses, shops and suppliers",
        "task": "masterdata.tasks.master_data_check_all",
        "every_seconds": 3600,
    },
]
