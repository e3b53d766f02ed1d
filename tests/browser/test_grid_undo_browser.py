"""Undo, redo and the context menu of the grid in a real Chromium.

Waits poll with ``page.evaluate`` (a function, not a string: the console's content
security policy forbids eval, and ``wait_for_function`` with a string is one).
"""

from __future__ import annotations

import os
import time
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from console.demo.models import Priority, Todo
from console.extensions import db as _db
from console.models import AuditEntry, Role
from tests.browser.conftest import ARTIFACTS
from tests.browser.test_grid_browser import GRID, cell, column, seed, stored
from tests.conftest import PASSWORD, make_account
from tests.conftest import count as count_rows

# Screenshots go to test-artifacts/ (CONSOLE_SHOTS elsewhere), to be looked at.
SHOTS = Path(os.environ.get("CONSOLE_SHOTS") or ARTIFACTS)


def wait_until(page: Any, script: str, timeout: float = 10.0) -> Any:
    """Poll ``script`` (a function's source, evaluated as a function) until it is truthy."""
    end = time.monotonic() + timeout
    while True:
        value = page.evaluate(script)
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"still false after {timeout}s: {script}")
        page.wait_for_timeout(50)


def open_grid(page: Any) -> None:
    page.goto("/admin/todo/grid/")
    page.wait_for_selector(f"{GRID} .tabulator-row")
    wait_until(page, "() => window.consoleGrid && window.consoleGrid.state.count !== null")


def settled(page: Any) -> None:
    """No batch (edit, undo or redo) on its way."""
    wait_until(page, "() => window.consoleGrid.state.sending === null"
                     " && !window.consoleGrid.history.busy()")


def shoot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name))


def edit(page: Any, row: int, col: int, text: str) -> None:
    cell(page, row, col).click()
    page.keyboard.type(text)
    page.keyboard.press("Enter")
    settled(page)


def updates_of(ident: int) -> list[AuditEntry]:
    _db.session.expire_all()
    return list(_db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.model == "Todo",
                                     AuditEntry.object_id == str(ident),
                                     AuditEntry.action == "update").order_by(AuditEntry.id)))


def test_ctrl_z_undoes_a_saved_edit_through_the_history_and_ctrl_y_redoes_it(
    editor_page: Any,
) -> None:
    page = editor_page
    data = seed(3)
    first = data["ids"][0]
    open_grid(page)
    description = column(page, "description")
    undo_button = page.locator("#grid-undo")
    assert undo_button.is_disabled() and page.locator("#grid-redo").is_disabled()
    edit(page, 0, description, "Task one")
    assert stored(first).description == "Task one"
    assert undo_button.inner_text() == "Undo (1)" and undo_button.is_enabled()
    shoot(page, "undo-1-edited.png")

    page.keyboard.press("Control+z")
    settled(page)
    assert stored(first).description == "Task 1"
    assert cell(page, 0, description).inner_text() == "Task 1"
    assert "Undone" in page.inner_text("#grid-message")
    assert page.locator("#grid-redo").inner_text() == "Redo (1)"
    assert undo_button.is_disabled()
    shoot(page, "undo-2-undone.png")
    # The edit and its undo are both in the record's History, as two changes.
    changes = [e.changes for e in updates_of(first)]
    assert changes == [
        {"before": {"description": "Task 1"}, "after": {"description": "Task one"}},
        {"before": {"description": "Task one"}, "after": {"description": "Task 1"}},
    ]

    page.keyboard.press("Control+y")
    settled(page)
    assert stored(first).description == "Task one"
    assert cell(page, 0, description).inner_text() == "Task one"
    # Undo, redo and undo again chain their versions: never a conflict with oneself.
    page.keyboard.press("Control+z")
    settled(page)
    assert stored(first).description == "Task 1"
    page.keyboard.press("Control+Shift+Z")
    settled(page)
    assert stored(first).description == "Task one"
    assert page.locator(f"{GRID} .grid-conflict").count() == 0
    assert len(updates_of(first)) == 5

    page.goto(f"/admin/todo/history/?id={first}")
    history = page.inner_text("body")
    assert "Task one" in history and "Task 1" in history
    assert page.locator(".history-entry").count() >= 5
    shoot(page, "undo-3-history.png")
    assert page.js_errors == []


def test_two_edits_of_one_row_are_undone_one_after_the_other(editor_page: Any) -> None:
    page = editor_page
    data = seed(2)
    first = data["ids"][0]
    open_grid(page)
    description = column(page, "description")
    edit(page, 0, description, "One")
    edit(page, 0, description, "Two")
    page.locator("#grid-undo").click()
    settled(page)
    assert stored(first).description == "One"
    page.locator("#grid-undo").click()
    settled(page)
    assert stored(first).description == "Task 1"
    assert page.locator(f"{GRID} .grid-conflict").count() == 0
    assert page.js_errors == []


def test_an_undo_after_someone_else_changed_the_row_is_refused_in_the_cell(
    editor_page: Any, browser: Any, live_server: Any
) -> None:
    page = editor_page
    data = seed(2)
    first = data["ids"][0]
    open_grid(page)
    description = column(page, "description")
    edit(page, 0, description, "Mine")
    make_account(Role.editor, "other@example.com")
    other_context = browser.new_context(base_url=live_server.url)
    other = other_context.new_page()
    try:
        other.goto("/login")
        other.fill("input[name=email]", "other@example.com")
        other.fill("input[name=password]", PASSWORD)
        other.click("button[type=submit], input[type=submit]")
        other.wait_for_selector("#current-account")
        open_grid(other)
        edit(other, 0, description, "Theirs")
        assert stored(first).description == "Theirs"
    finally:
        other_context.close()
    entries = len(updates_of(first))

    page.keyboard.press("Control+z")
    settled(page)
    assert stored(first).description == "Theirs"
    assert len(updates_of(first)) == entries
    mine = cell(page, 0, description)
    assert "grid-conflict" in (mine.get_attribute("class") or "")
    assert "theirs: Theirs" in mine.inner_text()
    message = page.inner_text("#grid-message")
    assert "Undo refused" in message and "other@example.com" in message
    mine.click()
    assert "other@example.com changed this record" in page.inner_text("#grid-panel")
    shoot(page, "undo-4-refused.png")
    # Ctrl+Z again drops the refused undo: the cell shows theirs, nothing is pending.
    page.keyboard.press("Control+z")
    settled(page)
    assert page.locator(f"{GRID} .grid-conflict").count() == 0
    assert page.evaluate("() => window.consoleGrid.state.pending.size") == 0
    assert stored(first).description == "Theirs"
    assert page.js_errors == []


def test_an_undo_of_a_paste_that_added_rows_deletes_them_again(editor_page: Any) -> None:
    page = editor_page
    data = seed(2)
    open_grid(page)
    description = column(page, "description")
    cell(page, 1, description).click()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    block = "\n".join(f"{name}\tno\t\tlow\tGroceries\tann@example.com"
                      for name in ("Pasted over", "Pasted new"))
    page.evaluate("(text) => navigator.clipboard.writeText(text)", block)
    page.keyboard.press("Control+V")
    settled(page)
    assert count_rows(Todo) == 3
    assert stored(data["ids"][1]).description == "Pasted over"
    assert "3 to-dos" in page.inner_text("#grid-count")

    page.keyboard.press("Control+z")
    settled(page)
    assert count_rows(Todo) == 2
    back = stored(data["ids"][1])
    assert (back.description, back.priority, back.assignee_id) == ("Task 2", Priority.normal, None)
    assert page.locator(f"{GRID} .tabulator-row").count() == 2
    assert "2 to-dos" in page.inner_text("#grid-count")
    assert "1 added row deleted" in page.inner_text("#grid-message")
    shoot(page, "undo-5-paste-rows.png")
    assert page.js_errors == []


def test_ctrl_z_drops_unsaved_edits_the_last_first(editor_page: Any) -> None:
    page = editor_page
    data = seed(2)
    open_grid(page)
    due = column(page, "due_date")
    description = column(page, "description")
    # Refused (not a date): the edit stays in the cell, unsaved, marked.
    edit(page, 0, due, "31/12/2026")
    assert page.locator(f"{GRID} .grid-problem").count() == 1
    edit(page, 1, description, "Also unsaved")
    assert page.evaluate("() => window.consoleGrid.state.pending.size") == 2
    assert stored(data["ids"][1]).description == "Task 2"
    page.keyboard.press("Control+z")
    settled(page)
    # The last edit went; the first is still there, still refused.
    assert cell(page, 1, description).inner_text() == "Task 2"
    assert page.evaluate("() => window.consoleGrid.state.pending.size") == 1
    page.keyboard.press("Control+z")
    settled(page)
    assert page.evaluate("() => window.consoleGrid.state.pending.size") == 0
    assert page.locator(f"{GRID} .grid-problem").count() == 0
    assert cell(page, 0, due).inner_text() == ""
    # Redo puts the dropped edit back (and the server refuses it again).
    page.keyboard.press("Control+y")
    settled(page)
    assert cell(page, 0, due).inner_text() == "31/12/2026"
    assert page.locator(f"{GRID} .grid-problem").count() == 1
    assert stored(data["ids"][0]).due_date is None
    assert page.js_errors == []


def test_the_context_menu_opens_with_shift_f10_and_opens_the_record(editor_page: Any) -> None:
    page = editor_page
    data = seed(3)
    second = data["ids"][1]
    open_grid(page)
    description = column(page, "description")
    cell(page, 1, description).click()
    page.keyboard.press("Shift+F10")
    menu = page.locator("#grid-menu[role=menu]")
    menu.wait_for()
    labels = menu.locator("[role=menuitem] > span:first-child").all_inner_texts()
    assert labels[:3] == ["Copy", "Paste", "Undo"]
    for item in ("copy", "paste", "undo", "redo", "clear", "open", "edit", "history", "link",
                 "duplicate", "delete"):
        assert menu.locator(f"[data-action={item}]").count() == 1, item
    assert menu.locator("[data-action=undo]").get_attribute("aria-disabled") == "true"
    # The first item has the focus; the arrows move it, Esc goes back to the grid.
    assert page.evaluate("() => document.activeElement.id") == "grid-menu-copy"
    page.keyboard.press("ArrowDown")
    assert page.evaluate("() => document.activeElement.id") == "grid-menu-paste"
    shoot(page, "menu-1-open.png")
    page.keyboard.press("Escape")
    assert menu.count() == 0
    assert page.evaluate("() => document.activeElement.id") == "console-grid"
    # The Menu key opens it too; Copy puts the selection on the clipboard, as Ctrl+C does.
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.keyboard.press("ContextMenu")
    menu.wait_for()
    page.keyboard.press("Enter")
    assert menu.count() == 0
    assert page.evaluate("() => navigator.clipboard.readText()") == "Task 2"
    page.keyboard.press("Shift+F10")
    menu.wait_for()
    page.keyboard.press("End")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")
    assert page.evaluate("() => document.activeElement.id") == "grid-menu-link"
    page.keyboard.press("Enter")
    link = page.evaluate("() => navigator.clipboard.readText()")
    assert link.endswith(f"/admin/todo/details/?id={second}"), link
    page.keyboard.press("Shift+F10")
    menu.wait_for()
    # Open record: the row's details page; Edit in form: its classic edit page.
    page.keyboard.press("o")
    assert page.evaluate("() => document.activeElement.id") == "grid-menu-open"
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/admin/todo/details/?id={second}*")
    page.go_back()
    page.wait_for_selector("#console-grid .tabulator-row")
    cell(page, 1, description).click()
    page.keyboard.press("Shift+F10")
    menu.wait_for()
    page.keyboard.press("e")
    assert page.evaluate("() => document.activeElement.id") == "grid-menu-edit"
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/admin/todo/edit/?id={second}*")
    assert page.locator("input[name=description]").input_value() == "Task 2"
    assert page.js_errors == []


def test_the_context_menu_on_a_right_click_clears_and_leads_to_the_delete_preview(
    editor_page: Any,
) -> None:
    page = editor_page
    data = seed(4)
    open_grid(page)
    due = column(page, "due_date")
    description = column(page, "description")
    cell(page, 0, description).click()
    page.keyboard.press("Shift+ArrowDown")
    cell(page, 1, description).click(button="right")
    menu = page.locator("#grid-menu")
    menu.wait_for()
    assert "Delete 2 rows" in menu.locator("[data-action=delete]").inner_text()
    shoot(page, "menu-2-right-click.png")
    menu.locator("[data-action=delete]").click()
    page.wait_for_url("**/admin/todo/delete/?*")
    body = page.inner_text("body")
    assert "Task 1" in body and "Task 2" in body
    assert _db.session.query(Todo).count() == 4  # the preview deletes nothing
    # Clear cells: a nullable column is emptied as an edit (saved, and undoable).
    _db.session.execute(sa.update(Todo).values(due_date=date(2026, 5, 1)))
    _db.session.commit()
    open_grid(page)
    cell(page, 2, due).click(button="right")
    menu.wait_for()
    menu.locator("[data-action=clear]").click()
    settled(page)
    assert stored(data["ids"][2]).due_date is None
    page.keyboard.press("Control+z")
    settled(page)
    assert stored(data["ids"][2]).due_date == date(2026, 5, 1)
    assert page.js_errors == []


def test_viewers_have_no_undo_and_a_menu_without_edits(page: Any) -> None:
    from tests.browser.conftest import log_in

    log_in(page, Role.viewer)
    seed(2)
    open_grid(page)
    assert page.locator("#grid-undo").is_disabled()
    cell(page, 0, 1).click()
    page.keyboard.press("Shift+F10")
    menu = page.locator("#grid-menu")
    menu.wait_for()
    for item in ("paste", "undo", "redo", "clear", "edit", "duplicate", "delete"):
        assert menu.locator(f"[data-action={item}]").get_attribute("aria-disabled") == "true"
    assert menu.locator("[data-action=history]").get_attribute("aria-disabled") is None
    assert page.js_errors == []
