"""The open-platform signature: md5(app_secret + k1v1k2v2...) over sorted keys.

docs/protocols/jushuitan.md §1.3."""

import hashlib
import json
from typing import Any


def sign(params: dict[str, str], app_secret: str) -> str:
    """Lowercase hex MD5 of the secret followed by every non-empty parameter but `sign`,
    as key+value pairs in ascending key order (no separators)."""
    joined = "".join(
        f"{key}{params[key]}" for key in sorted(params) if key != "sign" and params[key] != ""
    )
    return hashlib.md5((app_secret + joined).encode("utf-8")).hexdigest()  # noqa: S324


def dump_biz(biz: Any) -> str:
    """Serialise `biz` once; the same string is signed and sent (raw UTF-8, compact)."""
    return json.dumps({} if biz is None else biz, ensure_ascii=False, separators=(",", ":"))
