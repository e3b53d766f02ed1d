"""Accounts: authentication with lock-out, and creating the first admin. No Flask globals."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from console.models import Account
from console.models.base import utcnow
from console.rules import Role, check_email, check_password, normalise_email

# Compared against when the email is unknown, so that a wrong email and a wrong
# password take the same time and cannot be told apart.
_DUMMY_HASH = generate_password_hash(secrets.token_hex(16))


@dataclass
class LoginResult:
    """What an attempt to log in came to."""

    account: Account | None
    error: str | None = None


def authenticate(
    session: Session, email: str, password: str, *, max_failures: int, lock_seconds: int
) -> LoginResult:
    """Check credentials, counting failures per account and locking it after too many.

    The caller commits: the failure count must persist even when the login fails.
    """
    account = session.scalar(select(Account).where(Account.email == normalise_email(email)))
    now = utcnow()
    generic = "Wrong email or password."
    if account is None:
        check_password_hash(_DUMMY_HASH, password)
        return LoginResult(None, generic)
    locked_until = account.locked_until
    if locked_until is not None and locked_until.tzinfo is None:
        locked_until = locked_until.replace(tzinfo=now.tzinfo)
    if locked_until is not None and locked_until > now:
        minutes = max(1, int((locked_until - now).total_seconds() // 60) + 1)
        return LoginResult(
            None,
            f"Too many failed attempts: this account is locked for about {minutes} more "
            "minute(s).",
        )
    if not account.check_password(password):
        # One UPDATE, so that two workers counting at once cannot lose a failure.
        session.execute(
            update(Account)
            .where(Account.id == account.id)
            .values(failed_logins=Account.failed_logins + 1)
        )
        session.refresh(account)
        if account.failed_logins >= max_failures:
            account.locked_until = now + timedelta(seconds=lock_seconds)
            account.failed_logins = 0
        return LoginResult(None, generic)
    if not account.active:
        return LoginResult(None, "This account is disabled.")
    account.failed_logins = 0
    account.locked_until = None
    account.last_login_at = now
    return LoginResult(account)


def create_account(session: Session, email: str, password: str, role: Role) -> Account:
    """Add an account after checking the email and password rules (the caller commits)."""
    account = Account(email=check_email(email), role=Role(role), active=True)
    account.set_password(check_password(password))
    session.add(account)
    return account


def count_admins(session: Session) -> int:
    """How many active admin accounts exist."""
    return session.scalar(
        select(func.count())
        .select_from(Account)
        .where(Account.role == Role.admin, Account.active.is_(True))
    ) or 0


def ensure_first_admin(session: Session, email: str, password: str | None) -> str | None:
    """Create an admin account if none exists.

    Returns the generated password when one had to be made up (to be shown once),
    else None. The caller commits.
    """
    if session.scalar(select(func.count()).select_from(Account)):
        return None
    generated = None
    if not password:
        generated = password = secrets.token_urlsafe(12)
    create_account(session, email, password, Role.admin)
    return generated
