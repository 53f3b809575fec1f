"""The simulated server's fixed demo credentials and behaviour switches (environment overrides).

Any Kingdee client (the portal's, the official SDK, Postman) can be pointed at the sandbox with
these values; they are listed in README.md and .env.example.
"""

import os
from dataclasses import dataclass

DEFAULTS = {
    "ACCT_ID": "66a8f0c2d4e6b8",
    "ACCT_NAME": "跨境电商演示账套",
    "USERNAME": "demo",
    "PASSWORD": "Kingdee@2026",
    # The real form: "<clientId>_<32 base64 characters>" (24 bytes once decoded).
    "APP_ID": "330112_cG9ydGFsLXNhbmRib3gta2luZ2RlZSEh",
    "APP_SECRET": "5f0c2d6e8a9b4c1d3e7f60a1b2c3d4e5",
    "LCIDS": "2052,1033,3076",
    # Idle session lifetime (the real server renews signed sessions silently: 1.3).
    "SESSION_IDLE_SECONDS": "1800",
    # What BatchSave/Save with IsAutoSubmitAndAudit does when the audit fails, e.g. for
    # insufficient stock: "rollback" (default: Save, Submit and Audit run in one transaction,
    # nothing is kept) or "keep_submitted" (the bill stays saved and submitted, status B, and
    # is listed in both SuccessEntitys and Errors under its DIndex).
    "AUTO_AUDIT_FAILURE": "rollback",
    # Check X-Api-Signature too when present (the official SDK always sends a correct one).
    "VERIFY_GATEWAY_SIGNATURE": "true",
    # Largest BatchSave accepted (our choice; Kingdee documents none).
    "BATCH_MAX_MODELS": "1000",
    # Custom fields whose lock property (锁定性) leaves them editable after audit, as a tenant
    # sets them up in BOS for write-backs: a Save by FID whose NeedUpDateFields name only these
    # is accepted on an audited bill and changes nothing else. Comma separated, any case.
    "EDITABLE_AFTER_AUDIT": "F_PAEZ_ReturnReason,F_PAEZ_JstDocNo",
    # How Save / BatchSave successes are answered: "full" (current builds: SuccessEntitys with
    # Id, Number, DIndex) or "legacy" (older builds: only {"IsSuccess": true}, "Id", "Number";
    # docs/protocols/kingdee.md §2.1).
    "SUCCESS_ENVELOPE": "full",
}


def _env(name: str) -> str:
    return os.environ.get(f"PORTAL_SANDBOX_KINGDEE_{name}", DEFAULTS[name])


@dataclass(frozen=True)
class SandboxSettings:
    acct_id: str
    acct_name: str
    username: str
    password: str
    app_id: str
    app_secret: str
    lcids: tuple[int, ...]
    session_idle_seconds: int
    auto_audit_failure: str
    verify_gateway_signature: bool
    batch_max_models: int
    editable_after_audit: frozenset[str] = frozenset()
    success_envelope: str = "full"


def current() -> SandboxSettings:
    """Read per call, so a test or an operator can change a switch without a restart."""
    return SandboxSettings(
        acct_id=_env("ACCT_ID"),
        acct_name=_env("ACCT_NAME"),
        username=_env("USERNAME"),
        password=_env("PASSWORD"),
        app_id=_env("APP_ID"),
        app_secret=_env("APP_SECRET"),
        lcids=tuple(int(x) for x in _env("LCIDS").split(",") if x.strip()),
        session_idle_seconds=int(_env("SESSION_IDLE_SECONDS")),
        auto_audit_failure=_env("AUTO_AUDIT_FAILURE").strip().lower(),
        verify_gateway_signature=_env("VERIFY_GATEWAY_SIGNATURE").lower() in ("1", "true", "yes"),
        batch_max_models=int(_env("BATCH_MAX_MODELS")),
        editable_after_audit=frozenset(
            x.strip().lower() for x in _env("EDITABLE_AFTER_AUDIT").split(",") if x.strip()
        ),
        success_envelope=_env("SUCCESS_ENVELOPE").strip().lower(),
    )
