"""Counters over time windows in the database, shared by every instance. No Flask.

Sign-in throttling, the login's per-client rate limit and the folding of failed-login
audit entries all count "how many times did X happen in this window" for keys that
many web instances see at once. The counts live in ``login_throttle`` (one row per
key), so they hold across instances and restarts, on SQLite and PostgreSQL alike.

An attempt is counted *before* the work it guards (a password check), in its own
short transaction that locks the key's row: twenty parallel attempts against a limit
of five are serialised on that row, and exactly five of them go on to the check.
The check itself runs after the commit, so no lock is held while a hash is computed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from console.extensions import rowcount
from console.models import AuditEntry, LoginThrottle
from console.models.base import utcnow

TABLE = cast(Table, LoginThrottle.__table__)
# A lock never lasts longer than this, however often it doubled.
MAX_LOCK = timedelta(days=1)
# A key quiet for this long starts over: its lock count goes back to zero.
STALE = timedelta(days=1)
# No request waits longer than this on another's counter row (PostgreSQL).
LOCK_TIMEOUT_MS = 5000


@dataclass(frozen=True)
class Limit:
    """At most ``max_hits`` counted hits of ``key`` per ``window``.

    With ``lock`` set, going over locks the key for that long, twice as long each time
    it locks again (sign-in failures); without it, hits are refused until the window
    ends (a rate limit).
    """

    key: str
    max_hits: int
    window: timedelta
    lock: timedelta | None = None


@dataclass(frozen=True)
class Decision:
    """Whether an attempt may go on, and if not, which key refused it and for how long."""

    allowed: bool
    refused_by: str | None = None
    retry_after: timedelta | None = None


_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def parse_rate(text: str) -> tuple[int, timedelta]:
    """``"30/minute"`` (or ``"30 per minute"``) as (30, one minute); ValueError if malformed."""
    count, sep, unit = text.replace(" per ", "/").partition("/")
    unit = unit.strip().lower().removesuffix("s")
    if not sep or not count.strip().isdigit() or int(count) < 1 or unit not in _UNITS:
        raise ValueError(
            f"a rate is a number per second, minute, hour or day (30/minute), not {text!r}"
        )
    return int(count), timedelta(seconds=_UNITS[unit])


def client_key(address: str | None) -> str:
    """The throttling key of a client address: IPv6 by its /64 network, which one host holds."""
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def reserve(session: Session, limits: Iterable[Limit], now: datetime | None = None) -> Decision:
    """Count one attempt against every limit at once, or refuse it and count nothing.

    Commits ``session``: the count must be in the database before the guarded work
    starts, and its row locks must not be held while that work runs. Every call runs
    the same statements whatever it decides, so its duration says nothing either.
    """
    now = now or utcnow()
    by_key = {limit.key: limit for limit in limits}
    conn = session.connection()
    _set_lock_timeout(conn)
    states = {}
    # Rows are locked in key order, so that two attempts never wait on each other in a cycle.
    for key in sorted(by_key):
        states[key] = _State.of(_lock_row(conn, key, now))
    refusal: Decision | None = None
    for key in sorted(by_key):
        verdict = states[key].admit(by_key[key], now)
        if verdict is not None and refusal is None:
            refusal = Decision(False, key, verdict)
    for key in sorted(by_key):
        state = states[key]
        if refusal is None:
            state.hits += 1
        _write(conn, key, state)
    session.commit()
    return refusal or Decision(True)


def reset(session: Session, keys: Iterable[str]) -> None:
    """Forget the counts and locks of ``keys`` (after a success); the caller commits."""
    keys = sorted(set(keys))
    if keys:
        session.execute(
            update(TABLE)
            .where(TABLE.c.key.in_(keys))
            .values(hits=0, locks=0, locked_until=None, window_start=utcnow())
        )


def release(session: Session, keys: Iterable[str]) -> None:
    """Take back one counted attempt of ``keys`` (it succeeded); the caller commits.

    Earlier failures stay counted: a success only undoes its own count, so signing in
    to an account of one's own does not wipe out failures at another.
    """
    keys = sorted(set(keys))
    if keys:
        session.execute(
            update(TABLE)
            .where(TABLE.c.key.in_(keys), TABLE.c.hits > 0)
            .values(hits=TABLE.c.hits - 1)
        )


def fold_audit(
    session: Session,
    key: str,
    window: timedelta,
    entry: dict[str, Any],
    merge: Callable[[dict[str, Any]], dict[str, Any]],
    now: datetime | None = None,
) -> None:
    """Record ``entry`` (audit_entry values) once per ``key`` and window; fold repeats into it.

    A repeat within the window replaces the entry's ``changes`` with ``merge(changes)``
    instead of adding a row, so a flood of failures cannot fill the audit log. Commits
    ``session``.
    """
    now = now or utcnow()
    conn = session.connection()
    _set_lock_timeout(conn)
    state = _State.of(_lock_row(conn, "audit:" + key, now))
    changes = None
    if state.audit_entry_id is not None and now - state.window_start < window:
        changes = conn.scalar(
            select(AuditEntry.changes).where(AuditEntry.id == state.audit_entry_id)
        )
    if changes is not None:
        conn.execute(
            update(AuditEntry)
            .where(AuditEntry.id == state.audit_entry_id)
            .values(changes=merge(changes))
        )
        state.hits += 1
    else:
        state.audit_entry_id = conn.scalar(
            insert(AuditEntry).values(at=now, **entry).returning(AuditEntry.id)
        )
        state.hits, state.window_start = 1, now
    _write(conn, "audit:" + key, state)
    session.commit()


def prune(session: Session, before: datetime) -> int:
    """Delete counters idle since ``before`` and not locked any more; the caller commits."""
    result = session.execute(
        delete(TABLE).where(
            TABLE.c.window_start < before,
            (TABLE.c.locked_until.is_(None)) | (TABLE.c.locked_until < utcnow()),
        )
    )
    return rowcount(result)


@dataclass
class _State:
    window_start: datetime
    hits: int
    locks: int
    locked_until: datetime | None
    audit_entry_id: int | None

    @classmethod
    def of(cls, row: Any) -> _State:
        return cls(
            _aware(row.window_start),
            row.hits,
            row.locks,
            _aware(row.locked_until) if row.locked_until is not None else None,
            row.audit_entry_id,
        )

    def admit(self, limit: Limit, now: datetime) -> timedelta | None:
        """Bring the window up to ``now``; None when one more hit fits, else how long to wait."""
        if self.locked_until is not None:
            if self.locked_until > now:
                return self.locked_until - now
            self.locked_until, self.hits, self.window_start = None, 0, now
        if now - self.window_start >= limit.window:
            if now - self.window_start >= STALE:
                self.locks = 0
            self.hits, self.window_start = 0, now
        if self.hits < limit.max_hits:
            return None
        if limit.lock is None:
            return self.window_start + limit.window - now
        self.locks += 1
        self.locked_until = now + min(limit.lock * 2 ** (self.locks - 1), MAX_LOCK)
        return self.locked_until - now


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; they were written in UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=utcnow().tzinfo)


def _lock_row(conn: Connection, key: str, now: datetime) -> Any:
    """The row of ``key`` (created if missing), locked until the transaction ends."""
    row = {"key": key, "window_start": now, "hits": 0, "locks": 0}
    # A no-op update of an existing row: it takes the row lock (PostgreSQL) or the write
    # lock (SQLite) and returns the row as committed, in one statement.
    if conn.dialect.name == "postgresql":
        pg = postgresql.insert(TABLE).values(**row)
        upsert: postgresql.Insert | sqlite.Insert = pg.on_conflict_do_update(
            index_elements=[TABLE.c.key], set_={"key": pg.excluded.key}
        )
    elif conn.dialect.name == "sqlite":
        lite = sqlite.insert(TABLE).values(**row)
        upsert = lite.on_conflict_do_update(
            index_elements=[TABLE.c.key], set_={"key": lite.excluded.key}
        )
    else:
        raise RuntimeError(
            f"Sign-in throttling supports PostgreSQL and SQLite, not {conn.dialect.name}"
        )
    return conn.execute(upsert.returning(*TABLE.c)).one()


def _write(conn: Connection, key: str, state: _State) -> None:
    conn.execute(
        update(TABLE)
        .where(TABLE.c.key == key)
        .values(
            window_start=state.window_start,
            hits=state.hits,
            locks=state.locks,
            locked_until=state.locked_until,
            audit_entry_id=state.audit_entry_id,
        )
    )


def _set_lock_timeout(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = {LOCK_TIMEOUT_MS}")
