"""Root fixtures. Area fixtures live in tests/fixtures/<area>.py (registered below), so
every test package can use the sandbox-backed connections of every other area."""

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
