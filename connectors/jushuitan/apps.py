from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class JushuitanConfig(AppConfig):
    name = "connectors.jushuitan"
    label = "jushuitan"
    verbose_name = _("Jushuitan")

    def ready(self) -> None:
        # The client gets its token from the token services; it imports none of them.
        from . import services, transport

        transport.use_token_provider(services.TOKENS)
