"""Issue 16's bugs on the classic (server-rendered) pages, in a real browser."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from console.admin import reference_fields
from console.demo.models import Todo
from console.extensions import db as _db
from console.models import Role
from tests.browser.conftest import ARTIFACTS, TIMEOUT_MS, log_in
from tests.browser.test_console_browser import choose_select2, seed_todos
from tests.conftest import PASSWORD, make_account


def fresh_todo(ident: int) -> Todo:
    """The to-do as the database has it now."""
    _db.session.expire_all()
    todo = _db.session.get(Todo, ident)
    assert todo is not None
    return todo


def edit_cell(page: Any, row: int, column: str, value: str) -> None:
    """Double-click a list cell, type ``value`` and press Enter; wait for the save."""
    cell = page.locator(f"tr[data-id='{row}'] td[data-column='{column}']")
    cell.dblclick()
    editor = cell.locator(".console-cell-input")
    editor.fill(value)
    with page.expect_response(lambda r: "/cells/" in r.url):
        editor.press("Enter")
    cell.locator("input").wait_for(state="detached")


def test_consecutive_edits_of_one_row_never_conflict_with_oneself(editor_page, sample):
    page = editor_page
    milk = sample["milk"]
    page.goto("/admin/todo/")
    edit_cell(page, milk, "description", "Buy oat milk")
    # The same cell again, then the toggle of the same row, all without a reload.
    edit_cell(page, milk, "description", "Buy soy milk")
    toggle = page.locator(f"tr[data-id='{milk}'] form.console-toggle button")
    with page.expect_response(lambda r: "/toggle/" in r.url):
        toggle.click()
    page.wait_for_selector(f"tr[data-id='{milk}'] button[aria-pressed='true']")
    edit_cell(page, milk, "description", "Buy rice milk")
    assert page.locator(".console-cell-problem").count() == 0
    assert page.inner_text(f"tr[data-id='{milk}'] .console-toggle-error") == ""
    todo = fresh_todo(milk)
    assert (todo.description, todo.completed) == ("Buy rice milk", True)
    assert not page.js_errors


def test_shortcuts_work_after_a_mouse_click_on_a_row_checkbox(editor_page, sample):
    page = editor_page
    page.goto("/admin/todo/")
    rows = page.locator("table.model-list tbody tr")
    assert rows.count() == 2
    first = rows.nth(0).locator("input.action-checkbox")
    first.click()
    assert first.is_checked()
    page.keyboard.press("j")
    assert rows.nth(1).get_attribute("aria-current") == "true"
    page.keyboard.press("x")
    assert rows.nth(1).locator("input.action-checkbox").is_checked()
    page.keyboard.press("k")
    assert rows.nth(0).get_attribute("aria-current") == "true"
    page.keyboard.press("?")
    assert page.locator("#console-shortcuts").is_visible()
    page.keyboard.press("Escape")
    # Space on a focused checkbox still toggles it: that is the checkbox's own key.
    first.focus()
    page.keyboard.press(" ")
    assert not first.is_checked()
    assert not page.js_errors


def test_a_conflict_in_a_cell_does_not_widen_the_column(editor_page, sample, second_editor_edits):
    page = editor_page
    milk = sample["milk"]
    page.goto("/admin/todo/")
    table = page.locator("table.model-list")
    width_before = table.bounding_box()["width"]
    column = page.locator(f"tr[data-id='{milk}'] td[data-column='description']")
    column_before = column.bounding_box()["width"]
    second_editor_edits(milk, "Buy silk")
    edit_cell(page, milk, "description", "My milk")
    problem = page.locator(f"tr[data-id='{milk}'] .console-cell-problem")
    problem.wait_for()
    assert "second@example.com changed this record" in problem.inner_text()
    assert "yours was “My milk”" in problem.inner_text()
    # The cell shows what is saved now, and the next edit starts from it.
    assert column.inner_text().startswith("Buy silk")
    assert abs(table.bounding_box()["width"] - width_before) < 2
    assert abs(column.bounding_box()["width"] - column_before) < 2
    # A second edit of the cell (the popup editor) does not cover the message.
    column.dblclick()
    editor = column.locator(".console-cell-input")
    assert editor.input_value() == "Buy silk"
    box, note = editor.bounding_box(), problem.bounding_box()
    assert problem.is_visible()
    assert box["y"] + box["height"] <= note["y"] + 1 or note["y"] + note["height"] <= box["y"] + 1
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(Path(ARTIFACTS) / "classic-cell-conflict-1366.png"))
    assert not page.js_errors


@pytest.fixture
def second_editor_edits(browser: Any, live_server: Any) -> Iterator[Any]:
    """A function that edits a to-do's description in another browser, as another editor."""
    make_account(Role.editor, "second@example.com")
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    tab.goto("/login")
    tab.fill("input[name=email]", "second@example.com")
    tab.fill("input[name=password]", PASSWORD)
    tab.click("button[type=submit], input[type=submit]")
    tab.wait_for_selector("#current-account")

    def edit(row: int, value: str) -> None:
        tab.goto("/admin/todo/")
        edit_cell(tab, row, "description", value)
        assert fresh_todo(row).description == value

    yield edit
    context.close()


def test_without_javascript_a_todo_is_created_with_its_list_and_assignee(no_js_page, sample):
    page = no_js_page
    log_in(page, Role.editor)
    page.goto("/admin/todo/new/")
    page.fill("#description", "Call Bob")
    page.select_option("select[name=todo_list]", label="Groceries")
    page.select_option("select[name=assignee]", label="Bob <bob@example.com>")
    page.click("input[type=submit][value='Save']")
    page.wait_for_selector(".alert-success")
    todo = _db.session.scalar(sa.select(Todo).where(Todo.description == "Call Bob"))
    assert todo is not None
    assert (todo.list_id, todo.assignee_id) == (sample["groceries"], sample["bob"])


def test_big_parent_tables_are_typed_without_javascript(no_js_page, sample, monkeypatch):
    monkeypatch.setattr(reference_fields, "SELECT_LIMIT", 0)
    page = no_js_page
    log_in(page, Role.editor)
    page.goto("/admin/todo/new/")
    page.fill("#description", "Call Ann")
    page.fill("input.console-reference-key[name=todo_list]", "Groceries")
    page.fill("input.console-reference-key[name=assignee]", "nobody@example.com")
    page.click("input[type=submit][value='Save']")
    page.wait_for_selector(".invalid-feedback, .help-block, .alert-danger")
    body = page.inner_text("body")
    assert "No person has the email 'nobody@example.com'." in body, body
    page.fill("input.console-reference-key[name=assignee]", "ann@example.com")
    page.click("input[type=submit][value='Save']")
    page.wait_for_selector(".alert-success")
    todo = _db.session.scalar(sa.select(Todo).where(Todo.description == "Call Ann"))
    assert todo is not None
    assert (todo.list_id, todo.assignee_id) == (sample["groceries"], sample["ann"])


def test_big_parent_tables_are_looked_up_with_javascript(editor_page, sample, monkeypatch):
    monkeypatch.setattr(reference_fields, "SELECT_LIMIT", 0)
    page = editor_page
    page.goto("/admin/todolist/new/")
    assert page.locator("input.console-reference-key").count() == 0  # swapped for the lookup
    page.fill("#name", "Weekend")
    choose_select2(page, "owner", "ann@example.com")
    # An inline row added after the page loaded gets the lookup too.
    page.click("#todos-button")
    page.fill("#todos-0-description", "Mow the lawn")
    choose_select2(page, "todos-0-assignee", "bob@example.com")
    page.click("input[type=submit][value='Save']")
    page.wait_for_selector(".alert-success")
    todo = _db.session.scalar(sa.select(Todo).where(Todo.description == "Mow the lawn"))
    assert todo is not None and todo.assignee_id == sample["bob"]
    assert todo.todo_list.owner_id == sample["ann"]
    assert not page.js_errors


def test_without_javascript_every_menu_of_the_list_works(no_js_page, sample):
    page = no_js_page
    log_in(page, Role.admin)
    page.goto("/admin/todo/")
    # Export: the menu opens, its links download.
    page.click("#menu-export > summary")
    link = page.locator("#menu-export a", has_text="Export CSV").first
    assert link.is_visible()
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename.endswith(".csv")
    # Page size.
    page.click("#menu-page-size > summary")
    page.click("#menu-page-size a:has-text('20 items')")
    assert "page_size=20" in page.url
    # Add filter: a form of its own; the active filter is listed with a remove link.
    page.click("#menu-filters > summary")
    page.select_option("#add-filter", label="Completed equals Yes")
    page.click(".console-add-filter button[type=submit]")
    assert "flt0_completed_equals=1" in page.url and "page_size=20" in page.url
    assert page.locator("table.model-list tbody tr[data-id]").count() == 1
    assert "Completed equals Yes" in page.inner_text("#active-filters")
    page.click("#menu-filters > summary")
    page.select_option("#add-filter", label="Assignee equals …")
    page.fill("#add-filter-value", "bob@example.com")
    page.click(".console-add-filter button[type=submit]")
    assert page.locator("table.model-list tbody tr[data-id]").count() == 0  # eggs: no assignee
    page.click("#active-filters a[aria-label='Remove the filter Completed equals Yes']")
    assert page.locator("table.model-list tbody tr[data-id]").count() == 1
    assert "Assignee equals bob@example.com" in page.inner_text("#active-filters")
    # With selected: the checked rows go to the action's page.
    page.goto("/admin/todo/")
    page.check(f"input.action-checkbox[value='{sample['eggs']}']")
    page.click("#menu-actions > summary")
    page.select_option("#action-choice", label="Delete")
    page.click("#menu-actions button[type=submit]")
    page.wait_for_url("**/delete/**")
    assert "Buy eggs" in page.inner_text("body")
    # Administration, in the navigation bar.
    page.click(".console-navbar details > summary")
    page.click(".console-navbar a:has-text('Audit log')")
    page.wait_for_url("**/audit**")


def _export_checked(page, sample):
    page.goto("/admin/todo/")
    page.check(f"input.action-checkbox[value='{sample['eggs']}']")
    page.click("#menu-export > summary")
    with page.expect_download() as download:
        page.click("#export-checked-csv")
    lines = download.value.path().read_text(encoding="utf-8-sig").strip().splitlines()
    assert len(lines) == 2 and "Buy eggs" in lines[1]


def test_the_checked_rows_are_exported_without_javascript(no_js_page, sample):
    log_in(no_js_page, Role.editor)
    _export_checked(no_js_page, sample)


def test_the_checked_rows_are_exported_with_javascript(editor_page, sample):
    _export_checked(editor_page, sample)
    assert editor_page.js_errors == []


def test_menus_close_on_a_click_elsewhere_and_on_escape(editor_page, sample):
    page = editor_page
    page.goto("/admin/todo/")
    page.click("#menu-export > summary")
    assert page.locator("#menu-export .dropdown-menu").is_visible()
    page.click("#menu-page-size > summary")  # one menu open at a time
    assert page.locator("#menu-export .dropdown-menu").is_hidden()
    page.click("h4")
    assert page.locator("#menu-page-size .dropdown-menu").is_hidden()
    page.click("#menu-filters > summary")
    page.keyboard.press("Escape")
    assert page.locator("#menu-filters .dropdown-menu").is_hidden()
    # With JavaScript the filter menu adds Flask-Admin's editable filter row.
    page.click("#menu-filters > summary")
    page.click("#menu-filters a.filter:has-text('Assignee')")
    assert page.locator("#menu-filters .dropdown-menu").is_hidden()
    assert page.locator("#filter_form table.filters tr").count() == 1
    assert not page.js_errors


def test_a_lists_form_shows_its_todos_as_compact_rows_and_warns_before_leaving(editor_page):
    page = editor_page
    ids = seed_todos(25)
    list_id = fresh_todo(ids[0]).list_id
    page.goto(f"/admin/todolist/edit/?id={list_id}")
    rows = page.locator("#todos tbody.inline-field-list > tr")
    assert rows.count() == 20  # one page of the inline rows
    assert rows.nth(0).locator("th").inner_text() == "To-do 1"
    assert page.locator("a#todos-button").inner_text() == "Add to-do"
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height < 2500, height  # Flask-Admin's stacked cards: 11,500 px
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "classic-inline-rows-1366.png"), full_page=True)

    # Nothing changed: paging on asks nothing.
    page.click("a[rel=next]")
    page.wait_for_url("**todos_after=**")
    assert page.locator("#todos tbody.inline-field-list > tr").count() == 5
    page.go_back()
    page.fill("#todos-0-description", "chore zero, renamed")
    asked: list[str] = []

    def answer(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", answer)
    page.click("a[rel=next]")
    assert asked and "not saved" in asked[0]
    assert "todos_after" not in page.url  # stayed, the edit still there
    assert page.input_value("#todos-0-description") == "chore zero, renamed"
    prevented = page.evaluate(
        "() => { const e = new Event('beforeunload', {cancelable: true});"
        " window.dispatchEvent(e); return e.defaultPrevented; }"
    )
    assert prevented  # closing the tab or typing another address asks too
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("a[rel=next]")
    page.wait_for_url("**todos_after=**")
    assert fresh_todo(ids[0]).description == "chore 0"
    assert not page.js_errors


def test_saving_the_compact_rows_writes_every_child(editor_page):
    page = editor_page
    ids = seed_todos(3)
    list_id = fresh_todo(ids[0]).list_id
    page.goto(f"/admin/todolist/edit/?id={list_id}")
    page.fill("#todos-1-description", "chore one, renamed")
    page.check("#todos-2-completed")
    page.check("#del-todos-0")
    page.click("#todos-button")
    page.fill("#todos-3-description", "a new chore")
    page.click("input[type=submit][value='Save']")
    page.wait_for_selector(".alert-success")
    _db.session.expire_all()
    rows = _db.session.execute(
        sa.select(Todo.description, Todo.completed).where(Todo.list_id == list_id)
        .order_by(Todo.id)
    ).all()
    assert [tuple(r) for r in rows] == [
        ("chore one, renamed", False), ("chore 2", True), ("a new chore", False)
    ]
    assert not page.js_errors


def test_a_due_date_is_picked_and_saved_without_a_picker_over_the_button(editor_page, sample):
    page = editor_page
    page.goto(f"/admin/todo/edit/?id={sample['milk']}")
    assert page.get_attribute("#due_date", "type") == "date"
    page.click("#due_date")
    page.fill("#due_date", "2026-12-31")
    # Nothing of a picker is left over the Save button: a real click reaches it.
    page.click("input[type=submit][value='Save']")
    page.wait_for_selector(".alert-success")
    assert str(fresh_todo(sample["milk"]).due_date) == "2026-12-31"
    assert page.locator(".daterangepicker:visible").count() == 0
    assert not page.js_errors


def test_at_800_px_the_console_keeps_its_name_and_values_stay_whole(editor_page, sample):
    page = editor_page
    page.set_viewport_size({"width": 800, "height": 900})
    page.goto("/admin/todo/")
    brand = page.locator(".navbar-brand")
    assert brand.is_visible() and brand.inner_text() == "Console"
    assert page.locator(".console-navbar a:has-text('To-do lists')").is_visible()
    milk = page.locator(f"tr[data-id='{sample['milk']}']")
    for column in ("updated_at", "assignee_id"):
        cell = milk.locator(f"td.col-{column}")
        line = page.evaluate(
            "(el) => parseFloat(getComputedStyle(el).lineHeight) || 24", cell.element_handle()
        )
        assert cell.bounding_box()["height"] < 2 * line + 8, column  # one line, not broken
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "classic-list-800.png"), full_page=True)
    page.goto(f"/admin/todolist/edit/?id={sample['groceries']}")
    page.screenshot(path=str(ARTIFACTS / "classic-inline-rows-800.png"), full_page=True)
    assert not page.js_errors


def test_bulk_assign_looks_up_the_person_as_the_forms_do(editor_page, sample, monkeypatch):
    monkeypatch.setattr(reference_fields, "SELECT_LIMIT", 0)
    page = editor_page
    page.goto("/admin/todo/")
    page.check(f"input.action-checkbox[value='{sample['milk']}']")
    page.check(f"input.action-checkbox[value='{sample['eggs']}']")
    page.click("#menu-actions > summary")
    page.click("#menu-actions a:has-text('Set assignee')")
    page.wait_for_selector("#bulk-confirm")
    # The lookup takes over the typed key's box once the page's script has run.
    page.locator("input.console-reference-key").first.wait_for(state="detached", timeout=10_000)
    choose_select2(page, "value", "ann@example.com")
    page.click("#bulk-confirm button[type=submit]")
    page.wait_for_selector(".alert-success")
    assert {fresh_todo(sample["milk"]).assignee_id, fresh_todo(sample["eggs"]).assignee_id} == {
        sample["ann"]
    }
    assert not page.js_errors
