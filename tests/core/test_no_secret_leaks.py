"""S3 (secrets stored encrypted), with O2, O3 and G4 on the way: issue #12.

One full run of the demo integration against the simulators — a sales outbound synced by a
real Celery worker, a blocked order whose ticket alerts the signed DingTalk robot (O2), a
signed push to a flow endpoint (and a forged one), a Jushuitan token refresh (G4), Kingdee
session logins and re-logins with the password and the app secret (and a wrong password) —
then everything the portal kept or showed is searched for the secrets used:

- every log line of the run (a handler on the root logger at DEBUG, with django.request,
  celery and urllib3 at DEBUG too), as the portal emits it;
- every row of every table of the portal's database, read as raw SQL (not through the
  decrypting fields), on SQLite and PostgreSQL alike. The simulators' own tables (the `sandbox`
  apps) are left out: the simulated Kingdee, Jushuitan and robots hold their own credentials
  and sessions, as the real remote systems do;
- the admin pages of every connection, API client, remote call (trace), alert and ticket,
  the trace search (O3) and the ticket pages (O4), and the answers of the push endpoint.

Each secret is looked for as plaintext, base64 (standard and URL-safe) and URL-encoded.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import uuid
from urllib.parse import quote, quote_plus

import pytest
import requests
from django.apps import apps
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client

from tests.fixtures.monitoring import DINGTALK, FEISHU, WECOM, inbox

pytestmark = pytest.mark.django_db(transaction=True)

# Loggers that configure their own level: all at DEBUG for the run.
DEBUG_LOGGERS = ("", "django", "django.request", "django.server", "celery", "urllib3", "kombu")


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def run_logs(celery_worker):
    """Every log line of the test, as formatted text (exceptions and tracebacks included).
    Set up once the worker runs: starting a worker sets the root logger's level."""
    handler = _Collect()
    root = logging.getLogger()
    saved = {name: logging.getLogger(name).level for name in DEBUG_LOGGERS}
    for name in DEBUG_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    root.addHandler(handler)
    yield handler.lines
    root.removeHandler(handler)
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


def forms_of(secret: str) -> set[str]:
    """The shapes a leaked secret could take in a log line, a row or a page."""
    raw = secret.encode()
    shapes = {
        secret,
        quote(secret, safe=""),
        quote_plus(secret),
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        json.dumps(secret)[1:-1],
    }
    return {s for s in shapes if len(s) >= 8}


def database_dump() -> str:
    """Every row of every portal table as raw SQL text (no ORM field decrypts anything)."""
    simulator_tables = {
        model._meta.db_table
        for config in apps.get_app_configs()
        if config.name.split(".")[0] == "sandbox"
        for model in config.get_models(include_auto_created=True)
    }
    parts: list[str] = []
    with connection.cursor() as cursor:
        for table in sorted(connection.introspection.table_names(cursor)):
            if table in simulator_tables:
                continue
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            for row in cursor.fetchall():
                parts.append(table + "\t" + "\t".join(_cell(value) for value in row))
    return "\n".join(parts)


def _cell(value) -> str:
    if isinstance(value, memoryview):
        value = value.tobytes()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def leaks(text: str, needles: dict[str, str]) -> list[str]:
    found = []
    for name, secret in needles.items():
        for shape in forms_of(secret):
            if shape in text:
                at = text.index(shape)
                found.append(f"{name} as {shape!r}: …{text[max(0, at - 120) : at + 60]}…")
    return found


def test_s3_no_secret_in_database_logs_or_pages(
    run_logs,
    demo_integration,
    storefront,
    robot_channel,
    feishu_channel,
    wecom_channel,
    live_server,
    wait_until,
):
    """S3/O2/O3/G4: GIVEN a full run of the demo integration with every kind of credential in
    use WHEN the database is dumped row by row, the run's logs collected and the admin, trace
    and ticket pages rendered THEN no secret, token, password or key appears in any of them."""
    from connectors.errors import AuthError
    from connectors.jushuitan.models import JushuitanConnection
    from connectors.jushuitan.services import token_refresh
    from connectors.kingdee.client import KingdeeClient, clear_clients
    from connectors.kingdee.models import KingdeeAuthMode, KingdeeConnection
    from flows.api.authentication import signed_headers
    from flows.choices import DocumentState as S
    from flows.choices import FlowCode
    from flows.models import ApiClient, Flow, SyncDocument
    from flows.tasks import flow_run
    from monitoring.models import AlertRule, ExceptionTicket, RemoteCall
    from sandbox.kingdee import conf as kingdee_conf
    from sandbox.kingdee.models import KdSession

    needles: dict[str, str] = {
        "Django SECRET_KEY": django_settings.SECRET_KEY,
        **{
            f"encryption key {n}": key
            for n, key in enumerate(django_settings.ENCRYPTION_KEYS, start=1)
        },
        "Kingdee app secret": kingdee_conf.current().app_secret,
        "Kingdee password": kingdee_conf.current().password,
        "Jushuitan app secret": demo_integration.jushuitan.app_secret,
        "DingTalk robot secret": DINGTALK["secret"],
        "DingTalk robot token": DINGTALK["token"],
        "Feishu robot secret": FEISHU["secret"],
        "Feishu robot hook id": FEISHU["token"],
        "WeCom robot key": WECOM["token"],
    }

    def keep_tokens(label: str) -> None:
        fresh = JushuitanConnection.objects.get(pk=demo_integration.jushuitan_id)
        needles[f"Jushuitan access token ({label})"] = fresh.access_token
        needles[f"Jushuitan refresh token ({label})"] = fresh.refresh_token

    keep_tokens("first")

    # A person signs in to the admin with a password (the login page, django.request).
    from django.contrib.auth import get_user_model

    admin_password = "Adm1n-" + secrets.token_urlsafe(16)
    needles["admin password"] = admin_password
    get_user_model().objects.create_superuser("keeper", "keeper@example.com", admin_password)
    browser = Client(HTTP_ACCEPT_LANGUAGE="en")
    signed_in = browser.post(
        "/admin/login/?next=/admin/",
        {"username": "keeper", "password": admin_password},
    )
    assert signed_in.status_code == 302, "the admin login failed"

    # O2: every error alerts the signed DingTalk robot through a ticket.
    AlertRule.objects.create(name="All errors", channel=robot_channel)

    # F2: one order synced, one blocked on a SKU Kingdee does not know (ticket → alert).
    storefront.place_and_ship(
        storefront.order(
            so_id="LEAK-1",
            shop_id=10001,
            currency="USD",
            lines=[("SKU-PB-1001", 1, "29.99")],
        ),
        storefront.order(
            so_id="LEAK-2",
            shop_id=10001,
            currency="USD",
            lines=[("SKU-GIFT-9001", 1, "1.00")],
        ),
    )
    flow = Flow.objects.get(integration=demo_integration, code=FlowCode.SALES_OUTBOUND)
    flow_run.delay(flow.pk)
    wait_until(
        lambda: (
            SyncDocument.objects.filter(flow=flow, state=S.SYNCED).exists()
            and SyncDocument.objects.filter(flow=flow, state=S.BLOCKED).exists()
        ),
        60,
    )
    assert ExceptionTicket.objects.filter(status="open").exists()
    wait_until(lambda: inbox(DINGTALK["token"], accepted=True).exists(), 30, message="no alert")
    # The admin's "send a test message" to the Feishu and WeCom robots (credentials in the URL).
    from connectors.dingtalk.services import robot_channel_send_test

    for channel in (feishu_channel, wecom_channel):
        robot_channel_send_test(channel=channel, user_name="keeper")
    assert inbox(FEISHU["token"], accepted=True).exists()
    assert inbox(WECOM["token"], accepted=True).exists()

    # A signed push to a flow endpoint, and a forged one.
    api_secret = "api-" + secrets.token_hex(20)
    needles["API client signing secret"] = api_secret
    api = ApiClient.objects.create(
        name="shop hook", integration=demo_integration, secret=api_secret
    )
    body = json.dumps([]).encode()
    path = "/jushuitan/order/outbound"
    headers = {
        "Content-Type": "application/json",
        **signed_headers(
            client_key=api.key_id, secret=api_secret, method="POST", path=path, body=body
        ),
    }
    answers = [requests.post(f"{live_server.url}{path}", data=body, headers=headers, timeout=30)]
    forged = {**headers, "X-Portal-Signature": "0" * 64}
    answers.append(requests.post(f"{live_server.url}{path}", data=body, headers=forged, timeout=30))
    assert answers[0].status_code == 202, answers[0].text
    assert answers[1].status_code in (401, 403)

    # G4: the Jushuitan token is refreshed with the refresh token.
    token_refresh(connection=JushuitanConnection.objects.get(pk=demo_integration.jushuitan_id))
    keep_tokens("refreshed")

    # Kingdee session logins (password, app secret), a lost session and a re-login.
    kingdee = KingdeeConnection.objects.get(pk=demo_integration.kingdee_id)

    def keep_session(label: str, session_id: str) -> None:
        needles[f"Kingdee session ({label})"] = session_id
        # The login answer's Context.UserToken, as the simulated Kingdee issues it
        # (sandbox/kingdee/auth.py); a real K3Cloud's UserToken is a credential too.
        needles[f"Kingdee UserToken ({label})"] = str(uuid.uuid5(uuid.NAMESPACE_URL, session_id))

    for mode in (KingdeeAuthMode.VALIDATE_USER, KingdeeAuthMode.LOGIN_BY_APP_SECRET):
        kingdee.auth_mode = mode
        kingdee.save()
        client = KingdeeClient(kingdee)
        client.execute_bill_query("BD_STOCK", ["FNumber"])
        keep_session(f"{mode}, first", client.session_id)
        KdSession.objects.all().delete()  # the server forgets every session
        client.execute_bill_query("BD_STOCK", ["FNumber"])
        keep_session(f"{mode}, after re-login", client.session_id)
    wrong_password = "Wr0ng-" + secrets.token_hex(6)
    needles["a mistyped Kingdee password"] = wrong_password
    kingdee.auth_mode = KingdeeAuthMode.VALIDATE_USER
    kingdee.password = wrong_password
    kingdee.save()
    with pytest.raises(AuthError):
        KingdeeClient(kingdee).execute_bill_query("BD_STOCK", ["FNumber"])
    clear_clients()

    # The pages people (and admins) look at.
    pages: list[str] = [a.text for a in answers]

    def page(url: str) -> None:
        answer = browser.get(url)
        assert answer.status_code == 200, f"{url}: HTTP {answer.status_code}"
        pages.append(f"== {url}\n{answer.content.decode()}")

    from connectors.dingtalk.models import RobotChannel
    from connectors.fx.models import FxSource
    from connectors.models import Integration
    from monitoring.models import Alert, AlertDelivery

    for model in (
        KingdeeConnection,
        JushuitanConnection,
        RobotChannel,
        FxSource,
        Integration,
        ApiClient,
        RemoteCall,
        Alert,
        AlertDelivery,
        ExceptionTicket,
    ):
        meta = model._meta
        base = f"/admin/{meta.app_label}/{meta.model_name}/"
        page(base)
        for pk in model.objects.order_by("-pk").values_list("pk", flat=True)[:300]:
            page(f"{base}{pk}/change/")
    page("/monitoring/tickets/")
    for ticket in ExceptionTicket.objects.all():
        page(f"/monitoring/tickets/{ticket.pk}/")
    for key in ("LEAK-1", "LEAK-2", "SKU-GIFT-9001"):
        page(f"/monitoring/search/?q={key}")

    assert RemoteCall.objects.filter(system="kingdee", operation="login").exists()
    assert RemoteCall.objects.filter(system="jushuitan").exists()
    assert len(run_logs) > 50, "the run's logs were not collected"
    needles = {name: value for name, value in needles.items() if value}
    found = {
        "logs": leaks("\n".join(run_logs), needles),
        "database": leaks(database_dump(), needles),
        "pages": leaks("\n".join(pages), needles),
    }
    assert not any(found.values()), json.dumps(found, indent=2, ensure_ascii=False)
