"""The grid's columns in a real Chromium: hide, move and resize, kept per account; saved views;
fill down and fill right."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

from console.demo.models import Priority, Todo
from console.extensions import db as _db
from console.models import GridView, Role
from tests.browser.conftest import ARTIFACTS, PASSWORD, log_in
from tests.browser.test_grid_browser import GRID, cell, click_cell, seed, stored
from tests.conftest import count, make_account

# Where the screenshots of these tests are also copied, to be looked at.
SHOTS = Path(os.environ.get("CONSOLE_SHOTS", ARTIFACTS))


def until(page: Any, script: str, arg: Any = None, seconds: float = 10) -> Any:
    """Poll ``script`` (a function, run by page.evaluate) until it answers something true.

    Not page.wait_for_function: with a string that is an eval, which the page's CSP refuses.
    """
    deadline = time.monotonic() + seconds
    while True:
        value = page.evaluate(script, arg)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {seconds}s for {script}")
        page.wait_for_timeout(50)


def open_grid(page: Any, query: str = "") -> None:
    """Open the to-dos' grid and wait for it."""
    page.goto("/admin/todo/grid/" + (f"?{query}" if query else ""))
    ready(page)


def ready(page: Any) -> None:
    """Wait for the grid on this page: its first rows, its count and its layout script."""
    page.wait_for_selector(f"{GRID} .tabulator-row")
    until(page, "() => !!(window.consoleGrid && window.consoleGrid.state.count !== null"
                " && window.consoleGrid.fill)")


def shown(page: Any) -> list[str]:
    """The keys of the shown columns, left to right, as the grid counts them."""
    return page.evaluate("() => window.consoleGrid.columns().map((c) => c.key)")


def headers(page: Any) -> list[str]:
    """The column headers the user sees, left to right."""
    return [h.strip() for h in page.locator(
        f"{GRID} .tabulator-col:visible .tabulator-col-title").all_inner_texts()]


def layout_saved(page: Any) -> None:
    """Wait until the layout is on the server."""
    page.evaluate("() => window.consoleGrid.layoutSaved()")


def settled(page: Any) -> None:
    """Wait until no batch of edits is on its way."""
    until(page, "() => window.consoleGrid.state.sending === null")


def shoot(page: Any, name: str) -> None:
    """A screenshot into test-artifacts/, copied where it is looked at."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)
    if SHOTS != ARTIFACTS:
        SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ARTIFACTS / name, SHOTS / name)


def test_hidden_and_moved_columns_survive_a_reload_and_another_browser(
    editor_page: Any, browser: Any, live_server: Any
) -> None:
    page = editor_page
    seed(4)
    open_grid(page)
    default = shown(page)
    assert default[:3] == ["id", "description", "completed"]
    # All by keyboard: open the menu, untick Due date, move Priority left twice.
    page.locator("#grid-columns-button").focus()
    page.keyboard.press("Enter")
    assert page.get_attribute("#grid-columns-button", "aria-expanded") == "true"
    assert page.evaluate("() => document.activeElement.id") == "grid-show-id"
    # Up and down move between the columns' rows.
    for _ in range(3):
        page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowUp")
    assert page.evaluate("() => document.activeElement.id") == "grid-show-completed"
    page.keyboard.press("ArrowDown")
    assert page.evaluate("() => document.activeElement.id") == "grid-show-due_date"
    page.keyboard.press("Space")
    assert "due_date" not in shown(page)
    page.locator("[data-move=left][data-key=priority]").focus()
    page.keyboard.press("Enter")
    # Focus stays on the button that moved, so it can be pressed again.
    assert page.evaluate("() => document.activeElement.getAttribute('aria-label')") == \
        "Move Priority left"
    page.keyboard.press("Enter")
    # Now second (the first column stays first): that button is off, the focus on the row.
    assert page.locator("[data-move=left][data-key=priority]").is_disabled()
    assert page.evaluate("() => document.activeElement.getAttribute('data-key')") == "priority"
    shoot(page, "grid-columns-menu.png")
    page.keyboard.press("Escape")
    assert page.locator("#grid-columns").is_hidden()
    assert page.evaluate("() => document.activeElement.id") == "grid-columns-button"
    # Moving a shown column skips the hidden ones: twice left is before Description.
    expected = [k for k in default if k not in ("due_date", "priority")]
    expected.insert(1, "priority")
    assert shown(page) == expected, shown(page)
    labels = page.evaluate("() => Object.fromEntries(window.consoleGrid.config.columns"
                           ".map((c) => [c.key, c.label]))")
    assert headers(page) == [labels[k] for k in expected]
    # The grid's keys follow the shown columns: Home..End and the cells' positions.
    click_cell(page, 0, 1)
    assert page.locator("#grid-cell-0-1").inner_text() == "normal"
    layout_saved(page)
    # Reloaded, the grid opens with that layout.
    open_grid(page)
    assert shown(page) == expected
    assert page.locator(f"{GRID} .tabulator-col[tabulator-field=due_date]").is_hidden()
    # From another browser, logged in as the same account: the same.
    other = browser.new_context(base_url=live_server.url)
    try:
        tab = other.new_page()
        tab.goto("/login")
        tab.fill("input[name=email]", "editor@example.com")
        tab.fill("input[name=password]", PASSWORD)
        tab.click("button[type=submit], input[type=submit]")
        tab.wait_for_selector("#current-account")
        open_grid(tab)
        assert shown(tab) == expected
    finally:
        other.close()
    assert page.js_errors == []


def test_a_dragged_and_resized_column_is_kept_and_reset_brings_the_default(
    editor_page: Any,
) -> None:
    page = editor_page
    seed(3)
    open_grid(page)
    default = shown(page)
    # Drag the Priority header onto the Description one.
    source = page.locator(f"{GRID} .tabulator-col[tabulator-field=priority]").bounding_box()
    target = page.locator(f"{GRID} .tabulator-col[tabulator-field=description]").bounding_box()
    assert source and target
    page.mouse.move(source["x"] + source["width"] / 2, source["y"] + source["height"] / 2)
    page.mouse.down()
    page.wait_for_timeout(100)
    for step in range(1, 11):
        x = source["x"] + (target["x"] + 5 - source["x"]) * step / 10
        page.mouse.move(x, target["y"] + target["height"] / 2)
        page.wait_for_timeout(30)
    page.mouse.up()
    until(page, "() => window.consoleGrid.columns()[1].key === 'priority'")
    # Widen Description by its header's edge.
    header = page.locator(f"{GRID} .tabulator-col[tabulator-field=description]")
    before = header.bounding_box()
    assert before
    edge_x, mid_y = before["x"] + before["width"] - 2, before["y"] + before["height"] / 2
    page.mouse.move(edge_x, mid_y)
    page.mouse.down()
    page.mouse.move(edge_x + 120, mid_y, steps=5)
    page.mouse.up()
    width = until(page, "() => window.consoleGrid.table.getColumn('description').getWidth()")
    assert width > before["width"] + 60
    layout_saved(page)
    open_grid(page)
    assert shown(page)[1] == "priority"
    again = page.evaluate("() => window.consoleGrid.table.getColumn('description').getWidth()")
    assert abs(again - width) <= 2
    # Reset: the model's order and widths, here and on the next visit.
    page.click("#grid-columns-button")
    page.click("#grid-reset-layout")
    until(page, "() => window.consoleGrid.state.layoutSaving === null "
                "|| window.consoleGrid.state.layoutSaving === undefined")
    assert shown(page) == default
    layout_saved(page)
    assert count(GridView) == 0
    open_grid(page)
    assert shown(page) == default
    assert page.evaluate(
        "() => window.consoleGrid.table.getColumn('description').getWidth()") < width - 60
    assert page.js_errors == []


def test_layouts_are_each_accounts_own(page: Any) -> None:
    seed(2)
    log_in(page, Role.editor)
    open_grid(page)
    page.click("#grid-columns-button")
    page.click("#grid-show-priority")
    layout_saved(page)
    assert "priority" not in shown(page)
    make_account(Role.viewer, "viewer@example.com")
    page.context.clear_cookies()
    page.goto("/login")
    page.fill("input[name=email]", "viewer@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_selector("#current-account")
    open_grid(page)
    assert "priority" in shown(page)
    # A viewer keeps a layout of their own too.
    page.click("#grid-columns-button")
    page.click("#grid-show-completed")
    layout_saved(page)
    open_grid(page)
    assert "completed" not in shown(page) and "priority" in shown(page)
    assert page.js_errors == []


def test_a_saved_view_reopens_with_its_search_and_columns(editor_page: Any) -> None:
    page = editor_page
    data = seed(6)
    _db.session.add(Todo(description="Buy milk", list_id=data["groceries"],
                         priority=Priority.high))
    _db.session.commit()
    open_grid(page)
    page.fill("#grid-search-input", "milk")
    page.press("#grid-search-input", "Enter")
    until(page, "() => window.consoleGrid.state.count"
                " && window.consoleGrid.state.count.value === 1")
    # Sorted by priority, descending (two clicks on its header).
    for _ in range(2):
        page.click(f"{GRID} .tabulator-col[tabulator-field=priority] .tabulator-col-title")
        ready(page)
    assert page.evaluate("() => [window.consoleGrid.state.sort, "
                         "window.consoleGrid.state.descending]") == ["priority", True]
    page.click("#grid-columns-button")
    page.click("#grid-show-assignee_id")
    page.keyboard.press("Escape")
    page.click("#grid-views-button")
    page.wait_for_selector("#grid-view-list li")
    assert "No saved views yet." in page.inner_text("#grid-views")
    page.fill("#grid-view-name", "Milk run")
    page.press("#grid-view-name", "Enter")
    page.wait_for_selector("#grid-view-list .grid-view-open")
    assert page.inner_text("#grid-view-list").strip().startswith("Milk run")
    shoot(page, "grid-views-menu.png")
    # Back to everything and every column, then open the view.
    page.click("#grid-columns-button")
    page.click("#grid-reset-layout")
    page.keyboard.press("Escape")
    page.goto("/admin/todo/grid/")
    open_grid(page)
    assert page.evaluate("() => window.consoleGrid.state.count.value") == 7
    assert "assignee_id" in shown(page)
    page.click("#grid-views-button")
    page.click("#grid-view-list .grid-view-open:has-text('Milk run')")
    page.wait_for_url(lambda url: "search=milk" in url and "desc=1" in url)
    ready(page)
    assert page.evaluate("() => [window.consoleGrid.state.sort, "
                         "window.consoleGrid.state.descending]") == ["priority", True]
    assert page.input_value("#grid-search-input") == "milk"
    assert page.evaluate("() => window.consoleGrid.state.count.value") == 1
    assert cell(page, 0, 1).inner_text() == "Buy milk"
    assert "assignee_id" not in shown(page)
    # Deleted, it is gone from the menu (and the server).
    page.click("#grid-views-button")
    page.click("[aria-label='Delete view Milk run']")
    page.wait_for_selector("#grid-view-list li:has-text('No saved views yet.')")
    assert count(GridView, GridView.name == "Milk run") == 0
    assert page.js_errors == []


def test_fill_down_copies_the_top_cells_into_the_range_and_saves_them(editor_page: Any) -> None:
    page = editor_page
    data = seed(5)
    open_grid(page)
    cols = shown(page)
    description, priority = cols.index("description"), cols.index("priority")
    assert priority == description + 3
    # Give the first row a priority of its own (saved), then fill rows 1-4 from it.
    click_cell(page, 0, priority)
    page.keyboard.press("Enter")
    page.select_option(".grid-editor", "high")
    page.keyboard.press("Enter")
    settled(page)
    click_cell(page, 0, cols.index("id"))
    for _ in range(3):
        page.keyboard.press("Shift+ArrowDown")
    for _ in range(priority):
        page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("Control+d")
    settled(page)
    # The ID is read-only: left out, and said so; the rest saved in one batch.
    assert "ID cannot be edited here" in page.inner_text("#grid-message")
    for ident in data["ids"][1:4]:
        todo = stored(ident)
        assert todo.description == "Task 1" and todo.priority == Priority.high
    assert stored(data["ids"][4]).description == "Task 5"
    assert cell(page, 2, description).inner_text() == "Task 1"
    assert page.inner_text("#grid-pending") == ""
    shoot(page, "grid-fill-down.png")
    # One cell, no range: Ctrl+D copies the cell above it.
    click_cell(page, 4, priority)
    page.keyboard.press("Control+d")
    settled(page)
    assert stored(data["ids"][4]).priority == Priority.high
    assert cell(page, 4, priority).inner_text() == "high"
    # Ctrl+R fills right, through the same checks: a description is no priority.
    click_cell(page, 4, description)
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("Control+r")
    settled(page)
    assert "Nothing was saved" in page.inner_text("#grid-message")
    assert cell(page, 4, description + 1).get_attribute("aria-invalid") == "true"
    assert stored(data["ids"][4]).completed is False
    assert page.js_errors == []


def test_fill_down_is_all_or_none_and_respects_the_rules(editor_page: Any) -> None:
    page = editor_page
    data = seed(3)
    open_grid(page)
    cols = shown(page)
    description = cols.index("description")
    # An empty description is refused by the form's rule: none of the fill is saved.
    click_cell(page, 0, description)
    page.keyboard.press("Shift+ArrowDown")
    page.keyboard.press("Shift+ArrowDown")
    page.keyboard.press("Shift+ArrowRight")
    page.evaluate("() => window.consoleGrid.setCells([{id: window.consoleGrid.state.order[0], "
                  "key: 'description', value: null, label: null, byKey: false}])")
    settled(page)
    page.keyboard.press("Control+d")
    settled(page)
    assert "Nothing was saved" in page.inner_text("#grid-message")
    assert [stored(i).description for i in data["ids"]] == ["Task 1", "Task 2", "Task 3"]
    assert cell(page, 1, description).get_attribute("aria-invalid") == "true"
    assert page.js_errors == []


def test_a_viewer_cannot_fill(page: Any) -> None:
    data = seed(2)
    log_in(page, Role.viewer)
    open_grid(page)
    click_cell(page, 0, 1)
    page.keyboard.press("Shift+ArrowDown")
    page.keyboard.press("Control+d")
    assert "your role cannot change records" in page.inner_text("#grid-message")
    assert stored(data["ids"][1]).description == "Task 2"
    assert page.js_errors == []
