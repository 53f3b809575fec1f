"""Settings switch between the embedded defaults and PostgreSQL/Redis by environment alone."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = (
    "import django, json; django.setup(); from django.conf import settings; "
    "print(json.dumps({'engine': settings.DATABASES['default']['ENGINE'], "
    "'name': str(settings.DATABASES['default']['NAME']), "
    "'broker': settings.CELERY_BROKER_URL, 'cache': settings.CACHES['default']['BACKEND'], "
    "'tz': settings.TIME_ZONE, 'lang': settings.LANGUAGE_CODE, 'use_tz': settings.USE_TZ}))"
)


def _settings_with(env: dict[str, str]) -> dict:
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    base.update(
        env, PORTAL_READ_DOTENV="false", DJANGO_SETTINGS_MODULE="integration_portal.settings"
    )
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_embedded_defaults_need_no_server(tmp_path):
    """GIVEN no DATABASE_URL / REDIS_URL THEN SQLite and the filesystem broker are used."""
    found = _settings_with({"PORTAL_DEBUG": "true", "PORTAL_VAR_DIR": str(tmp_path)})
    assert found["engine"] == "django.db.backends.sqlite3"
    assert found["name"].startswith(str(tmp_path))
    assert found["broker"] == "filesystem://"
    assert found["cache"].endswith("LocMemCache")
    assert (found["tz"], found["lang"], found["use_tz"]) == ("Asia/Shanghai", "zh-hans", True)


def test_postgres_and_redis_from_environment(tmp_path):
    """GIVEN DATABASE_URL and REDIS_URL THEN PostgreSQL and a Redis broker/cache, no code change."""
    found = _settings_with(
        {
            "PORTAL_DEBUG": "true",
            "PORTAL_VAR_DIR": str(tmp_path),
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/portal_probe",
            "REDIS_URL": "redis://127.0.0.1:6379/3",
        }
    )
    assert found["engine"] == "django.db.backends.postgresql"
    assert found["name"] == "portal_probe"
    assert found["broker"] == "redis://127.0.0.1:6379/3"
    assert found["cache"].endswith("RedisCache")


STRONG_KEY = "k9$Vq2!xZp7@Lr4#Wm8^Tn3&Hy6*Bc1(Df5)Gj0-Ks+Ua=Ee_Oi"
SERVICES = {
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/portal_probe",
    "REDIS_URL": "redis://127.0.0.1:6379/3",
}


@pytest.mark.parametrize(
    "missing", ["PORTAL_SECRET_KEY", "PORTAL_ENCRYPTION_KEY", "DATABASE_URL", "REDIS_URL"]
)
def test_production_refuses_to_start_without_keys(tmp_path, missing):
    """GIVEN DEBUG off and a key missing THEN settings refuse to load, naming the variable.
    Issue 16 #8: without DATABASE_URL or REDIS_URL too (no SQLite, no per-process cache)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PORTAL_") and k not in ("DATABASE_URL", "REDIS_URL")
    }
    env.update(
        PORTAL_READ_DOTENV="false",
        PORTAL_DEBUG="false",
        PORTAL_VAR_DIR=str(tmp_path),
        PORTAL_SECRET_KEY=STRONG_KEY,
        PORTAL_ENCRYPTION_KEY="ZmDfcTF7_60GrrY167zsiPd67pEvs0aGOv2oasOM1Pg=",
        DJANGO_SETTINGS_MODULE="integration_portal.settings",
        **SERVICES,
    )
    del env[missing]
    out = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode != 0
    assert missing in out.stderr


@pytest.mark.parametrize("weak", ["x" * 60, "short-key"])
def test_production_refuses_a_weak_secret_key(tmp_path, weak):
    """Issue 16: GIVEN DEBUG off and a PORTAL_SECRET_KEY that is short or repetitive THEN
    settings refuse to load, naming the variable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env.update(
        PORTAL_READ_DOTENV="false",
        PORTAL_DEBUG="false",
        PORTAL_VAR_DIR=str(tmp_path),
        PORTAL_SECRET_KEY=weak,
        PORTAL_ENCRYPTION_KEY="ZmDfcTF7_60GrrY167zsiPd67pEvs0aGOv2oasOM1Pg=",
        DJANGO_SETTINGS_MODULE="integration_portal.settings",
        **SERVICES,
    )
    out = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode != 0
    assert "PORTAL_SECRET_KEY is too weak" in out.stderr


def test_check_deploy_is_clean_in_production(tmp_path):
    """GIVEN the documented production variables THEN `manage.py check --deploy` reports nothing."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env.update(
        PORTAL_READ_DOTENV="false",
        PORTAL_DEBUG="false",
        PORTAL_VAR_DIR=str(tmp_path),
        PORTAL_SECRET_KEY="k9$Vq2!xZp7@Lr4#Wm8^Tn3&Hy6*Bc1(Df5)Gj0-Ks+Ua=Ee_Oi",
        PORTAL_ENCRYPTION_KEY="ZmDfcTF7_60GrrY167zsiPd67pEvs0aGOv2oasOM1Pg=",
        PORTAL_ALLOWED_HOSTS="portal.example.com",
        DJANGO_SETTINGS_MODULE="integration_portal.settings",
        **SERVICES,
    )
    out = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "no issues" in out.stdout


def test_check_deploy_warns_while_the_sandbox_is_on(tmp_path):
    """Issue 16 (docs/security.md): GIVEN production settings with the sandbox switched on
    THEN `check --deploy` names it (the simulators must stay off in production)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env.update(
        PORTAL_READ_DOTENV="false",
        PORTAL_DEBUG="false",
        PORTAL_SANDBOX_ENABLED="true",
        PORTAL_VAR_DIR=str(tmp_path),
        PORTAL_SECRET_KEY=STRONG_KEY,
        PORTAL_ENCRYPTION_KEY="ZmDfcTF7_60GrrY167zsiPd67pEvs0aGOv2oasOM1Pg=",
        PORTAL_ALLOWED_HOSTS="portal.example.com",
        DJANGO_SETTINGS_MODULE="integration_portal.settings",
        **SERVICES,
    )
    out = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode != 0
    assert "portal.W001" in out.stdout + out.stderr
