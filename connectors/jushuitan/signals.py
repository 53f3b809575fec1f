"""Signals of the Jushuitan connector (monitoring subscribes; connectors import no monitoring)."""

from django.dispatch import Signal

# Sent when a token could not be obtained or refreshed (G4).
# kwargs: connection (JushuitanConnection), error (connectors.errors.ConnectorError)
token_refresh_failed = Signal()
