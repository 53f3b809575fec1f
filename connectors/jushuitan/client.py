"""Jushuitan (聚水潭) open-platform client: the public entry of the connector's wire protocol.

docs/protocols/jushuitan.md. `transport.py` signs, limits, retries and records each call and
gets the access token from a TokenProvider; `api.py` holds the typed business calls (paging,
readers, writers). This module re-exports both, so `from connectors.jushuitan.client import
JushuitanClient, client_for` is the way in. The client knows no flows.
"""

from .api import (
    ALL_PURCHASE_IN_STATUSES,
    BEIJING,
    ENDPOINTS,
    TIME_FORMAT,
    Endpoint,
    JushuitanClient,
    RowResult,
    _row_results,
    client_for,
    forget_clients,
    parse_time,
    success_flag,
    to_beijing,
)
from .transport import (
    AUTH_CODES,
    CODE_BAD_PARAMETER,
    CODE_REFRESH_FORBIDDEN,
    CODE_STALE_TIMESTAMP,
    CODE_TOKEN_INVALID,
    RATE_LIMIT_CODES,
    SYSTEM,
    TOKEN_EXCHANGE_PATH,
    TOKEN_INIT_PATH,
    TOKEN_REFRESH_PATH,
    TRANSIENT_CODES,
    JushuitanTransport,
    TokenProvider,
    stale_timestamp,
    use_token_provider,
)

__all__ = [
    "ALL_PURCHASE_IN_STATUSES",
    "AUTH_CODES",
    "BEIJING",
    "CODE_BAD_PARAMETER",
    "CODE_REFRESH_FORBIDDEN",
    "CODE_STALE_TIMESTAMP",
    "CODE_TOKEN_INVALID",
    "ENDPOINTS",
    "RATE_LIMIT_CODES",
    "SYSTEM",
    "TIME_FORMAT",
    "TOKEN_EXCHANGE_PATH",
    "TOKEN_INIT_PATH",
    "TOKEN_REFRESH_PATH",
    "TRANSIENT_CODES",
    "Endpoint",
    "JushuitanClient",
    "JushuitanTransport",
    "RowResult",
    "TokenProvider",
    "_row_results",
    "client_for",
    "forget_clients",
    "parse_time",
    "stale_timestamp",
    "success_flag",
    "to_beijing",
    "use_token_provider",
]
