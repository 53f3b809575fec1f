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
