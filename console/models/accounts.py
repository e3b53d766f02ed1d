"""The console's own user accounts."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, Enum, Integer, String, event, inspect, true
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column, validates
from sqlalchemy.sql import Update
from werkzeug.security import check_password_hash, generate_password_hash

from console.declare import Options
from console.models.base import Base, TimestampMixin
from console.rules import EMAIL_MAX, Role, normalise_email

# werkzeug's default (scrypt). Tests lower the cost: hashing is deliberately slow.
PASSWORD_HASH_METHOD = "scrypt"  # noqa: S105 - a method name, not a password

# Changing any of these ends every session of the account (see Account.session_token).
SESSION_ENDING_COLUMNS = ("password_hash", "role", "active")


def new_session_token() -> str:
    """A fresh random session token (32 hex digits)."""
    return secrets.token_hex(16)


class Account(TimestampMixin, Base):
    """A person who may log in to the console, with one role."""

    __tablename__ = "account"
    __console__ = Options(
        natural_key="email",
        uneditable=("last_login_at",),
        bulk_edit=(),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(EMAIL_MAX), unique=True, info={"format": "email"})
    password_hash: Mapped[str] = mapped_column(String(255), info={"secret": True})
    role: Mapped[Role] = mapped_column(
        Enum(
            Role,
            name="role",
            native_enum=False,
            create_constraint=True,
            length=10,
            values_callable=lambda e: [m.value for m in e],
            validate_strings=True,
        ),
        default=Role.viewer,
        server_default=Role.viewer.value,
    )
    active: Mapped[bool] = mapped_column(
        Boolean(create_constraint=True, name="active_bool"), default=True, server_default=true()
    )
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Part of every session cookie of the account (get_id): a new value ends them all,
    # on every instance, at the cost of no query beyond the one that loads the account.
    # Random rather than a counter, so that a reused id never revives an old cookie.
    session_token: Mapped[str] = mapped_column(
        String(32), default=new_session_token, info={"secret": True}
    )
    # Base32 TOTP secret; NULL while two-factor sign-in is off.
    totp_secret: Mapped[str | None] = mapped_column(String(32), info={"secret": True})
    # The last TOTP time step accepted: a code is good once, never replayed.
    totp_last_step: Mapped[int | None] = mapped_column(Integer, info={"secret": True})

    @validates("email")
    def _lower_email(self, _key: str, value: str) -> str:
        return normalise_email(value)

    def set_password(self, password: str) -> None:
        """Store a salted hash of ``password``; the password itself is never kept."""
        self.password_hash = generate_password_hash(password, method=PASSWORD_HASH_METHOD)

    def check_password(self, password: str) -> bool:
        """True when ``password`` matches the stored hash."""
        return check_password_hash(self.password_hash, password)

    def end_sessions(self) -> None:
        """End every session of this account (on its next request, on every instance)."""
        self.session_token = new_session_token()

    @property
    def two_factor_enabled(self) -> bool:
        """True when signing in also needs a code from an authenticator app."""
        return self.totp_secret is not None

    # Flask-Login's user protocol, spelled out so the model does not import Flask.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        # Flask-Login keeps this in the session cookie; the user loader checks both parts.
        return f"{self.id}:{self.session_token}"

    def has_role(self, role: Role) -> bool:
        """True when the account is active and its role includes ``role``."""
        return self.active and Role(self.role).includes(role)

    def __str__(self) -> str:
        return self.email


def _changed(obj: Any, key: str) -> bool:
    history = inspect(obj).attrs[key].history
    if not history.added:
        return False
    # An old value that was never loaded cannot be compared: count it as a change.
    return not history.deleted or history.deleted[0] != history.added[0]


@event.listens_for(Session, "before_flush")
def _end_sessions_on_change(session: Session, _context: Any, _instances: Any) -> None:
    """A new password, role or active flag ends the account's sessions, whoever sets it.

    The admin's account form, the command line and scripts all change accounts through
    the ORM, so this one listener covers them without each remembering to.
    """
    for obj in session.dirty:
        if not isinstance(obj, Account) or not inspect(obj).persistent:
            continue
        if _changed(obj, "session_token"):
            continue
        if any(_changed(obj, key) for key in SESSION_ENDING_COLUMNS):
            obj.end_sessions()


@event.listens_for(Session, "do_orm_execute")
def _end_sessions_on_bulk_update(state: ORMExecuteState) -> Any:
    """The same for ORM ``update(Account)`` statements, which bypass the flush.

    Core statements on the account table (no ORM) are not seen here: they must set
    ``session_token`` themselves when they change a password, role or active flag.
    """
    statement = state.statement
    if not state.is_update or not isinstance(statement, Update):
        return None
    mapper = state.bind_mapper
    if mapper is None or not issubclass(mapper.class_, Account):
        return None
    params = state.parameters
    if isinstance(params, list):
        # An UPDATE by primary key: its rows name the columns it sets.
        columns = {str(key) for row in params for key in row}
    else:
        # The SET clause's parameters carry the column keys; the WHERE clause's are numbered.
        columns = set(statement.compile().params) | {str(key) for key in params or {}}
    if "session_token" in columns or not columns.intersection(SESSION_ENDING_COLUMNS):
        return None
    token = new_session_token()
    if isinstance(params, list):
        return state.invoke_statement(params=[{**row, "session_token": token} for row in params])
    return state.invoke_statement(statement=statement.values(session_token=token))
