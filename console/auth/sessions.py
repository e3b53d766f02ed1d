"""Sessions: who is signed in, for how long, and what ends it.

Sessions are Flask's signed cookies (web instances stay stateless). What ends them
server-side is the account's ``session_token``, which Flask-Login keeps in the cookie
(``Account.get_id``): the user loader, which loads the account anyway, refuses a
cookie whose token is no longer the account's. Logging out, "sign out everywhere", a
new password, role or active flag give the account a new token (the last three
through model events, whoever makes the change), and every session of the account
ends on every instance at its next request.

A session also ends after ``CONSOLE_SESSION_IDLE_MINUTES`` without a request.
"""

from __future__ import annotations

import hmac
import secrets
import time
from typing import Any

from flask import (
    Flask,
    abort,
    after_this_request,
    current_app,
    flash,
    g,
    has_request_context,
    redirect,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import event, select

from console.extensions import db, login_manager
from console.models import Account
from console.rules import Role
from console.security import cookies_secure, is_static

SEEN_KEY = "_console_seen"
PENDING_KEY = "_console_pending_login"
DEVICE_COOKIE = "console_device"
DEVICE_DAYS = 180
# "Last seen" is written back at most this often, not with every request.
SEEN_RESOLUTION = 60
# Endpoints an admin without two-factor sign-in may use when CONSOLE_REQUIRE_2FA=1.
ENROLMENT_ENDPOINTS = frozenset(
    {"auth.account", "auth.two_factor", "auth.two_factor_enable", "auth.logout", "auth.login"}
)


def now() -> float:
    """Seconds since the epoch (a function, so tests can move time)."""
    return time.time()


def init_app(app: Flask) -> None:
    """Register the user loader and the per-request session checks."""
    login_manager.user_loader(load_account)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to use the console."
    login_manager.login_message_category = "info"
    app.before_request(_end_idle_session)
    app.before_request(_require_two_factor)
    app.after_request(_keep_the_changers_session)


def load_account(user_id: str) -> Account | None:
    """Flask-Login's user loader: the account, if the cookie's session token is still its own."""
    account_id, _, token = user_id.partition(":")
    if not account_id.isdigit() or not token:
        _ended()
        return None
    account = db.session.get(Account, int(account_id))
    if account is None or not hmac.compare_digest(account.session_token, token):
        _ended()
        return None
    return account


def _ended() -> None:
    # Drop the dead login from the cookie, so it is not looked up again on every request.
    _forget_login()
    flash("Your session has ended. Please log in again.", "info")


def _forget_login() -> None:
    for key in ("_user_id", "_fresh", "_id", "_remember", SEEN_KEY):
        session.pop(key, None)


def start_session(account: Account) -> None:
    """Sign ``account`` in on a fresh session: nothing of the anonymous one survives.

    The session is emptied, so the CSRF token of the login form (and anything an
    attacker may have planted before login) is not carried into the signed-in session.
    """
    session.clear()
    g.pop("csrf_token", None)  # Flask-WTF's per-request copy of the token
    login_user(account)
    session[SEEN_KEY] = int(now())
    _remember_device(account.email)


def end_session() -> None:
    """Log out of this browser only (the caller ends the account's other sessions)."""
    logout_user()
    session.clear()
    g.pop("csrf_token", None)


def refresh_session(account: Account) -> None:
    """Keep this browser signed in after ``account`` got a new session token."""
    login_user(account)
    session[SEEN_KEY] = int(now())


NEW_TOKENS_KEY = "_console_new_session_tokens"


@event.listens_for(Account.session_token, "set")
def _note_new_token(target: Account, value: Any, oldvalue: Any, _initiator: Any) -> None:
    if has_request_context() and isinstance(oldvalue, str) and target.id is not None:
        g.setdefault(NEW_TOKENS_KEY, []).append((target.id, oldvalue, value))


def _keep_the_changers_session(response: Any) -> Any:
    """Whoever changes their own password or role keeps this session; all others end.

    The request was signed in with the old token (the user loader checked it), so the
    browser that made the change gets the new one, once the database holds it.
    """
    user_id = session.get("_user_id")
    for account_id, old, new in g.pop(NEW_TOKENS_KEY, []):
        if user_id != f"{account_id}:{old}":
            continue
        row = db.session.execute(
            select(Account.session_token, Account.active).where(Account.id == account_id)
        ).first()
        if row is not None and row.session_token == new and row.active:
            session["_user_id"] = f"{account_id}:{new}"
            user_id = session["_user_id"]
    return response


def _end_idle_session() -> None:
    if "_user_id" not in session or is_static(request):
        return
    seen = session.get(SEEN_KEY)
    moment = int(now())
    idle = current_app.config["CONSOLE_SESSION_IDLE_MINUTES"] * 60
    if not isinstance(seen, int) or moment - seen > idle:
        logout_user()
        _forget_login()
        flash(
            f"You were signed out after {current_app.config['CONSOLE_SESSION_IDLE_MINUTES']} "
            "minutes without activity. Please log in again.",
            "info",
        )
        return
    if moment - seen >= SEEN_RESOLUTION:
        session[SEEN_KEY] = moment


def requires_two_factor(account: Any) -> bool:
    """True when ``account`` must sign in with a second factor but has none set up."""
    return bool(
        current_app.config.get("CONSOLE_REQUIRE_2FA")
        and account.is_authenticated
        and account.has_role(Role.admin)
        and not account.two_factor_enabled
    )


def _require_two_factor() -> Any:
    if not current_app.config.get("CONSOLE_REQUIRE_2FA") or is_static(request):
        return None
    if request.endpoint in ENROLMENT_ENDPOINTS or "_user_id" not in session:
        return None
    if not requires_two_factor(current_user._get_current_object()):
        return None
    if request.method == "GET":
        flash(
            "Admins must sign in with two factors here: set up your authenticator app.",
            "warning",
        )
        return redirect(url_for("auth.two_factor"))
    abort(403)


# -- pending second step --------------------------------------------------------------------

PENDING_SECONDS = 300


def begin_second_step(
    account: Account, target: str, reset_keys: tuple[str, ...], release_keys: tuple[str, ...]
) -> None:
    """Remember, in this session only, that ``account``'s password was right."""
    session.clear()
    g.pop("csrf_token", None)
    session[PENDING_KEY] = {
        "id": account.id,
        "token": account.session_token,
        "at": int(now()),
        "next": target,
        "reset": list(reset_keys),
        "release": list(release_keys),
    }


def pending_second_step() -> tuple[Account, dict[str, Any]] | None:
    """The account waiting for its code in this session, if the wait is still valid."""
    pending = session.get(PENDING_KEY)
    if not isinstance(pending, dict):
        return None
    if int(now()) - int(pending.get("at", 0)) > PENDING_SECONDS:
        session.pop(PENDING_KEY, None)
        return None
    account = db.session.get(Account, int(pending.get("id", 0)))
    if (
        account is None
        or not account.active
        or not account.two_factor_enabled
        or not hmac.compare_digest(account.session_token, str(pending.get("token", "")))
    ):
        session.pop(PENDING_KEY, None)
        return None
    return account, pending


# -- trusted devices ------------------------------------------------------------------------


def _device_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="console-device")  # type: ignore[arg-type]


def device_for(email: str) -> str | None:
    """The id of this browser if it signed in to ``email`` before (a signed cookie says so)."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw:
        return None
    try:
        data = _device_serializer().loads(raw, max_age=DEVICE_DAYS * 86400)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not hmac.compare_digest(str(data.get("e", "")), email):
        return None
    return str(data.get("d") or "") or None


def _remember_device(email: str) -> None:
    device = device_for(email) or secrets.token_hex(8)
    value = _device_serializer().dumps({"e": email, "d": device})
    secure = cookies_secure(current_app)
    path = url_for("auth.login")

    @after_this_request
    def _set(response: Any) -> Any:
        response.set_cookie(
            DEVICE_COOKIE,
            value,
            max_age=DEVICE_DAYS * 86400,
            path=path,
            secure=secure,
            httponly=True,
            samesite="Lax",
        )
        return response
