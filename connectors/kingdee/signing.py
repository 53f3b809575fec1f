"""Kingdee WebAPI authentication math, as the official SDK 8.x computes it
(docs/protocols/kingdee.md §1.2, §1.5).

Every signature is base64( lowercase_hex( HMAC-SHA256(key, message) ) ). The gateway secret is
derived from the 32-character part of the app id by XOR with a fixed mask (SDK DecodeAppSecret).
"""

import base64
import hashlib
import hmac
from urllib.parse import quote, urlsplit

_XOR_MASK = b"0054f397c6234378b09ca7d3e5debce7"[:24]
USER_AGENT = "integration-portal/0.1 (Kingdee K3Cloud WebAPI client)"


def hmac_sha256_b64(message: str, key: str) -> str:
    digest = hmac.new(key.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()
    return base64.b64encode(digest.encode("utf-8")).decode("ascii")


def gateway_secret(app_id: str) -> str:
    """The X-Api-Signature key: "" when the app id is not `<clientId>_<32 chars>`."""
    parts = app_id.split("_")
    if len(parts) != 2 or len(parts[1]) != 32:
        return ""
    raw = base64.b64decode(parts[1])
    return base64.b64encode(bytes(a ^ b for a, b in zip(raw, _XOR_MASK, strict=False))).decode()


def app_data(*, acct_id: str, username: str, lcid: int, org_number: str | int) -> str:
    return f"{acct_id},{username},{lcid},{org_number}"


def signature_headers(
    *,
    url: str,
    acct_id: str,
    username: str,
    app_id: str,
    app_secret: str,
    lcid: int,
    org_number: str | int,
    timestamp: int,
) -> dict[str, str]:
    """The per-request headers of SDK header signing (no login call needed)."""
    ts = str(int(timestamp))
    path = urlsplit(url).path or "/"
    encoded_path = quote(path, encoding="utf-8").replace("/", "%2F")
    plain = app_data(acct_id=acct_id, username=username, lcid=lcid, org_number=org_number)
    client_id = app_id.split("_")[0] if len(app_id.split("_")) == 2 else ""
    api_message = f"POST\n{encoded_path}\n\nx-api-nonce:{ts}\nx-api-timestamp:{ts}\n"
    return {
        "X-Api-ClientID": client_id,
        "X-Api-Auth-Version": "2.0",
        "x-api-timestamp": ts,
        "x-api-nonce": ts,
        "x-api-signheaders": "x-api-timestamp,x-api-nonce",
        "X-Api-Signature": hmac_sha256_b64(api_message, gateway_secret(app_id)),
        "X-Kd-Appkey": app_id,
        "X-Kd-Appdata": base64.b64encode(plain.encode("utf-8")).decode("ascii"),
        "X-Kd-Signature": hmac_sha256_b64(app_id + plain, app_secret),
    }


def login_sign(*, acct_id: str, username: str, app_id: str, app_secret: str, timestamp: int) -> str:
    """LoginBySign: SHA-256 (lowercase hex) of the five values sorted ordinally and joined."""
    parts = sorted([acct_id, username, app_id, app_secret, str(int(timestamp))])
    return hashlib.sha256("".join(parts).encode("utf-8")).hexdigest()
