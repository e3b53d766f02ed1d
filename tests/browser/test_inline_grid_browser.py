"""A parent's edit form in a real Chromium: its inline children as a grid."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from console.demo.models import Todo, TodoList
from console.extensions import db as _db
from tests.browser.test_grid_browser import shoot
from tests.browser.test_grid_detail_browser import seed, wait_for

GRID = "#inline-todos-grid"


@pytest.fixture(autouse=True)
def _grid_pages(app: Flask) -> None:
    """The console as deployed: grids where JavaScript runs (the tests' default is classic)."""
    app.config["CONSOLE_LIST_PAGE"] = "grid"


def open_edit(page: Any, list_id: int) -> None:
    """Open a list's edit page and wait for its to-dos' grid to hold its rows."""
    page.goto(f"/admin/todolist/edit/?id={list_id}")
    wait_for(page, "() => window.consoleInlineGrids && window.consoleInlineGrids.length"
                   " && window.consoleInlineGrids[0].grid.state.count !== null"
                   " && !window.consoleInlineGrids[0].grid.state.loading")


def column(page: Any, key: str) -> int:
    """The position of column ``key`` among the inline grid's shown columns."""
    return int(page.evaluate(
        "(key) => window.consoleInlineGrids[0].grid.columns().findIndex((c) => c.key === key)",
        key))


def cell(page: Any, row: int, col: int) -> Any:
    return page.locator(f"#inline-todos-cell-{row}-{col}")


def settled(page: Any) -> None:
    wait_for(page, "() => window.consoleInlineGrids[0].grid.state.sending === null")


def message(page: Any) -> str:
    return str(page.inner_text("#inline-todos-message"))


def todos_of(list_id: int) -> list[Todo]:
    _db.session.expire_all()
    return list(_db.session.scalars(sa.select(Todo).where(Todo.list_id == list_id)
                                    .order_by(Todo.id)))


def test_the_inline_to_dos_are_a_grid_edited_by_keyboard(editor_page: Any) -> None:
    page = editor_page
    data = seed()
    page.set_viewport_size({"width": 1366, "height": 768})
    open_edit(page, data["groceries"])
    grid = page.locator(GRID)
    assert grid.get_attribute("role") == "grid"
    # The classic table and its inputs are gone from the form, and so is its paging note.
    assert page.locator("table#todos").count() == 0
    assert page.locator("form.admin-form [name^='todos-']").count() == 0
    assert page.locator("[data-console-inline='todos']").is_hidden()
    assert "3 to-dos" in page.inner_text("#inline-todos-count")
    # The list's own reference is not shown: every row here is this list's.
    assert column(page, "list_id") == -1
    description = column(page, "description")
    assert description > 0
    # Tab from the form's last field before the grid reaches the grid.
    page.locator("form.admin-form [name=name]").focus()
    for _ in range(5):
        if page.evaluate("() => document.activeElement.id") == "inline-todos-grid":
            break
        page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "inline-todos-grid"
    cell(page, 0, description).click()
    page.keyboard.type("Buy oat milk")
    page.keyboard.press("Enter")
    settled(page)
    assert message(page) == "Saved."
    assert [t.description for t in todos_of(data["groceries"])] == [
        "Buy oat milk", "Buy eggs", "Buy bread"]
    shoot(page, "inline-grid-1366.png")
    assert page.js_errors == []


def test_a_pasted_block_at_a_new_row_makes_to_dos_of_this_list(editor_page: Any) -> None:
    page = editor_page
    data = seed()
    open_edit(page, data["groceries"])
    page.click("#inline-todos-add")
    wait_for(page, "() => window.consoleInlineGrids[0].grid.state.order.length === 4")
    assert page.evaluate("() => document.activeElement.id") == "inline-todos-grid"
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.evaluate("(t) => navigator.clipboard.writeText(t)", "Buy tea\nBuy jam\n")
    page.keyboard.press("Control+V")
    page.wait_for_timeout(100)
    settled(page)
    assert message(page) == "Saved.", message(page)
    todos = todos_of(data["groceries"])
    assert [t.description for t in todos] == ["Buy milk", "Buy eggs", "Buy bread",
                                              "Buy tea", "Buy jam"]
    # Nothing landed on the other list.
    assert [t.description for t in todos_of(data["work"])] == ["Write report", "Book room"]
    assert "5 to-dos" in page.inner_text("#inline-todos-count")
    assert page.js_errors == []


def test_the_forms_table_is_one_link_away(editor_page: Any) -> None:
    page = editor_page
    data = seed()
    open_edit(page, data["groceries"])
    page.click("#inline-todos-classic")
    page.wait_for_url("**inline=classic**")
    assert page.locator("table#todos").is_visible()
    assert page.locator(GRID).count() == 0
    assert page.locator("input[name='todos-0-description']").input_value() == "Buy milk"
    assert page.js_errors == []


def test_an_empty_list_gets_its_first_to_do_from_the_grid(editor_page: Any) -> None:
    page = editor_page
    seed()
    empty = TodoList(name="Empty", owner_id=seed_owner())
    _db.session.add(empty)
    _db.session.commit()
    open_edit(page, empty.id)
    page.click("#inline-todos-add")
    page.keyboard.type("First one")
    page.keyboard.press("Enter")
    settled(page)
    assert message(page) == "Saved.", message(page)
    assert [t.description for t in todos_of(empty.id)] == ["First one"]
    assert page.js_errors == []


def seed_owner() -> int:
    _db.session.expire_all()
    ident = _db.session.scalar(sa.text("SELECT min(id) FROM person"))
    assert ident is not None
    return int(ident)


def test_an_invalid_cell_is_marked_and_nothing_is_saved(editor_page: Any) -> None:
    page = editor_page
    data = seed()
    open_edit(page, data["groceries"])
    due = column(page, "due_date")
    cell(page, 1, due).click()
    page.keyboard.press("Enter")
    page.locator(".grid-editor").fill("2026-13-40")
    page.keyboard.press("Enter")
    settled(page)
    bad = cell(page, 1, due)
    assert "grid-problem" in (bad.get_attribute("class") or "")
    assert "Nothing was saved" in message(page)
    assert [t.due_date for t in todos_of(data["groceries"])] == [None, None, None]
    assert page.js_errors == []


def test_saving_the_form_after_grid_edits_keeps_them(editor_page: Any) -> None:
    page = editor_page
    data = seed()
    open_edit(page, data["groceries"])
    description = column(page, "description")
    cell(page, 2, description).click()
    page.keyboard.type("Buy rye bread")
    page.keyboard.press("Enter")
    settled(page)
    assert message(page) == "Saved."
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.accept()))
    page.fill("form.admin-form [name=name]", "Groceries, weekly")
    page.click("form.admin-form [type=submit]")
    page.wait_for_url("**/details/**")
    assert "was saved" in page.inner_text("body")
    assert dialogs == []  # nothing unsaved: no question
    _db.session.expire_all()
    assert _db.session.get(TodoList, data["groceries"]).name == "Groceries, weekly"
    assert [t.description for t in todos_of(data["groceries"])] == [
        "Buy milk", "Buy eggs", "Buy rye bread"]
    assert page.js_errors == []


def test_save_clicked_while_a_grid_cell_is_being_typed_saves_both(editor_page: Any) -> None:
    page = editor_page
    data = seed()
    open_edit(page, data["groceries"])
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.accept()))
    page.fill("form.admin-form [name=name]", "Food")
    cell(page, 1, column(page, "description")).click()
    page.keyboard.type("Buy brown eggs")  # the editor is open, nothing sent yet
    assert page.evaluate("() => !!window.consoleInlineGrids[0].grid.state.editor")
    page.click("form.admin-form input[type=submit][value='Save']")
    page.wait_for_url("**/details/**")
    assert dialogs == []
    _db.session.expire_all()
    assert _db.session.get(TodoList, data["groceries"]).name == "Food"
    assert [t.description for t in todos_of(data["groceries"])] == [
        "Buy milk", "Buy brown eggs", "Buy bread"]


def test_saving_or_leaving_with_a_refused_grid_edit_asks_first(editor_page: Any) -> None:
    page = editor_page
    data = seed()
    open_edit(page, data["groceries"])
    due = column(page, "due_date")
    cell(page, 0, due).click()
    page.keyboard.press("Enter")
    page.locator(".grid-editor").fill("not a date")
    page.keyboard.press("Enter")
    settled(page)
    assert "Nothing was saved" in message(page)
    asked: list[tuple[str, str]] = []

    def answer(accept: bool) -> Any:
        def handler(dialog: Any) -> None:
            asked.append((dialog.type, dialog.message))
            if accept:
                dialog.accept()
            else:
                dialog.dismiss()
        return handler

    # Leaving by a link: the browser's own question (the grid's beforeunload; the form's
    # own fields are untouched, so the question is the grid's).
    stay = answer(False)
    page.on("dialog", stay)
    page.click("a.navbar-brand")
    page.wait_for_timeout(500)
    assert [kind for kind, _text in asked] == ["beforeunload"]
    assert "/edit/" in page.url
    # The form's Save: a question first; staying keeps the refused edit in its cell.
    asked.clear()
    page.fill("form.admin-form [name=name]", "Renamed")
    page.click("form.admin-form [type=submit]")
    page.wait_for_timeout(300)
    assert [kind for kind, _text in asked] == ["confirm"]
    assert "not saved" in asked[0][1]
    assert "/edit/" in page.url
    assert "grid-problem" in (cell(page, 0, due).get_attribute("class") or "")
    _db.session.expire_all()
    assert _db.session.get(TodoList, data["groceries"]).name == "Groceries"
    # Confirming saves the form, without a second question from the grid.
    page.remove_listener("dialog", stay)
    asked.clear()
    page.on("dialog", answer(True))
    page.click("form.admin-form [type=submit]")
    page.wait_for_url("**/details/**")
    assert [kind for kind, _text in asked] == ["confirm"]
    _db.session.expire_all()
    assert _db.session.get(TodoList, data["groceries"]).name == "Renamed"
    assert [t.due_date for t in todos_of(data["groceries"])] == [None, None, None]


def test_without_javascript_the_classic_inline_table_stays(no_js_page: Any) -> None:
    from tests.browser.conftest import log_in

    page = no_js_page
    data = seed()
    log_in(page)
    page.goto(f"/admin/todolist/edit/?id={data['groceries']}")
    assert page.locator("table#todos").is_visible()
    assert page.locator("input[name='todos-0-description']").input_value() == "Buy milk"
    assert page.locator("[data-console-inline='todos']").is_visible()
    assert page.locator(GRID).count() == 0


def test_many_children_page_by_keyset_in_a_grid_of_modest_height(editor_page: Any) -> None:
    page = editor_page
    data = seed()
    _db.session.add_all(Todo(description=f"Task {i:03d}", list_id=data["work"])
                        for i in range(1, 149))
    _db.session.commit()
    open_edit(page, data["work"])
    assert "150 to-dos" in page.inner_text("#inline-todos-count")
    loaded = page.evaluate("() => window.consoleInlineGrids[0].grid.state.order.length")
    assert loaded < 150
    box = page.locator(GRID).bounding_box()
    assert box is not None and box["height"] < 420
    page.locator(f"{GRID} .tabulator-tableholder").evaluate(
        "(el) => { el.scrollTop = el.scrollHeight; }")
    wait_for(page, "() => window.consoleInlineGrids[0].grid.state.order.length === 150")
    assert page.js_errors == []


def test_undo_redo_and_the_menu_in_the_inline_grid(editor_page: Any) -> None:
    page = editor_page
    data = seed()
    open_edit(page, data["groceries"])
    description = column(page, "description")
    cell(page, 1, description).click()
    page.keyboard.type("Buy duck eggs")
    page.keyboard.press("Enter")
    settled(page)
    assert [t.description for t in todos_of(data["groceries"])][1] == "Buy duck eggs"
    page.keyboard.press("Control+z")
    wait_for(page, "() => !window.consoleGridUndo.busy()"
                   " && window.consoleGridUndo.redos() === 1")
    assert [t.description for t in todos_of(data["groceries"])][1] == "Buy eggs"
    page.keyboard.press("Control+y")
    wait_for(page, "() => !window.consoleGridUndo.busy()"
                   " && window.consoleGridUndo.redos() === 0")
    assert [t.description for t in todos_of(data["groceries"])][1] == "Buy duck eggs"
    # The row's menu: the to-do's own pages (its History leaves this form).
    cell(page, 1, description).click()
    page.keyboard.press("Shift+F10")
    page.locator("#grid-menu").wait_for()
    actions = page.evaluate("() => Array.from(document.querySelectorAll("
                            "'#grid-menu [role=menuitem]')).map((li) => li.dataset.action)")
    assert {"open", "edit", "history", "duplicate", "undo"} <= set(actions)
    page.click("#grid-menu-history")
    page.wait_for_url("**/admin/todo/history/**")
    assert page.js_errors == []
