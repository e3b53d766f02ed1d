"""Create, list, search, filter, sort, view, edit and delete each model over HTTP, as an editor."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from console.admin import reference_fields
from console.demo.models import Person, Priority, Todo, TodoList
from tests.conftest import count, delete_through_console, post_form


def test_person_crud(editor_client, db):
    response = post_form(
        editor_client, "/admin/person/new/", {"name": "  Carol  ", "email": "Carol@Example.COM"}
    )
    assert response.status_code == 302
    carol = db.session.scalar(select(Person).where(Person.name == "Carol"))
    assert carol is not None
    assert carol.email == "carol@example.com"

    listing = editor_client.get("/admin/person/?search=carol").get_data(as_text=True)
    assert "carol@example.com" in listing

    details = editor_client.get(f"/admin/person/details/?id={carol.id}").get_data(as_text=True)
    assert "Carol" in details

    response = post_form(
        editor_client,
        f"/admin/person/edit/?id={carol.id}",
        {"name": "Caroline", "email": "caroline@example.com"},
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Person, carol.id).name == "Caroline"
    assert db.session.get(Person, carol.id).version == 2

    _page, done = delete_through_console(editor_client, "person", carol.id)
    assert done.status_code == 302
    assert count(Person, Person.id == carol.id) == 0


def test_todolist_crud_with_inline_todos(editor_client, db, sample):
    response = post_form(
        editor_client,
        "/admin/todolist/new/",
        {
            "name": "Chores",
            "owner": str(sample["bob"]),
            "todos-0-description": "Sweep",
            "todos-0-priority": "high",
            "todos-1-description": "Dust",
            "todos-1-priority": "low",
            "todos-1-completed": "y",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    chores = db.session.scalar(select(TodoList).where(TodoList.name == "Chores"))
    assert chores.owner_id == sample["bob"]
    todos = {t.description: t for t in chores.todos}
    assert set(todos) == {"Sweep", "Dust"}
    assert todos["Sweep"].priority == Priority.high
    assert todos["Dust"].completed is True

    listing = editor_client.get("/admin/todolist/").get_data(as_text=True)
    assert "Chores" in listing
    # The number of to-dos per list is shown in the list view.
    assert re.search(r"Chores.*?<td[^>]*>(<a [^>]*>)?\s*2\s*(</a>)?</td>", listing, re.S)

    details = editor_client.get(f"/admin/todolist/details/?id={chores.id}").get_data(as_text=True)
    assert "Sweep" in details and "Dust" in details

    response = post_form(
        editor_client,
        f"/admin/todolist/edit/?id={chores.id}",
        {
            "name": "Chores at home",
            "owner": str(sample["bob"]),
            "todos-0-id": str(todos["Sweep"].id),
            "todos-0-description": "Sweep the floor",
            "todos-0-priority": "high",
            "todos-1-id": str(todos["Dust"].id),
            "todos-1-description": "Dust",
            "todos-1-priority": "low",
            "todos-1-completed": "y",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(TodoList, chores.id).name == "Chores at home"
    assert db.session.get(Todo, todos["Sweep"].id).description == "Sweep the floor"


def test_todo_crud_filters_and_sort(editor_client, db, sample):
    response = post_form(
        editor_client,
        "/admin/todo/new/",
        {
            "description": "Buy bread",
            "todo_list": str(sample["groceries"]),
            "assignee": str(sample["ann"]),
            "priority": "high",
            "due_date": "2030-01-31",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    bread = db.session.scalar(select(Todo).where(Todo.description == "Buy bread"))
    assert bread.assignee_id == sample["ann"]
    assert bread.due_date.isoformat() == "2030-01-31"

    done = editor_client.get("/admin/todo/?flt0_completed_equals=1").get_data(as_text=True)
    assert "Buy eggs" in done and "Buy milk" not in done

    by_list = editor_client.get("/admin/todo/?flt0_todo_list_name_equals=Groceries").get_data(
        as_text=True
    )
    assert "Buy bread" in by_list

    # Sorting by description ascending puts "Buy bread" before "Buy eggs" before "Buy milk".
    columns = re.findall(
        r'href="[^"]*\?sort=(\d+)[^"]*"[^>]*>\s*Description',
        editor_client.get("/admin/todo/").get_data(as_text=True),
    )
    assert columns, "description is sortable"
    listing = editor_client.get(f"/admin/todo/?sort={columns[0]}").get_data(as_text=True)
    assert listing.index("Buy bread") < listing.index("Buy eggs") < listing.index("Buy milk")

    details = editor_client.get(f"/admin/todo/details/?id={bread.id}")
    assert details.status_code == 200

    response = post_form(
        editor_client,
        f"/admin/todo/edit/?id={bread.id}",
        {
            "description": "Buy rye bread",
            "todo_list": str(sample["groceries"]),
            "assignee": "",
            "priority": "low",
            "completed": "y",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    db.session.expire_all()
    bread = db.session.get(Todo, bread.id)
    assert (bread.description, bread.priority, bread.completed, bread.assignee_id) == (
        "Buy rye bread",
        Priority.low,
        True,
        None,
    )

    delete_through_console(editor_client, "todo", bread.id)
    assert count(Todo, Todo.id == bread.id) == 0


@pytest.mark.parametrize("size", ["20", "100"])
def test_page_size_choice(editor_client, db, sample, size):
    response = editor_client.get(f"/admin/todo/?page_size={size}")
    assert response.status_code == 200


def test_big_parent_tables_are_typed_by_key_or_looked_up(editor_client, sample, monkeypatch):
    monkeypatch.setattr(reference_fields, "SELECT_LIMIT", 0)
    form = editor_client.get("/admin/todo/new/").get_data(as_text=True)
    # No <option> per person or list: the key is typed, or the lookup (JavaScript) searches.
    assert "Ann" not in form and "Groceries" not in form
    assert 'class="form-control console-reference-key"' in form
    assert 'data-role="select2-ajax"' in form  # inside the <template> console-page.js uses
    found = editor_client.get("/admin/todo/ajax/lookup/?name=assignee&query=ann")
    assert found.status_code == 200
    assert "ann@example.com" in found.get_data(as_text=True)


def test_list_details_shows_its_todos_with_link_to_all(editor_client, sample):
    page = editor_client.get(f"/admin/todolist/details/?id={sample['groceries']}")
    text = page.get_data(as_text=True)
    assert "Buy milk" in text and "Buy eggs" in text
    link = re.search(r'href="(/admin/todo/\?flt0_[^"]+)"', text)
    assert link
    listing = editor_client.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert "Buy milk" in listing
