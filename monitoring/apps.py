from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MonitoringConfig(AppConfig):
    name = "monitoring"
    label = "monitoring"
    verbose_name = _("Monitoring")

    def ready(self) -> None:
        from flows.journal import set_journal

        from . import receivers, services  # noqa: F401 - connect the signal receivers
        from .journal import MonitoringJournal

        set_journal(MonitoringJournal())  # flows reports through it (flows/journal.py)
