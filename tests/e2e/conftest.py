"""Browser tests (issue #10): Playwright for Python driving Debian's chromium against the live
server with the demo integration.

Without chromium (or the playwright package) every e2e test is skipped with the reason in the
summary (`-ra`); with PORTAL_E2E_REQUIRED=1 (set by .ci/run) a missing browser is a failure
instead, so CI never skips them silently. `playwright install` is never used: the browser is
the system's (PORTAL_E2E_CHROMIUM, default /usr/bin/chromium).

Screenshots go to var/e2e-screenshots/; with PORTAL_E2E_SCREENSHOTS=docs they are written to
docs/screenshots/ (the README's pictures) instead.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEMO_PASSWORD = "demo-pass-2026"  # core/management/commands/create_demo_users.py
ADMIN_PASSWORD = "admin-demo-2026"


def chromium_path() -> str | None:
    wanted = os.environ.get("PORTAL_E2E_CHROMIUM", "/usr/bin/chromium")
    found = wanted if Path(wanted).is_file() else shutil.which("chromium")
    return found if found and os.access(found, os.X_OK) else None


def _missing_browser_reason() -> str:
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    if chromium_path() is None:
        return (
            "chromium is not installed (Debian: apt-get install -y chromium; or set "
            "PORTAL_E2E_CHROMIUM to a chromium binary)"
        )
    return ""


def _required() -> bool:
    return os.environ.get("PORTAL_E2E_REQUIRED", "").lower() in ("1", "true", "yes")


def pytest_collection_modifyitems(config, items):
    reason = _missing_browser_reason()
    if not reason:
        return
    e2e = [item for item in items if "tests/e2e/" in str(item.fspath).replace(os.sep, "/")]
    if not e2e:
        return
    if _required():
        return  # the `chromium` fixture fails each test with the reason
    marker = pytest.mark.skip(reason=f"browser tests skipped: {reason}")
    for item in e2e:
        item.add_marker(marker)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    reason = _missing_browser_reason()
    if reason and terminalreporter.stats.get("skipped"):
        terminalreporter.write_line(
            f"NOTE: the browser tests (tests/e2e) were skipped: {reason}.", yellow=True
        )


@pytest.fixture(scope="module")
def chromium():
    """One headless chromium per test module (Debian's binary, driven by Playwright).

    Playwright's sync API keeps an event loop on the test thread, and Django refuses ORM calls
    from a thread with a running loop: the tests' own ORM calls are allowed while the browser
    is up (DJANGO_ALLOW_ASYNC_UNSAFE, removed again afterwards so no later test or subprocess
    inherits it)."""
    reason = _missing_browser_reason()
    if reason:
        pytest.fail(f"PORTAL_E2E_REQUIRED is set but the browser tests cannot run: {reason}")
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium_path(), args=CHROMIUM_ARGS
            )
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def open_browser(chromium, live_server, demo_users):
    """`open_browser(username)`: a fresh browser context (own cookies) logged in through the
    admin's login form as that demo user; returns its page. `locale` is the browser's
    language (English by default; "zh-CN" for a Chinese reader)."""
    contexts = []

    def open_as(username: str, locale: str = "en-US"):
        context = chromium.new_context(
            base_url=live_server.url, locale=locale, viewport={"width": 1360, "height": 900}
        )
        context.set_default_timeout(20_000)
        contexts.append(context)
        page = context.new_page()
        page.goto("/admin/login/?next=/admin/")
        page.fill("#id_username", username)
        page.fill("#id_password", ADMIN_PASSWORD if username == "admin" else DEMO_PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_url(re.compile(r"/admin/$"))
        return page

    yield open_as
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    if os.environ.get("PORTAL_E2E_SCREENSHOTS") == "docs":
        target = ROOT / "docs" / "screenshots"
    else:
        from django.conf import settings

        target = Path(settings.VAR_DIR) / "e2e-screenshots"
    target.mkdir(parents=True, exist_ok=True)
    return target


@pytest.fixture
def shot(screenshot_dir):
    """`shot(page, "board")` saves a full-page PNG for the README's tour."""

    def take(page, name: str) -> Path:
        path = screenshot_dir / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
