"""Turn a database's refusal (IntegrityError) into words for the field it concerns."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from console.catalogue import catalogue_of, table_of
from console.declare import OnDelete


@dataclass
class Problem:
    """A refusal explained: the form field it belongs to (if any) and a message."""

    field: str | None
    message: str


_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: (\w+)\.(\w+)")
_SQLITE_NOT_NULL = re.compile(r"NOT NULL constraint failed: (\w+)\.(\w+)")


def _constraint_name(exc: IntegrityError) -> str | None:
    diag = getattr(exc.orig, "diag", None)
    return getattr(diag, "constraint_name", None)


def describe_integrity_error(exc: IntegrityError, model: type) -> Problem:
    """Explain ``exc`` raised while writing ``model``; never leaks SQL to the user."""
    table = table_of(model)
    text = str(exc.orig)
    name = _constraint_name(exc)
    column: str | None = None
    kind = ""
    if name:
        for constraint in table.constraints:
            if constraint.name == name:
                cols = [c.key for c in getattr(constraint, "columns", [])]
                column = cols[0] if cols else None
                kind = type(constraint).__name__
        if name.startswith("fk_"):
            kind = "ForeignKeyConstraint"
    match = _SQLITE_UNIQUE.search(text)
    if match:
        column, kind = match.group(2), "UniqueConstraint"
    match = _SQLITE_NOT_NULL.search(text)
    if match:
        column, kind = match.group(2), "NotNull"
    if "FOREIGN KEY constraint failed" in text or "foreign key constraint" in text:
        kind = "ForeignKeyConstraint"
    if kind == "UniqueConstraint" and column:
        return Problem(column, "Already exists: another record has this value.")
    if kind == "NotNull" and column:
        return Problem(column, "This field is required.")
    if kind == "ForeignKeyConstraint":
        catalogue = catalogue_of(model)
        restricting = [
            edge
            for edge in (catalogue.children_of(model) if catalogue else [])
            if edge.policy is OnDelete.RESTRICT
        ]
        if restricting and ("delete" in text.lower() or "still referenced" in text or not name):
            assert catalogue is not None
            owned = ", ".join(
                sorted({catalogue.describe(edge.child).plural for edge in restricting})
            )
            return Problem(
                None,
                f"Other records still depend on this one ({owned}): move or delete them first.",
            )
        return Problem(column, "The referenced record does not exist (it may have been deleted).")
    return Problem(column, "The database refused the change: it conflicts with existing data.")
