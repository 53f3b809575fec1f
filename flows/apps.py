from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FlowsConfig(AppConfig):
    name = "flows"
    label = "flows"
    verbose_name = _("Flows")

    def ready(self) -> None:
        from . import shutdown, signals, watchdog
        from .api import schema  # noqa: F401 - registers the OpenAPI auth extension

        signals.connect()
        shutdown.connect()
        watchdog.connect()
