"""The console in a real browser: login, inline to-dos, validation, shortcuts, in-place toggle."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from console.demo.models import Person, Todo, TodoList
from console.extensions import db as _db
from console.models import Role
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD, make_account


def fresh(model: type, ident: int) -> Any:
    """The row as the database has it now (the browser changed it through the server)."""
    _db.session.expire_all()
    return _db.session.get(model, ident)


def test_login_and_logout(page):
    make_account(Role.viewer)
    page.goto("/admin/")
    assert "/login" in page.url
    page.fill("input[name=email]", "viewer@example.com")
    page.fill("input[name=password]", "wrong password")
    page.click("button[type=submit], input[type=submit]")
    assert page.locator("#current-account").count() == 0
    page.fill("input[name=email]", "viewer@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_selector("#current-account")
    assert "viewer@example.com" in page.inner_text("#current-account")
    assert page.locator("#dashboard-counts").is_visible()
    page.click("#logout-form button")
    page.wait_for_url(re.compile(r"/login"))
    assert not page.js_errors


def choose_select2(page: Any, field: str, text: str) -> None:
    """Pick ``text`` in Flask-Admin's select2 (3.5) ajax widget for ``field``."""
    page.click(f"#s2id_{field} a.select2-choice")
    page.fill("#select2-drop input.select2-input", text)
    page.click(f"#select2-drop .select2-result-selectable:has-text('{text}')")


def test_create_a_list_with_todos_inline(editor_page, sample):
    page = editor_page
    page.goto("/admin/todolist/new/")
    page.fill("#name", "Weekend")
    choose_select2(page, "owner", "ann@example.com")
    for n, text in enumerate(["Mow the lawn", "Fix the bike"]):
        page.click("#todos-button, a:has-text('Add Todos'), button:has-text('Add Todos')")
        page.fill(f"#todos-{n}-description", text)
    page.click("input[type=submit][value='Save'], button:has-text('Save')")
    page.wait_for_selector(".alert-success")
    weekend = _db.session.scalar(sa.select(TodoList).where(TodoList.name == "Weekend"))
    assert weekend is not None
    descriptions = sorted(
        _db.session.scalars(sa.select(Todo.description).where(Todo.list_id == weekend.id))
    )
    assert descriptions == ["Fix the bike", "Mow the lawn"]
    assert not page.js_errors


def test_edit_with_a_validation_error_then_fixed(editor_page, sample):
    page = editor_page
    page.goto(f"/admin/person/edit/?id={sample['bob']}")
    # Blanks pass the browser's `required` check; the server must refuse them.
    page.fill("#name", "   ")
    page.fill("#email", "not-an-email")
    page.click("input[type=submit][value='Save'], button:has-text('Save')")
    page.wait_for_selector(".is-invalid, .invalid-feedback, .help-block, .form-text.text-danger")
    body = page.inner_text("body")
    assert "Name is required." in body  # the one text rule: blanks and invisible text are no name
    assert fresh(Person, sample["bob"]).name == "Bob"
    page.fill("#name", "Robert")
    page.fill("#email", "robert@example.com")
    page.click("input[type=submit][value='Save'], button:has-text('Save')")
    page.wait_for_selector(".alert-success")
    bob = fresh(Person, sample["bob"])
    assert (bob.name, bob.email) == ("Robert", "robert@example.com")


def seed_todos(count: int) -> list[int]:
    """``count`` to-dos on one list; their ids in list order."""
    ann = Person(name="Kim", email="kim@example.com")
    chores = TodoList(name="Chores", owner=ann)
    _db.session.add_all([ann, chores])
    _db.session.flush()
    _db.session.execute(
        sa.insert(Todo), [{"description": f"chore {i}", "list_id": chores.id} for i in range(count)]
    )
    _db.session.commit()
    return list(_db.session.scalars(sa.select(Todo.id).order_by(Todo.id)))


def current_row_id(page: Any) -> str:
    """The id of the row the keyboard cursor is on."""
    return page.get_attribute("tr.console-current input.action-checkbox", "value")


def test_keyboard_shortcuts(editor_page):
    page = editor_page
    ids = seed_todos(6)
    page.goto("/admin/todo/")
    page.wait_for_selector("table.model-list")

    page.keyboard.press("?")
    assert page.locator("#console-shortcuts").is_visible()
    assert "Select the row" in page.inner_text("#console-shortcuts")
    page.keyboard.press("Escape")
    assert page.locator("#console-shortcuts").is_hidden()

    page.keyboard.press("j")
    assert current_row_id(page) == str(ids[0])
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    assert current_row_id(page) == str(ids[1])
    page.keyboard.press("x")
    assert page.is_checked(f"input.action-checkbox[value='{ids[1]}']")

    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.name") == "search"
    # Typing in the search box is typing, not shortcuts.
    page.keyboard.type("jk")
    assert page.input_value("form[role=search] input[name=search]") == "jk"
    page.keyboard.press("Escape")
    page.evaluate("document.activeElement.blur()")

    page.keyboard.press("e")
    page.wait_for_url(re.compile(rf"/admin/todo/edit/\?id={ids[1]}"))
    page.go_back()
    page.wait_for_selector("table.model-list")

    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/admin/todo/edit/\?id={ids[0]}"))
    page.go_back()
    page.wait_for_selector("table.model-list")

    page.keyboard.press("n")
    page.wait_for_url(re.compile(r"/admin/todo/new/"))
    assert not page.js_errors


def test_shift_click_selects_a_range_and_delete_deletes_it(editor_page):
    page = editor_page
    ids = seed_todos(6)
    page.goto("/admin/todo/")
    page.click(f"input.action-checkbox[value='{ids[1]}']")
    page.click(f"input.action-checkbox[value='{ids[4]}']", modifiers=["Shift"])
    checked = page.eval_on_selector_all(
        "input.action-checkbox:checked", "boxes => boxes.map(b => Number(b.value))"
    )
    assert sorted(checked) == ids[1:5]

    page.on("dialog", lambda dialog: dialog.accept())
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("Delete")
    # The delete preview lists exactly the four selected rows before anything goes.
    page.wait_for_selector("#delete-form")
    assert "Selected 4" in " ".join(page.locator("h2").all_inner_texts())
    page.click("#delete-form button[type=submit]")
    page.wait_for_selector(".alert-success, .alert-info")
    _db.session.expire_all()
    assert list(_db.session.scalars(sa.select(Todo.id).order_by(Todo.id))) == [ids[0], ids[5]]


def test_toggle_completion_in_place(editor_page, sample):
    page = editor_page
    page.goto("/admin/todo/")
    page.evaluate("window.notReloaded = true")
    form = page.locator(f"form.console-toggle[action$='/toggle/{sample['milk']}/completed']")
    form.locator("button").click()
    form.locator("button[aria-pressed=true]").wait_for()
    assert fresh(Todo, sample["milk"]).completed is True
    assert page.evaluate("window.notReloaded") is True

    # Someone else edits the row: the next toggle from this page is refused, in place.
    milk = fresh(Todo, sample["milk"])
    milk.description = "Buy oat milk"
    _db.session.commit()
    form.locator("button").click()
    error = form.locator(".console-toggle-error")
    error.filter(has_text="changed this record").wait_for()
    assert fresh(Todo, sample["milk"]).completed is True
    assert page.evaluate("window.notReloaded") is True
    assert not page.js_errors


def test_without_javascript_toggle_create_and_delete_still_work(no_js_page, sample):
    page = no_js_page
    make_account(Role.editor)
    page.goto("/login")
    page.fill("input[name=email]", "editor@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_selector("#current-account")

    page.goto("/admin/todo/")
    page.click(f"form.console-toggle[action$='/toggle/{sample['eggs']}/completed'] button")
    page.wait_for_selector("table.model-list")
    assert fresh(Todo, sample["eggs"]).completed is False

    page.goto("/admin/person/new/")
    page.fill("#name", "Cleo")
    page.fill("#email", "cleo@example.com")
    page.click("input[type=submit][value='Save'], button:has-text('Save')")
    page.wait_for_selector(".alert-success")
    assert _db.session.scalar(sa.select(Person).where(Person.email == "cleo@example.com"))

    page.goto("/admin/person/")
    page.click(f"a[title='Delete record'][href*='id={sample['bob']}']")
    page.click("#delete-form button[type=submit]")
    page.wait_for_selector(".alert-success")
    assert fresh(Person, sample["bob"]) is None


def test_viewer_sees_no_toggle(page, sample):
    log_in(page, Role.viewer)
    page.goto("/admin/todo/")
    page.wait_for_selector("table.model-list")
    assert page.locator("form.console-toggle").count() == 0
