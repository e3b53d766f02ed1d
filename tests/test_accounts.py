"""Account management by admins: passwords are hashed, and the last admin stays."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from console.models import Account, Role
from tests.conftest import Auth, count, delete_through_console, make_account, post_form
from tests.history_helpers import save_cells


def test_admin_creates_an_account_whose_password_is_hashed(admin_client, app, db):
    response = post_form(
        admin_client,
        "/admin/account/new/",
        {"email": "New@Example.com", "role": "editor", "active": "y", "password": "pass-word-1"},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    account = db.session.scalar(select(Account).where(Account.email == "new@example.com"))
    assert account.role == Role.editor
    assert account.password_hash != "pass-word-1" and account.check_password("pass-word-1")
    assert Auth(app.test_client()).login("new@example.com", "pass-word-1").status_code == 302


def test_new_account_needs_a_password(admin_client, db):
    response = post_form(
        admin_client, "/admin/account/new/", {"email": "x@example.com", "role": "viewer"}
    )
    assert response.status_code == 400
    assert "needs a password" in response.get_data(as_text=True)
    assert count(Account, Account.email == "x@example.com") == 0


def test_short_password_is_refused_on_the_field(admin_client, db):
    response = post_form(
        admin_client,
        "/admin/account/new/",
        {"email": "x@example.com", "role": "viewer", "password": "short"},
    )
    assert response.status_code == 400
    assert "at least 8" in response.get_data(as_text=True)
    assert count(Account, Account.email == "x@example.com") == 0


def test_editing_without_a_password_keeps_it(admin_client, db):
    target = make_account(Role.viewer, "target@example.com")
    old_hash = target.password_hash
    response = post_form(
        admin_client,
        f"/admin/account/edit/?id={target.id}",
        {"email": "target@example.com", "role": "editor", "active": "y", "password": ""},
    )
    assert response.status_code == 302
    db.session.expire_all()
    target = db.session.get(Account, target.id)
    assert target.role == Role.editor and target.password_hash == old_hash


def test_the_last_admin_cannot_be_demoted(admin_client, db):
    admin = db.session.scalar(select(Account).where(Account.role == Role.admin))
    response = post_form(
        admin_client,
        f"/admin/account/edit/?id={admin.id}",
        {"email": admin.email, "role": "viewer", "active": "y"},
    )
    assert response.status_code == 400
    assert "last active admin" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Account, admin.id).role == Role.admin


def test_an_admin_cannot_delete_their_own_account(admin_client, db):
    admin = db.session.scalar(select(Account).where(Account.role == Role.admin))
    page, done = delete_through_console(admin_client, "account", admin.id)
    assert done is None
    assert "cannot delete your own account" in page.get_data(as_text=True)
    assert count(Account, Account.id == admin.id) == 1


def test_admin_exports_every_account_without_password_hashes(admin_client, db):
    """The accounts CSV holds every account (not one page of 50) and never a hash."""
    db.session.add_all(
        Account(email=f"user{i}@example.com", role=Role.viewer, active=True,
                password_hash=f"secret-hash-{i}")
        for i in range(60)
    )
    db.session.commit()
    response = admin_client.get("/admin/account/export/csv/")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    lines = text.strip().splitlines()
    assert len(lines) == 1 + 61  # the header, the 60 accounts and the admin
    assert "user59@example.com" in text
    assert "secret-hash" not in text and "password" not in lines[0].lower()


def test_only_admins_export_accounts(editor_client, db):
    make_account(Role.viewer, "someone@example.com")
    response = editor_client.get("/admin/account/export/csv/")
    assert response.status_code == 403
    assert response.mimetype == "text/html"
    assert "someone@example.com" not in response.get_data(as_text=True)


def test_the_accounts_export_neutralises_formulas(admin_client, db):
    """The accounts go through the exports' one CSV writer, formula guard included."""
    db.session.add(Account(email="=1+1@example.com", role=Role.viewer, active=True,
                           password_hash="x"))
    db.session.commit()
    text = admin_client.get("/admin/account/export/csv/").get_data(as_text=True)
    assert "'=1+1@example.com" in text
    assert "\n=1+1@example.com" not in text and ",=1+1@example.com" not in text


def test_the_account_form_edits_only_what_an_admin_may_set(admin_client, db):
    """The sign-in bookkeeping (last sign-in, session token, 2FA secret) is no form field."""
    account = make_account(Role.viewer, "someone@example.com")
    page = admin_client.get(f"/admin/account/edit/?id={account.id}").get_data(as_text=True)
    fields = set(re.findall(r'<(?:input|select|textarea)[^>]*\bname="([^"]+)"', page))
    assert {"email", "role", "active", "password"} <= fields
    assert not fields & {"last_login_at", "session_token", "totp_secret", "password_hash"}


@pytest.mark.parametrize(("column", "value"), [("role", "viewer"), ("active", "false")])
def test_the_last_admin_cannot_be_demoted_in_place_either(admin_client, db, column, value):
    """The list's in-place editors keep the same rule as the form."""
    admin = db.session.scalar(select(Account).where(Account.role == Role.admin))
    html = admin_client.get("/admin/account/").get_data(as_text=True)
    response = save_cells(admin_client, "account", html, (admin.id, column, value))
    assert response.status_code == 400, response.get_data(as_text=True)
    assert "last active admin" in response.get_data(as_text=True)
    db.session.expire_all()
    kept = db.session.get(Account, admin.id)
    assert kept.role == Role.admin and kept.active


def test_an_admin_is_demoted_in_place_while_another_remains(admin_client, db):
    admin = db.session.scalar(select(Account).where(Account.role == Role.admin))
    other = make_account(Role.admin, "second-admin@example.com")
    html = admin_client.get("/admin/account/").get_data(as_text=True)
    response = save_cells(admin_client, "account", html, (other.id, "role", "editor"))
    assert response.status_code == 200, response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Account, other.id).role == Role.editor
    assert db.session.get(Account, admin.id).role == Role.admin
