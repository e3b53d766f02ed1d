"""The dashboard's figures, each one an indexed query (no Flask imports).

Every query here is served by an index of migration 0002 (or 0001), so the
dashboard costs about the same at a thousand to-dos as at a million, with one
exception spelled out in ``biggest_lists``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import desc, func, select, text
from sqlalchemy.orm import Session, joinedload

from console import paging
from console.demo.models import Person, Todo, TodoList
from console.models import Account, AuditEntry

CHART_DAYS = 30


@dataclass
class DayBar:
    """One day of the chart, with its bars' geometry precomputed for the SVG."""

    day: date
    created: int
    completed: int
    x: float
    created_height: float
    completed_height: float


@dataclass
class Chart:
    """To-dos created and completed per day, scaled for an SVG of ``width`` x ``height``."""

    days: list[DayBar]
    peak: int
    width: int
    height: int
    bar_width: float
    total_created: int
    total_completed: int


def model_counts(session: Session) -> list[tuple[str, str, type]]:
    """(label, count label, model) for each model; estimated where exact would be slow."""
    result = []
    for label, model in (
        ("People", Person),
        ("To-do lists", TodoList),
        ("To-dos", Todo),
        ("Accounts", Account),
        ("Audit entries", AuditEntry),
    ):
        count = paging.count_rows(
            session, select(model), model.id, table_name=model.__tablename__, filtered=False
        )
        result.append((label, count.label, model))
    return result


def _per_day(session: Session, column: Any, since: datetime, *where: Any) -> dict[date, int]:
    day = func.date(column)
    rows = session.execute(
        select(day, func.count()).where(column >= since, *where).group_by(day)
    ).all()
    counts: dict[date, int] = {}
    for value, number in rows:
        # PostgreSQL returns dates, SQLite returns 'YYYY-MM-DD' text.
        key = value if isinstance(value, date) else date.fromisoformat(str(value))
        counts[key] = counts.get(key, 0) + number
    return counts


def activity_chart(
    session: Session, today: date, *, days: int = CHART_DAYS, width: int = 720, height: int = 160
) -> Chart:
    """To-dos created per day, and completed per day, over the last ``days`` days.

    There is no completion timestamp: a completed to-do counts on the day it was
    last updated, which is the day it was ticked unless it was edited afterwards.
    """
    first = today - timedelta(days=days - 1)
    since = datetime.combine(first, datetime.min.time())
    created = _per_day(session, Todo.created_at, since)
    completed = _per_day(session, Todo.updated_at, since, Todo.completed.is_(True))
    peak = max([1, *created.values(), *completed.values()])
    # A round top for the axis: 1, 2, 5 x 10^n.
    magnitude = 10 ** math.floor(math.log10(peak))
    top = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= peak)
    slot = width / days
    bar = max(1.0, slot / 2 - 1)
    bars = []
    for i in range(days):
        day = first + timedelta(days=i)
        made, done = created.get(day, 0), completed.get(day, 0)
        bars.append(
            DayBar(
                day=day,
                created=made,
                completed=done,
                x=round(i * slot, 2),
                created_height=round(made / top * height, 2),
                completed_height=round(done / top * height, 2),
            )
        )
    return Chart(
        days=bars,
        peak=top,
        width=width,
        height=height,
        bar_width=round(bar, 2),
        total_created=sum(created.get(b.day, 0) for b in bars),
        total_completed=sum(completed.get(b.day, 0) for b in bars),
    )


def overdue(session: Session, today: date, limit: int = 10) -> tuple[paging.RowCount, list[Todo]]:
    """Open to-dos whose due date has passed, oldest first, and how many there are."""
    stmt = select(Todo).where(Todo.completed.is_(False), Todo.due_date < today)
    count = paging.count_rows(session, stmt, Todo.id, table_name="todo", filtered=True, cap=10_000)
    rows = list(
        session.scalars(
            stmt.options(joinedload(Todo.todo_list)).order_by(Todo.due_date, Todo.id).limit(limit)
        )
    )
    return count, rows


def biggest_lists(session: Session, limit: int = 5) -> tuple[bool, list[tuple[Any, int]]]:
    """The lists with the most to-dos: (exact?, [(list, count)]).

    Counting every list's to-dos reads the whole list_id index. Where PostgreSQL
    already knows the most common list ids (its column statistics), those are
    counted exactly, one indexed count each; elsewhere the whole index is grouped.
    """
    candidates = _common_list_ids(session, limit * 4)
    if candidates:
        counted = [
            (
                list_id,
                session.scalar(select(func.count()).where(Todo.list_id == list_id)) or 0,
            )
            for list_id in candidates
        ]
        counted.sort(key=lambda pair: (-pair[1], pair[0]))
        top = counted[:limit]
        exact = False
    else:
        top = [
            (list_id, number)
            for list_id, number in session.execute(
                select(Todo.list_id, func.count().label("n"))
                .group_by(Todo.list_id)
                .order_by(desc("n"), Todo.list_id)
                .limit(limit)
            )
        ]
        exact = True
    lists = {
        row.id: row
        for row in session.scalars(
            select(TodoList)
            .options(joinedload(TodoList.owner))
            .where(TodoList.id.in_([i for i, _ in top]))
        )
    }
    return exact, [(lists[i], n) for i, n in top if i in lists]


def _common_list_ids(session: Session, limit: int) -> list[int]:
    """PostgreSQL's most common todo.list_id values (after ANALYZE), or [] when it has none."""
    if session.get_bind().dialect.name != "postgresql":
        return []
    # Small tables: an exact GROUP BY is cheap and better than statistics.
    estimate = paging.table_estimate(session, "todo")
    if estimate is None or estimate < 100_000:
        return []
    values = session.scalar(
        text(
            "SELECT most_common_vals::text FROM pg_stats "
            "WHERE schemaname = current_schema() AND tablename = 'todo' AND attname = 'list_id'"
        )
    )
    if not values:
        return []
    ids = [int(v) for v in values.strip("{}").split(",") if v.strip().isdigit()]
    return ids[:limit]


# Sign-ins are in the audit log, but they change no data.
NOT_CHANGES = ("login", "login_failed")


def recent_changes(session: Session, limit: int = 10) -> list[AuditEntry]:
    """The latest audit entries that changed data, newest first."""
    return list(
        session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action.not_in(NOT_CHANGES))
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
            .limit(limit)
        )
    )
