"""Deletes through HTTP: a confirmation page with the whole impact, then exactly that or nothing."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from console.audit import record
from console.demo.models import Person, Todo, TodoList
from console.models import Account, AuditEntry, Role
from tests.conftest import count, csrf_token, make_account

FINGERPRINT_RE = re.compile(r'name="fingerprint" value="([0-9a-f]+)"')


def page(response: Any) -> str:
    """The response body as text."""
    return response.get_data(as_text=True)


def preview(client: Any, endpoint: str, *ids: int) -> tuple[Any, str | None]:
    """GET the confirmation page for ``ids``; return it and its fingerprint (None if blocked)."""
    response = client.get(f"/admin/{endpoint}/delete/", query_string={"id": list(ids)})
    match = FINGERPRINT_RE.search(page(response))
    return response, match.group(1) if match else None


def confirm(client: Any, endpoint: str, ids: list[int], fingerprint: str) -> Any:
    """POST the confirm form as the page would."""
    return client.post(
        f"/admin/{endpoint}/delete/",
        data={
            "id": ids,
            "fingerprint": fingerprint,
            "url": f"/admin/{endpoint}/",
            "csrf_token": csrf_token(client, f"/admin/{endpoint}/"),
        },
    )


def snapshot() -> dict[str, int]:
    """Row counts of the domain tables, as the database has them."""
    return {
        "lists": count(TodoList),
        "todos": count(Todo),
        "people": count(Person),
        "assigned": count(Todo, Todo.assignee_id.is_not(None)),
    }


def add_todos(db: Any, list_id: int, n: int, assignee_id: int | None = None) -> None:
    """Add ``n`` to-dos to a list in one statement."""
    db.session.execute(
        Todo.__table__.insert(),
        [
            {"description": f"Task {i}", "list_id": list_id, "assignee_id": assignee_id}
            for i in range(n)
        ],
    )
    db.session.commit()


# -- CASCADE -------------------------------------------------------------------------------


def test_single_list_delete_shows_cascade_then_does_it(editor_client, sample, db):
    add_todos(db, sample["groceries"], 23)
    response, fingerprint = preview(editor_client, "todolist", sample["groceries"])
    text = page(response)
    assert response.status_code == 200
    assert "Deleting to-do list &#39;Groceries&#39; also deletes 25 to-dos" in text
    assert "10 of 25 shown." in text
    assert fingerprint
    before = snapshot()

    response = confirm(editor_client, "todolist", [sample["groceries"]], fingerprint)

    assert response.status_code == 302
    after = snapshot()
    assert before["lists"] - after["lists"] == 1
    assert before["todos"] - after["todos"] == 25
    entry = db.session.scalars(db.select(AuditEntry).where(AuditEntry.action == "delete")).one()
    assert (entry.action, entry.model) == ("delete", "TodoList")
    assert entry.object_id == str(sample["groceries"])
    assert entry.changes["before"]["name"] == "Groceries"
    assert entry.changes["after"] == {}
    assert entry.changes["summary"]["deleted"] == {"TodoList": 1, "Todo": 25}


def test_bulk_list_delete_goes_through_confirmation(editor_client, sample, db):
    ann = sample["ann"]
    second = TodoList(name="Work", owner_id=ann)
    db.session.add(second)
    db.session.commit()
    add_todos(db, second.id, 3)
    ids = [sample["groceries"], second.id]

    response = editor_client.post(
        "/admin/todolist/action/",
        data={
            "action": "delete",
            "rowid": ids,
            "csrf_token": csrf_token(editor_client, "/admin/todolist/"),
        },
    )
    assert response.status_code == 302
    assert count(TodoList) == 2, "the bulk action alone must delete nothing"
    confirm_page = editor_client.get(response.location)
    text = page(confirm_page)
    assert "Deleting 2 to-do lists also deletes 5 to-dos" in text
    fingerprint = FINGERPRINT_RE.search(text).group(1)

    response = confirm(editor_client, "todolist", ids, fingerprint)

    assert response.status_code == 302
    assert (count(TodoList), count(Todo)) == (0, 0)
    entry = db.session.scalars(db.select(AuditEntry).where(AuditEntry.action == "delete")).one()
    assert entry.object_id is None
    assert entry.changes["summary"]["deleted"] == {"TodoList": 2, "Todo": 5}
    assert sorted(entry.changes["summary"]["ids"]) == sorted(ids)


# -- SET NULL ------------------------------------------------------------------------------


def test_person_delete_sets_assignee_to_null(editor_client, sample):
    response, fingerprint = preview(editor_client, "person", sample["bob"])
    text = page(response)
    assert "leaves 1 to-do without assignee" in text
    assert "Buy milk" in text
    before = snapshot()

    response = confirm(editor_client, "person", [sample["bob"]], fingerprint)

    assert response.status_code == 302
    after = snapshot()
    assert before["people"] - after["people"] == 1
    assert before["todos"] == after["todos"]
    assert before["assigned"] - after["assigned"] == 1


def test_bulk_person_delete_sets_null(editor_client, sample, db):
    carl = Person(name="Carl", email="carl@example.com")
    db.session.add(carl)
    db.session.commit()
    add_todos(db, sample["groceries"], 4, assignee_id=carl.id)
    ids = [sample["bob"], carl.id]
    response, fingerprint = preview(editor_client, "person", *ids)
    assert "Deleting 2 people leaves 5 to-dos without assignee" in page(response)

    response = confirm(editor_client, "person", ids, fingerprint)

    assert response.status_code == 302
    assert count(Person) == 1
    assert count(Todo) == 6
    assert count(Todo, Todo.assignee_id.is_not(None)) == 0


# -- RESTRICT ------------------------------------------------------------------------------


def test_blocked_delete_explains_and_cannot_be_confirmed(editor_client, sample):
    response, fingerprint = preview(editor_client, "person", sample["ann"])
    text = page(response)
    assert "Cannot delete:" in text
    assert f'href="/admin/todolist/details/?id={sample["groceries"]}"' in text
    assert "Open them in the list" in text
    assert fingerprint is None, "a blocked delete has no confirm form"
    before = snapshot()

    # Even a hand-made POST (with the fingerprint it would have) changes nothing.
    response = confirm(editor_client, "person", [sample["ann"]], "0" * 32)

    assert response.status_code == 409
    assert "Nothing was deleted" in page(response)
    assert snapshot() == before


def test_bulk_blocked_when_any_row_is_restricted(editor_client, sample):
    ids = [sample["ann"], sample["bob"]]
    response, fingerprint = preview(editor_client, "person", *ids)
    assert "Cannot delete:" in page(response)
    assert fingerprint is None
    before = snapshot()
    assert confirm(editor_client, "person", ids, "x").status_code == 409
    assert snapshot() == before


# -- whole or nothing ----------------------------------------------------------------------


def test_failure_after_the_delete_statement_rolls_everything_back(
    editor_client, sample, db, monkeypatch
):
    add_todos(db, sample["groceries"], 50)
    _response, fingerprint = preview(editor_client, "todolist", sample["groceries"])
    before = snapshot()

    def fail(*_args: Any, **_kwargs: Any) -> None:
        raise OperationalError("INSERT INTO audit_entry", {}, Exception("disk full"))

    # record() runs after the DELETE statement, inside the same transaction.
    monkeypatch.setattr("console.cascade.record", fail)
    audits = count(AuditEntry)
    response = confirm(editor_client, "todolist", [sample["groceries"]], fingerprint)

    assert response.status_code == 503
    assert "nothing was deleted" in page(response)
    assert snapshot() == before
    assert count(AuditEntry) == audits


# -- the data changed between preview and confirm ------------------------------------------


def test_new_child_between_preview_and_confirm_shows_new_impact(editor_client, sample, db):
    _response, fingerprint = preview(editor_client, "todolist", sample["groceries"])
    add_todos(db, sample["groceries"], 1)
    before = snapshot()

    response = confirm(editor_client, "todolist", [sample["groceries"]], fingerprint)

    text = page(response)
    assert response.status_code == 409
    assert "The data changed" in text
    assert "also deletes 3 to-dos" in text
    assert snapshot() == before
    new_fingerprint = FINGERPRINT_RE.search(text).group(1)
    response = confirm(editor_client, "todolist", [sample["groceries"]], new_fingerprint)
    assert response.status_code == 302
    assert (count(TodoList), count(Todo)) == (0, 0)


def test_new_blocking_row_between_preview_and_confirm(editor_client, sample, db):
    _response, fingerprint = preview(editor_client, "person", sample["bob"])
    db.session.add(TodoList(name="Bob's", owner_id=sample["bob"]))
    db.session.commit()
    before = snapshot()

    response = confirm(editor_client, "person", [sample["bob"]], fingerprint)

    assert response.status_code == 409
    assert "Cannot delete:" in page(response)
    assert snapshot() == before


def test_edited_row_between_preview_and_confirm(editor_client, sample, db):
    _response, fingerprint = preview(editor_client, "todolist", sample["groceries"])
    groceries = db.session.get(TodoList, sample["groceries"])
    groceries.name = "Shopping"
    db.session.commit()

    response = confirm(editor_client, "todolist", [sample["groceries"]], fingerprint)

    assert response.status_code == 409
    assert "&#39;Shopping&#39;" in page(response)
    assert count(TodoList) == 1


# -- entry points and access ---------------------------------------------------------------


def test_every_delete_button_leads_to_the_confirmation_page(editor_client, sample):
    target = f"/admin/todolist/delete/?id={sample['groceries']}"
    list_page = page(editor_client.get("/admin/todolist/"))
    assert target in list_page.replace("&amp;", "&")
    assert 'action="/admin/todolist/delete/"' not in list_page
    assert 'data-console-action="delete"' in list_page
    details = page(editor_client.get(f"/admin/todolist/details/?id={sample['groceries']}"))
    assert target in details.replace("&amp;", "&")
    # The to-do list edit form trips a wtforms deprecation (warnings are errors), so the
    # edit page's button is checked on people.
    edit = page(editor_client.get(f"/admin/person/edit/?id={sample['ann']}"))
    assert f"/admin/person/delete/?id={sample['ann']}" in edit.replace("&amp;", "&")


def test_viewer_gets_403(viewer_client, sample):
    assert viewer_client.get(f"/admin/todolist/delete/?id={sample['groceries']}").status_code == 403
    response = confirm(viewer_client, "todolist", [sample["groceries"]], "x")
    assert response.status_code == 403
    assert count(TodoList) == 1


def test_anonymous_is_sent_to_login(client, sample):
    response = client.get(f"/admin/todolist/delete/?id={sample['groceries']}")
    assert response.status_code == 302
    assert "/login" in response.location
    response = client.post(
        "/admin/todolist/delete/",
        data={"id": sample["groceries"], "fingerprint": "x", "csrf_token": csrf_token(client)},
    )
    assert response.status_code == 302
    assert "/login" in response.location
    assert count(TodoList) == 1


def test_missing_record_is_reported(editor_client, sample):
    response = editor_client.get("/admin/todolist/delete/?id=999999", follow_redirects=True)
    assert "Record does not exist." in page(response)
    response = editor_client.get("/admin/todolist/delete/?id=abc", follow_redirects=True)
    # The model's own name for its rows (its declaration's), not the class name.
    assert "Not a valid to-do list id: &#39;abc&#39;." in page(response)


# -- accounts keep their own rules ---------------------------------------------------------


def test_admin_cannot_delete_own_account(admin_client, db):
    me = db.session.scalar(db.select(Account).where(Account.email == "admin@example.com"))
    response, fingerprint = preview(admin_client, "account", me.id)
    assert "You cannot delete your own account." in page(response)
    assert fingerprint is None
    assert confirm(admin_client, "account", [me.id], "x").status_code == 409
    assert count(Account) == 1


def test_admin_deletes_another_account_and_audit_keeps_its_email(admin_client, db):
    other = make_account(Role.editor, "ed@example.com")
    record(db.session, "login", account=other)
    db.session.commit()
    response, fingerprint = preview(admin_client, "account", other.id)
    text = page(response)
    assert "Deleting account &#39;ed@example.com&#39; leaves 1 audit entry without account" in text
    assert "password_hash" not in text
    assert confirm(admin_client, "account", [other.id], fingerprint).status_code == 302
    assert count(Account, Account.email == "ed@example.com") == 0
    entry = db.session.scalars(
        db.select(AuditEntry).where(AuditEntry.model == "Account", AuditEntry.action == "delete")
    ).one()
    assert "password_hash" not in entry.changes["before"]
    assert entry.changes["summary"]["set_null"] == {"AuditEntry.account_id": 1}
    kept = db.session.scalars(
        db.select(AuditEntry).where(
            AuditEntry.action == "login", AuditEntry.account_email == "ed@example.com"
        )
    ).one()
    assert (kept.account_id, kept.account_email) == (None, "ed@example.com")


def test_editor_cannot_reach_account_deletes(editor_client, db):
    admin = make_account(Role.admin, "boss@example.com")
    assert editor_client.get(f"/admin/account/delete/?id={admin.id}").status_code == 403


@pytest.mark.parametrize("endpoint", ["person", "todolist", "todo"])
def test_delete_without_ids_redirects_with_message(editor_client, endpoint):
    response = editor_client.get(f"/admin/{endpoint}/delete/", follow_redirects=True)
    assert "Select at least one record to delete." in page(response)


def test_database_refusal_at_delete_time_shows_the_new_plan(editor_client, sample, monkeypatch):
    _response, fingerprint = preview(editor_client, "person", sample["bob"])

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise IntegrityError("DELETE FROM person", {}, Exception("still referenced"))

    # As if a blocking row slipped in between the plan and the DELETE.
    monkeypatch.setattr("console.admin.deletes.execute_delete", refuse)
    response = confirm(editor_client, "person", [sample["bob"]], fingerprint)

    assert response.status_code == 409
    assert "The data changed" in page(response)
    assert count(Person) == 2


def test_confirm_without_csrf_token_is_refused(editor_client, sample):
    _response, fingerprint = preview(editor_client, "todolist", sample["groceries"])
    response = editor_client.post(
        "/admin/todolist/delete/", data={"id": sample["groceries"], "fingerprint": fingerprint}
    )
    assert response.status_code == 400
    assert count(TodoList) == 1
