"""Signing in (password, then code when two-factor is on), out, and the account's own page."""

from __future__ import annotations

import logging
import math
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required
from markupsafe import Markup

from console.audit import record
from console.auth import throttle
from console.auth import two_factor as otp
from console.auth.forms import (
    CodeForm,
    DisableTwoFactorForm,
    EnableTwoFactorForm,
    LoginForm,
    LogoutForm,
    RecoveryCodesForm,
    ResetTwoFactorForm,
    SignOutEverywhereForm,
)
from console.auth.roles import requires
from console.auth.service import (
    WRONG_CODE,
    LoginPolicy,
    LoginResult,
    authenticate,
    complete_login,
)
from console.auth.sessions import (
    begin_second_step,
    device_for,
    end_session,
    pending_second_step,
    refresh_session,
    start_session,
)
from console.auth.throttle import Limit, parse_rate
from console.extensions import db
from console.models import Account
from console.models.base import utcnow
from console.redirects import safe_target
from console.rules import EMAIL_MAX, Role, normalise_email

bp = Blueprint("auth", __name__)
log = logging.getLogger(__name__)

ENROL_KEY = "_console_totp_enrolment"
# Distinct emails listed in one folded "throttled" entry; the rest are only counted.
FOLDED_EMAILS = 20


def _home() -> str:
    return url_for("admin.index")


def _client() -> str:
    return throttle.client_key(request.remote_addr)


def _policy() -> LoginPolicy:
    return LoginPolicy.from_config(current_app.config)


def _rate_limited() -> Any:
    """A 429 page when this client sent too many sign-in requests, else None."""
    count, window = parse_rate(current_app.config["CONSOLE_LOGIN_RATE_LIMIT"])
    decision = throttle.reserve(db.session(), [Limit(f"rate:{_client()}", count, window)])
    if decision.allowed:
        return None
    seconds = max(1, math.ceil((decision.retry_after or window).total_seconds()))
    log.warning("Sign-in rate limit reached for %s", _client())
    response = make_response(render_template("auth/too_many.html", seconds=seconds), 429)
    response.headers["Retry-After"] = str(seconds)
    return response


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Show the login form and check the password (then the code, if two-factor is on)."""
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
        if current_user.is_authenticated:
            return redirect(safe_target(form.next.data, _home()))
        return render_template("auth/login.html", form=form)
    limited = _rate_limited()
    if limited is not None:
        return limited
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form), 400
    email = normalise_email(form.email.data or "")[:EMAIL_MAX]
    result = authenticate(
        db.session(),
        email,
        form.password.data or "",
        client=_client(),
        policy=_policy(),
        device=device_for(email),
    )
    account = result.account
    if account is None:
        _audit_failure(email, result)
        form.password.errors = [result.error or "Login failed."]
        return render_template("auth/login.html", form=form), 401
    target = safe_target(form.next.data, _home())
    if account.two_factor_enabled:
        begin_second_step(account, target, result.reset_keys, result.release_keys)
        return redirect(url_for("auth.login_code"))
    _finish_login(account, result.reset_keys, result.release_keys)
    return redirect(target)


@bp.route("/login/code", methods=["GET", "POST"])
def login_code() -> Any:
    """The second step: a code from the authenticator app or a recovery code."""
    pending = pending_second_step()
    if pending is None:
        flash("Please log in again.", "info")
        return redirect(url_for("auth.login"))
    account, state = pending
    form = CodeForm()
    if request.method == "GET":
        return render_template("auth/login_code.html", form=form)
    limited = _rate_limited()
    if limited is not None:
        return limited
    if not form.validate_on_submit():
        return render_template("auth/login_code.html", form=form), 400
    policy = _policy()
    code_key, address_key = f"code:{account.id}", f"address:{_client()}"
    decision = throttle.reserve(
        db.session(),
        [
            policy.limit(code_key, policy.max_failures),
            policy.limit(address_key, policy.address_max_failures),
        ],
    )
    used = None
    if decision.allowed:
        used = otp.accept_code(db.session(), account, form.code.data or "")
    if used is None:
        db.session.rollback()
        reason = "wrong code" if decision.allowed else "throttled"
        _audit_failure(account.email, LoginResult(None, WRONG_CODE, reason, subject=account))
        form.code.errors = [WRONG_CODE]
        return render_template("auth/login_code.html", form=form), 401
    _finish_login(
        account,
        (*state.get("reset", ()), code_key),
        (*state.get("release", ()), address_key),
        second_factor=used,
    )
    if used == "recovery code":
        left = otp.recovery_codes_left(db.session(), account)
        flash(
            f"You signed in with a recovery code; {left} left. Each works once: make new ones "
            "on your account page if you are running out.",
            "warning",
        )
    return redirect(safe_target(state.get("next"), _home()))


def _finish_login(
    account: Account,
    reset_keys: tuple[str, ...],
    release_keys: tuple[str, ...],
    second_factor: str | None = None,
) -> None:
    complete_login(db.session(), account, reset_keys, release_keys)
    record(
        db.session(),
        "login",
        account=account,
        model="Account",
        object_id=account.id,
        changes={"summary": {"second factor": second_factor}} if second_factor else None,
    )
    db.session.commit()
    start_session(account)


def _audit_failure(email: str, result: LoginResult) -> None:
    """Fold a failed sign-in into this window's entry for its address and email.

    Throttled attempts fold into one entry per address, whatever the email, so that a
    flood of them cannot fill the log either.
    """
    client = _client()
    moment = utcnow().isoformat()
    subject = result.subject
    if result.reason == "throttled":
        key = f"login_failed|{client}"
        summary = {"address": client, "reason": "throttled", "attempts": 1,
                   "emails": {email: 1}, "first_at": moment, "last_at": moment}
        account_id, account_email = None, None
    else:
        # Codes fold apart from passwords: each entry keeps one reason.
        step = "|code" if result.reason == "wrong code" else ""
        key = f"login_failed|{client}|{email}{step}"
        summary = {"email": email, "address": client, "reason": result.reason, "attempts": 1,
                   "first_at": moment, "last_at": moment}
        account_id, account_email = (subject.id if subject else None), email

    def merge(changes: dict[str, Any]) -> dict[str, Any]:
        folded = dict(changes.get("summary") or {})
        folded["attempts"] = int(folded.get("attempts", 1)) + 1
        folded["last_at"] = moment
        if result.reason == "throttled":
            emails = dict(folded.get("emails") or {})
            if email in emails or len(emails) < FOLDED_EMAILS:
                emails[email] = int(emails.get(email, 0)) + 1
            else:
                folded["other emails"] = int(folded.get("other emails", 0)) + 1
            folded["emails"] = emails
        return {"summary": folded}

    throttle.fold_audit(
        db.session(),
        key,
        _policy().window,
        {
            "action": "login_failed",
            "account_id": account_id,
            "account_email": account_email,
            "model": "Account",
            "object_id": str(subject.id) if subject and account_id else None,
            "changes": {"summary": summary},
        },
        merge,
    )


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    """Log out, ending every session of the account (a POST with a CSRF token)."""
    form = LogoutForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        if user.is_authenticated:
            user.end_sessions()
            db.session.commit()
        end_session()
        flash("You are logged out, on every device.", "info")
    return redirect(url_for("auth.login"))


# -- the account's own page -----------------------------------------------------------------


@bp.get("/account")
@login_required
def account() -> Any:
    """Your account: two-factor sign-in, recovery codes and your sessions."""
    user = current_user._get_current_object()
    return render_template(
        "auth/account.html",
        user=user,
        codes_left=otp.recovery_codes_left(db.session(), user),
        required=_two_factor_required(user),
        sign_out_form=SignOutEverywhereForm(),
        disable_form=DisableTwoFactorForm(),
        codes_form=RecoveryCodesForm(),
    )


@bp.post("/account/sign-out-everywhere")
@login_required
def sign_out_everywhere() -> Any:
    """End every other session of your account; this browser stays signed in."""
    form = SignOutEverywhereForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        user.end_sessions()
        record(db.session(), "sessions_ended", account=user, model="Account", object_id=user.id)
        db.session.commit()
        refresh_session(user)
        flash("Every other session of your account has ended.", "success")
    return redirect(url_for("auth.account"))


@bp.get("/account/two-factor")
@login_required
def two_factor() -> Any:
    """Set up two-factor sign-in: scan the QR code, then confirm with the app's first code."""
    user = current_user._get_current_object()
    if user.two_factor_enabled:
        return redirect(url_for("auth.account"))
    return _enrolment_page(user, EnableTwoFactorForm())


def _enrolment_page(user: Account, form: EnableTwoFactorForm, status: int = 200) -> Any:
    secret = session.get(ENROL_KEY)
    if not isinstance(secret, str) or len(secret) != 32:
        secret = session[ENROL_KEY] = otp.new_secret()
    issuer = current_app.config["CONSOLE_TOTP_ISSUER"]
    uri = otp.provisioning_uri(secret, user.email, issuer)
    return render_template(
        "auth/two_factor_setup.html",
        form=form,
        # segno writes the SVG from the secret alone: no user input reaches it.
        qr=Markup(otp.qr_svg(uri)),  # noqa: S704
        secret=otp.format_secret(secret),
        required=_two_factor_required(user),
    ), status


@bp.post("/account/two-factor")
@login_required
def two_factor_enable() -> Any:
    """Turn two-factor sign-in on once the app's code matches; shows the recovery codes once."""
    user = current_user._get_current_object()
    if user.two_factor_enabled:
        return redirect(url_for("auth.account"))
    form = EnableTwoFactorForm()
    secret = session.get(ENROL_KEY)
    if not form.validate_on_submit() or not isinstance(secret, str):
        return _enrolment_page(user, form, 400)
    step = otp.verify_new(secret, form.code.data or "")
    if step is None:
        form.code.errors = [
            "That code does not match. Check that the app was set up with this QR code and "
            "that the device's clock is right, then enter the code it shows now."
        ]
        return _enrolment_page(user, form, 400)
    codes = otp.enable(db.session(), user, secret, step)
    # Sessions signed in with the password alone end; this one goes on.
    user.end_sessions()
    record(db.session(), "two_factor_enabled", account=user, model="Account", object_id=user.id)
    db.session.commit()
    session.pop(ENROL_KEY, None)
    refresh_session(user)
    return render_template("auth/recovery_codes.html", codes=codes, first=True)


@bp.post("/account/two-factor/disable")
@login_required
def two_factor_disable() -> Any:
    """Turn two-factor sign-in off, with the password and a current code."""
    user = current_user._get_current_object()
    form = DisableTwoFactorForm()
    if not form.validate_on_submit() or not user.two_factor_enabled:
        flash("Enter your password and a code to turn two-factor sign-in off.", "danger")
        return redirect(url_for("auth.account"))
    if _two_factor_required(user):
        flash("Admins must sign in with two factors here: it cannot be turned off.", "danger")
        return redirect(url_for("auth.account"))
    if not _second_factor_checked(user, form.code.data, form.password.data):
        flash("Wrong password or code: two-factor sign-in is still on.", "danger")
        return redirect(url_for("auth.account"))
    otp.disable(db.session(), user)
    record(db.session(), "two_factor_disabled", account=user, model="Account", object_id=user.id)
    db.session.commit()
    flash("Two-factor sign-in is off.", "success")
    return redirect(url_for("auth.account"))


@bp.post("/account/two-factor/recovery-codes")
@login_required
def new_recovery_codes() -> Any:
    """Replace the recovery codes (after a current code); shows the new ones once."""
    user = current_user._get_current_object()
    form = RecoveryCodesForm()
    if not form.validate_on_submit() or not user.two_factor_enabled:
        return redirect(url_for("auth.account"))
    if not _second_factor_checked(user, form.code.data):
        flash("Wrong code: your recovery codes are unchanged.", "danger")
        return redirect(url_for("auth.account"))
    codes = otp.new_recovery_codes(db.session(), user)
    record(
        db.session(), "recovery_codes_replaced", account=user, model="Account", object_id=user.id
    )
    db.session.commit()
    return render_template("auth/recovery_codes.html", codes=codes, first=False)


@bp.post("/accounts/reset-two-factor")
@requires(Role.admin)
def reset_two_factor() -> Any:
    """An admin turns another account's two-factor sign-in off (lost phone and codes).

    Form fields: ``id`` (the account), ``url`` (where to go back to), ``csrf_token``.
    """
    form = ResetTwoFactorForm()
    target = db.session.get(Account, form.id.data) if form.validate_on_submit() else None
    back = safe_target(request.form.get("url"), url_for("auth.account"))
    if target is None:
        abort(400)
    if target.id == current_user.id:
        flash("Turn your own two-factor sign-in off on your account page.", "danger")
        return redirect(back)
    if target.two_factor_enabled:
        otp.disable(db.session(), target)
        target.end_sessions()
        record(
            db.session(),
            "two_factor_reset",
            account=current_user._get_current_object(),
            model="Account",
            object_id=target.id,
            changes={"summary": {"email": target.email, "by": "admin"}},
        )
        db.session.commit()
        flash(f"Two-factor sign-in is off for {target.email}; its sessions have ended.", "success")
    else:
        flash(f"{target.email} does not use two-factor sign-in.", "info")
    return redirect(back)


def _second_factor_checked(user: Account, code: str | None, password: str | None = None) -> bool:
    """Spend a code (and check the password) under the code's throttling; the caller commits."""
    policy = _policy()
    limit = policy.limit(f"code:{user.id}", policy.max_failures)
    decision = throttle.reserve(db.session(), [limit])
    if not decision.allowed:
        return False
    if password is not None and not user.check_password(password):
        return False
    if otp.accept_code(db.session(), user, code or "") is None:
        db.session.rollback()
        return False
    throttle.reset(db.session(), [f"code:{user.id}"])
    return True


def _two_factor_required(user: Any) -> bool:
    return bool(current_app.config.get("CONSOLE_REQUIRE_2FA") and user.has_role(Role.admin))
