"""The grid's rows: keyset pages of a model as JSON-ready dicts, and its columns. No Flask.

A page is read through the paging engine (keyset on ``(sort column, primary key)``,
the honest count on the first page only: later pages of the same scroll keep it),
so scrolling deep into a big table costs what the first screen costs. Each row
carries its key, its token (``versions.token_of``: the version, or the loaded values
of a table without one) and each column's value as the text its kind reads back
(``Kind.to_text``: what an edit or a paste sends). References also carry the
parent's label (what the cell shows) and natural key (what a copy puts on the
clipboard, and what a paste is resolved by).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, inspect, select
from sqlalchemy.orm import Session

from console import paging
from console.catalogue import ColumnInfo, ModelDescription
from console.kinds import (
    BooleanKind,
    ChoiceKind,
    DateKind,
    DateTimeKind,
    FloatKind,
    IntegerKind,
    NumberKind,
)
from console.paging import Cursor, RowCount
from console.versions import token_of

# Rows per request: a few screens of rows, so that a scroll asks again only now and then.
PAGE_SIZE = 100
MAX_PAGE_SIZE = 500
# As the list page counts (console/admin/list_page.py): exact up to the cap, then estimated.
COUNT_CAP = 10_000
ESTIMATE_FROM = 100_000
SEARCH_PROBE = 5_000


@dataclass(frozen=True)
class GridColumn:
    """One column as the grid shows and edits it."""

    key: str
    label: str
    editor: str  # text, number, date, datetime, choice, boolean, reference, none
    editable: bool
    nullable: bool
    sortable: bool
    numeric: bool = False
    choices: tuple[str, ...] = ()
    # For a reference: the form's lookup name (None: typed by the parent's natural key),
    # and what the parent's natural key is called ("email").
    lookup: str | None = None
    key_label: str | None = None
    # The index the list's ``sort=`` argument gives this column.
    sort_index: int | None = None
    hint: str = ""

    def as_json(self) -> dict[str, Any]:
        """The column as the grid's script reads it."""
        return {
            "key": self.key, "label": self.label, "editor": self.editor,
            "editable": self.editable, "nullable": self.nullable, "sortable": self.sortable,
            "numeric": self.numeric, "choices": list(self.choices), "lookup": self.lookup,
            "keyLabel": self.key_label, "sortIndex": self.sort_index, "hint": self.hint,
        }


def editor_of(info: ColumnInfo) -> str:
    """The cell editor a column's kind gets."""
    kind = info.kind
    if info.reference is not None:
        return "reference"
    if isinstance(kind, BooleanKind):
        return "boolean"
    if isinstance(kind, ChoiceKind):
        return "choice"
    if isinstance(kind, DateTimeKind):
        return "datetime"
    if isinstance(kind, DateKind):
        return "date"
    if isinstance(kind, IntegerKind | NumberKind | FloatKind):
        return "number"
    if kind.textual:
        return "text"
    return "none"


def grid_columns(
    description: ModelDescription, columns: Sequence[ColumnInfo], *, can_edit: bool
) -> list[GridColumn]:
    """The grid's columns: ``columns`` (the list's, in its order), editable where allowed."""
    out = []
    for index, info in enumerate(columns):
        editor = editor_of(info)
        editable = (
            can_edit and not description.read_only and info.editable and editor != "none"
        )
        lookup = key_label = None
        if info.reference is not None:
            parent = description.parent_of(info)
            lookup = info.reference.reference
            key_label = parent.natural_key.label
        out.append(
            GridColumn(
                key=info.key,
                label=info.label,
                editor=editor,
                editable=editable,
                nullable=info.nullable,
                sortable=info.sortable,
                numeric=editor == "number" and info.reference is None and not info.primary_key,
                choices=tuple(getattr(info.kind, "choices", ())),
                lookup=lookup,
                key_label=key_label,
                sort_index=index if info.sortable else None,
                hint=info.kind.describe(),
            )
        )
    return out


@dataclass
class GridPage:
    """One request's rows, where the next one starts (None: the end) and the count.

    A page read backwards (``last`` or ``before``) also says where the page before it
    ends (``prev``; None: it starts the list) and how many rows come after it
    (``after``: 0 for the last page), so the grid can tell each row's real position.
    """

    rows: list[dict[str, Any]]
    next: str | None
    count: RowCount | None = None
    prev: str | None = None
    backwards: bool = False

    def as_json(self) -> dict[str, Any]:
        """The page as the rows endpoint answers it."""
        out: dict[str, Any] = {"rows": self.rows, "next": self.next}
        if self.backwards:
            out["prev"] = self.prev
        if self.count is not None:
            out["count"] = {"value": self.count.value, "exact": self.count.exact,
                            "atLeast": self.count.at_least, "label": self.count.label}
        return out


def label_of(obj: Any, description: ModelDescription) -> str:
    """How a parent row is named in a cell: its ``__str__`` where it has one, else its label."""
    if type(obj).__str__ is not object.__str__:
        return str(obj)
    return description.label.kind.to_text(getattr(obj, description.label.key))


def _parents(
    session: Session, description: ModelDescription, columns: Sequence[ColumnInfo],
    objects: Sequence[Any],
) -> dict[str, dict[Any, Any]]:
    """Each reference column's parents of these rows, one query per column."""
    found: dict[str, dict[Any, Any]] = {}
    for info in columns:
        if info.reference is None:
            continue
        keys = {getattr(o, info.key) for o in objects} - {None}
        if not keys:
            found[info.key] = {}
            continue
        target = info.reference.target
        parent_cls = info.reference.parent
        attribute: str = inspect(parent_cls).get_property_by_column(target).key
        stmt: Select[Any] = select(parent_cls).where(target.in_(keys))
        rows: Sequence[Any] = session.scalars(stmt).all()
        found[info.key] = {getattr(r, attribute): r for r in rows}
    return found


def rows_json(
    session: Session, description: ModelDescription, columns: Sequence[ColumnInfo],
    objects: Sequence[Any],
) -> list[dict[str, Any]]:
    """Rows as the grid holds them: id, token, each column's text, references' labels."""
    parents = _parents(session, description, columns, objects)
    pk = description.pk.key
    out = []
    for obj in objects:
        values: dict[str, str] = {}
        labels: dict[str, str] = {}
        keys: dict[str, str] = {}
        for info in columns:
            value = getattr(obj, info.key)
            values[info.key] = info.kind.to_text(value) if info.reference is None else (
                "" if value is None else str(value)
            )
            if info.reference is not None and value is not None:
                parent = parents[info.key].get(value)
                if parent is not None:
                    parent_description = description.parent_of(info)
                    labels[info.key] = label_of(parent, parent_description)
                    natural = parent_description.natural_key
                    keys[info.key] = natural.kind.to_text(getattr(parent, natural.key))
        out.append({"id": str(getattr(obj, pk)), "token": token_of(description, obj),
                    "values": values, "labels": labels, "keys": keys})
    return out


def read_page(
    session: Session,
    description: ModelDescription,
    stmt: Select[Any],
    columns: Sequence[ColumnInfo],
    *,
    sort: ColumnInfo | None,
    descending: bool,
    after: str | None,
    limit: int = PAGE_SIZE,
    filtered: bool = False,
    search: bool = False,
    before: str | None = None,
    last: bool = False,
) -> GridPage:
    """Up to ``limit`` rows of ``stmt`` after the cursor ``after`` (None: from the start).

    ``before``: the rows just before that cursor instead; ``last``: the last rows of
    the ordering. Both read the ordering reversed (the same keyset, the other way:
    no OFFSET, so the end of a million rows costs what its start costs) and hand the
    rows back in display order. The first page and the last also carry the honest
    count of every matching row.
    """
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    pk = description.pk.column
    column = sort.column if sort is not None else pk
    postgres = session.get_bind().dialect.name == "postgresql"
    backwards = last or before is not None
    count = None
    matches = None
    if (after is None and before is None) or last:
        count = paging.count_rows(
            session, stmt, pk, table_name=description.table.name, filtered=filtered,
            cap=COUNT_CAP, estimate_from=ESTIMATE_FROM, keep_matches=search,
        )
        matches = count.matches
    probe = (0 if count is not None and count.exact else SEARCH_PROBE) if (
        search and postgres) else None
    token = before if backwards else after
    cursor = Cursor.decode(token, column) if token and not last else None
    rows = paging.keyset_rows(
        session, stmt, column, pk, descending=descending != backwards, after=cursor,
        limit=limit + 1, probe=probe, matches=matches,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    sort_key = sort.key if sort else None
    if backwards:
        rows.reverse()
        if count is not None and not count.exact and not more:
            # The whole ordering fits in this page: its rows are the count.
            count = paging.RowCount(len(rows))
        earlier = paging.cursor_of(rows[0], sort_key, description.pk.key) if more and rows else None
        return GridPage(
            rows=rows_json(session, description, columns, rows), next=None, count=count,
            prev=earlier.encode() if earlier else None, backwards=True,
        )
    if count is not None:
        count = paging.count_seen(count, 0, len(rows), more)
    following = None
    if more and rows:
        following = paging.cursor_of(rows[-1], sort_key, description.pk.key)
    return GridPage(
        rows=rows_json(session, description, columns, rows),
        next=following.encode() if following else None,
        count=count,
    )


def rows_by_id(
    session: Session, description: ModelDescription, columns: Sequence[ColumnInfo],
    idents: Sequence[Any],
) -> list[dict[str, Any]]:
    """The rows with these keys as the grid holds them (after a save), in this order."""
    if not idents:
        return []
    pk = description.pk.column
    stmt: Select[Any] = select(description.cls).where(pk.in_(list(idents)))
    objects = {getattr(o, description.pk.key): o for o in session.scalars(stmt)}
    return rows_json(session, description, columns, [objects[i] for i in idents if i in objects])


__all__ = ["GridColumn", "GridPage", "grid_columns", "read_page", "rows_by_id", "rows_json"]
