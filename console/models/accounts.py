"""The console's own user accounts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Enum, Integer, String, true
from sqlalchemy.orm import Mapped, mapped_column, validates
from werkzeug.security import check_password_hash, generate_password_hash

from console.declare import Options
from console.models.base import Base, TimestampMixin
from console.rules import EMAIL_MAX, Role, normalise_email

# werkzeug's default (scrypt). Tests lower the cost: hashing is deliberately slow.
PASSWORD_HASH_METHOD = "scrypt"  # noqa: S105 - a method name, not a password


class Account(TimestampMixin, Base):
    """A person who may log in to the console, with one role."""

    __tablename__ = "account"
    __console__ = Options(
        natural_key="email",
        hidden=("failed_logins", "locked_until"),
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
    # Kept in the database, not in process memory, so a lock holds across workers.
    failed_logins: Mapped[int] = mapped_column(
        Integer, default=0, server_default="0", info={"secret": True}
    )
    locked_until: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), info={"secret": True}
    )

    @validates("email")
    def _lower_email(self, _key: str, value: str) -> str:
        return normalise_email(value)

    def set_password(self, password: str) -> None:
        """Store a salted hash of ``password``; the password itself is never kept."""
        self.password_hash = generate_password_hash(password, method=PASSWORD_HASH_METHOD)

    def check_password(self, password: str) -> bool:
        """True when ``password`` matches the stored hash."""
        return check_password_hash(self.password_hash, password)

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
        return str(self.id)

    def has_role(self, role: Role) -> bool:
        """True when the account is active and its role includes ``role``."""
        return self.active and Role(self.role).includes(role)

    def __str__(self) -> str:
        return self.email
