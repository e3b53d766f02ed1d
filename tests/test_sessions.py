"""Sessions end on the server: logout, a new password, role or active flag, idle time."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from console.auth import sessions
from console.models import Account, Role
from tests.conftest import CSRF_RE, PASSWORD, Auth, csrf_token, make_account, post_form

TARGET = "target@example.com"


def _signed_in(app: Flask, email: str = TARGET, role: Role = Role.editor) -> FlaskClient:
    make_account(role, email)
    client = app.test_client()
    assert Auth(client).login(email).status_code == 302
    assert client.get("/admin/").status_code == 200
    return client


def _copy(app: Flask, client: FlaskClient) -> FlaskClient:
    """Another browser holding a copy of ``client``'s session cookie (a captured cookie)."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def _refused(client: FlaskClient) -> bool:
    response = client.get("/admin/")
    return response.status_code == 302 and "/login" in response.location


def _edit(admin_client: FlaskClient, db, **changes: str) -> None:
    target = db.session.scalar(select(Account).where(Account.email == TARGET))
    data = {"email": TARGET, "role": target.role.value, "active": "y", "password": ""}
    data.update(changes)
    if data["active"] == "":
        del data["active"]
    response = post_form(admin_client, f"/admin/account/edit/?id={target.id}", data)
    assert response.status_code == 302, response.get_data(as_text=True)


def test_a_captured_cookie_works_until_logout_and_not_after(app):
    client = _signed_in(app)
    thief = _copy(app, client)
    assert thief.get("/admin/").status_code == 200
    Auth(client).logout()
    assert _refused(client)
    assert _refused(thief)


def test_logout_ends_the_accounts_sessions_in_every_browser(app):
    laptop = _signed_in(app)
    phone = app.test_client()
    assert Auth(phone).login(TARGET).status_code == 302
    Auth(laptop).logout()
    assert _refused(phone)


def test_a_new_password_set_by_an_admin_ends_the_sessions(app, db, admin_client):
    thief = _copy(app, _signed_in(app))
    _edit(admin_client, db, password="a-new-password-1")
    assert _refused(thief)
    # The admin's own session is untouched.
    assert admin_client.get("/admin/").status_code == 200


def test_a_role_change_ends_the_sessions(app, db, admin_client):
    thief = _copy(app, _signed_in(app))
    _edit(admin_client, db, role="viewer")
    assert _refused(thief)


def test_disabling_the_account_ends_the_sessions(app, db, admin_client):
    thief = _copy(app, _signed_in(app))
    _edit(admin_client, db, active="")
    assert _refused(thief)


def test_saving_the_account_unchanged_keeps_the_sessions(app, db, admin_client):
    client = _signed_in(app)
    _edit(admin_client, db)
    assert client.get("/admin/").status_code == 200


def test_a_change_made_by_a_script_ends_the_sessions_too(app, db):
    client = _signed_in(app)
    account = db.session.scalar(select(Account).where(Account.email == TARGET))
    account.set_password("changed-by-a-script")
    db.session.commit()
    assert _refused(client)


def test_an_orm_update_statement_ends_the_sessions_of_the_accounts_it_changes(app, db):
    client = _signed_in(app)
    other = _signed_in(app, "other@example.com", Role.viewer)
    db.session.execute(update(Account).where(Account.email == TARGET).values(role=Role.viewer))
    db.session.commit()
    assert _refused(client)
    assert other.get("/admin/").status_code == 200
    # Statements that change nothing session-ending leave the sessions alone.
    db.session.execute(update(Account).values(last_login_at=None))
    db.session.commit()
    assert other.get("/admin/").status_code == 200


def test_an_orm_bulk_update_by_primary_key_ends_the_sessions(app, db):
    client = _signed_in(app)
    target_id = db.session.scalar(select(Account.id).where(Account.email == TARGET))
    db.session.execute(update(Account), [{"id": target_id, "active": False}])
    db.session.commit()
    assert _refused(client)


def test_sign_out_everywhere_ends_the_other_sessions_and_keeps_this_one(app):
    here = _signed_in(app)
    elsewhere = app.test_client()
    assert Auth(elsewhere).login(TARGET).status_code == 302
    token = csrf_token(here, "/account")
    response = here.post("/account/sign-out-everywhere", data={"csrf_token": token})
    assert response.status_code == 302
    page = here.get(response.location).get_data(as_text=True)
    assert "Every other session of your account has ended." in page
    assert here.get("/admin/").status_code == 200
    assert _refused(elsewhere)


def test_sign_out_everywhere_needs_its_csrf_token(app):
    here = _signed_in(app)
    elsewhere = app.test_client()
    assert Auth(elsewhere).login(TARGET).status_code == 302
    assert here.post("/account/sign-out-everywhere").status_code == 400
    assert elsewhere.get("/admin/").status_code == 200


def test_a_forged_session_token_is_refused(app, db):
    client = _signed_in(app)
    account_id = db.session.scalar(select(Account.id).where(Account.email == TARGET))
    serializer = app.session_interface.get_signing_serializer(app)
    data = serializer.loads(client.get_cookie("session").value)
    assert data["_user_id"].startswith(f"{account_id}:")
    for forged in (str(account_id), f"{account_id}:", f"{account_id}:{'0' * 32}"):
        data["_user_id"] = forged
        thief = app.test_client()
        thief.set_cookie("session", serializer.dumps(data))
        assert _refused(thief), forged


def test_a_session_ends_after_the_idle_time(app, monkeypatch):
    idle = app.config["CONSOLE_SESSION_IDLE_MINUTES"]
    start = sessions.now()
    client = _signed_in(app)
    monkeypatch.setattr(sessions, "now", lambda: start + (idle + 1) * 60)
    response = client.get("/admin/")
    assert response.status_code == 302 and "/login" in response.location
    page = client.get(response.location).get_data(as_text=True)
    assert f"signed out after {idle} minutes without activity" in page


def test_activity_keeps_a_session_alive(app, monkeypatch):
    idle = app.config["CONSOLE_SESSION_IDLE_MINUTES"]
    start = sessions.now()
    client = _signed_in(app)
    for step in (1, 2, 3):
        moment = start + step * (idle - 5) * 60
        monkeypatch.setattr(sessions, "now", lambda moment=moment: moment)
        assert client.get("/admin/").status_code == 200, step


def test_the_idle_time_is_a_setting(app, monkeypatch):
    app.config["CONSOLE_SESSION_IDLE_MINUTES"] = 5
    start = sessions.now()
    client = _signed_in(app)
    monkeypatch.setattr(sessions, "now", lambda: start + 4 * 60)
    assert client.get("/admin/").status_code == 200
    monkeypatch.setattr(sessions, "now", lambda: start + 10 * 60)
    assert _refused(client)


def test_the_csrf_token_is_rotated_at_login(app):
    make_account(Role.editor, TARGET)
    client = app.test_client()
    before = csrf_token(client)
    response = client.post(
        "/login", data={"email": TARGET, "password": PASSWORD, "csrf_token": before}
    )
    assert response.status_code == 302
    # The anonymous page's token no longer works in the signed-in session...
    assert client.post("/logout", data={"csrf_token": before}).status_code == 400
    assert client.get("/admin/").status_code == 200
    # ...and the signed-in pages carry a new one.
    after = CSRF_RE.search(client.get("/admin/").get_data(as_text=True)).group(1)
    assert after != before
    assert client.post("/logout", data={"csrf_token": after}).status_code == 302
    assert _refused(client)


@pytest.mark.parametrize("secure", [None, True])
def test_the_session_cookie_is_secure_on_https(app, secure):
    app.config["CONSOLE_SECURE_COOKIES"] = secure
    make_account(Role.editor, TARGET)
    client = app.test_client()
    token = CSRF_RE.search(
        client.get("/login", base_url="https://localhost").get_data(as_text=True)
    ).group(1)
    response = client.post(
        "/login",
        data={"email": TARGET, "password": PASSWORD, "csrf_token": token},
        base_url="https://localhost",
        # Flask-WTF checks the Referer of HTTPS posts.
        headers={"Referer": "https://localhost/login"},
    )
    assert response.status_code == 302
    assert "Secure" in response.headers["Set-Cookie"]


def test_the_session_cookie_is_not_secure_on_plain_http_unless_forced(app):
    make_account(Role.editor, TARGET)
    response = Auth(app.test_client()).login(TARGET)
    cookies = response.headers.getlist("Set-Cookie")
    assert cookies and not any("Secure" in c for c in cookies)
    app.config["CONSOLE_SECURE_COOKIES"] = True
    response = Auth(app.test_client()).login(TARGET)
    assert all("Secure" in c for c in response.headers.getlist("Set-Cookie"))


def test_an_admin_who_changes_their_own_password_stays_signed_in_but_copies_do_not(app, db):
    admin = _signed_in(app, "boss@example.com", Role.admin)
    thief = _copy(app, admin)
    boss = db.session.scalar(select(Account).where(Account.email == "boss@example.com"))
    response = post_form(
        admin,
        f"/admin/account/edit/?id={boss.id}",
        {"email": boss.email, "role": "admin", "active": "y", "password": "my-new-password"},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    assert admin.get("/admin/").status_code == 200
    assert _refused(thief)


def test_a_refused_edit_leaves_the_session_as_it_was(app, db):
    admin = _signed_in(app, "boss@example.com", Role.admin)
    boss = db.session.scalar(select(Account).where(Account.email == "boss@example.com"))
    # The last active admin cannot demote themselves: the edit rolls back.
    response = post_form(
        admin,
        f"/admin/account/edit/?id={boss.id}",
        {"email": boss.email, "role": "viewer", "active": "y", "password": "my-new-password"},
    )
    assert response.status_code == 400 and "last active admin" in response.get_data(as_text=True)
    assert admin.get("/admin/").status_code == 200
