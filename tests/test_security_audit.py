"""Audit retention: `console audit prune` deletes old entries and records that it did."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from console.models import AuditEntry, LoginThrottle, Role
from console.models.base import utcnow
from tests.conftest import count, make_account
from tests.test_security_throttle import _attempt


def _entry(db, action, days_ago):
    entry = AuditEntry(action=action, at=utcnow() - timedelta(days=days_ago), model="Todo")
    db.session.add(entry)
    db.session.commit()
    return entry.id


def test_prune_deletes_what_is_older_than_the_retention_and_says_so(app, db, runner):
    app.config["CONSOLE_AUDIT_RETENTION_DAYS"] = 30
    old = [_entry(db, "update", days) for days in (400, 90, 31)]
    kept = [_entry(db, "update", days) for days in (29, 1, 0)]
    result = runner.invoke(args=["audit", "prune"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Deleted 3 audit entries from before ")
    assert "(retention: 30 days)" in result.output
    db.session.expire_all()
    ids = set(db.session.scalars(select(AuditEntry.id)))
    assert not ids & set(old) and set(kept) <= ids
    pruned = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "audit_pruned"))
    summary = pruned.changes["summary"]
    assert summary["deleted"] == 3 and summary["retention days"] == 30
    cutoff = summary["before"]
    assert (utcnow() - timedelta(days=30)).isoformat()[:13] == cutoff[:13]


def test_prune_takes_the_days_from_the_command_line_too(db, runner):
    _entry(db, "update", 10)
    _entry(db, "update", 3)
    result = runner.invoke(args=["audit", "prune", "--days", "5"])
    assert "Deleted 1 audit entry from before" in result.output
    assert count(AuditEntry, AuditEntry.action == "update") == 1


def test_a_dry_run_only_counts(db, runner):
    _entry(db, "update", 500)
    result = runner.invoke(args=["audit", "prune", "--days", "100", "--dry-run"])
    assert result.exit_code == 0
    assert result.output.startswith("Would delete 1 audit entry")
    assert count(AuditEntry) == 1


def test_the_retention_cannot_be_zero(runner):
    result = runner.invoke(args=["audit", "prune", "--days", "0"])
    assert result.exit_code != 0


def test_pruning_a_folded_failure_entry_starts_a_new_one(app, db, runner, monkeypatch):
    make_account(Role.admin, "admin@example.com")
    _attempt(app, "198.51.100.60")
    entry_id = db.session.scalar(select(AuditEntry.id).where(AuditEntry.action == "login_failed"))
    db.session.execute(
        AuditEntry.__table__.update()
        .where(AuditEntry.id == entry_id)
        .values(at=utcnow() - timedelta(days=400))
    )
    db.session.commit()
    assert runner.invoke(args=["audit", "prune", "--days", "365"]).exit_code == 0
    db.session.expire_all()
    assert db.session.scalar(
        select(func.count()).select_from(LoginThrottle).where(
            LoginThrottle.audit_entry_id == entry_id
        )
    ) == 0
    _attempt(app, "198.51.100.60")
    db.session.expire_all()
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "login_failed"))
    assert [e.changes["summary"]["attempts"] for e in entries] == [1]


def test_prune_drops_stale_sign_in_counters(app, db, runner):
    make_account(Role.admin, "admin@example.com")
    _attempt(app, "198.51.100.61")
    db.session.execute(
        LoginThrottle.__table__.update().values(window_start=utcnow() - timedelta(days=3))
    )
    db.session.commit()
    _attempt(app, "198.51.100.62")
    runner.invoke(args=["audit", "prune"])
    db.session.expire_all()
    keys = set(db.session.scalars(select(LoginThrottle.key)))
    assert not any("198.51.100.61" in key for key in keys)
    assert any("198.51.100.62" in key for key in keys)
