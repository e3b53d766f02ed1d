"""The grid in a real Chromium: the keymap, editing, paste, and conflicts between two people."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from console.demo.models import Person, Priority, Todo, TodoList
from console.extensions import db as _db
from console.models import Role
from tests.browser.conftest import ARTIFACTS, log_in
from tests.conftest import make_account

GRID = "#console-grid"


def seed(n: int = 6) -> dict[str, Any]:
    """Ann and Bob, the Groceries and Work lists, and ``n`` to-dos on Groceries."""
    ann = Person(name="Ann", email="ann@example.com")
    bob = Person(name="Bob", email="bob@example.com")
    groceries = TodoList(name="Groceries", owner=ann)
    work = TodoList(name="Work", owner=bob)
    todos = [Todo(description=f"Task {i}", todo_list=groceries, priority=Priority.normal)
             for i in range(1, n + 1)]
    _db.session.add_all([ann, bob, groceries, work, *todos])
    _db.session.commit()
    return {"ids": [t.id for t in todos], "groceries": groceries.id, "work": work.id,
            "ann": ann.id, "bob": bob.id}


def stored(ident: int) -> Todo:
    """A to-do as the database holds it now."""
    _db.session.expire_all()
    todo = _db.session.get(Todo, ident)
    assert todo is not None
    return todo


def open_grid(page: Any, query: str = "") -> None:
    """Open the to-dos' grid and wait for its first rows."""
    page.goto("/admin/todo/grid/" + (f"?{query}" if query else ""))
    page.wait_for_selector(f"{GRID} .tabulator-row")
    page.wait_for_function("() => window.consoleGrid && window.consoleGrid.state.count !== null")


def cell(page: Any, row: int, col: int) -> Any:
    """The cell at ``row`` (0-based among loaded rows) and ``col`` (0-based)."""
    return page.locator(f"#grid-cell-{row}-{col}")


def focused(page: Any) -> tuple[int, int]:
    """Where the grid's focus is (row, column)."""
    spot = page.evaluate("[window.consoleGrid.state.focus.row, window.consoleGrid.state.focus.col]")
    return spot[0], spot[1]


def column(page: Any, key: str) -> int:
    """The position of column ``key``."""
    return int(page.evaluate(
        "(key) => JSON.parse(document.getElementById('grid-config').textContent)"
        ".columns.findIndex((c) => c.key === key)", key))


def settled(page: Any) -> None:
    """Wait until no batch is on its way."""
    page.wait_for_function("() => window.consoleGrid.state.sending === null")


def click_cell(page: Any, row: int, col: int) -> None:
    """Click a cell (which focuses it, and the grid)."""
    cell(page, row, col).click()
    assert focused(page) == (row, col)


def shoot(page: Any, name: str) -> None:
    """A screenshot into test-artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def test_the_grid_shows_rows_with_aria_grid_semantics(editor_page: Any) -> None:
    page = editor_page
    seed()
    open_grid(page)
    grid = page.locator(GRID)
    assert grid.get_attribute("role") == "grid"
    assert grid.get_attribute("aria-rowcount") == "7"  # six rows and the header row
    assert page.locator(f"{GRID} [role=columnheader]").count() >= 7
    assert page.locator(f"{GRID} [role=row][aria-rowindex='2']").count() == 1
    first = cell(page, 0, 1)
    assert first.inner_text() == "Task 1"
    assert first.get_attribute("role") == "gridcell"
    assert first.get_attribute("aria-colindex") == "2"
    assert "6 to-dos" in page.inner_text("#grid-count")
    assert page.js_errors == []


def test_screenshots_of_the_grid_at_1366_and_800_pixels(editor_page: Any) -> None:
    page = editor_page
    seed(40)
    for width in (1366, 800):
        page.set_viewport_size({"width": width, "height": 768})
        open_grid(page)
        click_cell(page, 1, 1)
        page.keyboard.press("Shift+ArrowDown")
        page.keyboard.press("Shift+ArrowRight")
        assert "Selected: 2 \u00d7 2 cells" in page.inner_text("#grid-selection")
        # The header stays in view while the rows scroll under it.
        page.locator(f"{GRID} .tabulator-tableholder").evaluate("(el) => { el.scrollTop = 300; }")
        page.wait_for_timeout(100)
        assert page.locator(f"{GRID} .tabulator-header").is_visible()
        page.locator(f"{GRID} .tabulator-tableholder").evaluate("(el) => { el.scrollTop = 0; }")
        shoot(page, f"grid-{width}.png")
        header = page.locator(f"{GRID} .tabulator-header").bounding_box()
        assert header is not None and header["width"] <= width
    assert page.js_errors == []


def paste(page: Any, text: str) -> None:
    """Put ``text`` on the clipboard, as a spreadsheet does, and press Ctrl+V in the grid."""
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.evaluate("(text) => navigator.clipboard.writeText(text)", text)
    page.keyboard.press("Control+V")
    page.wait_for_timeout(100)
    settled(page)


def test_the_spreadsheet_keymap_moves_the_focused_cell(editor_page: Any) -> None:
    page = editor_page
    seed(30)
    open_grid(page)
    last_col = page.evaluate("JSON.parse(document.getElementById('grid-config').textContent)"
                             ".columns.length") - 1
    click_cell(page, 0, 1)
    grid = page.locator(GRID)
    assert grid.evaluate("(el) => document.activeElement === el")
    steps = [
        ("ArrowDown", (1, 1)), ("ArrowRight", (1, 2)), ("ArrowLeft", (1, 1)), ("ArrowUp", (0, 1)),
        ("Tab", (0, 2)), ("Shift+Tab", (0, 1)), ("End", (0, last_col)), ("Home", (0, 0)),
        ("Control+End", (29, last_col)), ("Control+Home", (0, 0)),
    ]
    for key, where in steps:
        page.keyboard.press(key)
        assert focused(page) == where, key
    page.keyboard.press("PageDown")
    down = focused(page)
    assert down[0] > 5 and down[1] == 0
    page.keyboard.press("PageUp")
    assert focused(page) == (0, 0)
    # The focused cell is marked for assistive technology.
    marked = cell(page, 0, 0)
    assert marked.get_attribute("aria-selected") == "true"
    assert grid.get_attribute("aria-activedescendant") == "grid-cell-0-0"
    assert "grid-focus" in (marked.get_attribute("class") or "")
    # Shortcuts still work after mouse clicks elsewhere in the grid.
    click_cell(page, 3, 2)
    page.keyboard.press("ArrowDown")
    assert focused(page) == (4, 2)
    assert page.js_errors == []


def test_enter_edits_and_commits_moving_down_and_tab_commits_moving_right(
    editor_page: Any,
) -> None:
    page = editor_page
    data = seed(4)
    open_grid(page)
    description = column(page, "description")
    click_cell(page, 0, description)
    page.keyboard.press("Enter")
    editor = page.locator(".grid-editor")
    assert editor.input_value() == "Task 1"
    editor.fill("Task one")
    page.keyboard.press("Enter")
    settled(page)
    assert focused(page) == (1, description)
    assert stored(data["ids"][0]).description == "Task one"
    assert cell(page, 0, description).inner_text() == "Task one"
    # Typing starts an edit that replaces the value; Tab commits and moves right.
    page.keyboard.type("Task two")
    page.keyboard.press("Tab")
    settled(page)
    assert focused(page) == (1, description + 1)
    assert stored(data["ids"][1]).description == "Task two"
    # F2 edits too, and Esc cancels without saving.
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("F2")
    page.locator(".grid-editor").fill("Never saved")
    page.keyboard.press("Escape")
    assert page.locator(".grid-editor").count() == 0
    assert stored(data["ids"][2]).description == "Task 3"
    assert cell(page, 2, description).inner_text() == "Task 3"
    assert page.js_errors == []


def test_space_toggles_a_boolean_and_delete_clears_a_nullable_cell(editor_page: Any) -> None:
    page = editor_page
    data = seed(2)
    with_date = stored(data["ids"][0])
    from datetime import date

    with_date.due_date = date(2026, 5, 1)
    _db.session.commit()
    open_grid(page)
    click_cell(page, 0, column(page, "completed"))
    page.keyboard.press(" ")
    settled(page)
    assert stored(data["ids"][0]).completed is True
    assert cell(page, 0, column(page, "completed")).inner_text() == "Yes"
    page.keyboard.press(" ")
    settled(page)
    assert stored(data["ids"][0]).completed is False
    click_cell(page, 0, column(page, "due_date"))
    page.keyboard.press("Delete")
    settled(page)
    assert stored(data["ids"][0]).due_date is None
    # A required cell is not cleared.
    click_cell(page, 0, column(page, "description"))
    page.keyboard.press("Delete")
    assert "cannot be empty" in page.inner_text("#grid-message")
    assert stored(data["ids"][0]).description == "Task 1"


def test_typed_iso_dates_choices_and_references_by_type_ahead(editor_page: Any) -> None:
    page = editor_page
    data = seed(2)
    open_grid(page)
    click_cell(page, 0, column(page, "due_date"))
    page.keyboard.type("2026-07-14")
    page.keyboard.press("Enter")
    settled(page)
    click_cell(page, 0, column(page, "priority"))
    page.keyboard.press("Enter")
    page.locator("select.grid-editor").select_option("high")
    page.keyboard.press("Enter")
    settled(page)
    click_cell(page, 0, column(page, "list_id"))
    page.keyboard.type("Wor")
    page.wait_for_selector(".grid-lookup li")
    assert page.locator(".grid-lookup li").first.inner_text() == "Work"
    shoot(page, "grid-lookup.png")
    page.keyboard.press("Enter")
    settled(page)
    click_cell(page, 0, column(page, "assignee_id"))
    page.keyboard.type("bob")
    page.wait_for_selector(".grid-lookup li")
    page.keyboard.press("Tab")
    settled(page)
    todo = stored(data["ids"][0])
    assert (str(todo.due_date), todo.priority, todo.list_id, todo.assignee_id) == (
        "2026-07-14", Priority.high, data["work"], data["bob"])
    assert cell(page, 0, column(page, "list_id")).inner_text() == "Work"
    assert cell(page, 0, column(page, "assignee_id")).inner_text() == "Bob <bob@example.com>"
    # A date the rule refuses is marked in its cell, with the format in the reason.
    click_cell(page, 1, column(page, "due_date"))
    page.keyboard.type("14/07/2026")
    page.keyboard.press("Enter")
    settled(page)
    bad = cell(page, 1, column(page, "due_date"))
    assert "grid-problem" in (bad.get_attribute("class") or "")
    assert "YYYY-MM-DD" in (bad.get_attribute("title") or "")
    assert stored(data["ids"][1]).due_date is None
    assert page.js_errors == []


def test_consecutive_edits_of_one_row_never_conflict_with_oneself(editor_page: Any) -> None:
    page = editor_page
    data = seed(1)
    open_grid(page)
    description = column(page, "description")
    for text in ("First", "Second", "Third"):
        click_cell(page, 0, description)
        page.keyboard.type(text)
        page.keyboard.press("Enter")
        settled(page)
    click_cell(page, 0, column(page, "completed"))
    page.keyboard.press(" ")
    settled(page)
    todo = stored(data["ids"][0])
    assert (todo.description, todo.completed, todo.version) == ("Third", True, 5)
    assert page.inner_text("#grid-message") in ("", "Saved.")
    assert page.locator(f"{GRID} .grid-conflict, {GRID} .grid-problem").count() == 0


def test_a_pasted_block_with_one_bad_cell_saves_nothing_until_it_is_fixed(
    editor_page: Any,
) -> None:
    page = editor_page
    data = seed(5)
    open_grid(page)
    description = column(page, "description")
    click_cell(page, 1, description)
    # Description, completed, due date and priority of rows 2-4: 3 rows x 4 columns.
    block = ("Paste A\tyes\t2026-01-02\thigh\n"
             "Paste B\tno\t2026-13-40\tlow\n"
             "Paste C\ttrue\t2026-01-04\tnormal\n")
    paste(page, block)
    bad = cell(page, 2, column(page, "due_date"))
    assert "grid-problem" in (bad.get_attribute("class") or "")
    assert "YYYY-MM-DD" in (bad.get_attribute("title") or "")
    assert bad.inner_text() == "2026-13-40"  # the user's value is kept
    assert cell(page, 1, description).inner_text() == "Paste A"
    assert "Nothing was saved" in page.inner_text("#grid-message")
    assert [stored(i).description for i in data["ids"][1:4]] == ["Task 2", "Task 3", "Task 4"]
    shoot(page, "grid-paste-refused.png")
    click_cell(page, 2, column(page, "due_date"))
    page.keyboard.press("Enter")
    page.locator(".grid-editor").fill("2026-01-03")
    page.keyboard.press("Enter")
    settled(page)
    saved = [stored(i) for i in data["ids"][1:4]]
    assert [(t.description, t.completed, str(t.due_date), t.priority.value) for t in saved] == [
        ("Paste A", True, "2026-01-02", "high"),
        ("Paste B", False, "2026-01-03", "low"),
        ("Paste C", True, "2026-01-04", "normal"),
    ]
    assert page.locator(f"{GRID} .grid-problem").count() == 0
    assert page.js_errors == []


def test_a_paste_past_the_last_row_adds_rows(editor_page: Any) -> None:
    page = editor_page
    data = seed(2)
    open_grid(page)
    click_cell(page, 1, column(page, "description"))
    # Description ... list: the list by its name, as a spreadsheet has it.
    block = "\n".join(f"{name}\tno\t\tlow\tGroceries\tann@example.com"
                      for name in ("Row two", "New one", "New two"))
    paste(page, block)
    assert page.locator(f"{GRID} .grid-problem").count() == 0, page.inner_text("#grid-message")
    _db.session.expire_all()
    todos = list(_db.session.scalars(sa.select(Todo).order_by(Todo.id)))
    assert [t.description for t in todos] == ["Task 1", "Row two", "New one", "New two"]
    assert {t.assignee_id for t in todos[1:]} == {data["ann"]}
    assert "4 to-dos" in page.inner_text("#grid-count")
    assert cell(page, 3, 0).inner_text() == str(todos[3].id)
    # The new rows hold their new versions: editing one again is no conflict.
    click_cell(page, 3, column(page, "description"))
    page.keyboard.type("New two, edited")
    page.keyboard.press("Enter")
    settled(page)
    assert stored(todos[3].id).description == "New two, edited"
    assert page.js_errors == []


def test_arrow_down_from_the_real_last_row_opens_one_new_row(editor_page: Any) -> None:
    page = editor_page
    data = seed(2)
    open_grid(page)
    description = column(page, "description")
    click_cell(page, 1, description)
    page.keyboard.press("ArrowDown")
    assert page.evaluate("window.consoleGrid.state.order.length") == 3
    assert focused(page) == (2, description)
    page.keyboard.press("ArrowDown")  # an empty new row is not followed by another
    assert page.evaluate("window.consoleGrid.state.order.length") == 3
    page.keyboard.type("Brand new")
    page.keyboard.press("Enter")
    list_cell = cell(page, 2, column(page, "list_id"))
    list_cell.wait_for()
    page.wait_for_function("() => window.consoleGrid.state.sending === null"
                           " && document.querySelector('#console-grid .grid-problem')")
    assert "List is required" in (list_cell.get_attribute("title") or "")
    list_cell.click()
    page.keyboard.type("Groceries")
    page.keyboard.press("Enter")
    settled(page)
    assert page.locator(f"{GRID} .grid-problem").count() == 0, page.inner_text("#grid-message")
    _db.session.expire_all()
    made = _db.session.scalars(sa.select(Todo).where(Todo.description == "Brand new")).all()
    assert [t.list_id for t in made] == [data["groceries"]]
    assert page.js_errors == []


def test_enter_in_an_empty_grid_opens_its_first_row(editor_page: Any) -> None:
    page = editor_page
    seed(0)
    page.goto("/admin/todo/grid/")
    page.wait_for_function("() => window.consoleGrid && window.consoleGrid.state.count !== null"
                           " && window.consoleGrid.state.done")
    assert page.evaluate("window.consoleGrid.state.order.length") == 0
    page.focus(GRID)
    page.keyboard.press("Enter")
    assert page.evaluate("window.consoleGrid.state.order.length") == 1
    assert focused(page) == (0, column(page, "description"))
    page.keyboard.press("Enter")  # now it edits that cell
    assert page.locator(".grid-editor").count() == 1
    assert page.js_errors == []


def test_copy_puts_the_selection_on_the_clipboard_as_tab_separated_text(
    editor_page: Any,
) -> None:
    page = editor_page
    ids = seed(3)["ids"]
    open_grid(page)
    click_cell(page, 0, column(page, "description"))
    page.keyboard.press("Shift+ArrowDown")
    page.keyboard.press("Shift+ArrowRight")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.keyboard.press("Control+C")
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied == "Task 1\tfalse\r\nTask 2\tfalse"
    assert page.inner_text("#grid-message") == "Copied 2 rows."
    # ... and pastes back: two rows down, the same two cells.
    click_cell(page, 1, column(page, "description"))
    page.keyboard.press("Control+V")
    settled(page)
    assert [stored(i).description for i in ids] == ["Task 1", "Task 1", "Task 2"]


def test_two_people_editing_one_cell_see_the_conflict_in_the_cell(
    editor_page: Any, browser: Any, live_server: Any
) -> None:
    page = editor_page
    data = seed(2)
    make_account(Role.editor, "other@example.com")
    other_context = browser.new_context(base_url=live_server.url)
    other = other_context.new_page()
    try:
        other.goto("/login")
        other.fill("input[name=email]", "other@example.com")
        other.fill("input[name=password]", "correct-horse-battery")
        other.click("button[type=submit], input[type=submit]")
        other.wait_for_selector("#current-account")
        open_grid(page)
        open_grid(other)
        description = column(page, "description")
        click_cell(other, 0, description)
        other.keyboard.type("Theirs")
        other.keyboard.press("Enter")
        settled(other)
        click_cell(page, 0, description)
        page.keyboard.type("Mine")
        page.keyboard.press("Enter")
        settled(page)
        mine = cell(page, 0, description)
        assert "grid-conflict" in (mine.get_attribute("class") or "")
        assert "Mine" in mine.inner_text() and "theirs: Theirs" in mine.inner_text()
        assert stored(data["ids"][0]).description == "Theirs"
        click_cell(page, 0, description)
        assert "other@example.com changed this record" in page.inner_text("#grid-panel")
        # The message sits under the cell; the column keeps its width.
        width = mine.bounding_box()["width"]
        assert width < 300
        shoot(page, "grid-conflict.png")
        page.click("#grid-use-mine")
        settled(page)
        assert stored(data["ids"][0]).description == "Mine"
        assert page.locator(f"{GRID} .grid-conflict").count() == 0
    finally:
        other_context.close()
    assert page.js_errors == []


def test_viewers_see_the_grid_but_cannot_edit(page: Any) -> None:
    seed(2)
    log_in(page, Role.viewer)
    open_grid(page)
    click_cell(page, 0, column(page, "description"))
    page.keyboard.press("Enter")
    assert page.locator(".grid-editor").count() == 0
    assert "your role cannot change records" in page.inner_text("#grid-message")


def test_rows_load_as_the_grid_scrolls(editor_page: Any) -> None:
    page = editor_page
    seed(450)
    open_grid(page)
    loaded = page.evaluate("window.consoleGrid.state.order.length")
    assert loaded < 450
    assert "450 to-dos" in page.inner_text("#grid-count")
    for _ in range(10):
        page.locator(f"{GRID} .tabulator-tableholder").evaluate(
            "(el) => { el.scrollTop = el.scrollHeight; }")
        page.wait_for_timeout(150)
        if page.evaluate("window.consoleGrid.state.done"):
            break
    assert page.evaluate("window.consoleGrid.state.order.length") == 450
    # Only the rows in view are in the page (virtual scrolling).
    assert page.locator(f"{GRID} .tabulator-row").count() < 120


def test_quick_edits_while_a_save_is_on_its_way_are_all_saved(editor_page: Any) -> None:
    page = editor_page
    data = seed(1)
    open_grid(page)
    click_cell(page, 0, column(page, "description"))
    # No waiting between the edits: the second is made while the first is being saved.
    page.keyboard.type("Fast one")
    page.keyboard.press("Tab")
    page.keyboard.press(" ")
    page.keyboard.press("Tab")
    page.keyboard.type("2026-02-03")
    page.keyboard.press("Enter")
    page.wait_for_function("() => window.consoleGrid.state.sending === null"
                           " && window.consoleGrid.state.pending.size === 0")
    todo = stored(data["ids"][0])
    assert (todo.description, todo.completed, str(todo.due_date)) == (
        "Fast one", True, "2026-02-03")
    assert page.locator(f"{GRID} .grid-conflict, {GRID} .grid-problem").count() == 0


def test_a_paste_below_the_loaded_rows_fills_the_next_page_before_adding_any(
    editor_page: Any,
) -> None:
    page = editor_page
    data = seed(101)
    open_grid(page)
    assert page.evaluate("window.consoleGrid.state.order.length") == 100
    click_cell(page, 0, 0)
    # The last loaded row (Ctrl+End would jump to the real last row, the 101st).
    page.evaluate("window.consoleGrid.moveTo(99, 1, false)")
    assert focused(page) == (99, 1)
    paste(page, "Ninety-nine\nHundred\nOne more")
    # Lines 1-2 fell on loaded rows (the 101st came with the next page); the third is new,
    # and its list is required: marked there, and nothing is saved until it is given.
    list_cell = cell(page, 101, column(page, "list_id"))
    assert "List is required" in (list_cell.get_attribute("title") or "")
    assert page.locator(f"{GRID} .grid-problem").count() == 1
    assert stored(data["ids"][99]).description == "Task 100"
    list_cell.click()
    page.keyboard.type("Groceries")
    page.keyboard.press("Enter")
    settled(page)
    assert page.locator(f"{GRID} .grid-problem").count() == 0, page.inner_text("#grid-message")
    assert stored(data["ids"][99]).description == "Ninety-nine"
    assert stored(data["ids"][100]).description == "Hundred"
    _db.session.expire_all()
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(Todo)) == 102


def test_without_javascript_the_grid_says_so_and_links_to_the_list(
    no_js_page: Any,
) -> None:
    page = no_js_page
    seed(1)
    make_account(Role.editor)
    page.goto("/login")
    page.fill("input[name=email]", "editor@example.com")
    page.fill("input[name=password]", "correct-horse-battery")
    page.click("button[type=submit], input[type=submit]")
    page.goto("/admin/todo/grid/")
    assert "The grid needs JavaScript" in page.inner_text("body")
    link = page.locator("noscript a, a#list-link").first
    assert link.get_attribute("href") == "/admin/todo/?view=classic"
