"""S3: secrets are encrypted at rest; the database never holds the plaintext."""

import pytest
from django.db import connection

from connectors.jushuitan.models import JushuitanConnection
from connectors.kingdee.models import KingdeeConnection
from core import crypto

SECRET = "0123456789abcdef0123456789abcdef"


def test_round_trip_and_rotation(settings):
    """Encrypt with the newest key; decrypt with any configured key (rotation)."""
    from cryptography.fernet import Fernet

    old = Fernet.generate_key().decode()
    settings.ENCRYPTION_KEYS = [old]
    stored = crypto.encrypt(SECRET)
    assert stored.startswith(crypto.PREFIX) and SECRET not in stored
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode(), old]
    assert crypto.decrypt(stored) == SECRET
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(crypto.SecretDecryptionError):
        crypto.decrypt(stored)


def test_empty_secret_stays_empty():
    assert crypto.encrypt("") == "" and crypto.decrypt("") == ""


@pytest.mark.django_db
def test_no_plaintext_in_the_database():
    """S3: GIVEN a connection saved with secrets THEN the raw columns hold only ciphertext."""
    kd = KingdeeConnection.objects.create(
        name="kd",
        server_url="https://k.example.com/k3cloud/",
        acct_id="a",
        username="u",
        app_id="100001_x",
        app_secret=SECRET,
    )
    js = JushuitanConnection.objects.create(
        name="js",
        base_url="https://j.example.com",
        app_key="k",
        app_secret=SECRET,
        access_token="tok-PLAINTEXT-123",
        refresh_token="ref-PLAINTEXT-456",
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT app_secret FROM kingdee_kingdeeconnection WHERE id = %s", [kd.pk])
        (raw_kd,) = cursor.fetchone()
        cursor.execute(
            "SELECT app_secret, access_token, refresh_token FROM jushuitan_jushuitanconnection "
            "WHERE id = %s",
            [js.pk],
        )
        raw_js = cursor.fetchone()
    for raw in (raw_kd, *raw_js):
        assert raw.startswith(crypto.PREFIX)
        assert "PLAINTEXT" not in raw and SECRET not in raw
    assert KingdeeConnection.objects.get(pk=kd.pk).app_secret == SECRET
    assert JushuitanConnection.objects.get(pk=js.pk).access_token == "tok-PLAINTEXT-123"


@pytest.mark.django_db
def test_admin_never_shows_secret_and_blank_keeps_it(admin_client):
    """The admin form renders no secret; saving with the field blank keeps the stored value."""
    kd = KingdeeConnection.objects.create(
        name="kd",
        server_url="https://k.example.com/k3cloud/",
        acct_id="a",
        username="u",
        app_id="100001_x",
        app_secret=SECRET,
    )
    url = f"/admin/kingdee/kingdeeconnection/{kd.pk}/change/"
    page = admin_client.get(url).content.decode()
    assert SECRET not in page
    response = admin_client.post(
        url,
        {
            "name": "kd renamed",
            "server_url": kd.server_url,
            "acct_id": "a",
            "username": "u",
            "app_id": "100001_x",
            "app_secret": "",
            "password": "",
            "auth_mode": "signature",
            "lcid": 2052,
            "org_number": "100",
            "timeout_seconds": 30,
            "verify_tls": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    kd.refresh_from_db()
    assert kd.name == "kd renamed" and kd.app_secret == SECRET


def test_log_filter_masks_secrets():
    from core.logging import mask_text

    text = mask_text('app_secret=abc123&access_token="Zq9tok" password: hunter2')
    assert "abc123" not in text and "Zq9tok" not in text and "hunter2" not in text
    assert text.startswith("app_secret=***")


def test_mask_text_with_a_limit_masks_a_secret_straddling_the_cut():
    """S3: a long remote-call text kept to its first characters never shows a secret cut in
    two: the text is masked with a margin before the final cut."""
    from core.logging import mask_text

    text = "x" * 95 + 'app_secret="s3cr3tvalue0123456789"' + "y" * 500
    shown = mask_text(text, 110)
    assert len(shown) == 110
    assert "s3cr3t" not in shown
    assert shown.startswith("x" * 95 + "app_secret")
    assert mask_text(text) == "x" * 95 + 'app_secret="***"' + "y" * 500


def test_s3_every_log_handler_gets_masked_records_tracebacks_included(caplog):
    """S3: GIVEN a handler without the masking filter (an error tracker, a file a deployment
    adds) WHEN a line is logged with a secret in its arguments and in a chained exception
    THEN the handler still writes them masked: records are masked when they are made."""
    import logging

    lines: list[str] = []

    class Plain(logging.Handler):
        def emit(self, record):
            lines.append(logging.Formatter("%(message)s").format(record))

    logger = logging.getLogger("tests.secrets")
    handler = Plain(level=logging.DEBUG)
    logger.addHandler(handler)
    try:
        try:
            try:
                raise ConnectionError("url: /robot/send?access_token=tok-LEAK-1&sign=sig-LEAK-2")
            except ConnectionError as exc:
                raise RuntimeError("the robot could not be reached") from exc
        except RuntimeError:
            logger.exception("posting with password=%s failed", "pw-LEAK-3")
        logger.warning("POST /open-apis/bot/v2/hook/hook-LEAK-4 and /send?key=key-LEAK-5")
    finally:
        logger.removeHandler(handler)
    text = "\n".join(lines)
    assert "Traceback" in text and "the robot could not be reached" in text
    assert "LEAK" not in text, text
