"""Login and logout."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select

from console.audit import record
from console.auth.forms import LoginForm, LogoutForm
from console.auth.service import LoginResult, authenticate
from console.extensions import db
from console.models import Account
from console.rules import normalise_email

bp = Blueprint("auth", __name__)


def safe_next(target: str | None) -> str:
    """Only same-site paths are followed after login; anything else goes to the console home."""
    default = url_for("admin.index")
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target:
        return default
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the login form and log in with it."""
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
        if current_user.is_authenticated:
            return redirect(safe_next(form.next.data))
    if form.validate_on_submit():
        result = authenticate(
            db.session,
            form.email.data or "",
            form.password.data or "",
            max_failures=current_app.config["CONSOLE_LOGIN_MAX_FAILURES"],
            lock_seconds=current_app.config["CONSOLE_LOGIN_LOCK_SECONDS"],
        )
        account = result.account
        record_login(db.session, form.email.data or "", result)
        db.session.commit()
        if account is not None:
            login_user(account)
            return redirect(safe_next(form.next.data))
        form.password.errors = [result.error or "Login failed."]
        return render_template("auth/login.html", form=form), 401
    return render_template("auth/login.html", form=form), 200 if request.method == "GET" else 400


def record_login(session: Any, email: str, result: LoginResult) -> None:
    """Audit a login or a failed one, in the transaction that counts the failure."""
    if result.account is not None:
        record(session, "login", account=result.account, model="Account",
               object_id=result.account.id)
        return
    attempted = normalise_email(email)[:254]
    known = session.scalar(select(Account).where(Account.email == attempted))
    record(
        session,
        "login_failed",
        account=known or SimpleNamespace(id=None, email=attempted),
        model="Account",
        object_id=known.id if known else None,
        changes={"summary": {"email": attempted, "reason": result.error}},
    )


@bp.route("/logout", methods=["POST"])
def logout():
    """Log out (a POST with a CSRF token, so no other site can log a user out)."""
    form = LogoutForm()
    if form.validate_on_submit():
        logout_user()
        flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))
