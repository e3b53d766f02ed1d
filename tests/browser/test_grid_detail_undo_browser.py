"""Undo, redo and the context menu in the master-detail pane's grid, in a real Chromium.

The page has one undo history: a change made in the detail grid (an edit, a move of
children to another parent) is undone by Ctrl+Z in either grid, on the server, checked
against the versions the change produced.
"""

from __future__ import annotations

from typing import Any

from console.demo.models import Todo
from console.extensions import db as _db
from tests.browser.test_grid_detail_browser import (
    DETAIL,
    cut_rows,
    detail_column,
    edit_as_someone_else,
    focus_parent,
    list_of,
    open_lists,
    parent_row,
    seed,
    shows,
    wait_for,
)

SETTLED = """() => { const d = window.consoleGridDetail.tabs[0].grid;
    return d && d.state.sending === null && window.consoleGrid.state.sending === null
      && !window.consoleGridUndo.busy() && !d.state.loading; }"""


def settled(page: Any) -> None:
    """No batch (edit, move, undo or redo) on its way, in either grid."""
    wait_for(page, SETTLED)


def description_of(ident: int) -> str:
    _db.session.expire_all()
    todo = _db.session.get(Todo, ident)
    assert todo is not None
    return todo.description


def move_to_work(page: Any) -> None:
    """Cut the first two of Groceries' to-dos and paste them on Work."""
    focus_parent(page, parent_row(page, "Groceries"))
    shows(page, ["Buy milk", "Buy eggs", "Buy bread"])
    cut_rows(page, 0, 1)
    page.keyboard.press("F6")
    page.locator(f"#grid-cell-{parent_row(page, 'Work')}-1").click()
    page.keyboard.press("Control+V")
    shows(page, ["Write report", "Book room", "Buy milk", "Buy eggs"])
    settled(page)


def test_ctrl_z_undoes_an_edit_made_in_the_detail_grid_and_ctrl_y_redoes_it(
    editor_page: Any,
) -> None:
    page = editor_page
    data = seed()
    milk = data["shopping"][0]
    open_lists(page)
    focus_parent(page, parent_row(page, "Groceries"))
    shows(page, ["Buy milk", "Buy eggs", "Buy bread"])
    description = detail_column(page, "description")
    page.locator(f"#grid-detail-0-cell-0-{description}").click()
    page.keyboard.type("Buy oat milk")
    page.keyboard.press("Enter")
    wait_for(page, "() => document.getElementById('grid-detail-0-message').textContent"
                   " === 'Saved.'")
    settled(page)
    assert description_of(milk) == "Buy oat milk"
    assert page.locator("#grid-undo").inner_text() == "Undo (1)"

    page.keyboard.press("Control+z")
    settled(page)
    assert description_of(milk) == "Buy milk"
    shows(page, ["Buy milk", "Buy eggs", "Buy bread"])
    assert "Undone" in page.inner_text("#grid-detail-0-message")
    assert page.locator("#grid-redo").inner_text() == "Redo (1)"

    page.keyboard.press("Control+y")
    settled(page)
    assert description_of(milk) == "Buy oat milk"
    shows(page, ["Buy oat milk", "Buy eggs", "Buy bread"])
    # One history for the page: Ctrl+Z in the parent's grid undoes the detail's edit,
    # and says in which grid; the toolbar's Redo redoes it.
    page.keyboard.press("F6")
    assert page.evaluate("() => document.activeElement.id") == "console-grid"
    page.keyboard.press("Control+z")
    settled(page)
    assert description_of(milk) == "Buy milk"
    assert "Undone in to-dos" in page.inner_text("#grid-message")
    page.click("#grid-redo")
    settled(page)
    assert description_of(milk) == "Buy oat milk"
    assert page.locator(f"{DETAIL} .grid-conflict").count() == 0
    assert page.js_errors == []


def test_ctrl_z_puts_moved_to_dos_back_and_ctrl_y_moves_them_again(editor_page: Any) -> None:
    page = editor_page
    data = seed()
    open_lists(page)
    move_to_work(page)
    moved = data["shopping"][:2]
    assert [list_of(i) for i in moved] == [data["work"]] * 2

    page.keyboard.press("Control+z")
    settled(page)
    assert [list_of(i) for i in moved] == [data["groceries"]] * 2
    shows(page, ["Write report", "Book room"])
    assert "Undone: 2 to-dos back on Groceries" in page.inner_text("#grid-message")

    page.keyboard.press("Control+y")
    settled(page)
    assert [list_of(i) for i in moved] == [data["work"]] * 2
    shows(page, ["Write report", "Book room", "Buy milk", "Buy eggs"])
    assert "Redone: 2 to-dos moved to Work again" in page.inner_text("#grid-message")
    # Undo and redo chain their versions: the move is undone again, without a conflict.
    page.keyboard.press("Control+z")
    settled(page)
    assert [list_of(i) for i in moved] == [data["groceries"]] * 2
    assert list_of(data["shopping"][2]) == data["groceries"]
    assert page.js_errors == []


def test_an_undo_of_a_move_is_refused_when_someone_changed_a_moved_to_do(
    editor_page: Any, browser: Any, live_server: Any
) -> None:
    page = editor_page
    data = seed()
    open_lists(page)
    move_to_work(page)
    edit_as_someone_else(browser, live_server, "Buy eggs", "Buy brown eggs")

    page.keyboard.press("Control+z")
    settled(page)
    message = page.inner_text("#grid-message")
    assert message.startswith("Undo refused in to-dos, nothing was written"), message
    assert "other@example.com changed this record" in message
    # Refused whole: the to-do nobody else touched stays moved too.
    assert [list_of(i) for i in data["shopping"][:2]] == [data["work"]] * 2
    assert description_of(data["shopping"][1]) == "Buy brown eggs"
    # The changed one's list cell shows theirs and yours.
    wait_for(page, "() => document.querySelectorAll('#grid-detail-grid-0 .grid-conflict')"
                   ".length === 1")
    conflict = page.locator(f"{DETAIL} .grid-conflict")
    assert conflict.locator(".grid-yours").inner_text() == "Groceries"
    assert conflict.locator(".grid-theirs").inner_text() == "theirs: Work"
    assert page.js_errors == []


def test_the_context_menu_opens_on_a_child_row_with_the_childs_pages(editor_page: Any) -> None:
    page = editor_page
    data = seed()
    eggs = data["shopping"][1]
    open_lists(page)
    focus_parent(page, parent_row(page, "Groceries"))
    shows(page, ["Buy milk", "Buy eggs", "Buy bread"])
    # Right-click on a child's cell: the child's own menu, for that row.
    page.locator("#grid-detail-0-cell-1-1").click(button="right")
    menu = page.locator("#grid-menu")
    menu.wait_for()
    actions = page.evaluate("() => Array.from(document.querySelectorAll("
                            "'#grid-menu [role=menuitem]')).map((li) => li.dataset.action)")
    for action in ("cut", "copy", "paste", "undo", "open", "edit", "history", "link",
                   "duplicate", "delete"):
        assert action in actions, (action, actions)
    assert page.locator("#grid-menu-cut").inner_text().startswith("Cut 1 to-do to move")
    assert page.evaluate("() => document.activeElement.closest('#grid-menu') !== null")
    page.keyboard.press("Escape")
    assert menu.count() == 0
    assert page.evaluate("() => document.activeElement.id") == "grid-detail-grid-0"
    # Shift+F10 on the focused child: the same menu; its History is the to-do's.
    page.keyboard.press("Shift+F10")
    menu.wait_for()
    page.click("#grid-menu-history")
    page.wait_for_url(f"**/admin/todo/history/?id={eggs}*")
    page.go_back()
    open_lists(page)
    focus_parent(page, parent_row(page, "Groceries"))
    shows(page, ["Buy milk", "Buy eggs", "Buy bread"])
    page.locator("#grid-detail-0-cell-1-1").click()
    page.keyboard.press("ContextMenu")
    menu.wait_for()
    page.click("#grid-menu-open")
    page.wait_for_url(f"**/admin/todo/details/?id={eggs}*")
    page.go_back()
    open_lists(page)
    focus_parent(page, parent_row(page, "Groceries"))
    shows(page, ["Buy milk", "Buy eggs", "Buy bread"])
    page.locator("#grid-detail-0-cell-0-1").click()
    page.locator("#grid-detail-0-cell-1-1").click(modifiers=["Shift"])
    page.locator("#grid-detail-0-cell-1-1").click(button="right")
    assert page.locator("#grid-menu-delete").inner_text() == "Delete 2 rows…"
    page.click("#grid-menu-delete")
    page.wait_for_url("**/admin/todo/delete/**")
    assert f"id={data['shopping'][0]}" in page.url and f"id={eggs}" in page.url
    assert "Buy eggs" in page.inner_text("body")
    page.go_back()
    # Cut from the menu marks the rows, as Ctrl+X does.
    open_lists(page)
    focus_parent(page, parent_row(page, "Groceries"))
    shows(page, ["Buy milk", "Buy eggs", "Buy bread"])
    page.locator("#grid-detail-0-cell-2-1").click(button="right")
    page.click("#grid-menu-cut")
    assert page.locator(f"{DETAIL} .tabulator-row.grid-cut").count() == 1
    assert page.evaluate("() => window.consoleGridDetail.cut().ids") == [
        str(data["shopping"][2])]
    assert page.js_errors == []


def test_ctrl_z_drops_a_refused_move_waiting_in_the_cells(
    editor_page: Any, browser: Any, live_server: Any
) -> None:
    page = editor_page
    data = seed()
    open_lists(page)
    focus_parent(page, parent_row(page, "Groceries"))
    shows(page, ["Buy milk", "Buy eggs", "Buy bread"])
    edit_as_someone_else(browser, live_server, "Buy milk", "Buy oat milk")
    cut_rows(page, 0, 1)
    page.keyboard.press("F6")
    page.locator(f"#grid-cell-{parent_row(page, 'Work')}-1").click()
    page.keyboard.press("Control+V")
    wait_for(page, "() => document.querySelectorAll('#grid-detail-grid-0 .grid-conflict')"
                   ".length === 1")
    assert "2 unsaved" in page.inner_text("#grid-detail-0-pending")
    page.keyboard.press("Control+z")
    settled(page)
    assert page.locator(f"{DETAIL} .grid-conflict").count() == 0
    assert page.inner_text("#grid-detail-0-pending") == ""
    assert "2 unsaved edits dropped" in page.inner_text("#grid-message")
    assert [list_of(i) for i in data["shopping"]] == [data["groceries"]] * 3
    shows(page, ["Buy oat milk", "Buy eggs", "Buy bread"])
    assert page.js_errors == []
