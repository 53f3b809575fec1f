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


# --- issue 16 point 6: trailing dots, DNS rebinding and redirects ------------------------------

import http.server  # noqa: E402
import socket  # noqa: E402
import threading  # noqa: E402
from contextlib import contextmanager  # noqa: E402


@pytest.mark.parametrize(
    "url",
    [
        "http://metadata.google.internal./computeMetadata/v1/",
        "http://foo.localhost./",
        "http://localhost./",
        "http://erp.LOCAL./k3cloud/",
        "http://127.0.0.1./",
    ],
)
def test_trailing_dot_names_are_internal_too(settings, url):
    """Issue 16 #6: GIVEN a host written with the DNS root's trailing dot WHEN the URL is
    validated THEN it is refused like the same name without the dot."""
    settings.ALLOWED_INTERNAL_HOSTS = []
    with pytest.raises(ValidationError):
        RemoteUrlValidator()(url)


class _Recorder(http.server.BaseHTTPRequestHandler):
    """A loopback server: records every request; answers with `self.server.answer`."""

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.seen.append((self.command, self.path, body))
        status, headers, content = self.server.answer
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    do_GET = do_POST = _answer

    def log_message(self, *args):  # quiet
        pass


@contextmanager
def loopback(answer=(200, {"Content-Type": "application/json"}, b"{}")):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.seen = []
    server.answer = answer
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def fake_dns(monkeypatch):
    """Fake DNS answers for the guard's resolver (never real DNS): {name: address}. Numeric
    addresses resolve to themselves; any other name fails like an unknown host."""
    from core import netguard

    table: dict[str, str] = {}

    def resolve(host, port):
        host = netguard.normalise_host(host)
        address = table.get(host, host)
        try:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            socket.inet_pton(family, address)
        except OSError as exc:
            raise socket.gaierror(socket.EAI_NONAME, "unknown host") from exc
        return [(family, socket.SOCK_STREAM, 6, "", (address, port or 0))]

    monkeypatch.setattr(netguard, "resolve", resolve)
    return table


def _kingdee(url):
    from connectors.kingdee.models import KingdeeAuthMode, KingdeeConnection

    return KingdeeConnection(
        name="probe",
        server_url=url,
        acct_id="a",
        username="u",
        password="p",
        auth_mode=KingdeeAuthMode.VALIDATE_USER,
        timeout_seconds=5,
    )


@pytest.mark.django_db
def test_dns_rebinding_is_refused_at_connect_time(settings, fake_dns):
    """Issue 16 #6 (DNS rebinding): GIVEN a public-looking name that passed the save-time check
    but now resolves to a loopback address WHEN Kingdee, Jushuitan and an FX source are called
    THEN each refuses at connect time, names host and address, and the server receives nothing;
    a name resolving to an explicitly allowed address is reached through that very address."""
    from connectors.errors import DestinationRefused
    from connectors.fx.client import CfetsClient
    from connectors.jushuitan.client import JushuitanClient
    from connectors.jushuitan.models import JushuitanConnection
    from connectors.kingdee.client import KingdeeClient

    settings.ALLOWED_INTERNAL_HOSTS = []
    fake_dns["erp.example.com"] = "127.0.0.1"
    with loopback() as server:
        port = server.server_address[1]
        url = f"http://erp.example.com:{port}/k3cloud/"
        RemoteUrlValidator()(url)  # the name itself looks public: saved without complaint

        with pytest.raises(DestinationRefused) as refused:
            KingdeeClient(_kingdee(url)).login()
        assert "erp.example.com" in refused.value.message
        assert "127.0.0.1" in refused.value.message
        assert refused.value.errors == []  # a BusinessError: a ticket, never a retry loop

        jst = JushuitanConnection(
            name="probe", base_url=f"http://erp.example.com:{port}", app_key="k", app_secret="s"
        )
        with pytest.raises(DestinationRefused):
            JushuitanClient(jst).get_init_token()

        with pytest.raises(DestinationRefused):
            CfetsClient(base_url=f"http://erp.example.com:{port}").latest()
        assert server.seen == []

        # The same name, its address allowed: the guard connects to the address it checked.
        settings.ALLOWED_INTERNAL_HOSTS = ["127.0.0.1"]
        CfetsClient(base_url=f"http://erp.example.com:{port}")._get("probe", "/ok")
        assert [path for _m, path, _b in server.seen] == ["/ok"]


@pytest.mark.django_db
@pytest.mark.usefixtures("english")
def test_redirect_to_an_internal_address_is_never_followed(settings, fake_dns):
    """Issue 16 #6 (redirects): GIVEN an allowed server that answers 307 to an internal address
    WHEN the Kingdee client logs in THEN it does not follow (the login body never reaches the
    internal server) and says the server URL is wrong; WHEN an FX source (which follows
    redirects) is sent there THEN the hop to the internal address is refused at connect time,
    also for a trailing-dot metadata name. Jushuitan, like Kingdee, never follows."""
    from connectors.errors import BusinessError, DestinationRefused
    from connectors.fx.client import CfetsClient
    from connectors.jushuitan.client import JushuitanClient
    from connectors.jushuitan.models import JushuitanConnection
    from connectors.kingdee.client import KingdeeClient

    fake_dns["erp.example.com"] = "127.0.0.1"
    fake_dns["metadata.google.internal"] = "127.0.0.1"
    settings.ALLOWED_INTERNAL_HOSTS = ["erp.example.com"]  # an on-premise server, by name
    with loopback() as inside, loopback() as outside:
        target = f"http://127.0.0.1:{inside.server_address[1]}/steal"
        outside.answer = (307, {"Location": target}, b"")
        front = f"http://erp.example.com:{outside.server_address[1]}"

        with pytest.raises(BusinessError) as wrong_url:
            KingdeeClient(_kingdee(front + "/k3cloud/")).login()
        assert "redirect" in wrong_url.value.message
        assert len(outside.seen) == 1 and inside.seen == []

        jst = JushuitanConnection(name="probe", base_url=front, app_key="k", app_secret="s")
        with pytest.raises(BusinessError) as wrong_url:
            JushuitanClient(jst).get_init_token()
        assert "redirect" in wrong_url.value.message
        assert len(outside.seen) == 2 and inside.seen == []

        with pytest.raises(DestinationRefused) as refused:
            CfetsClient(base_url=front)._get("probe", "/rates")
        assert "127.0.0.1" in refused.value.message

        outside.answer = (
            302,
            {"Location": f"http://metadata.google.internal.:{inside.server_address[1]}/v1/"},
            b"",
        )
        with pytest.raises(DestinationRefused):
            CfetsClient(base_url=front)._get("probe", "/rates")
        assert inside.seen == []
