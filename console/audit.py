"""The audit log: writing entries and the queries pages make of it. No Flask imports."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from console.models import AuditEntry


def record(
    session: Session,
    action: str,
    *,
    account: Any = None,
    model: str | None = None,
    object_id: Any = None,
    changes: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add an audit entry to ``session``: it commits or rolls back with the change it records."""
    entry = AuditEntry(
        action=action,
        account_id=getattr(account, "id", None),
        account_email=getattr(account, "email", None),
        model=model,
        object_id=None if object_id is None else str(object_id),
        changes=changes,
    )
    session.add(entry)
    return entry


def last_change(session: Session, model_name: str, object_id: Any) -> AuditEntry | None:
    """The newest audit entry about one row."""
    return session.scalar(
        select(AuditEntry)
        .where(AuditEntry.model == model_name, AuditEntry.object_id == str(object_id))
        .order_by(AuditEntry.id.desc())
        .limit(1)
    )


def entries_for(
    session: Session, model_name: str, object_id: Any, limit: int
) -> list[AuditEntry]:
    """One row's entries, newest first, at most ``limit``."""
    return list(
        session.scalars(
            select(AuditEntry)
            .where(AuditEntry.model == model_name, AuditEntry.object_id == str(object_id))
            .order_by(AuditEntry.id.desc())
            .limit(limit)
        )
    )
