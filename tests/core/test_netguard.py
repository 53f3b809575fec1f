"""Issue #12: remote server URLs are validated so the portal cannot be turned against its own
network; internal targets need an explicit allowance."""

import pytest
from django.core.exceptions import ValidationError

from core.netguard import RemoteUrlValidator


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/k3cloud/",
        "http://10.0.0.5/k3cloud/",
        "https://192.168.1.20/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "https://erp.local/k3cloud/",
        "http://intranet/",
        "ftp://api.example.com/",
    ],
)
def test_internal_or_odd_targets_refused(settings, url):
    settings.ALLOWED_INTERNAL_HOSTS = []
    with pytest.raises(ValidationError):
        RemoteUrlValidator()(url)


def test_public_targets_and_explicit_allowance(settings):
    settings.ALLOWED_INTERNAL_HOSTS = ["10.0.0.5"]
    RemoteUrlValidator()("https://tenant.ik3cloud.com/k3cloud/")
    RemoteUrlValidator()("https://openapi.jushuitan.com")
    RemoteUrlValidator()("http://10.0.0.5/k3cloud/")  # an on-premise Kingdee, allowed by name


@pytest.mark.django_db
def test_admin_refuses_internal_server_url(admin_client, settings):
    settings.ALLOWED_INTERNAL_HOSTS = []
    page = admin_client.post(
        "/admin/kingdee/kingdeeconnection/add/",
        {
            "name": "x",
            "server_url": "http://169.254.169.254/",
            "acct_id": "a",
            "username": "u",
            "auth_mode": "signature",
            "lcid": 2052,
            "org_number": "100",
            "timeout_seconds": 30,
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert page.status_code == 200
    assert "internal address" in page.content.decode()


def test_robot_hosts_default_to_the_general_list(tmp_path):
    """S3: one setting serves both guards: PORTAL_ROBOT_ALLOWED_INTERNAL_HOSTS unset is
    PORTAL_ALLOWED_INTERNAL_HOSTS; set (even empty), it is the robots' own list."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    probe = (
        "import django, json; django.setup(); from django.conf import settings; "
        "print(json.dumps([settings.ALLOWED_INTERNAL_HOSTS, "
        "settings.ROBOT_ALLOWED_INTERNAL_HOSTS]))"
    )

    def lists(**env: str) -> list:
        base = {
            k: v
            for k, v in os.environ.items()
            if not k.endswith("ALLOWED_INTERNAL_HOSTS") and k not in ("DATABASE_URL", "REDIS_URL")
        }
        base.update(
            env,
            PORTAL_READ_DOTENV="false",
            PORTAL_DEBUG="true",
            PORTAL_VAR_DIR=str(tmp_path),
            DJANGO_SETTINGS_MODULE="integration_portal.settings",
        )
        out = subprocess.run(
            [sys.executable, "-c", probe],
            cwd=Path(__file__).resolve().parents[2],
            env=base,
            capture_output=True,
            text=True,
            check=False,
        )
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout.strip().splitlines()[-1])

    assert lists(PORTAL_ALLOWED_INTERNAL_HOSTS="10.0.0.5") == [["10.0.0.5"], ["10.0.0.5"]]
    assert lists(
        PORTAL_ALLOWED_INTERNAL_HOSTS="10.0.0.5", PORTAL_ROBOT_ALLOWED_INTERNAL_HOSTS="10.0.0.9"
    ) == [["10.0.0.5"], ["10.0.0.9"]]
    assert lists(
        PORTAL_ALLOWED_INTERNAL_HOSTS="10.0.0.5", PORTAL_ROBOT_ALLOWED_INTERNAL_HOSTS=""
    ) == [["10.0.0.5"], []]


def test_resolved_address_is_checked_against_the_setting_given(settings):
    """The send-time check (DNS) is the same guard, with the allowance of the caller."""
    from core.netguard import ROBOT_SETTING, resolved_internal_address

    settings.ALLOWED_INTERNAL_HOSTS = ["localhost"]
    settings.ROBOT_ALLOWED_INTERNAL_HOSTS = []
    assert resolved_internal_address("https://localhost/x") == ""
    assert resolved_internal_address("https://localhost/x", setting=ROBOT_SETTING) in (
        "127.0.0.1",
        "::1",
    )
    assert resolved_internal_address("https://8.8.8.8/x", setting=ROBOT_SETTING) == ""
