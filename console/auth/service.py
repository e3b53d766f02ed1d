"""Accounts: authentication with throttling, and creating the first admin. No Flask globals.

Throttling is by client address and by account, never a lock of the account itself:
an attacker's failures lock *their* address (and that address's attempts at the
account), not the account for everyone else.

- ``pair:<email>|<address>``: ``max_failures`` tries per window for one account from
  one address; a success starts it over.
- ``address:<address>``: ``address_max_failures`` failures per window from one
  address, whatever the emails (password spraying). A success takes back only its
  own count, so that an office behind one address can sign in all morning, and an
  attacker cannot wipe out failures by signing in to an account of their own.
- ``account:<email>``: ``account_max_failures`` failures per window from all
  addresses together (a botnet), for browsers that never signed in to the account;
  a success takes back its own count too.
- ``device:<id>``: a browser that signed in to the account before carries a signed
  cookie naming it; its attempts count against that browser alone, so neither a
  botnet nor an attacker behind the same address can lock it out.

Each lock lasts ``lock_seconds``, then twice that, and so on (up to a day). An attempt
is counted before its password is checked (console.auth.throttle); a throttled or
unknown email is checked against a dummy hash of the same method, so that every
failure takes the same time and gets the same answer.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from console.auth import throttle
from console.auth.throttle import Limit
from console.models import Account
from console.models import accounts as accounts_module
from console.models.base import utcnow
from console.rules import EMAIL_MAX, Role, check_email, check_password, normalise_email

# One answer for an unknown email, a wrong password and a throttled attempt.
WRONG = "Wrong email or password. After repeated failures, sign-in from your address pauses for a while."  # noqa: E501
DISABLED = "This account is disabled."
WRONG_CODE = "Wrong or expired code."


@dataclass(frozen=True)
class LoginPolicy:
    """How many failures each throttling key allows per window, and how long a lock lasts."""

    max_failures: int = 5
    address_max_failures: int = 20
    account_max_failures: int = 50
    lock_seconds: int = 900

    @classmethod
    def from_config(cls, config: Any) -> LoginPolicy:
        """The policy a Flask config (or any mapping) sets."""
        return cls(
            max_failures=int(config["CONSOLE_LOGIN_MAX_FAILURES"]),
            address_max_failures=int(config["CONSOLE_LOGIN_ADDRESS_MAX_FAILURES"]),
            account_max_failures=int(config["CONSOLE_LOGIN_ACCOUNT_MAX_FAILURES"]),
            lock_seconds=int(config["CONSOLE_LOGIN_LOCK_SECONDS"]),
        )

    @property
    def window(self) -> timedelta:
        """Failures are counted over this long (the first lock's length)."""
        return timedelta(seconds=self.lock_seconds)

    def limit(self, key: str, max_hits: int) -> Limit:
        """A failure limit on ``key`` under this policy."""
        return Limit(key, max_hits, self.window, lock=self.window)


@dataclass
class LoginResult:
    """What an attempt to log in came to.

    ``reason`` is for the audit log only (unknown email, wrong password, throttled,
    disabled); users see ``error``, which is the same for the first three.
    """

    account: Account | None
    error: str | None = None
    reason: str | None = None
    # The account the email names, if any, even when the attempt failed (for the audit).
    subject: Account | None = None
    # Keys to start over, and keys to take this attempt back from, when the sign-in
    # completes (after the code step, if any).
    reset_keys: tuple[str, ...] = ()
    release_keys: tuple[str, ...] = ()


@lru_cache(maxsize=8)
def _dummy_hash(method: str) -> str:
    return generate_password_hash(secrets.token_hex(16), method=method)


def dummy_hash() -> str:
    """A hash of a random password, made like real ones (same method and cost)."""
    return _dummy_hash(accounts_module.PASSWORD_HASH_METHOD)


def login_limits(
    policy: LoginPolicy, email: str, client: str, device: str | None
) -> list[Limit]:
    """The throttling keys a password attempt counts against (see the module's doc)."""
    if device is not None:
        return [policy.limit(f"device:{device}", policy.max_failures)]
    return [
        policy.limit(f"pair:{email}|{client}", policy.max_failures),
        policy.limit(f"address:{client}", policy.address_max_failures),
        policy.limit(f"account:{email}", policy.account_max_failures),
    ]


def authenticate(
    session: Session,
    email: str,
    password: str,
    *,
    client: str,
    policy: LoginPolicy,
    device: str | None = None,
    now: datetime | None = None,
) -> LoginResult:
    """Check credentials under throttling (commits the count before the check).

    ``client`` is the client's throttling key (``throttle.client_key``); ``device`` the
    id from a valid device cookie *for this email*, if the browser sent one.
    """
    email = normalise_email(email)[:EMAIL_MAX]
    limits = login_limits(policy, email, client, device)
    decision = throttle.reserve(session, limits, now)
    account = session.scalar(select(Account).where(Account.email == email))
    checked_hash = (
        account.password_hash if account is not None and decision.allowed else dummy_hash()
    )
    password_ok = check_password_hash(checked_hash, password)
    if not decision.allowed:
        return LoginResult(None, WRONG, "throttled", subject=account)
    if account is None:
        return LoginResult(None, WRONG, "unknown email")
    if not password_ok:
        return LoginResult(None, WRONG, "wrong password", subject=account)
    if not account.active:
        return LoginResult(None, DISABLED, "disabled", subject=account)
    # The address and account keys are not reset: see the module's doc.
    return LoginResult(
        account,
        reset_keys=(limits[0].key,),
        release_keys=tuple(limit.key for limit in limits[1:]),
        subject=account,
    )


def complete_login(
    session: Session,
    account: Account,
    reset_keys: tuple[str, ...] = (),
    release_keys: tuple[str, ...] = (),
) -> None:
    """Record a finished sign-in and settle its throttling keys; the caller commits."""
    throttle.reset(session, reset_keys)
    throttle.release(session, release_keys)
    account.last_login_at = utcnow()


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
