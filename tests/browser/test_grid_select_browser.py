"""The grid's selection in a real Chromium: select all matching, With selected, Duplicate,
and Ctrl+End / Ctrl+Home over rows that are not loaded."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from console.demo.models import Person, Todo, TodoList
from console.extensions import db as _db
from console.models import Role
from tests.browser.conftest import log_in
from tests.browser.test_grid_browser import GRID, cell, column, focused, settled, shoot

FILTER = "flt0_list_name_equals=Groceries"


def words(page: Any, selector: str) -> str:
    return re.sub(r"\s+", " ", page.inner_text(selector)).strip()


def seed_many(matching: int, outside: int = 40) -> dict[str, int]:
    """``matching`` to-dos on Groceries ("Task 0001".."), ``outside`` on Work; cheaply, in SQL."""
    ann = Person(name="Ann", email="ann@example.com")
    groceries = TodoList(name="Groceries", owner=ann)
    work = TodoList(name="Work", owner=ann)
    _db.session.add_all([ann, groceries, work])
    _db.session.commit()
    _db.session.execute(sa.insert(Todo), [
        {"description": f"Task {i:04d}", "list_id": groceries.id} for i in range(1, matching + 1)
    ])
    if outside:
        _db.session.execute(sa.insert(Todo), [
            {"description": f"Report {i}", "list_id": work.id} for i in range(outside)
        ])
    _db.session.commit()
    return {"groceries": groceries.id, "work": work.id, "ann": ann.id}


def open_grid(page: Any, path: str = "/admin/todo/grid/", query: str = "") -> None:
    page.goto(path + (f"?{query}" if query else ""))
    page.wait_for_selector(f"{GRID} .tabulator-row")
    poll(page, "window.consoleGrid && window.consoleGrid.state.count !== null")


def poll(page: Any, expression: str, timeout_ms: int = 10_000) -> Any:
    """Wait until ``expression`` is truthy in the page (the CSP forbids wait_for_function)."""
    waited = 0
    while waited < timeout_ms:
        value = page.evaluate(f"() => {expression}")
        if value:
            return value
        page.wait_for_timeout(50)
        waited += 50
    raise AssertionError(f"still false after {timeout_ms} ms: {expression}")


def select_all_rows(page: Any) -> None:
    """Click the first description cell, then Ctrl+A (every loaded row)."""
    cell(page, 0, column(page, "description")).click()
    page.keyboard.press("Control+a")


def with_selected(page: Any, action: str) -> None:
    """Open the toolbar's "With selected" menu and choose an entry."""
    page.click("#grid-with-selected > summary")
    page.click(f"#grid-with-selected-menu #{action}")


def test_select_all_matching_then_set_completed_on_a_filter_of_5000(editor_page: Any) -> None:
    page = editor_page
    ids = seed_many(5000)
    open_grid(page, query=FILTER)
    assert page.locator("#grid-select-matching").count() == 0
    select_all_rows(page)
    offer = page.locator("#grid-select-matching")
    offer.wait_for()
    assert offer.inner_text() == "Select all 5,000 matching"
    # Before it is chosen, the menu acts on the loaded rows that are selected.
    page.click("#grid-with-selected > summary")
    loaded = page.evaluate("window.consoleGrid.state.order.length")
    assert words(page, "#grid-with-selected-head") == f"For the {loaded:,} selected to-dos"
    assert words(page, "#grid-export-csv") == f"Export the {loaded:,} selected as CSV"
    page.click("#grid-with-selected > summary")
    offer.click()
    assert "All 5,000 matching to-dos are selected." in words(page, "#grid-select-all")
    for width in (1366, 800):
        page.set_viewport_size({"width": width, "height": 768})
        shoot(page, f"grid-select-all-{width}.png")
    page.set_viewport_size({"width": 1366, "height": 768})
    page.click("#grid-with-selected > summary")
    assert words(page, "#grid-with-selected-head") == "For all 5,000 matching to-dos"
    shoot(page, "grid-with-all-matching-menu.png")
    assert page.locator("#grid-export-csv").is_enabled()
    page.click("#grid-with-selected-menu #grid-action-set-completed")
    page.wait_for_selector("#bulk-confirm")
    assert "Set completed: 5,000 to-dos" in words(page, "h1")
    page.select_option("#value", "true")
    page.click("#bulk-confirm button[type=submit]")
    page.wait_for_selector(".alert-success")
    assert "5,000 to-dos updated" in words(page, ".alert-success")
    assert "/admin/todo/grid/" in page.url  # back to the grid it came from
    _db.session.expire_all()
    done = dict(_db.session.execute(
        sa.select(Todo.list_id, sa.func.count()).where(Todo.completed.is_(True))
        .group_by(Todo.list_id)).all())
    assert done == {ids["groceries"]: 5000}
    assert page.js_errors == []


def test_select_all_matching_then_delete_goes_to_the_preview_with_its_count(
    editor_page: Any,
) -> None:
    page = editor_page
    seed_many(450)
    open_grid(page, query=FILTER)
    select_all_rows(page)
    page.click("#grid-select-matching")
    with_selected(page, "grid-action-delete")
    page.wait_for_url(re.compile(r"/admin/todo/delete/\?"))
    assert "Delete to-dos?" in words(page, "h1")
    assert "the list's filter matches: 450." in words(page, "#delete-matching")
    assert _db.session.query(Todo).count() == 490  # the preview deletes nothing
    assert page.js_errors == []


def test_a_plain_selection_posts_its_ids_and_esc_drops_it(editor_page: Any) -> None:
    page = editor_page
    seed_many(30, outside=0)
    open_grid(page, query=FILTER)
    description = column(page, "description")
    cell(page, 1, description).click()
    page.keyboard.press("Shift+ArrowDown")
    page.keyboard.press("Shift+ArrowDown")
    page.locator("#grid-select-matching").wait_for()
    page.keyboard.press("Escape")
    assert page.locator("#grid-select-matching").count() == 0
    page.keyboard.press("Shift+ArrowDown")
    page.click("#grid-select-matching")
    assert page.locator("#grid-select-clear").is_visible()
    page.click("#grid-select-clear")
    assert page.locator("#grid-select-all").inner_text() == ""
    assert page.evaluate("window.consoleGrid.state.anchor") is None
    cell(page, 1, description).click()
    page.keyboard.press("Shift+ArrowDown")
    page.keyboard.press("Shift+ArrowDown")
    with_selected(page, "grid-action-set-completed")
    page.wait_for_selector("#bulk-confirm")
    assert "Set completed: 3 to-dos" in words(page, "h1")
    body = words(page, "#bulk-confirm")
    assert "Task 0002" in body and "Task 0004" in body and "Task 0005" not in body
    assert page.js_errors == []


def test_viewers_are_offered_exports_but_no_edits_or_deletes(page: Any) -> None:
    log_in(page, Role.viewer)
    seed_many(120)
    open_grid(page, query=FILTER)
    select_all_rows(page)
    page.click("#grid-select-matching")
    page.click("#grid-with-selected > summary")
    menu = page.locator("#grid-with-selected-menu")
    assert menu.locator("[id^=grid-action-]").count() == 0
    assert menu.locator("#grid-export-csv").is_enabled()
    with page.expect_download() as download:
        menu.locator("#grid-export-csv").click()
    lines = download.value.path().read_text(encoding="utf-8-sig").strip().splitlines()
    assert len(lines) == 121  # the header and every matching row, loaded or not
    assert page.js_errors == []


def test_export_of_the_selected_rows_takes_them_by_id_in_the_grids_sort(page: Any) -> None:
    log_in(page, Role.viewer)
    seed_many(300)
    open_grid(page, query=FILTER)
    description = column(page, "description")
    # Sorted by priority, descending: one priority for all, so ties go newest first and
    # rows 2..4 are Task 0298..0296.
    header = f"{GRID} .tabulator-col[tabulator-field=priority] .tabulator-col-title"
    page.click(header)
    poll(page, "window.consoleGrid.state.sort === 'priority' && !window.consoleGrid.state.loading")
    page.click(header)
    poll(page, "window.consoleGrid.state.descending && !window.consoleGrid.state.loading"
               " && window.consoleGrid.state.order.length > 0")
    settled(page)
    cell(page, 2, description).click()
    page.keyboard.press("Shift+ArrowDown")
    page.keyboard.press("Shift+ArrowDown")
    page.click("#grid-with-selected > summary")
    item = page.locator("#grid-with-selected-menu #grid-export-csv")
    assert words(page, "#grid-export-csv") == "Export the 3 selected as CSV"
    with page.expect_download() as download:
        item.click()
    lines = download.value.path().read_text(encoding="utf-8-sig").strip().splitlines()
    assert [line.split(",")[1] for line in lines[1:]] == ["Task 0298", "Task 0297", "Task 0296"]
    assert "/admin/todo/grid/" in page.url  # the grid stays where it was
    assert page.evaluate("window.consoleGrid.state.focus.row") == 4
    assert page.js_errors == []


def test_duplicate_makes_a_new_to_do_under_its_original(editor_page: Any) -> None:
    page = editor_page
    ids = seed_many(3, outside=0)
    open_grid(page)
    description = column(page, "description")
    cell(page, 1, description).click()
    page.keyboard.press("Shift+F10")
    page.locator("#grid-menu [data-action=duplicate]").click()
    settled(page)
    assert focused(page) == (2, description)
    _db.session.expire_all()
    copies = _db.session.scalars(sa.select(Todo).where(Todo.description == "Task 0002")).all()
    assert len(copies) == 2
    assert {t.list_id for t in copies} == {ids["groceries"]}
    new_id = max(t.id for t in copies)
    assert page.evaluate("window.consoleGrid.state.order[2]") == str(new_id)
    assert cell(page, 2, description).inner_text() == "Task 0002"
    assert cell(page, 3, description).inner_text() == "Task 0003"
    # Undone as a paste's new rows are: the copy is deleted again.
    page.keyboard.press("Control+z")
    settled(page)
    poll(page, "window.consoleGrid.state.order.length === 3")
    _db.session.expire_all()
    assert _db.session.query(Todo).filter(Todo.description == "Task 0002").count() == 1
    assert page.js_errors == []


def test_duplicating_a_list_is_refused_at_its_unique_name_until_fixed(editor_page: Any) -> None:
    page = editor_page
    seed_many(1, outside=0)
    open_grid(page, "/admin/todolist/grid/")
    name = column(page, "name")
    cell(page, 0, name).click()
    page.keyboard.press("Shift+F10")
    page.locator("#grid-menu [data-action=duplicate]").click()
    settled(page)
    marked = cell(page, 1, name)
    poll(page, f"document.querySelector('#grid-cell-1-{name}.grid-problem') !== null")
    assert marked.get_attribute("aria-invalid") == "true"
    assert "Nothing was saved" in words(page, "#grid-message")
    assert _db.session.query(TodoList).count() == 2
    # The user fixes the name in the cell: the row saves.
    marked.click()
    page.keyboard.type("Groceries 2")
    page.keyboard.press("Enter")
    settled(page)
    _db.session.expire_all()
    names = set(_db.session.scalars(sa.select(TodoList.name)))
    assert names == {"Groceries", "Work", "Groceries 2"}
    assert page.js_errors == []


def test_ctrl_end_shows_the_real_last_row_and_ctrl_home_the_first(editor_page: Any) -> None:
    page = editor_page
    seed_many(3000, outside=0)
    open_grid(page)
    description = column(page, "description")
    cell(page, 0, description).click()
    page.keyboard.press("Control+End")
    poll(page, "window.consoleGrid.state.atStart === false && !window.consoleGrid.state.loading")
    state = page.evaluate("window.consoleGrid.state")
    assert len(state["order"]) <= 200  # the rows between were never loaded
    row, col = focused(page)
    assert row == len(state["order"]) - 1 and col == len(page.evaluate(
        "window.consoleGrid.columns()")) - 1
    focus = page.locator(f"#grid-cell-{row}-{description}")
    assert focus.inner_text() == "Task 3000"
    assert focus.locator("xpath=..").get_attribute("aria-rowindex") == "3001"
    status = words(page, "#grid-count")
    assert "3,000 to-dos" in status and f"rows {3001 - len(state['order']):,}\u20133,000" in status
    shoot(page, "grid-ctrl-end.png")
    # Up from the window's first row loads the page before it, in place.
    page.keyboard.press("Control+ArrowUp")  # a real Ctrl+Up goes to the very first row...
    poll(page, "window.consoleGrid.state.atStart === true")
    assert page.locator(f"#grid-cell-0-{description}").inner_text() == "Task 0001"
    page.keyboard.press("Control+End")
    poll(page, "window.consoleGrid.state.atStart === false && !window.consoleGrid.state.loading")
    first = page.evaluate("window.consoleGrid.state.order.length")
    for _ in range(first):
        page.keyboard.press("ArrowUp")
    poll(page, f"window.consoleGrid.state.order.length > {first}")
    row, _col = focused(page)
    shown = page.locator(f"#grid-cell-{row}-0")
    assert page.locator(f"#grid-cell-{row}-{description}").inner_text() == (
        f"Task {3000 - first:04d}")
    assert shown.locator("xpath=..").get_attribute("aria-rowindex") == str(3001 - first)
    page.keyboard.press("Control+Home")
    poll(page, "window.consoleGrid.state.atStart === true && !window.consoleGrid.state.loading")
    assert focused(page) == (0, 0)
    first_cell = page.locator(f"#grid-cell-0-{description}")
    assert first_cell.inner_text() == "Task 0001"
    assert first_cell.locator("xpath=..").get_attribute("aria-rowindex") == "2"
    assert page.js_errors == []


def selection(page: Any) -> dict[str, Any]:
    return page.evaluate("({anchor: window.consoleGrid.state.anchor,"
                         " focus: window.consoleGrid.state.focus,"
                         " loaded: window.consoleGrid.state.order.length,"
                         " done: window.consoleGrid.state.done,"
                         " atStart: window.consoleGrid.state.atStart,"
                         " last: window.consoleGrid.columns().length - 1})")


def test_ctrl_shift_end_and_home_stretch_the_range_to_the_real_ends(
    editor_page: Any,
) -> None:
    page = editor_page
    seed_many(1200, outside=0)
    open_grid(page)
    description = column(page, "description")
    cell(page, 1, description).click()
    assert selection(page)["loaded"] < 1200
    page.keyboard.press("Control+Shift+End")
    poll(page, "window.consoleGrid.state.done && window.consoleGrid.state.focus.row === 1199")
    now = selection(page)
    assert now["anchor"] == {"row": 1, "col": description}
    assert now["focus"] == {"row": 1199, "col": now["last"]}
    assert now["loaded"] == 1200
    assert page.locator(f"#grid-cell-1199-{description}").inner_text() == "Task 1200"
    assert "Selected: 1,199 \u00d7 " in words(page, "#grid-selection")
    # From the window at the end (Ctrl+End), Ctrl+Shift+Home loads the rows above it.
    open_grid(page)
    cell(page, 0, description).click()
    page.keyboard.press("Control+End")
    poll(page, "!window.consoleGrid.state.atStart && !window.consoleGrid.state.loading")
    page.keyboard.press("Control+Shift+Home")
    poll(page, "window.consoleGrid.state.atStart && window.consoleGrid.state.focus.row === 0"
               " && window.consoleGrid.state.anchor && !window.consoleGrid.state.loadingBefore")
    now = selection(page)
    assert now["loaded"] == 1200 and now["focus"] == {"row": 0, "col": 0}
    assert now["anchor"] == {"row": 1199, "col": now["last"]}
    assert page.locator(f"#grid-cell-0-{description}").inner_text() == "Task 0001"
    assert page.js_errors == []


def test_ctrl_shift_end_stops_at_the_range_limit_and_says_so(
    editor_page: Any, monkeypatch: Any
) -> None:
    from console.admin import grid

    monkeypatch.setattr(grid, "RANGE_LIMIT", 300)
    page = editor_page
    seed_many(1000, outside=0)
    open_grid(page)
    cell(page, 0, 0).click()
    page.keyboard.press("Control+Shift+End")
    poll(page, "window.consoleGrid.state.focus.row > 0 && !window.consoleGrid.state.loading")
    now = selection(page)
    assert now["loaded"] < 1000 and not now["done"]
    rows = now["focus"]["row"] + 1
    assert 300 <= rows < 1000  # stopped at the first page to reach the limit
    assert now["anchor"] == {"row": 0, "col": 0}
    assert (f"The range stops at {rows:,} rows: \"Select all matching\" "
            "takes every row.") in words(page, "#grid-message")
    assert page.js_errors == []
