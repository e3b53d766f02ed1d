"""No lost updates: what a user loaded travels with every write, and the write checks it.

A model with a version column (``version_id_col``) is checked by its version. A model
without one is checked by the values the user loaded: every column the console shows,
compared in the UPDATE's own WHERE clause, so nothing can slip in between the check
and the write. Both travel as one opaque ``token`` (a form's hidden field, a grid row,
a bulk edit's row reference); a write that lacks it is refused (``MissingToken``).

Plain SQLAlchemy, no Flask: forms, in-place edits, the grid and bulk edits all call
``guard`` (or build ``matches`` into their own UPDATE).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, inspect, select, update
from sqlalchemy.orm import Session

from console.catalogue import ModelDescription
from console.extensions import rowcount

VALUES_PREFIX = "values:"
# What a write without its token is told, on every write path.
MISSING = (
    "This change does not say which version of the record it was made on: "
    "reload the page and make it again."
)


class MissingToken(ValueError):
    """A write came without the version (or values) it was based on."""


class Conflict(Exception):
    """The row is no longer what the user loaded (or is gone): nothing was written."""

    def __init__(self, deleted: bool = False) -> None:
        super().__init__("changed" if not deleted else "deleted")
        self.deleted = deleted


@dataclass(frozen=True)
class Loaded:
    """What a user loaded of one row: its version, or the values of its checked columns."""

    version: int | None = None
    values: dict[str, Any] | None = None
    # The same values as the token carried them (JSON): what ``check_object`` compares.
    recorded: dict[str, Any] | None = None


def token_of(description: ModelDescription, obj: Any) -> str:
    """The token a page hands out for ``obj`` (a mapped object or a row with its columns)."""
    if description.version is not None:
        return str(getattr(obj, description.version.key))
    values = {
        c.key: c.kind.to_json(_stored(c, getattr(obj, c.key))) for c in description.checked_columns
    }
    raw = json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return VALUES_PREFIX + base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _stored(info: Any, value: Any) -> Any:
    """A reference is compared by its foreign key value, never by the parent object."""
    if value is not None and hasattr(value, "_sa_instance_state"):
        identity = inspect(value).identity
        return identity[0] if identity else None
    return value


def parse_token(description: ModelDescription, token: str | None) -> Loaded:
    """Read a token; MissingToken when there is none, ValueError when it is malformed."""
    text = (token or "").strip()
    if not text:
        raise MissingToken(MISSING)
    if description.version is not None:
        if not text.isascii() or not text.isdigit() or len(text) > 18:
            raise ValueError(f"Not a row version: {text!r}")
        return Loaded(version=int(text))
    if not text.startswith(VALUES_PREFIX):
        raise ValueError("Not a token of loaded values")
    encoded = text[len(VALUES_PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        data = json.loads(raw)
    except (ValueError, binascii.Error) as exc:
        raise ValueError("Not a token of loaded values") from exc
    if not isinstance(data, dict):
        raise ValueError("Not a token of loaded values")
    checked = {c.key: c for c in description.checked_columns}
    if set(data) != set(checked):
        # The page was made before the columns changed (a restart with new models).
        raise ValueError("The record's columns changed since the page was loaded")
    try:
        values = {key: checked[key].kind.from_json(value) for key, value in data.items()}
    except (ValueError, TypeError, KeyError, StopIteration) as exc:
        raise ValueError("Not a token of loaded values") from exc
    return Loaded(values=values, recorded=data)


def matches(description: ModelDescription, loaded: Loaded) -> ColumnElement[bool]:
    """The condition a row meets while it is still what the user loaded."""
    table = description.table
    if loaded.version is not None:
        assert description.version is not None
        return table.c[description.version.column.key] == loaded.version
    assert loaded.values is not None
    return and_(
        *(
            description.column(key).column.is_not_distinct_from(value)
            for key, value in loaded.values.items()
        )
    )


def guard(session: Session, description: ModelDescription, ident: Any, loaded: Loaded) -> None:
    """Lock the row if it is still what the user loaded; else raise Conflict.

    A no-op UPDATE (``SET pk = pk``) whose WHERE clause holds the check: it matches
    no row once anyone else has written it, and once it matches, the row stays
    locked until this transaction ends (PostgreSQL's row lock; SQLite's write lock),
    so the caller's own write cannot be overtaken. Versioned rows are checked again
    by the ORM's own ``WHERE version = ...`` at flush.
    """
    pk = description.pk.column
    result = session.execute(
        update(description.table)
        .where(pk == ident, matches(description, loaded))
        .values({pk.key: pk}),
        execution_options={"synchronize_session": False},
    )
    if rowcount(result) == 1:
        return
    exists = session.scalar(select(pk).where(pk == ident))
    raise Conflict(deleted=exists is None)


def check_object(description: ModelDescription, obj: Any, loaded: Loaded) -> None:
    """Raise Conflict when the loaded object already differs from what the user loaded.

    A cheap first check on what this request read; ``guard`` is the one that holds.
    """
    if loaded.version is not None:
        assert description.version is not None
        if getattr(obj, description.version.key) != loaded.version:
            raise Conflict()
        return
    assert loaded.recorded is not None
    for key, value in loaded.recorded.items():
        info = description.column(key)
        if info.kind.to_json(_stored(info, getattr(obj, key))) != value:
            raise Conflict()


__all__ = [
    "Conflict",
    "Loaded",
    "MissingToken",
    "check_object",
    "guard",
    "matches",
    "parse_token",
    "token_of",
]
