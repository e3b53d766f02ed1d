"""Counting and paging that stay fast on big tables. Plain SQLAlchemy, no Flask.

- Counts: exact where cheap, otherwise the planner's estimate, labelled as such.
- Pages: keyset (seek) pagination on ``(sort column, primary key)``, so a page
  deep in a million rows costs what the first page costs, and following
  next/previous never skips or repeats a row (the primary key breaks ties).
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, DateTime, Enum, Integer, Select, func, select, text, tuple_
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class RowCount:
    """How many rows match, and how sure we are."""

    value: int
    exact: bool = True
    # True: at least ``value`` rows match, and no estimate says how many more.
    at_least: bool = False

    @property
    def label(self) -> str:
        """'1,234', 'about 1,000,000' or 'more than 10,000'."""
        if self.exact:
            return f"{self.value:,}"
        if self.at_least:
            return f"more than {self.value:,}"
        return f"about {self.value:,}"

    def pages(self, page_size: int) -> int | None:
        """The number of pages when it is known (or estimated), else None."""
        if self.at_least or not page_size:
            return None
        return max(1, math.ceil(self.value / page_size))


def _round_estimate(value: float) -> int:
    """Three significant figures: an estimate should not look precise."""
    if value < 1000:
        return round(value)
    digits = math.floor(math.log10(value)) - 2
    return int(round(value, -digits))


def table_estimate(session: Session, table_name: str) -> int | None:
    """PostgreSQL's own row estimate for a table (kept by ANALYZE/autovacuum), or None."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    value = session.scalar(
        text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:name)"),
        {"name": table_name},
    )
    # -1: never analysed; the estimate would mean nothing.
    if value is None or value < 0:
        return None
    return int(value)


def planner_estimate(session: Session, stmt: Select) -> int | None:
    """The row count PostgreSQL's planner expects ``stmt`` to return, or None elsewhere."""
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        return None
    compiled = stmt.compile(dialect=bind.dialect)
    plan = (
        session.connection()
        .exec_driver_sql("EXPLAIN (FORMAT JSON) " + compiled.string, compiled.params)
        .scalar()
    )
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def count_rows(
    session: Session,
    stmt: Select,
    pk: Any,
    *,
    table_name: str,
    filtered: bool,
    cap: int = 10_000,
    estimate_from: int = 100_000,
) -> RowCount:
    """Count the rows of ``stmt``: exact when that is cheap, an honest estimate when not.

    Unfiltered: exact below ``estimate_from`` rows, else the table's statistics.
    Filtered: exact up to ``cap`` (counted with a LIMIT, so it stops early), else
    the planner's estimate, else "more than ``cap``".
    """
    inner = stmt.with_only_columns(pk).order_by(None)
    postgres = session.get_bind().dialect.name == "postgresql"
    if not postgres:
        # SQLite serves small installations, where an exact count is affordable.
        return RowCount(session.scalar(select(func.count()).select_from(inner.subquery())) or 0)
    if not filtered:
        estimate = table_estimate(session, table_name)
        if estimate is not None and estimate >= estimate_from:
            return RowCount(_round_estimate(estimate), exact=False)
        return RowCount(session.scalar(select(func.count()).select_from(inner.subquery())) or 0)
    counted = session.scalar(select(func.count()).select_from(inner.limit(cap + 1).subquery())) or 0
    if counted <= cap:
        return RowCount(counted)
    estimate = planner_estimate(session, inner)
    if estimate is not None and estimate > cap:
        return RowCount(_round_estimate(estimate), exact=False)
    return RowCount(cap, exact=False, at_least=True)


# -- keyset cursors -----------------------------------------------------------------


@dataclass(frozen=True)
class Cursor:
    """A position in an ordering: the sort value and the primary key of one row."""

    value: Any
    id: int

    def encode(self) -> str:
        """An opaque URL-safe token."""
        value = self.value
        if isinstance(value, enum.Enum):
            value = value.value
        elif isinstance(value, date | datetime):
            value = value.isoformat()
        raw = json.dumps([value, self.id], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str | None, column: Any) -> Cursor | None:
        """Parse a token made by ``encode`` for ``column``; None when it is not one."""
        if not token:
            return None
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            value, ident = json.loads(raw)
            if not isinstance(ident, int) or isinstance(ident, bool):
                return None
            return cls(_typed(column, value), ident)
        except (ValueError, TypeError, binascii.Error, json.JSONDecodeError):
            return None


def _typed(column: Any, value: Any) -> Any:
    """Turn a decoded JSON value back into the column's Python type (ValueError if it is not)."""
    if value is None:
        return None
    kind = column.type
    if isinstance(kind, Enum) and kind.enum_class is not None:
        return kind.enum_class(value)
    if isinstance(kind, Boolean):
        if not isinstance(value, bool):
            raise ValueError("not a boolean")
        return value
    if isinstance(kind, DateTime):
        return datetime.fromisoformat(value)
    if isinstance(kind, Date):
        return date.fromisoformat(value)
    if isinstance(kind, Integer):
        if not isinstance(value, int):
            raise ValueError("not an integer")
        return value
    if not isinstance(value, str):
        raise ValueError("not text")
    return value


def nulls_come_first(dialect_name: str, descending: bool) -> bool:
    """Where the database puts NULLs in this direction (PostgreSQL: last ascending)."""
    first_ascending = dialect_name != "postgresql"
    return first_ascending != descending


def _segments(
    column: Any, pk: Any, descending: bool, after: Cursor | None, nullable: bool, dialect: str
) -> list[tuple[list[Any], list[Any]]]:
    """Index-friendly (where, order by) pieces that, run in turn, continue the ordering."""
    step = (lambda a, b: a < b) if descending else (lambda a, b: a > b)
    pk_order = pk.desc() if descending else pk.asc()
    if column is pk:
        return [([step(pk, after.id)] if after else [], [pk_order])]
    col_order = column.desc() if descending else column.asc()
    value_group = ([column.is_not(None)] if nullable else [], [col_order, pk_order])
    null_group = ([column.is_(None)], [pk_order])
    groups = [value_group]
    if nullable:
        groups = (
            [null_group, value_group]
            if nulls_come_first(dialect, descending)
            else [value_group, null_group]
        )
    if after is None:
        return groups
    if after.value is None:
        start = groups.index(null_group) if nullable else len(groups)
        first = ([column.is_(None), step(pk, after.id)], [pk_order])
    else:
        start = groups.index(value_group)
        first = ([step(tuple_(column, pk), tuple_(after.value, after.id))], [col_order, pk_order])
    return [first, *groups[start + 1 :]]


def keyset_rows(
    session: Session,
    stmt: Select,
    column: Any,
    pk: Any,
    *,
    descending: bool,
    after: Cursor | None,
    limit: int,
) -> list[Any]:
    """Up to ``limit`` rows of ``stmt`` that follow ``after`` in (column, pk) order."""
    nullable = column is not pk and bool(getattr(column, "nullable", True))
    dialect = session.get_bind().dialect.name
    rows: list[Any] = []
    for where, order in _segments(column, pk, descending, after, nullable, dialect):
        if len(rows) >= limit:
            break
        rows.extend(
            session.scalars(stmt.where(*where).order_by(*order).limit(limit - len(rows))).unique()
        )
    return rows


def offset_rows(
    session: Session,
    stmt: Select,
    column: Any,
    pk: Any,
    *,
    descending: bool,
    offset: int,
    limit: int,
    deferred_from: int = 10_000,
) -> list[Any]:
    """Rows ``offset``..``offset+limit`` of the (column, pk) ordering.

    Past ``deferred_from`` rows the offset is walked over primary keys only (an
    index-only scan where the index covers it), and just the page's rows are loaded.
    """
    order = _order(column, pk, descending, session.get_bind().dialect.name)
    if offset <= deferred_from:
        return list(session.scalars(stmt.order_by(*order).offset(offset).limit(limit)).unique())
    ids = list(
        session.scalars(stmt.with_only_columns(pk).order_by(*order).offset(offset).limit(limit))
    )
    if not ids:
        return []
    found = {row.id: row for row in session.scalars(stmt.where(pk.in_(ids))).unique()}
    return [found[i] for i in ids if i in found]


def _order(column: Any, pk: Any, descending: bool, dialect: str) -> list[Any]:
    """The ORDER BY that ``keyset_rows`` follows, as one clause list."""
    pk_order = pk.desc() if descending else pk.asc()
    if column is pk:
        return [pk_order]
    return [column.desc() if descending else column.asc(), pk_order]


def cursor_of(row: Any, column_key: str | None) -> Cursor:
    """The cursor of ``row`` in the ordering by ``column_key`` (None: the primary key)."""
    value = getattr(row, column_key) if column_key else row.id
    return Cursor(value, row.id)
