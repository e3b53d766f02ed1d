"""The delete policies hold in the database itself, on SQLite as on PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from console.demo.models import Person, Todo, TodoList
from tests.conftest import count, delete_through_console


def test_deleting_a_list_deletes_its_todos_in_the_database(db, sample):
    # Core DELETE: no ORM cascade can help, only the foreign key's ON DELETE CASCADE.
    db.session.execute(delete(TodoList).where(TodoList.id == sample["groceries"]))
    db.session.commit()
    assert count(Todo) == 0


def test_a_list_owner_cannot_be_deleted_in_the_database(db, sample):
    with pytest.raises(IntegrityError):
        db.session.execute(delete(Person).where(Person.id == sample["ann"]))
        db.session.flush()
    db.session.rollback()
    assert count(Person, Person.id == sample["ann"]) == 1


def test_deleting_an_assignee_unassigns_their_todos_in_the_database(db, sample):
    db.session.execute(delete(Person).where(Person.id == sample["bob"]))
    db.session.commit()
    assert count(Todo) == 2
    assert count(Todo, Todo.assignee_id.is_not(None)) == 0


def test_delete_list_through_the_console(editor_client, sample):
    page, done = delete_through_console(editor_client, "todolist", sample["groceries"])
    assert "also deletes 2 to-dos" in page.get_data(as_text=True)
    assert done.status_code == 302
    assert count(TodoList) == 0
    assert count(Todo) == 0


def test_delete_owner_through_the_console_is_refused_with_a_reason(editor_client, sample):
    page, done = delete_through_console(editor_client, "person", sample["ann"])
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and done is None
    assert "Cannot delete:" in text and "as its owner" in text
    assert "Move it to another person or delete it first" in text
    assert "Groceries" in text
    assert count(Person, Person.id == sample["ann"]) == 1
    assert count(TodoList) == 1


def test_delete_assignee_through_the_console_unassigns(editor_client, sample):
    _page, done = delete_through_console(editor_client, "person", sample["bob"])
    assert done.status_code == 302
    assert count(Person, Person.id == sample["bob"]) == 0
    assert count(Todo) == 2
    assert count(Todo, Todo.assignee_id.is_not(None)) == 0
