"""Change history: every ORM create, update and delete becomes an AuditEntry in its own transaction.

Plain SQLAlchemy, no Flask. A session event turns each flush into audit rows, written
on the flush's own connection, so an entry commits or rolls back with its change.
The acting account comes from ``session.info["history_actor"]``, else the
``acting_as`` context, else the provider a web layer registers with
``set_actor_provider``.

Core statements (bulk actions, imports, database cascades) are not flushes and are
not seen here: their code records one summary entry itself. ORM code that records
its own summary wraps its work in ``suppressed(session)``.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, Date, DateTime, Enum, event, func, insert, inspect, select
from sqlalchemy.orm import Session

from console.catalogue import catalogue_of, mapper_of, table_of
from console.declare import OnDelete
from console.models import AuditEntry


def untracked_on_update(cls: type) -> frozenset[str]:
    """Bookkeeping columns: they change with every write and say nothing a reader needs.

    The row version, timestamps the application or database fills in, and columns a
    declaration marks ``uneditable`` (an account's last login), by the catalogue.
    """
    cached = _UNTRACKED.get(cls)
    if cached is None:
        catalogue = catalogue_of(cls)
        description = catalogue.get(cls) if catalogue else None
        if description is None:
            # Not described (yet): the row version and self-updating columns.
            mapper = mapper_of(cls)
            version = mapper.version_id_col
            return frozenset(
                p.key for p in mapper.column_attrs
                if p.columns[0] is version or getattr(p.columns[0], "onupdate", None) is not None
            )
        cached = frozenset(c.key for c in description.columns if c.bookkeeping or c.uneditable)
        _UNTRACKED[cls] = cached
    return cached


_UNTRACKED: dict[type, frozenset[str]] = {}

# Markers, not secrets: what an entry shows when a password changed.
SECRET_BEFORE = "(not recorded)"  # noqa: S105
SECRET_AFTER = "(changed)"  # noqa: S105

ACTOR_KEY = "history_actor"
SUPPRESS_KEY = "history_suppressed"
ACTION_KEY = "history_update_action"
EXTRA_KEY = "history_extra"
_PENDING_DELETES = "_history_pending_deletes"
_UNLOADED_BEFORE = "_history_unloaded_before"


@dataclass(frozen=True)
class Actor:
    """Who made a change, copied so the entry outlives the account."""

    id: int | None
    email: str | None

    @classmethod
    def of(cls, account: Any) -> Actor | None:
        """An Actor from an Account-like object (or None)."""
        if account is None:
            return None
        if isinstance(account, Actor):
            return account
        return cls(getattr(account, "id", None), getattr(account, "email", None))


_acting: ContextVar[Actor | None] = ContextVar("console_history_actor", default=None)
_provider: Callable[[], Any] | None = None


def set_actor_provider(provider: Callable[[], Any] | None) -> None:
    """Register where the current account comes from when nothing closer says (the web layer)."""
    global _provider
    _provider = provider


@contextmanager
def acting_as(account: Any) -> Iterator[None]:
    """Attribute changes made inside the block to ``account`` (CLI, scripts, tests)."""
    token = _acting.set(Actor.of(account))
    try:
        yield
    finally:
        _acting.reset(token)


@contextmanager
def suppressed(session: Session) -> Iterator[None]:
    """Record nothing for flushes inside the block: the caller writes its own summary entry."""
    previous = session.info.get(SUPPRESS_KEY)
    session.info[SUPPRESS_KEY] = True
    try:
        yield
    finally:
        session.info[SUPPRESS_KEY] = previous


@contextmanager
def update_action(session: Session, action: str, **extra: Any) -> Iterator[None]:
    """Name updates flushed inside the block ``action`` (e.g. "revert"), with ``extra`` keys."""
    saved = session.info.get(ACTION_KEY), session.info.get(EXTRA_KEY)
    session.info[ACTION_KEY] = action
    session.info[EXTRA_KEY] = extra
    try:
        yield
    finally:
        session.info[ACTION_KEY], session.info[EXTRA_KEY] = saved


def current_actor(session: Session) -> Actor | None:
    """The account a change in ``session`` is attributed to, if any."""
    actor = session.info.get(ACTOR_KEY) or _acting.get()
    if actor is None and _provider is not None:
        actor = _provider()
    return Actor.of(actor)


# -- values -------------------------------------------------------------------------------


def json_value(value: Any) -> Any:
    """A JSON-safe copy of a column value (dates as ISO strings, enums as their value)."""
    if isinstance(value, enum.Enum):
        return value.value
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    return str(value)


def python_value(column: Column, value: Any) -> Any:
    """The inverse of ``json_value`` for ``column``: what to assign when restoring a value."""
    if value is None:
        return None
    column_type = column.type
    if isinstance(column_type, Enum) and column_type.enum_class is not None:
        return column_type.enum_class(value)
    if isinstance(column_type, DateTime):
        return datetime.fromisoformat(value)
    if isinstance(column_type, Date):
        return date.fromisoformat(value)
    return value


def tracked_model(obj_or_class: Any) -> bool:
    """Every mapped model has a history, except the audit trail itself."""
    cls = obj_or_class if isinstance(obj_or_class, type) else type(obj_or_class)
    return cls is not AuditEntry and not issubclass(cls, AuditEntry)


def tracked_columns(cls: type) -> dict[str, Column]:
    """Attribute key -> table column of what history records: never secrets (hashes, lock-outs)."""
    mapper = mapper_of(cls)
    columns: dict[str, Column] = {}
    for prop in mapper.column_attrs:
        column = prop.columns[0]
        if not isinstance(column, Column) or column.table is not mapper.local_table:
            continue
        if column.info.get("secret"):
            continue
        columns[prop.key] = column
    return columns


def snapshot(obj: Any, *, loaded_only: bool = False) -> dict[str, Any]:
    """The tracked values of ``obj``, JSON-safe; ``loaded_only`` never triggers a query."""
    state = inspect(obj)
    values = {}
    for key in tracked_columns(type(obj)):
        if loaded_only:
            # A column left unset on a new row is NULL in the INSERT.
            values[key] = json_value(state.dict.get(key))
        else:
            values[key] = json_value(getattr(obj, key))
    return values


def changed_values(
    obj: Any, committed: dict[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(before, after) of the tracked fields whose value changed in this flush.

    ``committed`` supplies old values the ORM never loaded (an expired attribute
    that was assigned without being read).
    """
    state = inspect(obj)
    committed = committed or {}
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    untracked = untracked_on_update(type(obj))
    for key in tracked_columns(type(obj)):
        if key in untracked:
            continue
        history = state.attrs[key].history
        if not history.added and not history.deleted:
            continue
        old = json_value(history.deleted[0]) if history.deleted else committed.get(key)
        new = json_value(history.added[0]) if history.added else None
        if old == new:
            continue
        before[key] = old
        after[key] = new
    # That a password changed is worth knowing; its hash is never recorded.
    for prop in state.mapper.column_attrs:
        column = prop.columns[0]
        secret_password = (
            isinstance(column, Column) and column.info.get("secret") and "password" in prop.key
        )
        if secret_password and state.attrs[prop.key].history.added:
            before["password"] = SECRET_BEFORE
            after["password"] = SECRET_AFTER
    return before, after


def _object_id(obj: Any) -> str | None:
    state = inspect(obj)
    if state.identity is not None:
        return ",".join(str(v) for v in state.identity)
    mapper = state.mapper
    values = [state.dict.get(mapper.get_property_by_column(c).key) for c in mapper.primary_key]
    if any(v is None for v in values):
        return None
    return ",".join(str(v) for v in values)


# -- the session events -------------------------------------------------------------------


def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    # A deleted row's values must be read while it can still be loaded.
    if session.info.get(SUPPRESS_KEY):
        return
    pending = session.info.setdefault(_PENDING_DELETES, {})
    for obj in session.deleted:
        if tracked_model(obj) and inspect(obj).persistent:
            pending[id(obj)] = (_object_id(obj), snapshot(obj), database_effects(session, obj))
    unloaded = session.info.setdefault(_UNLOADED_BEFORE, {})
    for obj in session.dirty:
        if tracked_model(obj) and obj not in session.deleted:
            missing = _assigned_without_old_value(obj)
            if missing:
                unloaded[id(obj)] = _committed_row(session, obj, missing)


def database_effects(session: Session, obj: Any) -> dict[str, Any]:
    """What the database's ON DELETE rules will do to other rows when ``obj`` goes.

    Those rows change without a flush of their own (passive deletes), so the parent's
    entry carries their counts: ``{"cascade": {"Step": 3}, "set_null": {"Task.reviewer_id": 1}}``.
    The edges are the catalogue's, the ones the delete preview follows.
    """
    state = inspect(obj)
    catalogue = catalogue_of(type(obj))
    if state.identity is None or catalogue is None:
        return {}
    effects: dict[str, dict[str, int]] = {}
    for edge in catalogue.children_of(type(obj)):
        if edge.policy is OnDelete.RESTRICT:
            continue
        target = getattr(obj, state.mapper.get_property_by_column(edge.target).key)
        count = session.connection().scalar(
            select(func.count()).select_from(table_of(edge.child)).where(edge.fk == target)
        )
        if not count:
            continue
        if edge.policy is OnDelete.CASCADE:
            cascade = effects.setdefault("cascade", {})
            cascade[edge.child.__name__] = cascade.get(edge.child.__name__, 0) + count
        else:
            effects.setdefault("set_null", {})[edge.name] = count
    return effects


def _assigned_without_old_value(obj: Any) -> list[str]:
    state = inspect(obj)
    columns = tracked_columns(type(obj))
    missing = []
    untracked = untracked_on_update(type(obj))
    for key in columns:
        if key in untracked:
            continue
        history = state.attrs[key].history
        if history.added and not history.deleted:
            missing.append(key)
    # A reference assigned through its relationship sets the foreign key only during the
    # flush; if that key was never loaded, its old value must be read now.
    for rel in state.mapper.relationships:
        if rel.direction.name != "MANYTOONE" or not state.attrs[rel.key].history.has_changes():
            continue
        for column in rel.local_columns:
            key = state.mapper.get_property_by_column(column).key
            if key in columns and key not in state.dict and key not in missing:
                missing.append(key)
    return missing


def _committed_row(session: Session, obj: Any, keys: list[str]) -> dict[str, Any]:
    """The database's current values of ``keys`` for ``obj`` (read before the UPDATE)."""
    state = inspect(obj)
    if state.identity is None:
        return {}
    mapper = state.mapper
    columns = tracked_columns(type(obj))
    where = [c == v for c, v in zip(mapper.primary_key, state.identity, strict=True)]
    row = session.connection().execute(
        select(*(columns[k] for k in keys)).where(*where)
    ).first()
    if row is None:
        return {}
    return {k: json_value(v) for k, v in zip(keys, row, strict=True)}


def _after_flush(session: Session, _context: Any) -> None:
    pending = session.info.pop(_PENDING_DELETES, {})
    unloaded = session.info.pop(_UNLOADED_BEFORE, {})
    if session.info.get(SUPPRESS_KEY):
        return
    actor = current_actor(session)
    update_name = session.info.get(ACTION_KEY) or "update"
    extra = session.info.get(EXTRA_KEY) or {}
    rows: list[dict[str, Any]] = []

    def add(action: str, obj: Any, object_id: str | None, changes: dict[str, Any]) -> None:
        rows.append(
            {
                "action": action,
                "account_id": actor.id if actor else None,
                "account_email": actor.email if actor else None,
                "model": type(obj).__name__,
                "object_id": object_id,
                "changes": changes,
            }
        )

    for obj in session.new:
        if tracked_model(obj):
            values = snapshot(obj, loaded_only=True)
            add("create", obj, _object_id(obj), {"before": {}, "after": values})
    for obj in session.dirty:
        if not tracked_model(obj) or obj in session.deleted:
            continue
        before, after = changed_values(obj, unloaded.get(id(obj)))
        if after or before:
            add(update_name, obj, _object_id(obj), {"before": before, "after": after, **extra})
    for obj in session.deleted:
        if not tracked_model(obj):
            continue
        object_id, values, effects = pending.get(
            id(obj), (_object_id(obj), snapshot(obj, loaded_only=True), {})
        )
        add("delete", obj, object_id, {"before": values, "after": {}, **effects})
    if rows:
        session.connection().execute(insert(table_of(AuditEntry)), rows)


# -- reading it back --------------------------------------------------------------------------

# Updates (and earlier reverts) carry the "before" values a revert can restore.
REVERTIBLE_ACTIONS = frozenset({"update", "revert"})


def values_at_version(session: Session, obj: Any, loaded: int | None) -> dict[str, Any] | None:
    """The row's recorded values when it was at version ``loaded``, rebuilt from its history.

    Walks back the per-row update entries since then; None when the history cannot
    say (fewer entries than versions: a change that left no per-row entry).
    """
    mapper = inspect(obj).mapper
    version_column = mapper.version_id_col
    if loaded is None or version_column is None:
        return None
    current = getattr(obj, mapper.get_property_by_column(version_column).key)
    if current is None or loaded >= current:
        return None
    steps = current - loaded
    identity = inspect(obj).identity
    updates = list(
        session.scalars(
            select(AuditEntry)
            .where(
                AuditEntry.model == type(obj).__name__,
                AuditEntry.object_id == ",".join(str(v) for v in identity or ()),
                AuditEntry.action.in_(tuple(REVERTIBLE_ACTIONS)),
            )
            .order_by(AuditEntry.id.desc())
            .limit(steps)
        )
    )
    if len(updates) < steps:
        return None
    values = snapshot(obj)
    for entry in updates:
        values.update((entry.changes or {}).get("before") or {})
    return values


def restorable_values(entry: AuditEntry, model: type) -> dict[str, Any]:
    """What a revert of ``entry`` writes back: its "before" values of the tracked columns."""
    if entry.action not in REVERTIBLE_ACTIONS or not isinstance(entry.changes, dict):
        return {}
    columns = tracked_columns(model)
    before = entry.changes.get("before") or {}
    return {
        key: value
        for key, value in before.items()
        if key in columns
        and key not in untracked_on_update(model)
        and not columns[key].primary_key
    }


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING_DELETES, None)
    session.info.pop(_UNLOADED_BEFORE, None)


def install(session_class: type[Session] = Session) -> None:
    """Listen to every flush of ``session_class`` (idempotent)."""
    if not event.contains(session_class, "before_flush", _before_flush):
        event.listen(session_class, "before_flush", _before_flush)
        event.listen(session_class, "after_flush", _after_flush)
        event.listen(session_class, "after_soft_rollback", _after_rollback_soft)


def _after_rollback_soft(session: Session, _previous_transaction: Any) -> None:
    _after_rollback(session)


install()
