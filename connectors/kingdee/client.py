"""Kingdee Cloud Galaxy (金蝶云星空) K3Cloud WebAPI client: the public entry of the connector.

docs/protocols/kingdee.md. `transport.py` holds the session (login or header signing), the
HTTP round trip, its recording and the retries of reads; `api.py` the typed calls (Save,
BatchSave, Submit, Audit, Push, View, ExecuteBillQuery, lookups) and their results. This module
re-exports both, so `from connectors.kingdee.client import KingdeeClient, client_for` is the way
in. The client knows no flows.
"""

from .api import (
    PRIMARY_KEYS,
    BillRef,
    KingdeeClient,
    RecordError,
    SavedEntity,
    SaveResult,
    clear_clients,
    client_for,
    primary_key,
    quote,
    unique_order,
)
from .transport import (
    AUTH_SERVICE,
    DYNAMIC_FORM,
    LOGIN_OK,
    MAX_OBSERVED_CHARS,
    SESSION_COOKIE,
    KingdeeTransport,
)

__all__ = [
    "AUTH_SERVICE",
    "DYNAMIC_FORM",
    "LOGIN_OK",
    "MAX_OBSERVED_CHARS",
    "PRIMARY_KEYS",
    "SESSION_COOKIE",
    "BillRef",
    "KingdeeClient",
    "KingdeeTransport",
    "RecordError",
    "SaveResult",
    "SavedEntity",
    "clear_clients",
    "client_for",
    "primary_key",
    "quote",
    "unique_order",
]
