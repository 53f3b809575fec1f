"""Root fixtures. Area fixtures live in tests/fixtures/<area>.py (registered below), so
every test package can use the sandbox-backed connections of every other area."""

import os

import pytest
from django.utils import translation

pytest_plugins = [
    "tests.fixtures.kingdee",
    "tests.fixtures.jushuitan",
    "tests.fixtures.mappings",
    "tests.fixtures.flows",
    "tests.fixtures.monitoring",
    "tests.fixtures.operations",
    "tests.fixtures.masterdata",
    "tests.fixtures.warehouse",
]


@pytest.fixture(scope="session", autouse=True)
def _private_redis_keys():
    """The processes of a parallel run (pytest-xdist) share one Redis, and a portal may run on
    it too: each test process keeps its cache entries, locks and rate-limit windows under its
    own key prefix (flow ids, connection ids and cache keys repeat across their databases)."""
    from django.conf import settings
    from django.test import override_settings

    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    caches = {name: {**conf} for name, conf in settings.CACHES.items()}
    prefix = f"{settings.PORTAL_KEY_PREFIX}-test-{worker}"
    for conf in caches.values():
        if "KEY_PREFIX" in conf:
            conf["KEY_PREFIX"] = prefix
    with override_settings(CACHES=caches, PORTAL_KEY_PREFIX=prefix):
        yield


@pytest.fixture(autouse=True)
def _fresh_cache(_private_redis_keys):
    """Each test starts with an empty cache, as with an empty database: a heartbeat, run lock
    or rate-limit window an earlier test left must not decide this one (e.g. an old worker
    heartbeat makes the watchdog call the workers silent)."""
    from tests.fixtures.cache import cache_clear_own

    cache_clear_own()


@pytest.fixture
def english(settings):
    """Run the test in English: for tests that assert English text produced outside a request
    (services, the engine, tasks), including threads it starts (live server, Celery worker).

    The portal's default language is zh-hans. A test that only asserts on a page or an API
    answer sends `Accept-Language: en` instead. This fixture switches LANGUAGE_CODE to English
    for the test and activates English in the test thread.
    """
    settings.LANGUAGE_CODE = "en"  # resets every thread's active language (setting_changed)
    with translation.override("en"):
        yield
