"""Counting and paging that stay fast on big tables. Plain SQLAlchemy, no Flask.

- Counts: exact where cheap or kept by the database (migration 0004's row counts),
  otherwise the planner's estimate, labelled as such.
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
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    Boolean,
    Date,
    DateTime,
    Enum,
    Integer,
    Select,
    any_,
    bindparam,
    func,
    select,
    text,
    tuple_,
)
from sqlalchemy.engine import Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.sql.visitors import InternalTraversal

from console import own_schema


@dataclass(frozen=True)
class RowCount:
    """How many rows match, and how sure we are."""

    value: int
    exact: bool = True
    # True: at least ``value`` rows match, and no estimate says how many more.
    at_least: bool = False
    # Every matching primary key, when the count fetched them (``keep_matches``): the
    # page is then ordered among them instead of matching the search a second time.
    matches: tuple[Any, ...] | None = field(default=None, compare=False, repr=False)
    # The first page's rows (and one more, if any), when the count fetched them with it
    # (``count_rows(first_page=...)``): the page then costs no statement of its own.
    rows: list[Any] | None = field(default=None, compare=False, repr=False)

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


# The triggers of migration 0004 that keep a table's count; all must fire ALWAYS ('A').
ROW_COUNT_TRIGGERS = ("row_count_insert", "row_count_delete", "row_count_truncate")


def exact_table_count(session: Session, table_name: str) -> int | None:
    """The exact row count of a table, kept by the database, or None where none is kept.

    PostgreSQL only: ``sum(delta)`` of migration 0004's ``row_count_delta``. A delta
    row commits with the rows it counts, so the sum agrees with what a query of the
    table sees in the same snapshot (one statement; under READ COMMITTED each
    statement of a transaction takes its own, so a commit between the count and the
    page can shift them by what it wrote, as it would shift an OFFSET page). None
    (the caller counts or estimates as before) when the schema is behind 0004, when
    the table or any of its triggers is missing or not firing ALWAYS, or when the
    table has no count row (a schema made without the migration).
    """
    if session.get_bind().dialect.name != "postgresql":
        return None
    delta = own_schema.qualified(session.connection(), "row_count_delta")
    kept = session.scalar(
        text(
            "SELECT to_regclass(:delta) IS NOT NULL AND count(*) = :n "
            "FROM pg_trigger WHERE tgrelid = to_regclass(:name) AND tgname = ANY(:names) "
            "AND tgenabled = 'A'"
        ),
        {"name": table_name, "names": list(ROW_COUNT_TRIGGERS), "n": len(ROW_COUNT_TRIGGERS),
         "delta": delta},
    )
    if not kept:
        return None
    value = session.scalar(
        text(f"SELECT sum(delta) FROM {delta} WHERE table_name = :name"),  # noqa: S608
        {"name": table_name},
    )
    return None if value is None else int(value)


def compact_row_counts(session: Session, table_name: str) -> int:
    """Fold a table's count deltas into one row (PostgreSQL); how many rows were folded.

    Never waits on writers nor makes them wait (see migration 0004); the count
    triggers do the same for about one statement in a hundred. Commit to keep it.
    """
    if session.get_bind().dialect.name != "postgresql":
        return 0
    compact = own_schema.qualified(session.connection(), "row_count_compact")
    return int(session.scalar(text(f"SELECT {compact}(:name)"), {"name": table_name}) or 0)


class _Explain(Executable, ClauseElement):
    """``EXPLAIN (FORMAT JSON) <select>`` as a statement SQLAlchemy compiles once and caches.

    Compiling a search's statement by hand on every request cost more than asking
    the planner (see bench/README.md); a construct with a cache key reuses the SQL.
    """

    inherit_cache = True
    _traverse_internals = [("statement", InternalTraversal.dp_clauseelement)]
    # The plan is read by position: a cached compilation has no columns to re-map.
    _all_selected_columns = ()

    def __init__(self, statement: Select) -> None:
        self.statement = statement


@compiles(_Explain)
def _compile_explain(element: _Explain, compiler: Any, **kw: Any) -> str:
    return "EXPLAIN (FORMAT JSON) " + compiler.process(element.statement, **kw)


def planner_estimate(session: Session, stmt: Select) -> int | None:
    """The row count PostgreSQL's planner expects ``stmt`` to return, or None elsewhere."""
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        return None
    plan = session.connection().execute(_Explain(stmt)).scalar()
    if plan is None:
        return None
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


@dataclass(frozen=True)
class FirstPage:
    """The first page by primary key that ``count_rows`` may fetch with an exact count.

    ``stmt``: the page's statement (the counted one with its loader options);
    ``limit``: its rows plus one (to tell whether a next page exists).
    """

    stmt: Select
    limit: int
    descending: bool = False


def count_rows(
    session: Session,
    stmt: Select,
    pk: Any,
    *,
    table_name: str,
    filtered: bool,
    cap: int = 10_000,
    estimate_from: int = 100_000,
    trust_estimate_from: int | None = None,
    keep_matches: bool = False,
    first_page: FirstPage | None = None,
) -> RowCount:
    """Count the rows of ``stmt``: exact when that is cheap, an honest estimate when not.

    Unfiltered: the count the database keeps (``exact_table_count``), else exact
    below ``estimate_from`` rows, else the table's statistics.
    Filtered: when the planner expects at least ``trust_estimate_from`` rows
    (default: three times ``cap``), its estimate, without counting: a bounded count
    of a common word's matches costs a bitmap of all of them, only to confirm that
    there are more than ``cap`` and then show the same estimate. Otherwise exact up
    to ``cap`` (counted with a LIMIT, so it stops early), else the planner's
    estimate, else "more than ``cap``". ``count_seen`` corrects an estimate that a
    page proves wrong.

    ``keep_matches`` (a text search, integer primary key): the exact count fetches
    the matching keys instead (``RowCount.matches``, at most ``cap`` of them), so
    that the page is ordered among them (``offset_rows``/``keyset_rows``) instead of
    running the search, whose trigram match and ILIKE recheck are most of its cost,
    a second time.

    ``first_page`` (PostgreSQL, filtered): the exact count and the first page by
    primary key in one statement (``_count_and_first_page``), ``RowCount.rows``;
    past ``cap`` the count goes on as without it (the page is then read on its own).
    """
    inner = stmt.with_only_columns(pk).order_by(None)
    postgres = session.get_bind().dialect.name == "postgresql"
    if not postgres:
        # SQLite serves small installations, where an exact count is affordable.
        return RowCount(session.scalar(select(func.count()).select_from(inner.subquery())) or 0)
    if not filtered:
        kept = exact_table_count(session, table_name)
        if kept is not None:
            return RowCount(kept)
        estimate = table_estimate(session, table_name)
        if estimate is not None and estimate >= estimate_from:
            return RowCount(_round_estimate(estimate), exact=False)
        return RowCount(session.scalar(select(func.count()).select_from(inner.subquery())) or 0)
    trust_from = 3 * cap if trust_estimate_from is None else trust_estimate_from
    # A table that holds fewer rows than the estimate would be trusted from cannot give
    # a filter that many: the planner is not asked (the bounded count decides).
    small = _table_size(session, table_name) < trust_from
    estimate = None if small else _remembered_estimate(session, inner)
    if estimate is not None and estimate >= max(trust_from, cap + 1):
        return RowCount(_round_estimate(estimate), exact=False)
    if first_page is not None:
        found = _count_and_first_page(session, inner, pk, cap, first_page)
        if found is not None:
            return found
        counted = cap + 1
    elif keep_matches and isinstance(getattr(pk, "type", None), Integer):
        keys = _capped(inner, cap)
        found = session.scalar(select(func.array_agg(next(iter(keys.c)))))
        counted = len(found or ())
        if counted <= cap:
            return RowCount(counted, matches=tuple(found or ()))
    else:
        counted = session.scalar(select(func.count()).select_from(_capped(inner, cap))) or 0
    if counted <= cap:
        return RowCount(counted)
    if small:
        estimate = planner_estimate(session, inner)
    if estimate is not None and estimate > cap:
        return RowCount(_round_estimate(estimate), exact=False)
    return RowCount(cap, exact=False, at_least=True)


# table -> (rows per ANALYZE, when read): a table's size only chooses between two
# correct ways of counting, so a size some seconds old is good enough.
_SIZES: dict[tuple[str, str], tuple[float, float]] = {}
SIZE_TTL = 30.0


def _table_size(session: Session, table_name: str) -> float:
    """About how many rows ``table_name`` holds (PostgreSQL's statistics, cached briefly).

    Unknown (never analysed): infinity, so that the planner is asked as before.
    """
    bind = session.get_bind()
    url = bind.url if isinstance(bind, Engine) else bind.engine.url
    key = (url.render_as_string(hide_password=True), table_name)
    now = time.monotonic()
    cached = _SIZES.get(key)
    if cached is not None and now - cached[1] < SIZE_TTL:
        return cached[0]
    estimate = table_estimate(session, table_name)
    size = float("inf") if estimate is None else float(estimate)
    _SIZES[key] = (size, now)
    return size


def _count_and_first_page(
    session: Session, inner: Select, pk: Any, cap: int, page: FirstPage
) -> RowCount | None:
    """The exact count (up to ``cap``) and the first page by ``pk``, in one statement.

    The capped matches are a CTE: counted, and the page's keys are the first of them
    by ``pk``, so the match (a text search's trigram bitmap and ILIKE recheck) runs
    once and the page comes with the count instead of in a statement of its own:

        WITH m AS (SELECT id FROM t WHERE <match> LIMIT cap + 1)
        SELECT t.*, <parents>, (SELECT count(*) FROM m) FROM t ...
        WHERE <match> AND t.id IN (SELECT id FROM m ORDER BY id LIMIT <page + 1>)

    None when more than ``cap`` rows match: ``m`` is then not every match, so its
    first keys need not be the page's.
    """
    matches = inner.limit(cap + 1).cte("console_matches")
    key = next(iter(matches.c))
    order = key.desc() if page.descending else key.asc()
    page_keys = select(key).order_by(order).limit(page.limit)
    total = select(func.count()).select_from(matches).scalar_subquery().label("console_total")
    stmt = (
        page.stmt.where(pk.in_(page_keys))
        .add_columns(total)
        .order_by(None)
        .order_by(*_order_by([pk], page.descending))
    )
    found = session.execute(stmt).unique().all()
    counted = int(found[0][-1]) if found else 0
    if counted > cap:
        return None
    return RowCount(counted, rows=[row[0] for row in found])


# (database, statement, its values) -> (the planner's estimate, when asked). The planner
# estimates from the table's statistics, which change only when the table is analysed:
# the same search asked again (its next page, another sort, a second user) within
# SIZE_TTL seconds gets the same answer without another EXPLAIN.
_ESTIMATES: dict[Any, tuple[int | None, float]] = {}
ESTIMATES_KEPT = 1000


def _remembered_estimate(session: Session, stmt: Select) -> int | None:
    """``planner_estimate``, remembered for ``SIZE_TTL`` seconds per statement and values."""
    key = _statement_key(session, stmt)
    if key is None:
        return planner_estimate(session, stmt)
    now = time.monotonic()
    cached = _ESTIMATES.get(key)
    if cached is not None and now - cached[1] < SIZE_TTL:
        return cached[0]
    value = planner_estimate(session, stmt)
    if len(_ESTIMATES) >= ESTIMATES_KEPT:
        _ESTIMATES.clear()
    _ESTIMATES[key] = (value, now)
    return value


def _statement_key(session: Session, stmt: Select) -> Any:
    """What tells ``stmt`` on this database from any other, or None (then not remembered)."""
    cache_key = stmt._generate_cache_key()
    if cache_key is None:
        return None
    bind = session.get_bind()
    url = bind.url if isinstance(bind, Engine) else bind.engine.url
    try:
        key = (
            url.render_as_string(hide_password=True),
            cache_key.key,
            tuple(b.effective_value for b in cache_key.bindparams),
        )
        hash(key)
    except TypeError:  # a value that is not hashable (a list for IN): asked every time
        return None
    return key


def _capped(inner: Select, cap: int) -> Any:
    """At most ``cap + 1`` rows of ``inner``: enough to tell "more than ``cap``"."""
    return inner.limit(cap + 1).subquery()


def count_seen(count: RowCount, offset: int | None, shown: int, more: bool) -> RowCount:
    """``count`` corrected by what one page saw: rows from ``offset`` (None: unknown) on.

    A page that reaches the end (``more`` False) at a known offset gives the exact
    count; a page with rows past an estimate turns it into "more than N".
    """
    if count.exact or offset is None:
        return count
    if not more and (shown or offset == 0):
        return RowCount(offset + shown)
    seen = offset + shown
    if more and seen >= count.value:
        return RowCount(seen, exact=False, at_least=True)
    return count


# -- keyset cursors -----------------------------------------------------------------


@dataclass(frozen=True)
class Cursor:
    """A position in an ordering: the sort value and the primary key of one row."""

    value: Any
    id: int | str

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
            if not isinstance(ident, int | str) or isinstance(ident, bool):
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
    """Index-friendly (where, ordered columns) pieces that, run in turn, continue the ordering.

    Each piece is ordered by its columns in the one direction (``_order_by``).
    """
    step = (lambda a, b: a < b) if descending else (lambda a, b: a > b)
    if column is pk:
        return [([step(pk, after.id)] if after else [], [pk])]
    value_group = ([column.is_not(None)] if nullable else [], [column, pk])
    null_group = ([column.is_(None)], [pk])
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
        first = ([column.is_(None), step(pk, after.id)], [pk])
    else:
        start = groups.index(value_group)
        first = ([step(tuple_(column, pk), tuple_(after.value, after.id))], [column, pk])
    return [first, *groups[start + 1 :]]


def _order_by(columns: list[Any], descending: bool) -> list[Any]:
    return [c.desc() if descending else c.asc() for c in columns]


def _upto(columns: list[Any], key: Any, descending: bool) -> Any:
    """``columns`` at or before ``key`` (a row of their values) in the ordering."""
    left = columns[0] if len(columns) == 1 else tuple_(*columns)
    right = key[0] if len(columns) == 1 else tuple_(*key)
    return left >= right if descending else left <= right


def _window_end(
    session: Session, columns: list[Any], where: list[Any], descending: bool, size: int
) -> Any:
    """The key of the ``size``-th row of the bare table in this ordering, or None if fewer.

    An index-only walk over ``size`` entries of a (column, id) index: cheap.
    """
    return session.execute(
        select(*columns)
        .where(*where)
        .order_by(*_order_by(columns, descending))
        .offset(size - 1)
        .limit(1)
    ).first()


def _rows_by_id(session: Session, stmt: Select, pk: Any, ids: list[Any]) -> list[Any]:
    """The rows of ``stmt`` with these ids, in the order of ``ids``."""
    if not ids:
        return []
    rows = session.scalars(stmt.where(pk.in_(ids))).unique()
    found = {getattr(row, pk.key): row for row in rows}
    return [found[i] for i in ids if i in found]


def _matching_rows(
    session: Session,
    stmt: Select,
    pk: Any,
    columns: list[Any],
    where: list[Any],
    descending: bool,
    offset: int,
    limit: int,
) -> list[Any]:
    """Rows of ``stmt`` from every match at once: the matches' keys, sorted, then the page.

    The OFFSET 0 keeps PostgreSQL from planning the matches as an ordered index walk
    that filters row by row (it cannot know a search's matches come late in the
    ordering): a text search's matches come from its trigram index as a bitmap, and
    only their keys are sorted.
    """
    keys = stmt.where(*where).with_only_columns(*columns).order_by(None).offset(0).subquery()
    sub_columns = list(keys.c)
    ids = list(
        session.scalars(
            select(sub_columns[-1])
            .order_by(*_order_by(sub_columns, descending))
            .offset(offset)
            .limit(limit)
        )
    )
    return _rows_by_id(session, stmt, pk, ids)


def _probed_rows(
    session: Session,
    stmt: Select,
    pk: Any,
    columns: list[Any],
    where: list[Any],
    descending: bool,
    offset: int,
    limit: int,
    probe: int,
) -> list[Any]:
    """Rows ``offset``..``offset+limit`` of one ordered piece, for a text search.

    First the matches among the next ``probe`` rows of the ordering (a bounded walk
    of the sort index: a common word fills the page early); when they do not fill
    the page, every match through its trigram index (``_matching_rows``), which is
    what a rare word needs; ``probe`` 0 goes there at once (the count says the
    matches are few). Either way the rows are exactly those of the ordering.
    """
    order = _order_by(columns, descending)
    if probe and offset + limit <= probe:
        end = _window_end(session, columns, where, descending, probe)
        window = [_upto(columns, end, descending)] if end is not None else []
        rows = list(
            session.scalars(
                stmt.where(*where, *window).order_by(*order).offset(offset).limit(limit)
            ).unique()
        )
        if len(rows) == limit or end is None:
            return rows
    return _matching_rows(session, stmt, pk, columns, where, descending, offset, limit)


# Up to this many matches, the database orders them by another column than the primary
# key as one array of keys; PostgreSQL plans a bigger array (it reads every element)
# for longer than matching the search again takes (bench/README.md).
ARRAY_ORDER_MAX = 1_000


def _rows_among(
    session: Session,
    stmt: Select,
    column: Any,
    pk: Any,
    matches: Sequence[Any],
    *,
    descending: bool,
    after: Cursor | None,
    offset: int,
    limit: int,
) -> list[Any]:
    """Rows of ``stmt`` from the (column, pk) ordering of ``matches``, its whole key set.

    By primary key the ordering is the sorted keys. By another column the database
    orders just those keys (a lookup by primary key; the search is not run again)
    in the pieces ``_segments`` gives, so NULLs and ties fall as on every other path;
    past ``ARRAY_ORDER_MAX`` matches, from every match again (``probe=0``).
    """
    if column is pk:
        ordered = sorted(matches, reverse=descending)
        if after is not None:
            ordered = [i for i in ordered if (i < after.id if descending else i > after.id)]
        return _rows_by_id(session, stmt, pk, ordered[offset : offset + limit])
    if len(matches) > ARRAY_ORDER_MAX:
        # Every match again, as without ``matches``; see ARRAY_ORDER_MAX.
        if after is None:
            return offset_rows(
                session,
                stmt,
                column,
                pk,
                descending=descending,
                offset=offset,
                limit=limit,
                probe=0,
            )
        return keyset_rows(
            session, stmt, column, pk, descending=descending, after=after, limit=limit, probe=0
        )
    among = pk == any_(bindparam("console_matches", list(matches), type_=ARRAY(pk.type)))
    if after is None:
        order = _order_by([column, pk], descending)
        keys = select(pk).where(among).order_by(*order).offset(offset).limit(limit)
        return _rows_by_id(session, stmt, pk, list(session.scalars(keys)))
    nullable = bool(getattr(column, "nullable", True))
    dialect = session.get_bind().dialect.name
    ids: list[Any] = []
    for where, columns in _segments(column, pk, descending, after, nullable, dialect):
        if len(ids) >= limit:
            break
        piece = select(pk).where(among, *where).order_by(*_order_by(columns, descending))
        ids.extend(session.scalars(piece.limit(limit - len(ids))))
    return _rows_by_id(session, stmt, pk, ids)


def keyset_rows(
    session: Session,
    stmt: Select,
    column: Any,
    pk: Any,
    *,
    descending: bool,
    after: Cursor | None,
    limit: int,
    probe: int | None = None,
    matches: Sequence[Any] | None = None,
) -> list[Any]:
    """Up to ``limit`` rows of ``stmt`` that follow ``after`` in (column, pk) order.

    ``probe`` (for a text search): see ``_probed_rows``. ``matches`` (every key
    ``stmt`` matches, from ``count_rows(keep_matches=True)``): see ``_rows_among``.
    """
    if matches is not None:
        return _rows_among(
            session,
            stmt,
            column,
            pk,
            matches,
            descending=descending,
            after=after,
            offset=0,
            limit=limit,
        )
    nullable = column is not pk and bool(getattr(column, "nullable", True))
    dialect = session.get_bind().dialect.name
    rows: list[Any] = []
    for where, columns in _segments(column, pk, descending, after, nullable, dialect):
        if len(rows) >= limit:
            break
        if probe is not None:
            rows.extend(
                _probed_rows(
                    session, stmt, pk, columns, where, descending, 0, limit - len(rows), probe
                )
            )
            continue
        order = _order_by(columns, descending)
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
    probe: int | None = None,
    matches: Sequence[Any] | None = None,
) -> list[Any]:
    """Rows ``offset``..``offset+limit`` of the (column, pk) ordering.

    Past ``deferred_from`` rows the offset is walked over primary keys only (an
    index-only scan where the index covers it), and just the page's rows are loaded.
    ``probe`` (for a text search): see ``_probed_rows`` (past the first page, a
    nullable column's page comes from every match). ``matches``: see ``_rows_among``.
    """
    if matches is not None:
        return _rows_among(
            session,
            stmt,
            column,
            pk,
            matches,
            descending=descending,
            after=None,
            offset=offset,
            limit=limit,
        )
    columns = [pk] if column is pk else [column, pk]
    order = _order_by(columns, descending)
    if probe is not None:
        nullable = column is not pk and bool(getattr(column, "nullable", True))
        if nullable and offset == 0:
            # The same rows, with NULLs probed as a piece of their own.
            return keyset_rows(
                session,
                stmt,
                column,
                pk,
                descending=descending,
                after=None,
                limit=limit,
                probe=probe,
            )
        if not nullable:
            return _probed_rows(session, stmt, pk, columns, [], descending, offset, limit, probe)
        return _matching_rows(session, stmt, pk, columns, [], descending, offset, limit)
    if offset <= deferred_from:
        return list(session.scalars(stmt.order_by(*order).offset(offset).limit(limit)).unique())
    ids = list(
        session.scalars(stmt.with_only_columns(pk).order_by(*order).offset(offset).limit(limit))
    )
    return _rows_by_id(session, stmt, pk, ids)


def from_the_end(offset: int, size: int, total: int) -> tuple[int, int] | None:
    """Where rows ``offset``..``offset+size`` lie in the reversed ordering of ``total`` rows.

    ``(offset, limit)`` to read backwards (then reverse) when the page is nearer the
    end, so the walk is ``total - offset`` rows instead of ``offset``; None when it is
    nearer the front. A b-tree keeps no subtree counts, so only an exact ``total``
    makes this correct. A page past the end is ``(0, 0)``: no rows, and no walk.
    """
    if offset * 2 <= total:
        return None
    end = min(offset + size, total)
    if end <= offset:
        return 0, 0
    return total - end, end - offset


def cursor_of(row: Any, column_key: str | None, pk_key: str = "id") -> Cursor:
    """The cursor of ``row`` in the ordering by ``column_key`` (None: the primary key)."""
    ident = getattr(row, pk_key)
    value = getattr(row, column_key) if column_key else ident
    return Cursor(value, ident)
