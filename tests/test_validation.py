"""Every validation rule: the form comes back with the message on the field; nothing written."""

from __future__ import annotations

import re

import pytest

from console.demo.models import Person, Todo, TodoList
from tests.conftest import count, post_form


def field_errors(html: str, field: str) -> str:
    """The text of the error block rendered under ``field`` (empty if none)."""
    match = re.search(
        rf'id="{re.escape(field)}".*?(<(?:div|p|span)[^>]*(?:invalid-feedback|help-block)[^>]*>.*?</(?:div|p|span)>)',
        html,
        re.S,
    )
    return match.group(1) if match else ""


PERSON_CASES = [
    ({"name": "", "email": "x@example.com"}, "name", "required"),
    ({"name": "   ", "email": "x@example.com"}, "name", "required"),
    ({"name": "x" * 121, "email": "x@example.com"}, "name", "120"),
    ({"name": "Xavier", "email": ""}, "email", "required"),
    ({"name": "Xavier", "email": "not-an-email"}, "email", "valid email"),
    ({"name": "Xavier", "email": "ANN@example.com"}, "email", "exists"),
]


@pytest.mark.parametrize(("data", "field", "message"), PERSON_CASES)
def test_person_rules(editor_client, sample, data, field, message):
    before = count(Person)
    response = post_form(editor_client, "/admin/person/new/", data)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert message.lower() in field_errors(html, field).lower(), html[-3000:]
    assert count(Person) == before
    # The input is kept in the form.
    if data[field].strip():
        assert data[field] in html.replace("&#34;", '"') or data[field].lower() in html


LIST_CASES = [
    ({"name": "", "owner": "ann"}, "name", "required"),
    ({"name": "y" * 121, "owner": "ann"}, "name", "120"),
    ({"name": "Groceries", "owner": "ann"}, "name", "exists"),
    ({"name": "New list", "owner": ""}, "owner", "required"),
]


@pytest.mark.parametrize(("data", "field", "message"), LIST_CASES)
def test_todolist_rules(editor_client, sample, data, field, message):
    data = {**data, "owner": str(sample[data["owner"]]) if data["owner"] else ""}
    before = count(TodoList)
    response = post_form(editor_client, "/admin/todolist/new/", data)
    assert response.status_code == 400
    assert message.lower() in field_errors(response.get_data(as_text=True), field).lower()
    assert count(TodoList) == before


TODO_CASES = [
    ({"description": ""}, "description", "required"),
    ({"description": "z" * 501}, "description", "500"),
    ({"priority": "urgent"}, "priority", "not a valid choice"),
    ({"due_date": "31/01/2030"}, "due_date", "not a valid date"),
    ({"todo_list": ""}, "todo_list", "required"),
]


@pytest.mark.parametrize(("override", "field", "message"), TODO_CASES)
def test_todo_rules(editor_client, sample, override, field, message):
    data = {
        "description": "Something",
        "todo_list": str(sample["groceries"]),
        "priority": "normal",
        **override,
    }
    before = count(Todo)
    response = post_form(editor_client, "/admin/todo/new/", data)
    assert response.status_code == 400
    assert message.lower() in field_errors(response.get_data(as_text=True), field).lower()
    assert count(Todo) == before


def test_edit_to_duplicate_email_is_refused_on_the_field(editor_client, sample, db):
    response = post_form(
        editor_client,
        f"/admin/person/edit/?id={sample['bob']}",
        {"name": "Bob", "email": "ann@example.com"},
    )
    assert response.status_code == 200
    assert "exists" in field_errors(response.get_data(as_text=True), "email").lower()
    db.session.expire_all()
    assert db.session.get(Person, sample["bob"]).email == "bob@example.com"


def test_database_refusal_becomes_a_field_error(editor_client, sample, monkeypatch):
    """Two admins saving the same name at once: the form check passes, the database refuses."""
    from flask_admin.contrib.sqla import validators

    monkeypatch.setattr(validators.Unique, "__call__", lambda self, form, field: None)
    before = count(TodoList)
    response = post_form(
        editor_client, "/admin/todolist/new/", {"name": "Groceries", "owner": str(sample["bob"])}
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "already exists" in field_errors(html, "name").lower()
    assert 'value="Groceries"' in html
    assert count(TodoList) == before


def test_malformed_ids_never_give_a_500(editor_client, sample):
    for url in [
        "/admin/todo/edit/?id=abc",
        "/admin/todo/details/?id=99999",
        "/admin/todo/?page=-3",
        "/admin/todo/?sort=999",
        "/admin/todo/?flt0_completed_equals=maybe",
        "/admin/todo/?flt0_due_date_equals=notadate",
    ]:
        response = editor_client.get(url)
        assert response.status_code in (200, 302, 404), url
    response = post_form(editor_client, "/admin/todo/new/", {"todo_list": "not-a-number"})
    assert response.status_code == 400
