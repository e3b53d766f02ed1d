"""A batch of cell changes, as the list's in-place edits (and the grid) send them.

Each change names a row (its key and the token of what the user loaded), a column and
the new value as text. Every value goes through the column's kind (the rules the
forms and imports use); every row is checked against its token; the batch is one
transaction: all cells saved, or none and each bad cell named with its reason.
Written through the ORM, so each changed row gets its own history entry. No Flask.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from console import rules, versions
from console.catalogue import ColumnInfo, ModelDescription
from console.db_errors import describe_integrity_error
from console.kinds import ChoiceKind

# More cells than this in one request are refused (a paste that big goes through import).
MAX_CELLS = 5_000


@dataclass(frozen=True)
class CellChange:
    """One cell to set: the row's key (text), its token, the column and the new text."""

    row: str
    token: str | None
    column: str
    value: str | None


@dataclass
class CellProblem:
    """Why one cell (or its whole row: ``column`` None) was not saved."""

    row: str
    column: str | None
    message: str
    conflict: bool = False


@dataclass
class CellOutcome:
    """What a batch came to: every row's new token, or the problems (and nothing written)."""

    saved: bool
    tokens: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: list[CellProblem] = field(default_factory=list)


def editable_column(description: ModelDescription, key: str) -> ColumnInfo | None:
    """The column ``key`` if cells may set it, else None."""
    info = description.find(key)
    if info is None or not info.editable or description.read_only:
        return None
    return info


def parse_cell(session: Session, info: ColumnInfo, raw: str | None) -> Any:
    """The value ``raw`` stands for in column ``info`` (RuleError with the reason).

    A reference's text is the parent's primary key, as a lookup sends it.
    """
    if raw is not None and "\x00" in raw:
        raise rules.RuleError(f"{info.label} contains a character that cannot be stored (NUL).")
    if info.reference is not None:
        text = (raw or "").strip()
        if not text:
            value = None
        else:
            parent = info.reference.target
            try:
                key = parent.type.python_type(text)
            except (TypeError, ValueError) as exc:
                raise rules.RuleError(f"{info.label}: no such record ({text!r}).") from exc
            if session.scalar(select(parent).where(parent == key)) is None:
                raise rules.RuleError(f"{info.label}: no such record ({text!r}); it may have "
                                      "been deleted.")
            value = key
    else:
        value = info.kind.parse(raw, label=info.label)
        if isinstance(info.kind, ChoiceKind):
            value = info.kind.python(value)
    if value is None and not info.nullable:
        raise rules.RuleError(f"{info.label} is required.")
    return value


def apply_cells(
    session: Session,
    description: ModelDescription,
    changes: Iterable[CellChange],
    refusal: Callable[[Session], str | None] | None = None,
) -> CellOutcome:
    """Write every change in one transaction, or none of them; see the module doc.

    ``refusal(session)``: a rule of the model's own (Accounts keep an active admin), asked
    after the changes are flushed and before the commit; a message refuses them all.
    """
    batch = list(changes)
    outcome = CellOutcome(saved=False)
    if not batch:
        outcome.problems.append(CellProblem("", None, "Nothing to save."))
        return outcome
    if len(batch) > MAX_CELLS:
        outcome.problems.append(
            CellProblem("", None, f"At most {MAX_CELLS:,} cells can be saved at once.")
        )
        return outcome
    by_row: dict[str, list[CellChange]] = {}
    for change in batch:
        by_row.setdefault(change.row, []).append(change)
    objects: dict[str, Any] = {}
    try:
        for row, row_changes in by_row.items():
            obj = _checked_row(session, description, row, row_changes, outcome)
            if obj is None:
                continue
            objects[row] = obj
            for change in row_changes:
                info = editable_column(description, change.column)
                if info is None:
                    outcome.problems.append(
                        CellProblem(row, change.column, "This column cannot be edited here.")
                    )
                    continue
                try:
                    setattr(obj, info.key, parse_cell(session, info, change.value))
                except rules.RuleError as exc:
                    outcome.problems.append(CellProblem(row, change.column, str(exc)))
        if outcome.problems:
            session.rollback()
            return outcome
        session.flush()
        refused = refusal(session) if refusal is not None else None
        if refused:
            session.rollback()
            outcome.problems.append(CellProblem(next(iter(by_row)), None, refused))
            return outcome
        for row, obj in objects.items():
            outcome.tokens[row] = versions.token_of(description, obj)
            outcome.values[row] = {
                c.column: description.column(c.column).kind.to_text(
                    getattr(obj, c.column)
                )
                for c in by_row[row]
            }
        session.commit()
    except (versions.Conflict, StaleDataError):
        session.rollback()
        outcome.problems.append(
            CellProblem("", None, "Someone changed a row at the same moment: reload it.",
                        conflict=True)
        )
        outcome.tokens.clear()
        return outcome
    except IntegrityError as exc:
        session.rollback()
        problem = describe_integrity_error(exc, description.cls)
        outcome.problems.append(CellProblem("", problem.field, problem.message))
        outcome.tokens.clear()
        return outcome
    outcome.saved = True
    return outcome


def _checked_row(
    session: Session,
    description: ModelDescription,
    row: str,
    row_changes: list[CellChange],
    outcome: CellOutcome,
) -> Any:
    """The row, locked, if it is still what the user loaded; else None and a problem noted."""
    try:
        ident = description.pk.kind.parse(row, label="ID")
    except rules.RuleError:
        ident = None
    if ident is None:
        outcome.problems.append(CellProblem(row, None, "Not a record of this table."))
        return None
    tokens = {c.token for c in row_changes}
    if len(tokens) != 1:
        outcome.problems.append(CellProblem(row, None, "The row's cells disagree on its version."))
        return None
    try:
        loaded = versions.parse_token(description, tokens.pop())
    except versions.MissingToken as exc:
        outcome.problems.append(CellProblem(row, None, str(exc)))
        return None
    except ValueError:
        outcome.problems.append(CellProblem(row, None, "The page was damaged: reload it."))
        return None
    obj = session.get(description.cls, ident)
    if obj is None:
        outcome.problems.append(
            CellProblem(row, None, "This record no longer exists (it was deleted).", conflict=True)
        )
        return None
    try:
        versions.check_object(description, obj, loaded)
        versions.guard(session, description, ident, loaded)
    except versions.Conflict:
        outcome.problems.append(CellProblem(row, None, "changed", conflict=True))
        return None
    return obj


__all__ = ["CellChange", "CellOutcome", "CellProblem", "apply_cells", "parse_cell"]
