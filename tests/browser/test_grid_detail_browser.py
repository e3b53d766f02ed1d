"""Master-detail in a real Chromium: a parent's children under its grid, and moving them."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa

from console.demo.models import Person, Priority, Todo, TodoList
from console.extensions import db as _db
from console.models import AuditEntry, Role
from tests.browser.conftest import log_in
from tests.browser.test_grid_browser import shoot
from tests.conftest import PASSWORD, make_account

GRID = "#console-grid"
DETAIL = "#grid-detail-grid-0"


def seed() -> dict[str, Any]:
    """Ann (Groceries: three to-dos) and Bob (Work: two to-dos, one assigned to Ann)."""
    ann = Person(name="Ann", email="ann@example.com")
    bob = Person(name="Bob", email="bob@example.com")
    groceries = TodoList(name="Groceries", owner=ann)
    work = TodoList(name="Work", owner=bob)
    shopping = [Todo(description=f"Buy {what}", todo_list=groceries, priority=Priority.normal)
                for what in ("milk", "eggs", "bread")]
    office = [Todo(description="Write report", todo_list=work, assignee=ann),
              Todo(description="Book room", todo_list=work)]
    _db.session.add_all([ann, bob, groceries, work, *shopping, *office])
    _db.session.commit()
    return {"groceries": groceries.id, "work": work.id, "ann": ann.id, "bob": bob.id,
            "shopping": [t.id for t in shopping], "office": [t.id for t in office]}


def list_of(ident: int) -> int:
    """The list a to-do is on, as the database holds it now."""
    _db.session.expire_all()
    todo = _db.session.get(Todo, ident)
    assert todo is not None
    return todo.list_id


def wait_for(page: Any, script: str, arg: Any = None, timeout: float = 10.0) -> Any:
    """Poll ``script`` (a function of ``arg``) until it returns something truthy.

    The page's CSP refuses ``wait_for_function`` with a string: this evaluates instead.
    """
    end = time.monotonic() + timeout
    while True:
        value = page.evaluate(script, arg)
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {script}")
        page.wait_for_timeout(50)


def detail_texts(page: Any, tab: int = 0) -> list[str]:
    """The first text column of each row the detail grid of ``tab`` holds (when loaded)."""
    return page.evaluate(
        """(tab) => { const t = window.consoleGridDetail.tabs[tab];
              if (!t.grid || t.grid.state.loading || t.grid.state.count === null) { return null; }
              return t.grid.state.order.map((id) => t.grid.dataOf(id).description
                                              || t.grid.dataOf(id).name); }""", tab)


def shows(page: Any, expected: list[str], tab: int = 0) -> None:
    """Wait until the detail grid of ``tab`` holds exactly ``expected`` (in any order)."""
    wait_for(page, """([tab, want]) => { const t = window.consoleGridDetail.tabs[tab];
        if (!t.grid || t.grid.state.loading || t.grid.state.count === null) { return false; }
        const got = t.grid.state.order.map((id) => t.grid.dataOf(id).description
                                              || t.grid.dataOf(id).name);
        return JSON.stringify(got.slice().sort()) === JSON.stringify(want.slice().sort()); }""",
             [tab, expected])


def open_lists(page: Any, endpoint: str = "todolist") -> None:
    """Open a parent's grid and wait for its rows and the first detail tab's."""
    page.goto(f"/admin/{endpoint}/grid/")
    page.wait_for_selector(f"{GRID} .tabulator-row")
    wait_for(page, "() => window.consoleGridDetail && window.consoleGridDetail.tabs[0].grid"
                   " && window.consoleGridDetail.tabs[0].grid.state.count !== null")


def focus_parent(page: Any, row: int) -> None:
    """Click the parent grid's row ``row`` (its second column)."""
    page.locator(f"#grid-cell-{row}-1").click()


def parent_row(page: Any, name: str) -> int:
    """The position of the parent row with a cell that reads ``name``."""
    row = int(page.evaluate(
        """(name) => { const g = window.consoleGrid;
             return g.state.order.findIndex((id) => g.columns().some(
               (c) => g.dataOf(id)[c.key] === name)); }""", name))
    assert row >= 0, name
    return row


def test_the_detail_pane_shows_the_focused_lists_to_dos_and_follows_the_focus(
    editor_page: Any,
) -> None:
    page = editor_page
    seed()
    page.set_viewport_size({"width": 1366, "height": 768})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if "/admin/todo/grid/rows" in r.url
            else None)
    open_lists(page)
    assert page.locator("#grid-detail-tab-0").inner_text() == "To-dos"
    groceries, work = parent_row(page, "Groceries"), parent_row(page, "Work")
    focus_parent(page, groceries)
    shows(page, ["Buy milk", "Buy eggs", "Buy bread"])
    assert "Groceries" in page.inner_text("#grid-detail-caption")
    assert "3 to-dos" in page.inner_text("#grid-detail-0-count")
    focus_parent(page, work)
    shows(page, ["Write report", "Book room"])
    assert "Work" in page.inner_text("#grid-detail-caption")
    # Holding the arrow keys: the pane asks once the focus rests, not once per row.
    asked = len(requests)
    for _ in range(6):
        page.keyboard.press("ArrowUp")
        page.keyboard.press("ArrowDown")
    page.wait_for_timeout(600)
    assert len(requests) - asked <= 1
    shows(page, ["Write report", "Book room"])
    # F6 moves between the grids; the detail grid edits like the other.
    page.keyboard.press("F6")
    assert page.evaluate("() => document.activeElement.id") == "grid-detail-grid-0"
    page.keyboard.press("ArrowDown")
    page.keyboard.press("F6")
    assert page.evaluate("() => document.activeElement.id") == "console-grid"
    focus_parent(page, groceries)
    shows(page, ["Buy milk", "Buy eggs", "Buy bread"])
    page.locator("#grid-detail-0-cell-0-1").click()
    page.keyboard.type("Buy oat milk")
    page.keyboard.press("Enter")
    wait_for(page, "() => window.consoleGridDetail.tabs[0].grid.state.sending === null"
                   " && document.getElementById('grid-detail-0-message').textContent === 'Saved.'")
    _db.session.expire_all()
    assert _db.session.query(Todo).filter_by(description="Buy oat milk").count() == 1
    shoot(page, "grid-master-detail.png")
    # The pane folds away, and stays so after a reload (this browser remembers).
    page.click("#grid-detail-toggle")
    assert page.locator("#grid-detail-body").is_hidden()
    page.reload()
    page.wait_for_selector(f"{GRID} .tabulator-row")
    assert page.locator("#grid-detail-body").is_hidden()
    page.click("#grid-detail-toggle")
    wait_for(page, "() => window.consoleGridDetail.tabs[0].grid"
                   " && window.consoleGridDetail.tabs[0].grid.state.count !== null")
    assert page.locator("#grid-detail-body").is_visible()
    assert page.js_errors == []


def test_a_person_shows_both_relationships_as_tabs(editor_page: Any) -> None:
    page = editor_page
    data = seed()
    open_lists(page, "person")
    labels = sorted(page.locator("[role=tab]").all_inner_texts())
    assert labels == ["To-do lists (owner)", "To-dos (assignee)"]
    tabs = page.evaluate("() => window.consoleGridDetail.tabs.map((t) => t.fk)")
    lists_tab, todos_tab = tabs.index("owner_id"), tabs.index("assignee_id")
    ann = parent_row(page, "Ann")
    focus_parent(page, ann)
    page.click(f"#grid-detail-tab-{lists_tab}")
    shows(page, ["Groceries"], lists_tab)
    page.click(f"#grid-detail-tab-{todos_tab}")
    shows(page, ["Write report"], todos_tab)
    focus_parent(page, parent_row(page, "Bob"))
    shows(page, [], todos_tab)
    page.click(f"#grid-detail-tab-{lists_tab}")
    shows(page, ["Work"], lists_tab)
    assert data["ann"] != data["bob"]
    assert page.js_errors == []


def cut_rows(page: Any, first: int, last: int) -> None:
    """Select detail rows ``first``..``last`` and press Ctrl+X."""
    page.locator(f"#grid-detail-0-cell-{first}-1").click()
    page.locator(f"#grid-detail-0-cell-{last}-1").click(modifiers=["Shift"])
    page.keyboard.press("Control+X")


def test_cut_and_paste_moves_two_to_dos_to_another_list(editor_page: Any) -> None:
    page = editor_page
    data = seed()
    open_lists(page)
    focus_parent(page, parent_row(page, "Groceries"))
    shows(page, ["Buy milk", "Buy eggs", "Buy bread"])
    cut_rows(page, 0, 1)
    assert page.locator(f"{DETAIL} .tabulator-row.grid-cut").count() == 2
    assert "2 to-dos cut" in page.inner_text("#grid-message")
    # Esc cancels a cut; cut again, and paste on Work.
    page.keyboard.press("Escape")
    assert page.locator(f"{DETAIL} .tabulator-row.grid-cut").count() == 0
    cut_rows(page, 0, 1)
    page.keyboard.press("F6")
    page.keyboard.press("Control+Home")
    work = parent_row(page, "Work")
    while page.evaluate("() => window.consoleGrid.state.focus.row") != work:
        page.keyboard.press("ArrowDown")
    page.keyboard.press("Control+V")
    shows(page, ["Write report", "Book room", "Buy milk", "Buy eggs"])
    assert "Moved 2 to-dos to Work" in page.inner_text("#grid-message")
    moved = data["shopping"][:2]
    assert [list_of(i) for i in moved] == [data["work"], data["work"]]
    assert list_of(data["shopping"][2]) == data["groceries"]
    # The move is in each to-do's History, like any other change.
    _db.session.expire_all()
    entries = _db.session.scalars(sa.select(AuditEntry).where(
        AuditEntry.model == "Todo", AuditEntry.action == "update",
        AuditEntry.object_id.in_([str(i) for i in moved]))).all()
    assert sorted(e.changes["after"]["list_id"] for e in entries) == [data["work"]] * 2
    assert {e.account_email for e in entries} == {"editor@example.com"}
    assert page.js_errors == []


def test_the_context_menu_offers_the_move_while_rows_are_cut(editor_page: Any) -> None:
    page = editor_page
    data = seed()
    open_lists(page)
    focus_parent(page, parent_row(page, "Groceries"))
    shows(page, ["Buy milk", "Buy eggs", "Buy bread"])
    cut_rows(page, 2, 2)
    page.locator(f"#grid-cell-{parent_row(page, 'Work')}-1").click(button="right")
    item = page.locator("#grid-menu-move-here")
    assert item.inner_text().startswith("Move 1 to-do here")
    item.click()
    shows(page, ["Write report", "Book room", "Buy bread"])
    assert list_of(data["shopping"][2]) == data["work"]


def test_dragging_a_to_do_onto_another_list_moves_it(editor_page: Any) -> None:
    page = editor_page
    data = seed()
    open_lists(page)
    focus_parent(page, parent_row(page, "Work"))
    shows(page, ["Write report", "Book room"])
    page.locator("#grid-detail-0-cell-1-1").drag_to(
        page.locator(f"#grid-cell-{parent_row(page, 'Groceries')}-1"))
    shows(page, ["Buy milk", "Buy eggs", "Buy bread", "Book room"])
    assert list_of(data["office"][1]) == data["groceries"]
    assert list_of(data["office"][0]) == data["work"]
    assert page.js_errors == []


def edit_as_someone_else(browser: Any, live_server: Any, description: str, text: str) -> None:
    """Another editor, in a browser context of their own, retypes a to-do's description."""
    other_context = browser.new_context(base_url=live_server.url)
    other = other_context.new_page()
    try:
        make_account(Role.editor, "other@example.com")
        other.goto("/login")
        other.fill("input[name=email]", "other@example.com")
        other.fill("input[name=password]", PASSWORD)
        other.click("button[type=submit], input[type=submit]")
        other.wait_for_selector("#current-account")
        other.goto("/admin/todo/grid/")
        other.wait_for_selector(f"{GRID} .tabulator-row")
        row = int(other.evaluate(
            """(text) => { const g = window.consoleGrid;
                 return g.state.order.findIndex((id) => g.dataOf(id).description === text); }""",
            description))
        assert row >= 0, description
        col = int(other.evaluate(
            "() => window.consoleGrid.columns().findIndex((c) => c.key === 'description')"))
        other.locator(f"#grid-cell-{row}-{col}").click()
        other.keyboard.type(text)
        other.keyboard.press("Enter")
        wait_for(other, "() => window.consoleGrid.state.sending === null"
                        " && document.getElementById('grid-message').textContent === 'Saved.'")
    finally:
        other_context.close()


def detail_column(page: Any, key: str) -> int:
    """The position of the detail grid's column ``key``."""
    col = int(page.evaluate(
        "(key) => window.consoleGridDetail.tabs[0].grid.columns().findIndex((c) => c.key === key)",
        key))
    assert col >= 0, key
    return col


def test_a_move_of_a_to_do_someone_changed_meanwhile_is_refused_whole_and_shown_in_the_cell(
    editor_page: Any, browser: Any, live_server: Any
) -> None:
    page = editor_page
    data = seed()
    page.set_viewport_size({"width": 1366, "height": 768})
    open_lists(page)
    focus_parent(page, parent_row(page, "Groceries"))
    shows(page, ["Buy milk", "Buy eggs", "Buy bread"])
    edit_as_someone_else(browser, live_server, "Buy eggs", "Buy brown eggs")
    cut_rows(page, 0, 1)
    page.keyboard.press("F6")
    work = parent_row(page, "Work")
    page.locator(f"#grid-cell-{work}-1").click()
    shows(page, ["Write report", "Book room"])
    page.keyboard.press("Control+V")
    wait_for(page, "() => document.getElementById('grid-message').textContent"
                   ".indexOf('Nothing was moved') === 0")
    message = page.inner_text("#grid-message")
    assert "other@example.com" in message and "Buy eggs" in message
    assert [list_of(i) for i in data["shopping"]] == [data["groceries"]] * 3
    # The pane goes back to the list they are on (their change shown); the changed to-do's
    # list cell shows theirs and yours, the other waits as an unsaved edit.
    shows(page, ["Buy milk", "Buy brown eggs", "Buy bread"])
    assert "Groceries" in page.inner_text("#grid-detail-caption")
    wait_for(page, "() => document.querySelectorAll('#grid-detail-grid-0 .grid-conflict').length")
    list_col = detail_column(page, "list_id")
    eggs_row = int(page.evaluate(
        "(id) => window.consoleGridDetail.tabs[0].grid.state.pos.get(String(id))",
        data["shopping"][1]))
    conflict = page.locator(f"#grid-detail-0-cell-{eggs_row}-{list_col}")
    assert "grid-conflict" in (conflict.get_attribute("class") or "")
    assert page.locator(f"{DETAIL} .grid-conflict").count() == 1
    assert conflict.locator(".grid-yours").inner_text() == "Work"
    assert conflict.locator(".grid-theirs").inner_text() == "theirs: Groceries"
    assert "Nothing was moved" in page.inner_text("#grid-detail-0-message")
    assert "2 unsaved" in page.inner_text("#grid-detail-0-pending")
    # The layout holds: the cell keeps its row's height.
    heights = page.evaluate("""() => Array.from(document.querySelectorAll(
        '#grid-detail-grid-0 .tabulator-row')).map((r) => r.getBoundingClientRect().height)""")
    assert len(set(heights)) == 1, heights
    conflict.click()
    page.locator("#grid-detail-0-use-mine").wait_for()
    shoot(page, "detail-conflict.png")
    # Use mine: the move again, at the version the to-do has now; both move.
    page.click("#grid-detail-0-use-mine")
    shows(page, ["Buy bread"])
    assert [list_of(i) for i in data["shopping"]] == [data["work"], data["work"], data["groceries"]]
    assert "Moved 2 to-dos to Work" in page.inner_text("#grid-detail-0-message")
    _db.session.expire_all()
    eggs = _db.session.get(Todo, data["shopping"][1])
    assert eggs is not None and eggs.description == "Buy brown eggs"
    assert page.js_errors == []


def test_a_viewer_sees_the_children_but_is_offered_no_move(page: Any) -> None:
    data = seed()
    log_in(page, Role.viewer)
    open_lists(page)
    focus_parent(page, parent_row(page, "Groceries"))
    shows(page, ["Buy milk", "Buy eggs", "Buy bread"])
    assert "Ctrl+X" not in page.inner_text(".grid-detail-help")
    cut_rows(page, 0, 0)
    assert page.evaluate("() => window.consoleGridDetail.cut()") is None
    assert page.locator(f"{DETAIL} .tabulator-row.grid-cut").count() == 0
    assert "your role cannot change records" in page.inner_text("#grid-detail-0-message")
    page.locator(f"#grid-cell-{parent_row(page, 'Work')}-1").click(button="right")
    assert page.locator("#grid-menu-move-here").count() == 0
    page.keyboard.press("Escape")
    page.locator("#grid-detail-0-cell-0-1").drag_to(
        page.locator(f"#grid-cell-{parent_row(page, 'Work')}-1"))
    page.wait_for_timeout(300)
    assert list_of(data["shopping"][0]) == data["groceries"]
    assert page.evaluate("() => document.querySelectorAll('#grid-detail-grid-0 "
                         "[draggable=true]').length") == 0
    assert page.js_errors == []


def test_rows_pasted_past_the_end_of_the_children_join_the_focused_parent(
    editor_page: Any,
) -> None:
    page = editor_page
    data = seed()
    open_lists(page)
    focus_parent(page, parent_row(page, "Work"))
    shows(page, ["Write report", "Book room"])
    page.locator("#grid-detail-0-cell-1-1").click()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.evaluate("(text) => navigator.clipboard.writeText(text)", "Book room\nCall Ann")
    page.keyboard.press("Control+V")
    wait_for(page, "() => document.getElementById('grid-detail-0-message').textContent"
                   " === 'Saved.'")
    _db.session.expire_all()
    [todo] = _db.session.scalars(sa.select(Todo).where(Todo.description == "Call Ann")).all()
    assert todo.list_id == data["work"]
    assert page.js_errors == []


def held_at_least(page: Any, held: list[Any], n: int) -> None:
    """Wait (at most ten seconds) until ``n`` requests are held."""
    end = time.monotonic() + 10
    while len(held) < n:
        assert time.monotonic() < end, f"{len(held)} requests asked, not {n}"
        page.wait_for_timeout(50)


def test_a_focus_change_while_the_children_load_shows_the_last_parent_only(
    editor_page: Any,
) -> None:
    page = editor_page
    seed()
    open_lists(page)
    shows(page, ["Buy milk", "Buy eggs", "Buy bread"])  # Groceries comes first
    held: list[Any] = []
    page.route("**/admin/todo/grid/rows?*", lambda route: held.append(route))
    focus_parent(page, parent_row(page, "Work"))
    held_at_least(page, held, 1)
    focus_parent(page, parent_row(page, "Groceries"))
    held_at_least(page, held, 2)
    # Groceries' children arrive first, then Work's, late: they are not shown.
    held[1].continue_()
    shows(page, ["Buy milk", "Buy eggs", "Buy bread"])
    held[0].continue_()
    page.wait_for_timeout(500)
    shows(page, ["Buy milk", "Buy eggs", "Buy bread"])
    assert "Groceries" in page.inner_text("#grid-detail-caption")
