"""'Select all matching' in a real browser: the bar, the hidden input, set and confirm."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from console.demo.models import Person, Todo, TodoList
from console.extensions import db as _db
from tests.browser.conftest import ARTIFACTS

ROWS = 30


def words(page: Any, selector: str) -> str:
    return re.sub(r"\s+", " ", page.inner_text(selector)).strip()


def seed() -> tuple[list[int], int]:
    """30 unfinished Groceries to-dos (more than a page of 20) and one on another list."""
    ann = Person(name="Ann", email="ann@example.com")
    groceries = TodoList(name="Groceries", owner=ann)
    work = TodoList(name="Work", owner=ann)
    todos = [Todo(description=f"Shop {i}", todo_list=groceries) for i in range(ROWS)]
    outside = Todo(description="Write report", todo_list=work)
    _db.session.add_all([ann, groceries, work, *todos, outside])
    _db.session.commit()
    return [t.id for t in todos], outside.id


def test_select_all_matching_then_set_completed(editor_page: Any) -> None:
    page = editor_page
    ids, outside = seed()
    page.goto("/admin/todo/?flt0_list_name_equals=Groceries&page_size=20")
    bar = page.locator("#select-matching")
    assert bar.is_hidden()
    page.check("input.action-rowtoggle")
    bar.wait_for(state="visible")
    assert "All 20 to-dos on this page are selected." in words(page, "#select-matching")
    page.click("#select-matching-all")
    assert "All 30 matching to-dos are selected." in words(page, "#select-matching")
    assert page.input_value("#action_form input[name=matching]") == (
        "flt0_list_name_equals=Groceries"
    )
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "select-matching-bar.png"), full_page=True)

    # Unchecking a row takes the matching selection back; choosing again restores it.
    page.uncheck(f"input.action-checkbox[value='{ids[0]}']")
    assert bar.is_hidden()
    assert page.locator("#action_form input[name=matching]").count() == 0
    page.check(f"input.action-checkbox[value='{ids[0]}']")
    bar.wait_for(state="visible")
    page.click("#select-matching-all")

    page.click("text=With selected")
    page.click("[data-console-action='set:completed']")
    page.wait_for_selector("#bulk-confirm")
    assert "Set completed: 30 to-dos" in words(page, "h1")
    assert "the first 20 are shown" in words(page, "#bulk-matching")
    page.select_option("#value", "true")
    page.screenshot(path=str(ARTIFACTS / "select-matching-confirm.png"), full_page=True)
    page.click("#bulk-confirm button[type=submit]")
    page.wait_for_selector(".alert-success")
    assert "30 to-dos updated" in words(page, ".alert-success")
    _db.session.expire_all()
    done = set(_db.session.scalars(sa.select(Todo.id).where(Todo.completed.is_(True))))
    assert done == set(ids)
    assert outside not in done
    assert not page.js_errors
