"""Audit retention: deleting entries older than the retention period, itself audited. No Flask."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from console.audit import record
from console.auth import throttle
from console.extensions import rowcount
from console.models import AuditEntry
from console.models.base import utcnow


@dataclass(frozen=True)
class PruneResult:
    """What a prune deleted (or would delete): entries before ``before``."""

    deleted: int
    before: datetime
    days: int
    dry_run: bool = False

    def describe(self) -> str:
        """One line for the command line."""
        verb = "Would delete" if self.dry_run else "Deleted"
        return (
            f"{verb} {self.deleted} audit entr{'y' if self.deleted == 1 else 'ies'} from before "
            f"{self.before.isoformat(timespec='seconds')} (retention: {self.days} days)."
        )


def prune_audit(
    session: Session,
    *,
    days: int,
    actor: Any = None,
    dry_run: bool = False,
    now: datetime | None = None,
) -> PruneResult:
    """Delete the audit entries older than ``days`` days, and record that it did.

    One transaction: the entries go and the entry saying how many went, and up to
    when, is written together, or neither happens. Commits ``session``. Stale sign-in
    counters (console.auth.throttle) go too.
    """
    if days < 1:
        raise ValueError("the retention period is at least one day")
    now = now or utcnow()
    before = now - timedelta(days=days)
    old = AuditEntry.at < before
    if dry_run:
        count = session.scalar(select(func.count()).select_from(AuditEntry).where(old)) or 0
        session.rollback()
        return PruneResult(count, before, days, dry_run=True)
    deleted = rowcount(session.execute(delete(AuditEntry).where(old)))
    throttle.prune(session, now - throttle.STALE)
    record(
        session,
        "audit_pruned",
        account=actor,
        model="AuditEntry",
        changes={
            "summary": {
                "deleted": deleted,
                "before": before.isoformat(timespec="seconds"),
                "retention days": days,
            }
        },
    )
    session.commit()
    return PruneResult(deleted, before, days)
