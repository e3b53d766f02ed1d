"""A batch of grid edits: cell changes to loaded rows and new rows, in one transaction.

What a paste, a fill or a typed edit sends. Every value goes through the column's
kind, as forms and imports read it (``cell_edits.parse_cell``; a reference given by
its parent's natural key, as files name it, through ``bulk.edits.parse_value``).
Every changed row is checked against the token of what the user loaded
(``versions``: its version, or its loaded values), and locked; a change without a
token is refused. All saved, or none, with each bad cell's reason and each row that
moved on since it was loaded. Written through the ORM, so every changed or new row
gets its history entry like any other write. No Flask.

A batch may also delete rows (``GridDelete``): what an undo of a paste that added
them sends. Each is checked against its token too, and the cascade engine's plan must
find that deleting them takes nothing else with it (no children deleted or set to
empty, nothing blocking): a row something now refers to is refused, to be deleted
through the delete preview.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from console import rules, versions
from console.bulk.edits import parse_value
from console.cascade import PlanError, plan_delete
from console.catalogue import ColumnInfo, Edge, ModelDescription
from console.cell_edits import MAX_CELLS, editable_column, parse_cell
from console.db_errors import describe_integrity_error
from console.extensions import rowcount


@dataclass(frozen=True)
class GridChange:
    """One cell of a loaded row: its key, the token it was read at, the column, the text.

    ``by_key``: a reference given by the parent's natural key (a paste), not its
    primary key (the lookup's choice).
    """

    row: str
    token: str | None
    column: str
    value: str | None
    by_key: bool = False


@dataclass(frozen=True)
class GridCreate:
    """A new row: the grid's name for it (``ref``, e.g. "new-1") and its cells' text."""

    ref: str
    values: dict[str, str | None]
    by_key: frozenset[str] = frozenset()


@dataclass(frozen=True)
class GridDelete:
    """A row to delete (the undo of its creation): its key and the token it was saved at."""

    row: str
    token: str | None


@dataclass
class GridProblem:
    """Why one cell (``column``) or one row (``column`` None) stopped the batch."""

    row: str
    column: str | None
    message: str
    conflict: bool = False
    deleted: bool = False

    def as_json(self) -> dict[str, Any]:
        """The problem as the grid reads it."""
        return {"row": self.row, "column": self.column, "message": self.message,
                "conflict": self.conflict, "deleted": self.deleted}


@dataclass
class GridOutcome:
    """What the batch came to: the saved rows' keys (changed, created) or the problems."""

    saved: bool = False
    changed: list[Any] = field(default_factory=list)
    created: dict[str, Any] = field(default_factory=dict)
    deleted: list[Any] = field(default_factory=list)
    problems: list[GridProblem] = field(default_factory=list)


def _value(session: Session, description: ModelDescription, info: ColumnInfo,
           text: str | None, by_key: bool, parents: dict[tuple[str, str | None, bool], Any]) -> Any:
    """The value ``text`` stands for in ``info`` (RuleError with the reason).

    A reference's parent is looked up once per batch (``parents``): a pasted column
    names the same few lists over and over.
    """
    if info.reference is None:
        return parse_cell(session, info, text)
    key = (info.key, text, by_key)
    if key not in parents:
        try:
            if by_key:
                if text is not None and "\x00" in text:
                    raise rules.RuleError(f"{info.label} contains a character that cannot be "
                                          "stored (NUL).")
                parents[key] = parse_value(session, description, info.key, text, by_key=True)
            else:
                parents[key] = parse_cell(session, info, text)
        except rules.RuleError as exc:
            parents[key] = exc
    found = parents[key]
    if isinstance(found, rules.RuleError):
        raise found
    return found


def _loaded_rows(session: Session, description: ModelDescription,
                 by_row: dict[str, list[GridChange]], outcome: GridOutcome) -> dict[str, Any]:
    """The changed rows, loaded and locked, that are still what the user loaded.

    One SELECT for every row and, for a model with a version column, one UPDATE that
    locks them all (``versions.guard`` row by row only to tell which moved on, or for
    a model checked by its loaded values). Each row that is gone, moved on or came
    without its token is a problem noted here.
    """
    wanted: dict[str, tuple[Any, versions.Loaded]] = {}
    for row, row_changes in by_row.items():
        try:
            ident = description.pk.kind.parse(row, label="ID")
        except rules.RuleError:
            ident = None
        if ident is None:
            outcome.problems.append(GridProblem(row, None, "Not a record of this table."))
            continue
        tokens = {c.token for c in row_changes}
        if len(tokens) != 1:
            outcome.problems.append(GridProblem(row, None, "The row's cells disagree on its "
                                                           "version."))
            continue
        try:
            wanted[row] = (ident, versions.parse_token(description, tokens.pop()))
        except versions.MissingToken as exc:
            outcome.problems.append(GridProblem(row, None, str(exc)))
        except ValueError:
            outcome.problems.append(GridProblem(row, None, "The grid's copy of this row was "
                                                           "damaged: reload the grid."))
    if not wanted:
        return {}
    pk = description.pk.column
    stmt: Select[Any] = select(description.cls).where(
        pk.in_([ident for ident, _ in wanted.values()])
    )
    found = {getattr(obj, description.pk.key): obj for obj in session.scalars(stmt)}
    objects: dict[str, Any] = {}
    for row, (ident, loaded) in wanted.items():
        obj = found.get(ident)
        if obj is None:
            outcome.problems.append(GridProblem(row, None, "This record no longer exists (it "
                                                           "was deleted).", conflict=True,
                                                deleted=True))
            continue
        try:
            versions.check_object(description, obj, loaded)
        except versions.Conflict:
            outcome.problems.append(GridProblem(row, None, "changed", conflict=True))
            continue
        objects[row] = obj
    if objects and not _locked_at_once(session, description,
                                       [wanted[row] for row in objects]):
        for row in list(objects):
            ident, loaded = wanted[row]
            try:
                versions.guard(session, description, ident, loaded)
            except versions.Conflict as exc:
                outcome.problems.append(GridProblem(row, None, "changed", conflict=True,
                                                    deleted=exc.deleted))
                del objects[row]
    return objects


def _locked_at_once(session: Session, description: ModelDescription,
                    rows: list[tuple[Any, versions.Loaded]]) -> bool:
    """Lock every row in one UPDATE when each is still at its version; False otherwise.

    The no-op UPDATE of ``versions.guard`` for many rows at once: it matches every row
    only if none moved on (the caller then checks row by row, to say which).
    """
    if description.version is None or len(rows) < 2:
        return False
    pk = description.pk.column
    version = description.table.c[description.version.column.key]
    pairs = [(ident, loaded.version) for ident, loaded in rows]
    result = session.execute(
        update(description.table).where(tuple_(pk, version).in_(pairs)).values({pk.key: pk}),
        execution_options={"synchronize_session": False},
    )
    return rowcount(result) == len(pairs)


def _set_cells(session: Session, description: ModelDescription, obj: Any, row: str,
               cells: Sequence[tuple[str, str | None, bool]], outcome: GridOutcome,
               parents: dict[tuple[str, str | None, bool], Any]) -> None:
    for column, text, by_key in cells:
        info = editable_column(description, column)
        if info is None:
            outcome.problems.append(GridProblem(row, column, "This column cannot be edited."))
            continue
        try:
            setattr(obj, info.key, _value(session, description, info, text, by_key, parents))
        except rules.RuleError as exc:
            outcome.problems.append(GridProblem(row, column, str(exc)))


def _doomed_rows(
    session: Session, description: ModelDescription, deletes: Sequence[GridDelete],
    edges: Sequence[Edge], refusal: Callable[[Session, list[Any]], str | None] | None,
    outcome: GridOutcome,
) -> list[Any]:
    """The rows to delete, locked and checked; each problem noted in ``outcome``.

    Only rows still as the user saved them, and whose delete the cascade engine plans
    as taking nothing else along: the grid never does what the delete preview shows.
    """
    wanted: dict[str, Any] = {}
    for item in deletes:
        try:
            ident = description.pk.kind.parse(item.row, label="ID")
            loaded = versions.parse_token(description, item.token)
        except versions.MissingToken as exc:
            outcome.problems.append(GridProblem(item.row, None, str(exc)))
            continue
        except (rules.RuleError, ValueError):
            ident = None
        if ident is None:
            outcome.problems.append(GridProblem(item.row, None, "Not a record of this table."))
            continue
        try:
            versions.guard(session, description, ident, loaded)
        except versions.Conflict as exc:
            outcome.problems.append(GridProblem(item.row, None, "changed", conflict=True,
                                                deleted=exc.deleted))
            continue
        wanted[item.row] = ident
    if not wanted or outcome.problems:
        return []
    ids = list(wanted.values())
    try:
        plan = plan_delete(session, description.cls, ids, edges=edges, lock=True)
    except PlanError as exc:
        outcome.problems.append(GridProblem("", None, str(exc)))
        return []
    others = [e for e in (*plan.cascaded, *plan.nulled, *plan.blocking) if e.count]
    message = refusal(session, ids) if refusal is not None else None
    if plan.drift or others or message:
        names = ", ".join(sorted({e.model.__name__ for e in others}))
        outcome.problems.append(GridProblem("", None, message or (
            "Not undone: other records now refer to the rows this undo would delete"
            + (f" ({names})" if names else "") + ". Delete them through the delete preview, "
            "which shows what goes with them.")))
        return []
    stmt: Select[Any] = select(description.cls).where(description.pk.column.in_(ids))
    return list(session.scalars(stmt))


def apply_batch(
    session: Session,
    description: ModelDescription,
    changes: Sequence[GridChange],
    creates: Sequence[GridCreate] = (),
    deletes: Sequence[GridDelete] = (),
    *,
    edges: Sequence[Edge] = (),
    delete_refusal: Callable[[Session, list[Any]], str | None] | None = None,
) -> GridOutcome:
    """Write every change, new row and delete in one transaction, or nothing; see the module doc."""
    outcome = GridOutcome()
    cells = len(changes) + sum(len(c.values) for c in creates)
    if deletes and {d.row for d in deletes} & {c.row for c in changes}:
        outcome.problems.append(GridProblem("", None, "A row cannot be changed and deleted "
                                                      "in one batch."))
        return outcome
    if not cells and not creates and not deletes:
        outcome.problems.append(GridProblem("", None, "Nothing to save."))
        return outcome
    if cells > MAX_CELLS:
        outcome.problems.append(GridProblem("", None, f"At most {MAX_CELLS:,} cells can be "
                                                      "saved at once: import a file instead."))
        return outcome
    if description.read_only:
        outcome.problems.append(GridProblem("", None, f"{description.title} are read-only."))
        return outcome
    by_row: dict[str, list[GridChange]] = {}
    for change in changes:
        by_row.setdefault(change.row, []).append(change)
    new: dict[str, Any] = {}
    parents: dict[tuple[str, str | None, bool], Any] = {}
    try:
        doomed = _doomed_rows(session, description, deletes, edges, delete_refusal,
                              outcome) if deletes else []
        if outcome.problems:
            session.rollback()
            return outcome
        objects = _loaded_rows(session, description, by_row, outcome)
        # Every value is read before anything is flushed: one UPDATE per row at the end,
        # not one per parent looked up on the way.
        with session.no_autoflush:
            for row, obj in objects.items():
                _set_cells(session, description, obj, row,
                           [(c.column, c.value, c.by_key) for c in by_row[row]], outcome,
                           parents)
            for create in creates:
                obj = description.cls()
                given = [(k, v, k in create.by_key) for k, v in create.values.items()]
                _set_cells(session, description, obj, create.ref, given, outcome, parents)
                for info in description.columns:
                    # A required column the new row leaves blank: said here, at its cell,
                    # rather than by the database's NOT NULL.
                    if info.required and info.editable and create.values.get(info.key) is None:
                        outcome.problems.append(
                            GridProblem(create.ref, info.key, f"{info.label} is required.")
                        )
                new[create.ref] = obj
        if outcome.problems:
            session.rollback()
            return outcome
        session.flush()
        for ref, obj in new.items():
            session.add(obj)
            try:
                session.flush()
            except IntegrityError as exc:
                session.rollback()
                problem = describe_integrity_error(exc, description.cls)
                outcome.problems.append(GridProblem(ref, problem.field, problem.message))
                return outcome
        outcome.changed = [getattr(obj, description.pk.key) for obj in objects.values()]
        outcome.created = {ref: getattr(obj, description.pk.key) for ref, obj in new.items()}
        outcome.deleted = [getattr(obj, description.pk.key) for obj in doomed]
        for obj in doomed:
            # Through the ORM, so each gets its history entry ("delete", with its values).
            session.delete(obj)
        session.flush()
        session.commit()
    except (versions.Conflict, StaleDataError):
        session.rollback()
        outcome.problems.append(GridProblem("", None, "Someone changed a row at the same "
                                                      "moment: nothing was saved; try again.",
                                            conflict=True))
        return outcome
    except IntegrityError as exc:
        session.rollback()
        problem = describe_integrity_error(exc, description.cls)
        outcome.problems.append(GridProblem("", problem.field, problem.message))
        return outcome
    outcome.saved = True
    return outcome


__all__ = ["GridChange", "GridCreate", "GridDelete", "GridOutcome", "GridProblem", "apply_batch"]
