"""Browser tests: Debian's Chromium driven by Playwright against a real server on 127.0.0.1.

Every test here is marked ``browser``. Without /usr/bin/chromium or the playwright
package they skip with the reason, unless ``CONSOLE_REQUIRE_BROWSER=1`` (CI), where
they fail. A failing test leaves a screenshot in test-artifacts/. No browser is ever
downloaded: Playwright launches the system Chromium.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from console.models import Role
from tests.conftest import PASSWORD, make_account

CHROMIUM = os.environ.get("CONSOLE_CHROMIUM", "/usr/bin/chromium")
REQUIRE_BROWSER = os.environ.get("CONSOLE_REQUIRE_BROWSER") == "1"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Bounded waits: a test that cannot find what it expects fails within seconds.
TIMEOUT_MS = 10_000


def _browser_missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed"
    if not os.access(CHROMIUM, os.X_OK):
        return f"no Chromium at {CHROMIUM}"
    return None


BROWSER_MISSING = _browser_missing()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test in this folder ``browser``."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Any:
    """Keep each phase's report on the item, so fixtures can tell that a test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the session (the system one, never a download)."""
    if BROWSER_MISSING:
        if REQUIRE_BROWSER:
            pytest.fail(f"CONSOLE_REQUIRE_BROWSER=1 but {BROWSER_MISSING}")
        pytest.skip(BROWSER_MISSING)
    from playwright.sync_api import sync_playwright

    manager = sync_playwright().start()
    try:
        chromium = manager.chromium.launch(
            executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True
        )
        yield chromium
        chromium.close()
    finally:
        manager.stop()


class LiveServer:
    """The app served by werkzeug in a thread on a free port of 127.0.0.1."""

    def __init__(self, app: Flask) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def live_server(app: Flask) -> Iterator[LiveServer]:
    """The console on a real HTTP server, on the parametrised database."""
    with LiveServer(app) as server:
        yield server


@pytest.fixture
def page(browser: Any, live_server: LiveServer, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser tab (own cookies) on the live server; a screenshot if the test fails."""
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.js_errors = errors
    yield tab
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)[-150:]
        tab.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    context.close()


@pytest.fixture
def no_js_page(
    browser: Any, live_server: LiveServer, request: pytest.FixtureRequest
) -> Iterator[Any]:
    """A browser tab with JavaScript turned off."""
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    yield tab
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)[-150:]
        tab.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    context.close()


def log_in(tab: Any, role: Role = Role.editor) -> None:
    """Create an account with ``role`` and log in through the login form."""
    make_account(role)
    tab.goto("/login")
    tab.fill("input[name=email]", f"{role.value}@example.com")
    tab.fill("input[name=password]", PASSWORD)
    tab.click("button[type=submit], input[type=submit]")
    tab.wait_for_selector("#current-account")


@pytest.fixture
def editor_page(page: Any) -> Any:
    """A tab logged in as an editor."""
    log_in(page, Role.editor)
    return page
