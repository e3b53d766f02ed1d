"""Tables of sign-in security: throttling counters and two-factor recovery codes.

Written through Core statements only (never ORM flushes), so the change history
records none of their rows: counters and code hashes are not changes anyone made.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from console.models.base import Base, utcnow


class LoginThrottle(Base):
    """One counter over a time window, shared by every instance through the database.

    Keys name what is counted: ``pair:<email>|<address>``, ``address:<address>``,
    ``account:<email>``, ``device:<id>``, ``code:<account id>`` (failed sign-ins),
    ``rate:<address>`` (sign-in requests) and ``audit:...`` (failures folded into one
    audit entry, which ``audit_entry_id`` names).
    """

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(320), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    hits: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # How many times in a row the key was locked: each lock lasts twice the one before.
    locks: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Pruning the audit log may delete the entry; the next failure starts a new one.
    audit_entry_id: Mapped[int | None] = mapped_column(
        ForeignKey("audit_entry.id", ondelete="SET NULL"), index=True
    )


class RecoveryCode(Base):
    """A one-time code that stands in for the authenticator app; only its hash is kept."""

    __tablename__ = "recovery_code"
    __table_args__ = (UniqueConstraint("account_id", "code_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    # SHA-256 of the normalised code: 80 random bits need no slow hash.
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), default=utcnow
    )
