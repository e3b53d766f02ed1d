"""Two-factor sign-in: enrolment with a QR code, TOTP codes, recovery codes, enforcement.

The codes are computed by pyotp from the secret the enrolment page shows, as an
authenticator app would compute them from the QR code.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from console.auth import sessions, two_factor
from console.models import Account, AuditEntry, RecoveryCode, Role
from console.models.base import utcnow
from tests.conftest import CSRF_RE, PASSWORD, Auth, csrf_token, make_account

EMAIL = "admin@example.com"
SECRET_RE = re.compile(r'<code id="totp-secret">([A-Z2-7 ]+)</code>')
CODES_RE = re.compile(r"<li>([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})</li>")


class Clock:
    """The time two_factor reads, moved by the test (each code step is 30 seconds)."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self):
        return self.now

    def advance(self, seconds: float = 30) -> None:
        self.now += timedelta(seconds=seconds)

    def code(self, secret: str) -> str:
        return pyotp.TOTP(secret).at(self.now)


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(two_factor, "utcnow", clock)
    return clock


def _signed_in(app, role=Role.admin, email=EMAIL):
    make_account(role, email)
    client = app.test_client()
    assert Auth(client).login(email).status_code == 302
    return client


def _enrol(client, clock):
    page = client.get("/account/two-factor")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    secret = SECRET_RE.search(body).group(1).replace(" ", "")
    token = CSRF_RE.search(body).group(1)
    response = client.post(
        "/account/two-factor", data={"code": clock.code(secret), "csrf_token": token}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    codes = CODES_RE.findall(response.get_data(as_text=True))
    clock.advance()
    return secret, codes


def _password_step(client, email=EMAIL, password=PASSWORD, next_url=""):
    token = csrf_token(client)
    return client.post(
        "/login",
        data={"email": email, "password": password, "next": next_url, "csrf_token": token},
    )


def _code_step(client, code):
    token = csrf_token(client, "/login/code")
    return client.post("/login/code", data={"code": code, "csrf_token": token})


def _enrolled(app, clock, role=Role.admin, email=EMAIL):
    client = _signed_in(app, role, email)
    secret, codes = _enrol(client, clock)
    return secret, codes


def test_the_enrolment_page_draws_the_qr_code_itself(app, clock):
    client = _signed_in(app)
    response = client.get("/account/two-factor")
    body = response.get_data(as_text=True)
    svg = re.search(r"<svg\b.*?</svg>", body, re.S).group(0)
    assert "<path" in svg and "<script" not in svg and "href" not in svg
    assert "<img" not in body and "http://" not in body.split("<body", 1)[1].replace(
        "http://www.w3.org", ""
    )
    secret = SECRET_RE.search(body).group(1).replace(" ", "")
    assert len(secret) == 32
    # Reloading keeps the same secret until it is confirmed.
    again = client.get("/account/two-factor").get_data(as_text=True)
    assert SECRET_RE.search(again).group(1).replace(" ", "") == secret


def test_the_qr_code_holds_the_provisioning_address():
    uri = two_factor.provisioning_uri("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", EMAIL, "Console")
    assert uri.startswith("otpauth://totp/Console:admin%40example.com?secret=JBSWY3DP")
    assert "issuer=Console" in uri
    svg = two_factor.qr_svg(uri)
    assert svg.startswith("<svg") and svg.endswith("</svg>")


def test_a_wrong_code_does_not_turn_it_on(app, db, clock):
    client = _signed_in(app)
    body = client.get("/account/two-factor").get_data(as_text=True)
    secret = SECRET_RE.search(body).group(1).replace(" ", "")
    wrong = f"{(int(clock.code(secret)) + 1) % 1000000:06d}"
    response = client.post(
        "/account/two-factor", data={"code": wrong, "csrf_token": CSRF_RE.search(body).group(1)}
    )
    assert response.status_code == 400
    assert "That code does not match" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalar(select(Account.totp_secret).where(Account.email == EMAIL)) is None


def test_enrolment_shows_recovery_codes_once_and_stores_only_their_hashes(app, db, clock):
    client = _signed_in(app)
    secret, codes = _enrol(client, clock)
    assert len(codes) == 10 and len(set(codes)) == 10
    account = db.session.scalar(select(Account).where(Account.email == EMAIL))
    db.session.refresh(account)
    assert account.totp_secret == secret
    stored = db.session.scalars(
        select(RecoveryCode.code_hash).where(RecoveryCode.account_id == account.id)
    ).all()
    assert len(stored) == 10 and all(re.fullmatch(r"[0-9a-f]{64}", h) for h in stored)
    assert not set(c.replace("-", "") for c in codes) & set(stored)
    page = client.get("/account").get_data(as_text=True)
    assert "Unused recovery codes: <strong>10</strong>" in page
    assert not any(code in page for code in codes)
    # Neither the secret nor the codes reach the audit log.
    entries = db.session.scalars(select(AuditEntry)).all()
    assert "two_factor_enabled" in [e.action for e in entries]
    logged = " ".join(str(e.changes) for e in entries)
    assert secret not in logged and not any(code in logged for code in codes)


def test_sign_in_asks_for_the_code_after_a_right_password(app, clock):
    secret, _codes = _enrolled(app, clock)
    client = app.test_client()
    response = _password_step(client, next_url="/admin/todo/")
    assert response.status_code == 302 and response.location == "/login/code"
    # Not signed in yet.
    assert client.get("/admin/").status_code == 302
    page = client.get("/login/code").get_data(as_text=True)
    assert "Enter your code" in page
    response = _code_step(client, clock.code(secret))
    assert response.status_code == 302 and response.location == "/admin/todo/"
    assert client.get("/admin/").status_code == 200


def test_a_wrong_password_does_not_reach_the_code_step(app, clock):
    _enrolled(app, clock)
    client = app.test_client()
    response = _password_step(client, password="not-the-password")
    assert response.status_code == 401
    body = response.get_data(as_text=True)
    assert "Wrong email or password." in body and "code" not in body.lower().replace(
        "csrf", ""
    ).split("<form", 1)[1].split("</form>", 1)[0]
    assert client.get("/login/code").location.endswith("/login")


def test_the_code_step_cannot_be_reached_without_the_password(app, clock):
    secret, _codes = _enrolled(app, clock)
    client = app.test_client()
    assert client.get("/login/code").status_code == 302
    token = csrf_token(client)
    response = client.post("/login/code", data={"code": clock.code(secret), "csrf_token": token})
    assert response.status_code == 302 and response.location.endswith("/login")
    assert client.get("/admin/").status_code == 302


def test_a_wrong_code_is_refused(app, clock):
    secret, _codes = _enrolled(app, clock)
    client = app.test_client()
    _password_step(client)
    wrong = f"{(int(clock.code(secret)) + 1) % 1000000:06d}"
    response = _code_step(client, wrong)
    assert response.status_code == 401
    assert "Wrong or expired code." in response.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302


def test_a_code_is_accepted_once(app, clock):
    secret, _codes = _enrolled(app, clock)
    first, second = app.test_client(), app.test_client()
    _password_step(first)
    _password_step(second)
    code = clock.code(secret)
    assert _code_step(first, code).status_code == 302
    assert _code_step(second, code).status_code == 401
    clock.advance()
    assert _code_step(second, clock.code(secret)).status_code == 302


def test_codes_of_the_neighbouring_steps_are_accepted_but_not_older_ones(app, clock):
    secret, _codes = _enrolled(app, clock)
    client = app.test_client()
    _password_step(client)
    totp = pyotp.TOTP(secret)
    assert _code_step(client, totp.at(clock.now - timedelta(seconds=90))).status_code == 401
    assert _code_step(client, totp.at(clock.now + timedelta(seconds=30))).status_code == 302


def test_a_recovery_code_signs_in_once(app, db, clock):
    _secret, codes = _enrolled(app, clock)
    client = app.test_client()
    _password_step(client)
    response = _code_step(client, codes[3].lower().replace("-", " "))
    assert response.status_code == 302
    page = client.get("/admin/").get_data(as_text=True)
    assert "You signed in with a recovery code; 9 left." in page
    again = app.test_client()
    _password_step(again)
    assert _code_step(again, codes[3]).status_code == 401


def test_the_wait_for_the_code_expires(app, clock, monkeypatch):
    _enrolled(app, clock)
    client = app.test_client()
    _password_step(client)
    later = sessions.now() + sessions.PENDING_SECONDS + 1
    monkeypatch.setattr(sessions, "now", lambda: later)
    response = client.get("/login/code")
    assert response.status_code == 302 and response.location.endswith("/login")


def test_a_new_password_during_the_wait_cancels_it(app, db, clock):
    secret, _codes = _enrolled(app, clock)
    client = app.test_client()
    _password_step(client)
    account = db.session.scalar(select(Account).where(Account.email == EMAIL))
    token = csrf_token(client, "/login/code")
    account.set_password("changed-meanwhile")
    db.session.commit()
    response = client.post("/login/code", data={"code": clock.code(secret), "csrf_token": token})
    assert response.status_code == 302 and response.location.endswith("/login")
    assert client.get("/admin/").status_code == 302


def test_guessing_codes_is_throttled(app, clock):
    secret, _codes = _enrolled(app, clock)
    client = app.test_client()
    _password_step(client)
    base = int(clock.code(secret))
    for i in range(1, app.config["CONSOLE_LOGIN_MAX_FAILURES"] + 1):
        assert _code_step(client, f"{(base + 7 * i) % 1000000:06d}").status_code == 401
    assert _code_step(client, clock.code(secret)).status_code == 401
    # A new password step does not start the count over: it is the account's.
    other = app.test_client()
    _password_step(other)
    assert _code_step(other, clock.code(secret)).status_code == 401


def test_turning_it_off_takes_the_password_and_a_code(app, db, clock):
    secret, _codes = _enrolled(app, clock, role=Role.editor, email="editor@example.com")
    client = app.test_client()
    _password_step(client, email="editor@example.com")
    _code_step(client, clock.code(secret))
    clock.advance()
    token = csrf_token(client, "/account")
    response = client.post(
        "/account/two-factor/disable",
        data={"password": "wrong-password", "code": clock.code(secret), "csrf_token": token},
    )
    assert "still on" in client.get(response.location).get_data(as_text=True)
    clock.advance()
    token = csrf_token(client, "/account")
    response = client.post(
        "/account/two-factor/disable",
        data={"password": PASSWORD, "code": clock.code(secret), "csrf_token": token},
    )
    assert "Two-factor sign-in is off." in client.get(response.location).get_data(as_text=True)
    db.session.expire_all()
    account = db.session.scalar(select(Account).where(Account.email == "editor@example.com"))
    assert account.totp_secret is None
    assert db.session.scalar(
        select(RecoveryCode.id).where(RecoveryCode.account_id == account.id)
    ) is None
    assert Auth(app.test_client()).login("editor@example.com").location == "/admin/"


def test_new_recovery_codes_replace_the_old_ones(app, clock):
    secret, old = _enrolled(app, clock)
    client = app.test_client()
    _password_step(client)
    _code_step(client, clock.code(secret))
    clock.advance()
    token = csrf_token(client, "/account")
    response = client.post(
        "/account/two-factor/recovery-codes", data={"code": clock.code(secret), "csrf_token": token}
    )
    new = CODES_RE.findall(response.get_data(as_text=True))
    assert len(new) == 10 and not set(new) & set(old)
    fresh = app.test_client()
    _password_step(fresh)
    assert _code_step(fresh, old[0]).status_code == 401
    assert _code_step(fresh, new[0]).status_code == 302


def test_turning_it_on_ends_the_sessions_signed_in_with_the_password_alone(app, clock):
    client = _signed_in(app)
    elsewhere = app.test_client()
    assert Auth(elsewhere).login(EMAIL).status_code == 302
    _enrol(client, clock)
    assert client.get("/admin/").status_code == 200
    assert elsewhere.get("/admin/").status_code == 302


def test_admins_must_enrol_when_it_is_required(app, clock):
    app.config["CONSOLE_REQUIRE_2FA"] = True
    admin = _signed_in(app)
    response = admin.get("/admin/todo/")
    assert response.status_code == 302 and response.location == "/account/two-factor"
    assert "Admins must sign in with two factors" in admin.get(response.location).get_data(
        as_text=True
    )
    token = csrf_token(admin, "/account/two-factor")
    assert admin.post("/admin/todo/delete/", data={"csrf_token": token}).status_code == 403
    # Other roles are not asked.
    editor = _signed_in(app, Role.editor, "editor@example.com")
    assert editor.get("/admin/todo/").status_code == 200
    secret, _codes = _enrol(admin, clock)
    assert admin.get("/admin/todo/").status_code == 200
    # ...and may not turn it off again.
    token = csrf_token(admin, "/account")
    response = admin.post(
        "/account/two-factor/disable",
        data={"password": PASSWORD, "code": clock.code(secret), "csrf_token": token},
    )
    assert "cannot be turned off" in admin.get(response.location).get_data(as_text=True)


def test_an_admin_resets_a_lost_second_factor_from_the_command_line(app, db, clock, runner):
    secret, _codes = _enrolled(app, clock, role=Role.editor, email="editor@example.com")
    signed_in = app.test_client()
    _password_step(signed_in, email="editor@example.com")
    _code_step(signed_in, clock.code(secret))
    result = runner.invoke(args=["reset-2fa", "Editor@Example.com"])
    assert result.exit_code == 0, result.output
    assert "Two-factor sign-in is off for editor@example.com" in result.output
    assert signed_in.get("/admin/").status_code == 302
    assert Auth(app.test_client()).login("editor@example.com").location == "/admin/"
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "two_factor_reset"))
    assert entry.changes["summary"]["email"] == "editor@example.com"
    assert runner.invoke(args=["reset-2fa", "nobody@example.com"]).exit_code != 0


def test_the_admin_pages_never_show_secrets_or_session_tokens(app, db, clock, admin_client):
    secret, codes = _enrolled(app, clock, role=Role.editor, email="editor@example.com")
    account = db.session.scalar(select(Account).where(Account.email == "editor@example.com"))
    db.session.refresh(account)
    pages = [
        admin_client.get("/admin/account/").get_data(as_text=True),
        admin_client.get(f"/admin/account/details/?id={account.id}").get_data(as_text=True),
        admin_client.get(f"/admin/account/edit/?id={account.id}").get_data(as_text=True),
        admin_client.get("/admin/account/export/csv/").get_data(as_text=True),
        admin_client.get("/admin/audit/").get_data(as_text=True),
    ]
    for page in pages:
        assert secret not in page and account.session_token not in page
        assert "totp" not in page.lower() and "session_token" not in page.lower()
        assert not any(code in page for code in codes)


def test_wrong_codes_fold_into_an_entry_of_their_own(app, db, clock):
    secret, _codes = _enrolled(app, clock)
    client = app.test_client()
    _password_step(client, password="wrong-password")
    _password_step(client)
    base = int(clock.code(secret))
    for i in (1, 2):
        _code_step(client, f"{(base + 11 * i) % 1000000:06d}")
    db.session.expire_all()
    entries = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "login_failed").order_by(AuditEntry.id)
    )
    folded = [(e.changes["summary"]["reason"], e.changes["summary"]["attempts"]) for e in entries]
    assert folded == [("wrong password", 1), ("wrong code", 2)]


def _reset(client, account_id, url=""):
    token = csrf_token(client, "/account")
    return client.post(
        "/accounts/reset-two-factor", data={"id": account_id, "url": url, "csrf_token": token}
    )


def test_an_admin_resets_another_accounts_second_factor(app, db, clock, admin_client):
    secret, _codes = _enrolled(app, clock, role=Role.editor, email="editor@example.com")
    editor_id = db.session.scalar(select(Account.id).where(Account.email == "editor@example.com"))
    signed_in = app.test_client()
    _password_step(signed_in, email="editor@example.com")
    _code_step(signed_in, clock.code(secret))
    response = _reset(admin_client, editor_id, url="/admin/account/")
    assert response.status_code == 302 and response.location == "/admin/account/"
    assert signed_in.get("/admin/").status_code == 302
    assert Auth(app.test_client()).login("editor@example.com").location == "/admin/"
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "two_factor_reset"))
    assert entry.account_email == "admin@example.com"
    assert entry.object_id == str(editor_id)


def test_only_admins_reset_second_factors_and_never_their_own(app, db, clock):
    secret, _codes = _enrolled(app, clock, role=Role.editor, email="editor@example.com")
    editor_id = db.session.scalar(select(Account.id).where(Account.email == "editor@example.com"))
    editor = app.test_client()
    _password_step(editor, email="editor@example.com")
    _code_step(editor, clock.code(secret))
    assert _reset(editor, editor_id).status_code == 403
    admin_secret, _ = _enrolled(app, clock, role=Role.admin, email="admin@example.com")
    admin = app.test_client()
    _password_step(admin, email="admin@example.com")
    _code_step(admin, clock.code(admin_secret))
    admin_id = db.session.scalar(select(Account.id).where(Account.email == "admin@example.com"))
    _reset(admin, admin_id)
    db.session.expire_all()
    assert db.session.get(Account, admin_id).totp_secret is not None
    assert db.session.get(Account, editor_id).totp_secret is not None
