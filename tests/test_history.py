"""History: one audit entry per ORM change, login and failed login, in the change's transaction."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from console import history
from console.demo.models import Person, Todo
from console.extensions import db
from console.models import Account, AuditEntry, Role
from tests.conftest import PASSWORD, Auth, delete_through_console, post_form
from tests.history_helpers import (
    form_fields,
)

TIMESTAMPS = {"created_at", "updated_at"}


def entries(*where) -> list[AuditEntry]:
    """Audit entries matching ``where``, oldest first, as the database has them now."""
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEntry).where(*where).order_by(AuditEntry.id)))


def without_timestamps(values: dict) -> dict:
    return {k: v for k, v in values.items() if k not in TIMESTAMPS}


def audit_count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(AuditEntry)) or 0


def test_create_through_the_form_records_the_full_row(editor_client, sample):
    response = post_form(
        editor_client, "/admin/person/new/", {"name": "Cleo", "email": "Cleo@Example.com"}
    )
    assert response.status_code == 302
    cleo = db.session.scalar(select(Person).where(Person.email == "cleo@example.com"))
    [entry] = entries(
        AuditEntry.action == "create", AuditEntry.account_email == "editor@example.com"
    )
    assert (entry.account_email, entry.object_id) == ("editor@example.com", str(cleo.id))
    assert entry.account_id == db.session.scalar(
        select(Account.id).where(Account.email == "editor@example.com")
    )
    assert entry.changes["before"] == {}
    assert without_timestamps(entry.changes["after"]) == {
        "id": cleo.id,
        "name": "Cleo",
        "email": "cleo@example.com",
        "version": 1,
    }
    assert set(entry.changes["after"]) >= TIMESTAMPS


def test_update_through_the_form_records_only_changed_fields(editor_client, sample):
    url = f"/admin/todo/edit/?id={sample['milk']}"
    fields = form_fields(editor_client.get(url).get_data(as_text=True))
    fields.update(description="Buy oat milk", due_date="2026-12-01", priority="high")
    fields["assignee"] = ""  # unassign Bob
    assert editor_client.post(url, data=fields).status_code == 302
    [entry] = entries(AuditEntry.action == "update")
    assert (entry.model, entry.object_id, entry.account_email) == (
        "Todo",
        str(sample["milk"]),
        "editor@example.com",
    )
    assert entry.changes == {
        "before": {
            "description": "Buy milk",
            "due_date": None,
            "priority": "normal",
            "assignee_id": sample["bob"],
        },
        "after": {
            "description": "Buy oat milk",
            "due_date": "2026-12-01",
            "priority": "high",
            "assignee_id": None,
        },
    }


def test_delete_through_the_view_records_the_row_it_removed(editor_client, sample):
    _page, response = delete_through_console(editor_client, "todo", sample["eggs"])
    assert response.status_code == 302
    assert db.session.get(Todo, sample["eggs"]) is None
    [entry] = entries(AuditEntry.action == "delete")
    assert (entry.model, entry.object_id) == ("Todo", str(sample["eggs"]))
    assert entry.changes["after"] == {}
    assert without_timestamps(entry.changes["before"]) == {
        "id": sample["eggs"],
        "description": "Buy eggs",
        "completed": True,
        "due_date": None,
        "priority": "normal",
        "list_id": sample["groceries"],
        "assignee_id": None,
        "version": 1,
    }


def test_login_and_failed_login_are_recorded(app, client, db):
    from tests.conftest import make_account

    account = make_account(Role.viewer, "vera@example.com")
    auth = Auth(client)
    assert auth.login("vera@example.com", "wrong-password-1").status_code == 401
    assert auth.login("nobody@example.com", "wrong-password-2").status_code == 401
    assert auth.login("vera@example.com").status_code == 302

    failed = entries(AuditEntry.action == "login_failed")
    # Folded per address and email (console/auth/routes.py): one entry each, with a count.
    summaries = [
        (e.account_id, e.account_email, {k: e.changes["summary"][k] for k in
                                         ("email", "address", "reason", "attempts")})
        for e in failed
    ]
    assert summaries == [
        (account.id, "vera@example.com",
         {"email": "vera@example.com", "address": "127.0.0.1", "reason": "wrong password",
          "attempts": 1}),
        (None, "nobody@example.com",
         {"email": "nobody@example.com", "address": "127.0.0.1", "reason": "unknown email",
          "attempts": 1}),
    ]
    [login] = entries(AuditEntry.action == "login")
    assert (login.account_id, login.account_email, login.model, login.object_id) == (
        account.id,
        "vera@example.com",
        "Account",
        str(account.id),
    )
    # The login's bookkeeping (last login, failure counter) is not an "update" of the account.
    assert entries(AuditEntry.action == "update") == []
    assert_no_secrets()


def assert_no_secrets() -> None:
    """No entry holds a password, a hash or a lock-out field."""
    hashes = list(db.session.scalars(select(Account.password_hash)))
    for entry in entries():
        text = json.dumps(entry.changes)
        assert PASSWORD not in text
        assert "wrong-password" not in text
        for value in hashes:
            assert value not in text
        assert "password_hash" not in text
        assert "failed_logins" not in text
        assert "locked_until" not in text


def test_account_changes_never_record_passwords(admin_client):
    response = post_form(
        admin_client,
        "/admin/account/new/",
        # Created as admin: creating a non-admin trips a foundation bug in AccountView
        # (session.get with a None id warns, a 500 under warnings-as-errors).
        {"email": "new@example.com", "role": "admin", "active": "y", "password": "s3cret-pass"},
    )
    assert response.status_code == 302
    account = db.session.scalar(select(Account).where(Account.email == "new@example.com"))
    url = f"/admin/account/edit/?id={account.id}"
    fields = form_fields(admin_client.get(url).get_data(as_text=True))
    fields.update(password="an0ther-pass", role="viewer")
    assert admin_client.post(url, data=fields).status_code == 302

    [created] = entries(
        AuditEntry.action == "create", AuditEntry.account_email == "admin@example.com"
    )
    assert without_timestamps(created.changes["after"]) == {
        "id": account.id,
        "email": "new@example.com",
        "role": "admin",
        "active": True,
        "last_login_at": None,
    }
    [updated] = entries(AuditEntry.action == "update", AuditEntry.model == "Account")
    assert updated.changes == {
        "before": {"role": "admin", "password": "(not recorded)"},
        "after": {"role": "viewer", "password": "(changed)"},
    }
    for entry in entries():
        text = json.dumps(entry.changes)
        assert "s3cret-pass" not in text and "an0ther-pass" not in text
    assert_no_secrets()


def test_a_rolled_back_change_leaves_no_entry(db, sample):
    before = audit_count()
    with history.acting_as(history.Actor(None, "script@example.com")):
        todo = db.session.get(Todo, sample["milk"])
        todo.description = "never saved"
        db.session.add(Person(name="Ghost", email="ghost@example.com"))
        db.session.flush()
        # The entries exist inside the transaction...
        assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == before + 2
        db.session.rollback()
    # ...and go with it.
    assert audit_count() == before
    assert db.session.get(Todo, sample["milk"]).description == "Buy milk"


def test_a_refused_form_save_leaves_no_entry(editor_client, sample):
    before = audit_count()
    response = post_form(
        editor_client, "/admin/person/new/", {"name": "Dup", "email": "ann@example.com"}
    )
    assert response.status_code == 400
    assert "Already exists" in response.get_data(as_text=True)
    assert audit_count() == before


def test_a_committed_change_outside_the_web_is_attributed_and_recorded(db, sample):
    with history.acting_as(history.Actor(None, "cli@example.com")):
        db.session.get(Person, sample["bob"]).name = "Robert"
        db.session.commit()
    [entry] = entries(AuditEntry.action == "update")
    assert (entry.account_email, entry.changes) == (
        "cli@example.com",
        {"before": {"name": "Bob"}, "after": {"name": "Robert"}},
    )


def test_suppressed_flushes_are_left_to_their_own_summary(db, sample):
    before = audit_count()
    with history.suppressed(db.session):
        db.session.get(Person, sample["bob"]).name = "Robert"
        db.session.flush()
    db.session.commit()
    assert audit_count() == before


@pytest.mark.parametrize("path", ["/admin/person/history/?id={ann}", "/admin/audit/"])
def test_anonymous_users_are_sent_to_login(client, sample, path):
    response = client.get(path.format(**sample))
    assert response.status_code == 302
    assert "/login" in response.location


def test_deleting_a_parent_records_what_the_database_did_to_its_children(editor_client, sample):
    _page, response = delete_through_console(editor_client, "person", sample["bob"])
    assert response.status_code == 302
    [bob] = entries(AuditEntry.action == "delete", AuditEntry.model == "Person")
    assert bob.changes["summary"]["set_null"] == {"Todo.assignee_id": 1}
    delete_through_console(editor_client, "todolist", sample["groceries"])
    [groceries] = entries(AuditEntry.action == "delete", AuditEntry.model == "TodoList")
    assert groceries.changes["summary"]["deleted"]["Todo"] == 2
    assert groceries.changes["before"]["name"] == "Groceries"
    # The to-dos went by the database's cascade: summarised on the list, not one entry each.
    assert entries(AuditEntry.action == "delete", AuditEntry.model == "Todo") == []
