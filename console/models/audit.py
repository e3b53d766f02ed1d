"""The audit trail: who changed what, when, with the values before and after."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from console.declare import Options
from console.models.base import Base, utcnow


class AuditEntry(Base):
    """One recorded action. Entries are only ever inserted."""

    __tablename__ = "audit_entry"
    __console__ = Options(
        singular="audit entry", plural="audit entries", read_only=True, bulk_edit=()
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    # The account may be deleted later; its email is copied so the entry still says who.
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL"), index=True
    )
    account_email: Mapped[str | None] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(40), index=True)
    model: Mapped[str | None] = mapped_column(String(60), index=True)
    object_id: Mapped[str | None] = mapped_column(String(64))
    changes: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    def __str__(self) -> str:
        return f"{self.action} {self.model or ''} {self.object_id or ''}".strip()
