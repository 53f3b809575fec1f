"""Typed errors of the exchange-rate source clients."""

from django.utils.translation import gettext_noop

from connectors.errors import ConnectorError, TransientError


class FxSourceUnavailable(TransientError):
    default_message = gettext_noop("The exchange-rate source did not answer.")


class FxFormatChanged(ConnectorError):
    """The source answered something the client cannot read (its front-end format drifted)."""

    default_message = gettext_noop(
        "The exchange-rate source answered in a format the portal cannot read."
    )
