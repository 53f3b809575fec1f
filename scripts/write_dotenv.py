"""Write a development .env beside manage.py on first use (never overwrites one).

It holds freshly generated PORTAL_SECRET_KEY and PORTAL_ENCRYPTION_KEY, turns
PORTAL_DEBUG and the sandbox on, and nothing else: DATABASE_URL / REDIS_URL stay
unset so the embedded defaults apply unless the real environment sets them.
"""

import base64
import secrets
import sys
from pathlib import Path

TEMPLATE = """# Development settings written by `make` on first use. Not for production.
# The real environment overrides anything here; see .env.example for every variable.
PORTAL_DEBUG=true
PORTAL_SANDBOX_ENABLED=true
PORTAL_SECRET_KEY={secret_key}
PORTAL_ENCRYPTION_KEY={encryption_key}
"""


def main() -> int:
    path = Path(sys.argv[1] if len(sys.argv) > 1 else ".env")
    if path.exists():
        return 0
    path.write_text(
        TEMPLATE.format(
            secret_key=secrets.token_urlsafe(50),
            encryption_key=base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        ),
        encoding="utf-8",
    )
    print(f"wrote {path} with new development keys")  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
