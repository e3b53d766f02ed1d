"""Writing audit entries. No Flask imports: callers pass the account (or None)."""

from __future__ import annotations

from typing import Any

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
