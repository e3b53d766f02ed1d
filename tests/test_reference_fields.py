"""Forms without JavaScript: reference fields (a select, or a typed key) and dates."""

from __future__ import annotations

import html
import re

import pytest
from werkzeug.datastructures import MultiDict

from console.admin import reference_fields
from console.demo.models import Todo
from tests.bulk_helpers import action, refs
from tests.conftest import CSRF_RE, count


def post_new_todo(client, fields: list[tuple[str, str]]):
    """Post the to-do create form as a browser without JavaScript would."""
    page = client.get("/admin/todo/new/").get_data(as_text=True)
    token = CSRF_RE.search(page).group(1)
    data = MultiDict([("csrf_token", token), ("description", "Call Bob"),
                      ("priority", "normal"), *fields])
    return client.post("/admin/todo/new/", data=data)


def test_small_parent_tables_are_plain_selects(editor_client, sample):
    form = editor_client.get("/admin/todo/new/").get_data(as_text=True)
    lists = re.search(r'<select [^>]*name="todo_list"[^>]*>(.*?)</select>', form, re.S)
    people = re.search(r'<select [^>]*name="assignee"[^>]*>(.*?)</select>', form, re.S)
    assert lists and people
    assert f'value="{sample["groceries"]}">Groceries</option>' in lists.group(1)
    assert "Ann &lt;ann@example.com&gt;" in people.group(1)
    assert '<option value=""></option>' in people.group(1)  # an assignee may be left empty
    response = post_new_todo(editor_client, [("todo_list", str(sample["groceries"])),
                                             ("assignee", "")])
    assert response.status_code == 302, response.get_data(as_text=True)
    assert count(Todo, Todo.description == "Call Bob", Todo.assignee_id.is_(None)) == 1


def test_a_missing_list_is_said_at_the_field(editor_client, sample):
    response = post_new_todo(editor_client, [("todo_list", ""), ("assignee", "")])
    assert response.status_code == 400
    assert "List is required." in response.get_data(as_text=True)
    assert count(Todo, Todo.description == "Call Bob") == 0


@pytest.fixture
def big_parents(monkeypatch):
    """Every parent table counts as big: their keys are typed."""
    monkeypatch.setattr(reference_fields, "SELECT_LIMIT", 0)


def test_big_parent_tables_take_a_typed_key(editor_client, sample, big_parents):
    form = editor_client.get("/admin/todo/new/").get_data(as_text=True)
    assert "<select" not in form.split('name="todo_list"')[0][-200:]
    assert "Type the person&#39;s email exactly." in form
    response = post_new_todo(editor_client, [
        ("todo_list", reference_fields.KEY_MARKER), ("todo_list", "Groceries"),
        ("assignee", reference_fields.KEY_MARKER), ("assignee", " ANN@example.com "),
    ])
    assert response.status_code == 302, response.get_data(as_text=True)
    todo = count(Todo, Todo.description == "Call Bob", Todo.list_id == sample["groceries"],
                 Todo.assignee_id == sample["ann"])
    assert todo == 1


def test_a_typed_key_that_names_nobody_is_refused_at_the_field(editor_client, sample,
                                                               big_parents):
    response = post_new_todo(editor_client, [
        ("todo_list", reference_fields.KEY_MARKER), ("todo_list", "Groceries"),
        ("assignee", reference_fields.KEY_MARKER), ("assignee", "nobody@example.com"),
    ])
    body = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 400
    assert "No person has the email 'nobody@example.com'." in body
    assert 'value="nobody@example.com"' in body  # what was typed is kept to fix
    assert count(Todo, Todo.description == "Call Bob") == 0


def test_the_edit_form_shows_the_current_key(editor_client, sample, big_parents):
    form = editor_client.get(f"/admin/todo/edit/?id={sample['milk']}").get_data(as_text=True)
    typed = [tag for tag in re.findall(r"<input [^>]*>", form)
             if 'name="assignee"' in tag and "console-reference-key" in tag]
    assert len(typed) == 1 and 'value="bob@example.com"' in typed[0]


def bulk_assign(client, page: str, values: list[str]):
    """Confirm "Set assignee" on the rows the confirmation ``page`` carries."""
    token = CSRF_RE.search(page).group(1)
    data = MultiDict([("csrf_token", token), ("url", "/admin/todo/"),
                      *[("row", ref) for ref in refs(page)], *[("value", v) for v in values]])
    return client.post("/admin/todo/bulk/assignee_id/", data=data)


def test_bulk_assign_offers_a_select_of_people(editor_client, sample):
    page = action(editor_client, "set:assignee_id", [sample["milk"], sample["eggs"]])
    text = page.get_data(as_text=True)
    assert re.search(r'<select [^>]*name="value"', text)
    assert "Ann &lt;ann@example.com&gt;</option>" in text
    response = bulk_assign(editor_client, text, [str(sample["ann"])])
    assert response.status_code == 302, response.get_data(as_text=True)
    assert count(Todo, Todo.assignee_id == sample["ann"]) == 2
    response = bulk_assign(editor_client, text.replace(':1"', ':2"'), [reference_fields.BLANK])
    assert response.status_code == 302, response.get_data(as_text=True)
    assert count(Todo, Todo.assignee_id.is_(None)) == 2


def test_bulk_assign_by_a_typed_email_without_javascript(editor_client, sample, big_parents):
    text = action(editor_client, "set:assignee_id", [sample["milk"], sample["eggs"]]).get_data(
        as_text=True
    )
    assert "console-reference-key" in text and "Type the person&#39;s email exactly." in text
    response = bulk_assign(editor_client, text, [reference_fields.KEY_MARKER, "nobody@x.org"])
    body = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 400
    assert "No person has the email 'nobody@x.org'." in body
    assert len(refs(body)) == 2  # the selection is kept, to confirm again
    response = bulk_assign(editor_client, body, [reference_fields.KEY_MARKER, "Ann@Example.com"])
    assert response.status_code == 302, response.get_data(as_text=True)
    assert count(Todo, Todo.assignee_id == sample["ann"]) == 2


def test_a_date_is_the_browsers_date_input_and_a_bad_one_gives_the_format(editor_client,
                                                                         sample):
    form = editor_client.get("/admin/todo/new/").get_data(as_text=True)
    due = [tag for tag in re.findall(r"<input [^>]*>", form) if 'name="due_date"' in tag]
    assert len(due) == 1 and 'type="date"' in due[0] and "datepicker" not in due[0]
    response = post_new_todo(editor_client, [("todo_list", str(sample["groceries"])),
                                             ("due_date", "31/12/2026")])
    assert response.status_code == 400
    assert "Not a valid date: type it as YYYY-MM-DD (2026-12-31)." in response.get_data(
        as_text=True
    )
    response = post_new_todo(editor_client, [("todo_list", str(sample["groceries"])),
                                             ("due_date", "2026-12-31")])
    assert response.status_code == 302
