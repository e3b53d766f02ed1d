"""Every write path refuses a request that lacks the version it read: 400, never an overwrite.

A form without its ``version`` field, an inline row without its own, an in-place edit
or toggle without its token, a bulk edit without its rows' tokens or its selection's
fingerprint, a delete without its plan's fingerprint, a restore without its token: each
is refused with a message that says to reload, and the database keeps the newer save.
"""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from console.demo.models import Todo, TodoList
from console.extensions import db
from tests.conftest import count, csrf_token
from tests.history_helpers import form_fields, list_csrf

RELOAD = "does not say which version"


def todo_now(todo_id: int) -> Todo:
    db.session.expire_all()
    todo = db.session.get(Todo, todo_id)
    assert todo is not None
    return todo


def test_a_form_without_its_version_is_refused(editor_client: FlaskClient, sample: dict) -> None:
    url = f"/admin/todo/edit/?id={sample['milk']}"
    fields = form_fields(editor_client.get(url).get_data(as_text=True))
    fields["description"] = "Overwritten"
    for missing in ({k: v for k, v in fields.items() if k != "version"}, {**fields, "version": ""}):
        response = editor_client.post(url, data=missing)
        assert response.status_code == 400
        assert RELOAD in response.get_data(as_text=True)
    assert (todo_now(sample["milk"]).description, todo_now(sample["milk"]).version) == (
        "Buy milk", 1)


def test_an_inline_row_without_its_version_is_refused(
    editor_client: FlaskClient, sample: dict
) -> None:
    url = f"/admin/todolist/edit/?id={sample['groceries']}"
    fields = form_fields(editor_client.get(url).get_data(as_text=True))
    assert "todos-0-version" in fields
    fields["name"] = "Weekly shop"
    fields["todos-0-description"] = "Overwritten"
    del fields["todos-0-version"]
    response = editor_client.post(url, data=fields)
    assert response.status_code == 400
    assert RELOAD in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(TodoList, sample["groceries"]).name == "Groceries"
    assert {todo_now(sample["milk"]).description, todo_now(sample["eggs"]).description} == {
        "Buy milk", "Buy eggs"}


def test_an_in_place_edit_without_its_token_is_refused(
    editor_client: FlaskClient, sample: dict
) -> None:
    page = editor_client.get("/admin/todo/").get_data(as_text=True)
    for change in ({"row": str(sample["milk"]), "column": "description", "value": "x"},
                   {"row": str(sample["milk"]), "token": None, "column": "description",
                    "value": "x"}):
        response = editor_client.post("/admin/todo/cells/", json={"changes": [change]},
                                      headers={"X-CSRFToken": list_csrf(page)})
        assert response.status_code == 400
        assert RELOAD in response.get_json()["problems"][0]["message"]
    assert todo_now(sample["milk"]).description == "Buy milk"


def test_a_toggle_without_its_version_is_refused(editor_client: FlaskClient, sample: dict) -> None:
    token = csrf_token(editor_client, "/admin/todo/")
    for version in (None, ""):
        data = {"csrf_token": token, "value": "1", "url": "/admin/todo/"}
        if version is not None:
            data["version"] = version
        response = editor_client.post(f"/admin/todo/toggle/{sample['milk']}/completed", data=data,
                                      headers={"Accept": "application/json"})
        assert response.status_code == 400
        assert RELOAD in response.get_json()["error"]
    assert todo_now(sample["milk"]).completed is False


def test_a_bulk_edit_without_its_rows_tokens_is_refused(
    editor_client: FlaskClient, sample: dict
) -> None:
    token = csrf_token(editor_client, "/admin/todo/")
    for ref in (str(sample["milk"]), f"{sample['milk']}:"):
        response = editor_client.post("/admin/todo/bulk/completed/",
                                      data={"csrf_token": token, "row": ref, "value": "true"})
        assert response.status_code == 400
        assert RELOAD in response.get_data(as_text=True)
    assert todo_now(sample["milk"]).completed is False


def test_a_bulk_edit_of_every_match_without_its_fingerprint_is_refused(
    editor_client: FlaskClient, sample: dict
) -> None:
    token = csrf_token(editor_client, "/admin/todo/")
    for data in ({"matching": "search=milk"}, {"matching": "search=milk", "selection": ""}):
        response = editor_client.post("/admin/todo/bulk/completed/",
                                      data={"csrf_token": token, "value": "true", **data})
        assert response.status_code == 400
        assert "does not say which rows" in response.get_data(as_text=True)
    assert todo_now(sample["milk"]).completed is False


def test_a_delete_without_its_fingerprint_is_refused(
    editor_client: FlaskClient, sample: dict
) -> None:
    token = csrf_token(editor_client, "/admin/todo/")
    for data in ({"id": [str(sample["milk"])]}, {"id": [str(sample["milk"])], "fingerprint": ""},
                 {"matching": "search=milk"}, {"matching": "search=milk", "selection": ""}):
        response = editor_client.post("/admin/todo/delete/", data={"csrf_token": token, **data})
        assert response.status_code == 400, (data, response.status_code)
        assert "does not say which rows" in response.get_data(as_text=True)
    assert count(Todo) == 2


def test_a_restore_without_its_version_is_refused(
    editor_client: FlaskClient, sample: dict
) -> None:
    url = f"/admin/todo/edit/?id={sample['milk']}"
    fields = form_fields(editor_client.get(url).get_data(as_text=True))
    fields["description"] = "Buy oat milk"
    assert editor_client.post(url, data=fields).status_code == 302
    history = editor_client.get(f"/admin/todo/history/?id={sample['milk']}").get_data(
        as_text=True)
    links = re.findall(r'href="(/admin/todo/history/revert/\?[^"]+)"', history)
    assert links, history[-2000:]
    revert = links[0].replace("&amp;", "&")
    page = editor_client.get(revert).get_data(as_text=True)
    fields = form_fields(page)
    fields.pop("version", None)
    response = editor_client.post(revert, data=fields)
    assert response.status_code == 400
    assert "The confirmation had expired" in response.get_data(as_text=True)
    assert todo_now(sample["milk"]).description == "Buy oat milk"


