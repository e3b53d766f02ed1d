"""'Select all matching' through HTTP: the list's filter, not ids, on both databases."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from console.demo.models import Person, Todo, TodoList
from console.models import AuditEntry
from tests.conftest import count, csrf_token

# Unfinished to-dos on the Groceries list: more than a page of 20.
QUERY = "flt0_list_name_equals=Groceries&flt1_completed_equals=0"
SHOP_ROWS = 25


@pytest.fixture
def many(db: Any, sample: dict) -> dict[str, Any]:
    """The sample plus 25 unfinished Groceries to-dos and a Work list outside the filter."""
    groceries = db.session.get(TodoList, sample["groceries"])
    ann = db.session.get(Person, sample["ann"])
    work = TodoList(name="Work", owner=ann)
    db.session.add(work)
    db.session.add_all(Todo(description=f"Shop {i}", todo_list=groceries) for i in range(SHOP_ROWS))
    outside = Todo(description="Write report", todo_list=work)
    db.session.add(outside)
    db.session.commit()
    ids = {**sample, "work": work.id, "outside": outside.id}
    db.session.expire_all()
    return ids


def matching_ids() -> set[int]:
    return set(count_rows(sa.select(Todo.id).join(TodoList).where(
        TodoList.name == "Groceries", Todo.completed.is_(False))))


def count_rows(stmt: Any) -> list[Any]:
    from console.extensions import db

    db.session.expire_all()
    return list(db.session.scalars(stmt))


def post_action(client: FlaskClient, name: str, query: str, model: str = "todo",
                ids: tuple[int, ...] = (1,)) -> Any:
    """Choose a "With selected" action with "Select all matching" (the page's ids ignored)."""
    token = csrf_token(client, f"/admin/{model}/")
    return client.post(
        f"/admin/{model}/action/",
        data={"csrf_token": token, "action": name, "rowid": [str(i) for i in ids],
              "matching": query, "url": f"/admin/{model}/"},
    )


def hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, f"no {name} on the page"
    return html.unescape(found.group(1))


def confirm_matching(client: FlaskClient, page: str, value: str, column: str = "completed",
                     model: str = "todo") -> Any:
    token = csrf_token(client, f"/admin/{model}/")
    return client.post(
        f"/admin/{model}/bulk/{column}/",
        data={"csrf_token": token, "matching": hidden(page, "matching"),
              "selection": hidden(page, "selection"), "value": value},
    )


def messages(client: FlaskClient, response: Any) -> str:
    """The page a response leads to (redirects followed), where the flashed messages show."""
    while response.status_code == 302:
        response = client.get(response.headers["Location"])
    return str(response.get_data(as_text=True))


def updates() -> int:
    return count(AuditEntry, AuditEntry.action == "update")


def test_the_list_offers_select_all_matching(editor_client: FlaskClient, many: dict) -> None:
    """A list with more rows than its page carries the bar and its query string."""
    page = editor_client.get(f"/admin/todo/?{QUERY}&page_size=20&sort=1").get_data(as_text=True)
    assert 'id="select-matching"' in page
    assert hidden_attr(page, "data-matching") == QUERY
    assert "All 20 to-dos on this page are selected." in page
    assert "Select all 26 matching" in page
    small = editor_client.get("/admin/todo/?flt0_list_name_equals=Work").get_data(as_text=True)
    assert 'id="select-matching"' not in small


def hidden_attr(page: str, name: str) -> str:
    found = re.search(rf'{name}="([^"]*)"', page)
    assert found
    return html.unescape(found.group(1))


def test_set_completed_on_every_matching_row(editor_client: FlaskClient, many: dict) -> None:
    """Exactly the matching rows are set, each with an audit entry; the rest is untouched."""
    wanted = matching_ids()
    assert len(wanted) == SHOP_ROWS + 1  # the 25 and the sample's milk
    page = post_action(editor_client, "set:completed", QUERY).get_data(as_text=True)
    assert "Set completed: 26 to-dos" in page
    assert "the first 20 are shown" in page
    assert 'name="row"' not in page
    before = updates()
    response = confirm_matching(editor_client, page, "true")
    assert response.status_code == 302, response.get_data(as_text=True)
    assert "26 to-dos updated" in messages(editor_client, response)
    assert set(count_rows(sa.select(Todo.id).where(Todo.completed.is_(True)))) == (
        wanted | {many["eggs"]}
    )
    assert updates() - before == len(wanted)
    assert count(Todo, Todo.id == many["outside"], Todo.completed.is_(False)) == 1
    assert count(AuditEntry, AuditEntry.action == "bulk_set") == 1


@pytest.mark.parametrize("change", ["edit", "add"])
def test_a_changed_selection_is_refused_then_confirmed_again(
    editor_client: FlaskClient, many: dict, db: Any, change: str
) -> None:
    """A row edited (or added to the filter) after the page: 409, nothing written; again works."""
    page = post_action(editor_client, "set:completed", QUERY).get_data(as_text=True)
    if change == "edit":
        row = db.session.get(Todo, many["milk"])
        row.description = "Buy oat milk"
    else:
        db.session.add(Todo(description="Shop late", list_id=many["groceries"]))
    db.session.commit()
    before = updates()
    response = confirm_matching(editor_client, page, "true")
    assert response.status_code == 409
    again = response.get_data(as_text=True)
    assert "changed since you confirmed" in again
    total = 26 if change == "edit" else 27
    assert f"Set completed: {total} to-dos" in again
    assert updates() == before
    assert count(Todo, Todo.completed.is_(True)) == 1
    assert hidden(again, "selection") != hidden(page, "selection")
    response = confirm_matching(editor_client, again, "true")
    assert response.status_code == 302
    assert count(Todo, Todo.completed.is_(True)) == total + 1
    assert updates() - before == total


@pytest.mark.parametrize("query", [
    "flt0_completed_equals=maybe",
    "flt0_no_such_filter=1",
    "flt0_list_name_equals=Groceries&fltx_completed_equals=0",
])
def test_a_filter_error_is_refused(editor_client: FlaskClient, many: dict, query: str) -> None:
    """An unknown filter or an invalid value: refused, on the page and on the confirm."""
    response = post_action(editor_client, "set:completed", query)
    assert response.status_code == 302
    assert "Nothing was done" in messages(editor_client, response)
    token = csrf_token(editor_client, "/admin/todo/")
    response = editor_client.post("/admin/todo/bulk/completed/", data={
        "csrf_token": token, "matching": query, "selection": "0" * 64, "value": "true"})
    assert response.status_code == 302
    assert "Nothing was done" in messages(editor_client, response)
    deleted = editor_client.get("/admin/todo/delete/", query_string={"matching": query},
                                follow_redirects=True).get_data(as_text=True)
    assert "Nothing was done" in deleted
    assert count(Todo, Todo.completed.is_(True)) == 1
    assert count(Todo) == SHOP_ROWS + 3


def test_more_than_max_matching_is_refused(app: Flask, editor_client: FlaskClient,
                                           many: dict) -> None:
    """CONSOLE_MAX_MATCHING bounds what one filter may reach."""
    app.config["CONSOLE_MAX_MATCHING"] = 2
    response = post_action(editor_client, "set:completed", QUERY)
    assert "More than 2 to-dos match; one action takes at most 2" in messages(
        editor_client, response)
    response = post_action(editor_client, "delete", QUERY)
    assert "More than 2 to-dos match" in messages(editor_client, response)
    assert count(Todo, Todo.completed.is_(True)) == 1
    assert count(Todo) == SHOP_ROWS + 3


def open_delete(client: FlaskClient, query: str, model: str) -> str:
    response = post_action(client, "delete", query, model=model)
    assert response.status_code == 302
    assert "matching=" in response.headers["Location"]
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    return page.get_data(as_text=True)


def confirm_delete(client: FlaskClient, page: str, model: str) -> Any:
    token = csrf_token(client, f"/admin/{model}/")
    return client.post(f"/admin/{model}/delete/", data={
        "csrf_token": token, "matching": hidden(page, "matching"),
        "selection": hidden(page, "selection"), "fingerprint": hidden(page, "fingerprint"),
        "url": f"/admin/{model}/"})


def test_delete_every_matching_row_with_its_cascade(editor_client: FlaskClient,
                                                     many: dict) -> None:
    """The preview counts the matching lists and their to-dos; confirming deletes them."""
    page = open_delete(editor_client, "search=o", "todolist")
    # Groceries and Work both contain an "o": 2 lists and all their 28 to-dos.
    assert "Delete to-do lists?" in page
    assert "Also deleted: 28 to-dos" in page
    assert 'name="id"' not in page
    response = confirm_delete(editor_client, page, "todolist")
    assert response.status_code == 302, response.get_data(as_text=True)
    assert "Deleted 2 to-do lists with 28 to-dos" in messages(editor_client, response)
    assert count(TodoList) == 0 and count(Todo) == 0
    assert count(Person) == 2


def test_a_stale_matching_delete_is_refused(editor_client: FlaskClient, many: dict,
                                            db: Any) -> None:
    """A row edited or added after the preview: 409 and nothing deleted; again works."""
    page = open_delete(editor_client, QUERY, "todo")
    assert "Delete to-dos?" in page
    row = db.session.get(Todo, many["milk"])
    row.description = "Buy oat milk"
    db.session.commit()
    response = confirm_delete(editor_client, page, "todo")
    assert response.status_code == 409
    again = response.get_data(as_text=True)
    assert "The data changed since the impact below was worked out" in again
    assert count(Todo) == SHOP_ROWS + 3
    db.session.add(Todo(description="Shop late", list_id=many["groceries"]))
    db.session.commit()
    assert confirm_delete(editor_client, again, "todo").status_code == 409
    assert count(Todo) == SHOP_ROWS + 4
    fresh = open_delete(editor_client, QUERY, "todo")
    response = confirm_delete(editor_client, fresh, "todo")
    assert response.status_code == 302
    assert count(Todo) == 2  # eggs (completed) and the Work to-do
    assert count(Todo, Todo.id == many["outside"]) == 1


def test_a_viewer_cannot(viewer_client: FlaskClient, many: dict) -> None:
    """Viewers get 403 on every matching path, and nothing changes."""
    token = csrf_token(viewer_client, "/admin/todo/")
    data = {"csrf_token": token, "matching": QUERY, "rowid": ["1"], "url": "/admin/todo/"}
    assert viewer_client.post("/admin/todo/action/",
                              data={**data, "action": "set:completed"}).status_code == 403
    assert viewer_client.post("/admin/todo/action/",
                              data={**data, "action": "delete"}).status_code == 403
    assert viewer_client.post("/admin/todo/bulk/completed/",
                              data={**data, "value": "true"}).status_code == 403
    assert viewer_client.get("/admin/todo/delete/",
                             query_string={"matching": QUERY}).status_code == 403
    assert viewer_client.post("/admin/todo/delete/", data=data).status_code == 403
    page = viewer_client.get(f"/admin/todo/?{QUERY}&page_size=20").get_data(as_text=True)
    assert 'id="select-matching"' not in page
    assert count(Todo, Todo.completed.is_(True)) == 1
    assert count(Todo) == SHOP_ROWS + 3


def test_matching_needs_csrf(editor_client: FlaskClient, many: dict) -> None:
    """A matching confirm without its CSRF token is refused."""
    page = post_action(editor_client, "set:completed", QUERY).get_data(as_text=True)
    response = editor_client.post("/admin/todo/bulk/completed/", data={
        "matching": hidden(page, "matching"), "selection": hidden(page, "selection"),
        "value": "true"})
    assert response.status_code == 400
    assert count(Todo, Todo.completed.is_(True)) == 1
