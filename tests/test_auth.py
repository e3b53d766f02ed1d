"""Logging in and out, safe redirects, and throttling after repeated failures."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from console.models import LoginThrottle, Role
from tests.conftest import PASSWORD, Auth, csrf_token, make_account


def test_login_then_logout(client, app):
    make_account(Role.viewer)
    auth = Auth(client)
    response = auth.login("VIEWER@example.com ")
    assert response.status_code == 302
    assert response.location == "/admin/"
    assert client.get("/admin/").status_code == 200
    response = auth.logout()
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 302


def test_logout_is_post_only(client, app):
    make_account(Role.viewer)
    Auth(client).login("viewer@example.com")
    assert client.get("/logout").status_code == 405
    assert client.get("/admin/").status_code == 200


def test_session_cookie_is_httponly_and_samesite(client, app):
    make_account(Role.viewer)
    response = Auth(client).login("viewer@example.com")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [
        ("/admin/todo/?page=2", "/admin/todo/?page=2"),
        ("https://evil.example/", "/admin/"),
        ("//evil.example/x", "/admin/"),
        ("/\\evil.example", "/admin/"),
        ("javascript:alert(1)", "/admin/"),
    ],
)
def test_next_is_honoured_only_for_same_site_paths(client, app, next_url, expected):
    make_account(Role.viewer)
    token = csrf_token(client)
    response = client.post(
        "/login",
        data={
            "email": "viewer@example.com",
            "password": PASSWORD,
            "next": next_url,
            "csrf_token": token,
        },
    )
    assert response.status_code == 302
    assert response.location == expected


def test_wrong_password_and_unknown_email_read_the_same(client, app):
    make_account(Role.viewer)
    wrong = Auth(client).login("viewer@example.com", "nope-nope")
    unknown = Auth(client).login("nobody@example.com", "nope-nope")
    assert wrong.status_code == unknown.status_code == 401
    assert "Wrong email or password." in wrong.get_data(as_text=True)
    assert "Wrong email or password." in unknown.get_data(as_text=True)


def test_repeated_failures_pause_that_address_and_the_pause_is_kept_in_the_database(app, db):
    """Per client address and account, not of the account: see test_security_throttle."""
    make_account(Role.viewer)
    limit = app.config["CONSOLE_LOGIN_MAX_FAILURES"]
    for _ in range(limit):
        # A new client each time: the lock must not depend on the browser session.
        Auth(app.test_client()).login("viewer@example.com", "bad-password")
    response = Auth(app.test_client()).login("viewer@example.com", PASSWORD)
    assert response.status_code == 401
    assert "Wrong email or password." in response.get_data(as_text=True)
    db.session.expire_all()
    lock = db.session.scalar(
        select(LoginThrottle.locked_until).where(
            LoginThrottle.key == "pair:viewer@example.com|127.0.0.1"
        )
    )
    assert lock is not None


def test_disabled_account_cannot_log_in(client, app, db):
    account = make_account(Role.editor)
    account.active = False
    db.session.commit()
    response = Auth(client).login("editor@example.com")
    assert response.status_code == 401
    assert "disabled" in response.get_data(as_text=True)


def test_login_without_csrf_token_is_refused(client, app):
    make_account(Role.viewer)
    response = client.post("/login", data={"email": "viewer@example.com", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/admin/").status_code == 302
