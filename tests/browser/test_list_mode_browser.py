"""The grid as a model's list page in a real Chromium (CONSOLE_LIST_PAGE=grid, the default).

The suite runs with the classic list (tests/conftest.py); these tests turn the default
back on for their app and follow the navigation a user would: the nav bar's link opens
the grid, the grid's List tab opens the classic list and the browser keeps that choice
until "Open in grid", and a browser without JavaScript always lands on the classic list.
"""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import ARTIFACTS, log_in
from tests.browser.test_grid_browser import GRID, seed

LIST_TABLE = "table.console-list"
NAV_TODOS = "nav a.nav-link[href='/admin/todo/']"


def _scripts_ran(page: Any) -> None:
    """Wait until the page's scripts said this browser runs JavaScript (the cookie)."""
    for _ in range(100):
        if page.evaluate("document.cookie.indexOf('console_js=1') >= 0"):
            return
        page.wait_for_timeout(50)
    raise AssertionError("console-page.js never set the console_js cookie")


def _remembered(page: Any, mode: str) -> None:
    """Wait until the page's scripts remembered ``mode`` as this browser's choice."""
    for _ in range(100):
        if page.evaluate("(m) => document.cookie.indexOf('console_list=' + m) >= 0", mode):
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"the choice {mode!r} was never remembered")


def _wait_for_grid(page: Any) -> None:
    page.wait_for_selector(f"{GRID} .tabulator-row")


def test_the_list_link_opens_the_grid_and_the_choice_is_kept(app: Any, page: Any) -> None:
    app.config["CONSOLE_LIST_PAGE"] = "grid"
    seed(3)
    log_in(page)
    _scripts_ran(page)
    page.click(NAV_TODOS)
    _wait_for_grid(page)
    assert page.url.endswith("/admin/todo/")
    assert page.locator(LIST_TABLE).count() == 0
    assert page.locator(f"{GRID} [role=row]").count() >= 3
    ARTIFACTS.mkdir(exist_ok=True)
    for width in (1366, 800):
        page.set_viewport_size({"width": width, "height": 800})
        page.screenshot(path=str(ARTIFACTS / f"list-url-grid-{width}.png"))

    # The List tab: the classic list, and this browser keeps it.
    page.click("#list-link")
    page.wait_for_selector(LIST_TABLE)
    assert "view=classic" in page.url
    _remembered(page, "classic")
    page.click(NAV_TODOS)
    page.wait_for_selector(LIST_TABLE)
    assert page.locator(GRID).count() == 0

    # "Open in grid" brings the grid back, also behind the nav bar's link.
    page.click("#grid-link")
    _wait_for_grid(page)
    assert "/admin/todo/grid/" in page.url
    _remembered(page, "grid")
    page.click(NAV_TODOS)
    _wait_for_grid(page)
    assert page.url.endswith("/admin/todo/")
    assert page.js_errors == []


def test_with_the_setting_classic_the_list_link_stays_the_list(app: Any, page: Any) -> None:
    app.config["CONSOLE_LIST_PAGE"] = "classic"
    seed(2)
    log_in(page)
    _scripts_ran(page)
    page.click(NAV_TODOS)
    page.wait_for_selector(LIST_TABLE)
    assert page.locator(GRID).count() == 0


def test_without_javascript_the_list_url_is_the_classic_list(
    app: Any, no_js_page: Any, live_server: Any
) -> None:
    app.config["CONSOLE_LIST_PAGE"] = "grid"
    seed(2)
    page = no_js_page
    # As if JavaScript had run in this browser before and was turned off since.
    page.context.add_cookies([{"name": "console_js", "value": "1", "url": live_server.url}])
    log_in(page)
    page.goto("/admin/todo/")
    page.wait_for_selector(LIST_TABLE)
    assert "view=classic" in page.url
    assert "Task 1" in page.inner_text(LIST_TABLE)
