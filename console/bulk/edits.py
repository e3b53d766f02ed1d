"""Bulk edits: "Set <column>" on the selected rows of any model, in one transaction.

Every column in ``ModelDescription.bulk_columns`` can be set (booleans, choices,
dates, date-times, numbers, references). The confirmation page carries, for each
selected row, the token it was loaded with (``console.versions``: its version, or
the values shown when the model has no version column); ``apply`` locks the rows
and writes only when every one of them is still what was shown, so nobody's newer
edit is overwritten. The write is one UPDATE; each row it changes gets its own
audit entry, as an edit through the form would (so the row's history shows it and
it can be reverted), and the edit as a whole one summary entry.

Plain SQLAlchemy, no Flask: the views parse the form with ``parse_value`` and
``parse_row_refs`` and call ``apply``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from console import audit, rules
from console.catalogue import ColumnInfo, ModelDescription, table_of
from console.history import Actor, current_actor, json_value
from console.models import AuditEntry
from console.versions import Conflict, Loaded, MissingToken, check_object, parse_token, token_of

SUMMARY_ACTION = "bulk_set"
# Ids per statement: under SQLite's bound-parameter limit (32,766), so a selection of
# every row matching a filter (up to CONSOLE_MAX_MATCHING) is locked and written in parts.
CHUNK = 10_000


@dataclass
class Outcome:
    """What a bulk edit did: the rows it changed, or the rows that moved on meanwhile.

    ``written`` rows were changed; ``unchanged`` already held the value (checked, not
    written). When ``stale`` (changed by someone since they were shown) or
    ``missing`` (deleted since) is not empty, nothing was written.
    """

    written: int = 0
    unchanged: int = 0
    stale: list[Any] = field(default_factory=list)
    missing: list[Any] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the edit was written."""
        return not self.stale and not self.missing


def choices(description: ModelDescription) -> list[ColumnInfo]:
    """The columns a bulk edit may set, in the model's column order."""
    if description.read_only:
        return []
    return list(description.bulk_columns)


def column_of(description: ModelDescription, column_key: str) -> ColumnInfo:
    """The bulk-editable column ``column_key``, or RuleError."""
    info = description.find(column_key)
    if info is None or not any(c is info for c in choices(description)):
        raise rules.RuleError(f"{description.title}: {column_key!r} cannot be set in bulk.")
    return info


def parse_value(
    session: Session, description: ModelDescription, column_key: str, raw: str | None,
    *, by_key: bool = False,
) -> Any:
    """The value ``raw`` (as a form posts it) sets the column to, by the column's rule.

    For a reference, ``raw`` is the parent's primary key (what an ajax lookup posts;
    ``by_key``: its natural key, as files and the classic pages name it), or blank
    for none where the column may be empty; a parent that does not exist is refused.
    The value returned is what the column stores (the parent's key value for a
    reference). RuleError carries the message for the field.
    """
    info = column_of(description, column_key)
    text = (raw or "").strip()
    if info.reference is not None:
        if not text:
            if info.nullable:
                return None
            raise rules.RuleError(f"{info.label} is required.")
        parent = description.parent_of(info)
        target = info.reference.target
        by = parent.natural_key if by_key else parent.pk
        wanted = by.kind.lookup_key(text, label=info.label) if by_key else by.kind.parse(
            text, label=info.label
        )
        value = session.scalar(select(target).where(by.column == wanted))
        if value is None:
            shown = repr(wanted) if isinstance(wanted, str) else str(wanted)
            raise rules.RuleError(f"No {parent.singular} with {by.label.lower()} {shown}.")
        return value
    value = info.kind.parse(raw, label=info.label)
    if value is None and not info.nullable:
        raise rules.RuleError(f"{info.label} is required.")
    return value


# -- the selection ----------------------------------------------------------------------------


def selection(
    session: Session, description: ModelDescription, idents: Iterable[Any]
) -> list[tuple[Any, str]]:
    """The selected rows that exist, as (object, token), in primary-key order.

    What the confirmation page lists; it posts back ``row_ref`` of each.
    """
    wanted = [_ident(description, i) for i in idents]
    pk = getattr(description.cls, description.pk.key)
    objects: list[Any] = list(
        session.scalars(select(description.cls).where(pk.in_(wanted)).order_by(pk))
    )
    return [(obj, token_of(description, obj)) for obj in objects]


def row_ref(description: ModelDescription, obj: Any, token: str | None = None) -> str:
    """``<primary key>:<token>``: one selected row as the confirmation form carries it."""
    ident = getattr(obj, description.pk.key)
    return quote(str(ident), safe="") + ":" + (token or token_of(description, obj))


def parse_row_refs(description: ModelDescription, refs: Iterable[str]) -> dict[Any, str]:
    """``row_ref`` values (from the confirmation form) -> {primary key: token}, or RuleError."""
    rows: dict[Any, str] = {}
    for ref in refs:
        ident, sep, token = ref.partition(":")
        if not sep or not token:
            raise rules.RuleError(f"Malformed row reference {ref!r}.")
        rows[_ident(description, unquote(ident))] = token
    if not rows:
        raise rules.RuleError("No rows selected.")
    return rows


def _ident(description: ModelDescription, ident: Any) -> Any:
    """A primary key as posted (text) in the column's own type."""
    if not isinstance(ident, str):
        return ident
    value = description.pk.kind.parse(ident, label=description.pk.label)
    if value is None:
        raise rules.RuleError(f"Malformed row reference {ident!r}.")
    return value


# -- the edit -----------------------------------------------------------------------------------


def apply(
    session: Session,
    description: ModelDescription,
    column_key: str,
    value: Any,
    rows: dict[Any, str],
    account: Any = None,
) -> Outcome:
    """Set ``column_key`` to ``value`` (from ``parse_value``) on ``rows`` ({pk: token}).

    One transaction: the rows are locked; if any of them changed since its token was
    made, or is gone, nothing is written and the Outcome lists them. Otherwise one
    UPDATE sets the value (and bumps the version and the changed-at time, where the
    model has them) on the rows that do not hold it yet, one audit entry per changed
    row records it as an update, one ``bulk_set`` entry sums the edit up, and the
    session commits. RuleError for a malformed request (rolled back).
    """
    info = column_of(description, column_key)
    if not rows:
        raise rules.RuleError("No rows selected.")
    try:
        loaded = {_ident(description, i): parse_token(description, t) for i, t in rows.items()}
    except MissingToken as exc:
        raise rules.RuleError(str(exc)) from None
    except ValueError:
        raise rules.RuleError("Malformed row reference: reload the page and try again.") from None
    ids = sorted(loaded)
    current = _lock(session, description, info, ids)
    if info.reference is not None and value is not None:
        _lock_parent(session, description, info, value)
    outcome = Outcome(
        missing=[i for i in ids if i not in current],
        stale=[i for i in ids if i in current and not _still(description, current[i], loaded[i])],
    )
    if not outcome.ok:
        session.rollback()
        return outcome
    changed = [i for i in ids if not info.kind.same(getattr(current[i], info.key), value)]
    outcome.unchanged = len(ids) - len(changed)
    if changed:
        _write(session, description, info, value, changed)
    actor = Actor.of(account) or current_actor(session)
    _record(session, description, info, value, changed, current, actor)
    summary: dict[str, Any] = {
        "column": info.key,
        "label": info.label,
        "value": json_value(info.kind.python(value)),
        "count": len(ids),
        "changed": len(changed),
        "ids": [json_value(i) for i in ids],
    }
    if info.reference is not None and value is not None:
        parent = description.parent_of(info)
        summary["shown"] = json_value(session.scalar(
            select(parent.label.column).where(info.reference.target == value)
        ))
    audit.record(session, SUMMARY_ACTION, account=actor, model=description.model_name,
                 changes={"summary": summary})
    session.commit()
    outcome.written = len(changed)
    return outcome


def _lock(
    session: Session, description: ModelDescription, info: ColumnInfo, ids: list[Any]
) -> dict[Any, Any]:
    """The selected rows (pk, version or checked values, the column), locked until commit."""
    table = description.table
    pk = description.pk.column
    if session.get_bind().dialect.name == "sqlite":
        # SQLite starts its transaction (and takes the write lock) only on a write: a
        # no-op UPDATE first, so nobody can write between the check and the edit. (Every
        # column with an onupdate is named, or Core would set it: updated_at would move.)
        same = {c: c for c in table.columns if c is pk or c.onupdate is not None}
        for part in _chunks(ids):
            session.connection().execute(update(table).where(pk.in_(part)).values(same))
    checked = [description.version] if description.version else description.checked_columns
    wanted = [description.pk, info, *checked]
    columns = [c for c in description.columns if any(c is w for w in wanted)]
    found: dict[Any, Any] = {}
    for part in _chunks(ids):
        query = select(*(c.column.label(c.key) for c in columns)).where(
            pk.in_(part)
        ).with_for_update()
        found.update((row._mapping[description.pk.key], row) for row in session.execute(query))
    return found


def _chunks(ids: list[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def _lock_parent(
    session: Session, description: ModelDescription, info: ColumnInfo, value: Any
) -> None:
    """Keep the parent the rows will point to until commit, or RuleError if it is gone."""
    assert info.reference is not None
    target = info.reference.target
    found = session.scalar(
        select(target).where(target == value).with_for_update(key_share=True)
    )
    if found is None:
        session.rollback()
        parent = description.parent_of(info)
        raise rules.RuleError(
            f"The {parent.singular} chosen for {info.label.lower()} was deleted meanwhile: "
            "choose another."
        )


def _still(description: ModelDescription, row: Any, loaded: Loaded) -> bool:
    """True when a locked row is still what its token says was shown."""
    try:
        check_object(description, row, loaded)
    except Conflict:
        return False
    return True


def _write(
    session: Session, description: ModelDescription, info: ColumnInfo, value: Any,
    changed: list[Any],
) -> None:
    table = description.table
    pk = description.pk.column
    sets: dict[Any, Any] = {info.column: value}
    if description.version is not None:
        version = description.version.column
        sets[version] = version + 1
    # Core applies the columns' own onupdate (the changed-at time) as the ORM would.
    for part in _chunks(changed):
        written = session.connection().execute(update(table).where(pk.in_(part)).values(sets))
        if written.rowcount != len(part):  # the rows are locked: cannot happen
            raise RuntimeError("A bulk edit's locked rows changed under it")


def _record(
    session: Session, description: ModelDescription, info: ColumnInfo, value: Any,
    changed: list[Any], current: dict[Any, Any], actor: Actor | None,
) -> None:
    """One "update" entry per changed row, as the history records an edit of that column."""
    if not changed:
        return
    after = json_value(info.kind.python(value))
    session.connection().execute(insert(table_of(AuditEntry)), [
        {
            "action": "update",
            "account_id": actor.id if actor else None,
            "account_email": actor.email if actor else None,
            "model": description.model_name,
            "object_id": str(ident),
            "changes": {"before": {info.key: json_value(getattr(current[ident], info.key))},
                        "after": {info.key: after}},
        }
        for ident in changed
    ])


__all__ = [
    "SUMMARY_ACTION",
    "Outcome",
    "apply",
    "choices",
    "column_of",
    "parse_row_refs",
    "parse_value",
    "row_ref",
    "selection",
]
