"""The dashboard's figures, for whatever models the catalogue holds (no Flask imports).

A count per model (exact where the database keeps it); for a model with a creation
timestamp, a done flag and a change timestamp, a per-day chart; for one with a due
date and a done flag, what is overdue; for each parent/child pair whose children
cannot exist without a parent, the parents with the most children. A panel whose
columns a model does not have is left out. Each query is one an index can serve.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, desc, func, select, text
from sqlalchemy.orm import Session

from console import paging
from console.catalogue import Catalogue, Edge, ModelDescription
from console.models import AuditEntry

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
    """Rows created and done per day, scaled for an SVG of ``width`` x ``height``."""

    description: ModelDescription
    days: list[DayBar]
    peak: int
    width: int
    height: int
    bar_width: float
    total_created: int
    total_completed: int


@dataclass
class Overdue:
    """Open rows whose due date has passed, oldest first."""

    description: ModelDescription
    count: paging.RowCount
    rows: list[Any]


@dataclass
class Biggest:
    """The parents with the most children through one edge."""

    parent: ModelDescription
    child: ModelDescription
    edge: Edge
    exact: bool
    rows: list[tuple[Any, int]]


def model_counts(
    session: Session, descriptions: Iterable[ModelDescription]
) -> list[tuple[ModelDescription, paging.RowCount]]:
    """(description, count) for each model; estimated where exact would be slow."""
    return [
        (
            d,
            paging.count_rows(
                session, select(d.cls), d.pk.column, table_name=d.table.name, filtered=False
            ),
        )
        for d in descriptions
    ]


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


def charted(catalogue: Catalogue) -> ModelDescription | None:
    """The first model with what the chart needs: created and changed times, a done flag."""
    return next(
        (d for d in catalogue if d.created and d.changed and d.done is not None), None
    )


def activity_chart(
    session: Session,
    description: ModelDescription,
    today: date,
    *,
    days: int = CHART_DAYS,
    width: int = 720,
    height: int = 160,
) -> Chart:
    """Rows created per day, and done per day, over the last ``days`` days.

    A done row counts on the day it was last changed, which is the day it was ticked
    unless it was edited afterwards (there is no completion timestamp).
    """
    assert description.created and description.changed and description.done
    first = today - timedelta(days=days - 1)
    since = datetime.combine(first, datetime.min.time())
    created = _per_day(session, description.created.column, since)
    completed = _per_day(
        session, description.changed.column, since, description.done.column.is_(True)
    )
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
        description=description,
        days=bars,
        peak=top,
        width=width,
        height=height,
        bar_width=round(bar, 2),
        total_created=sum(created.get(b.day, 0) for b in bars),
        total_completed=sum(completed.get(b.day, 0) for b in bars),
    )


def with_due_dates(catalogue: Catalogue) -> ModelDescription | None:
    """The first model with a due date and a done flag."""
    return next((d for d in catalogue if d.due is not None and d.done is not None), None)


def overdue(
    session: Session, description: ModelDescription, today: date, limit: int = 10
) -> Overdue:
    """Open rows whose due date has passed, oldest first, and how many there are."""
    assert description.due is not None and description.done is not None
    due, pk = description.due.column, description.pk.column
    stmt: Select[Any] = select(description.cls).where(
        description.done.column.is_(False), due < today
    )
    count = paging.count_rows(
        session, stmt, pk, table_name=description.table.name, filtered=True, cap=10_000
    )
    rows = list(session.scalars(stmt.order_by(due, pk).limit(limit)))
    return Overdue(description, count, rows)


def parent_pairs(catalogue: Catalogue) -> list[Edge]:
    """Parent/child edges whose children cannot exist without their parent."""
    managed = {d.cls for d in catalogue}
    return [
        e for e in catalogue.edges
        if not e.fk.nullable and e.parent in managed and e.child in managed
        and e.target is catalogue.describe(e.parent).pk.column
    ]


def biggest_parents(
    session: Session, catalogue: Catalogue, edge: Edge, limit: int = 5
) -> Biggest:
    """The parents with the most children through ``edge``.

    Counting every parent's children reads the whole foreign key index. Where
    PostgreSQL already knows the most common values of the foreign key (its column
    statistics), those are counted exactly, one indexed count each; elsewhere the
    whole index is grouped.
    """
    parent = catalogue.describe(edge.parent)
    child = catalogue.describe(edge.child)
    candidates = _common_values(session, child, edge, limit * 4)
    if candidates:
        counted = [
            (key, session.scalar(select(func.count()).where(edge.fk == key)) or 0)
            for key in candidates
        ]
        counted.sort(key=lambda pair: (-pair[1], pair[0]))
        top = counted[:limit]
        exact = False
    else:
        top = [
            (key, number)
            for key, number in session.execute(
                select(edge.fk, func.count().label("n"))
                .group_by(edge.fk)
                .order_by(desc("n"), edge.fk)
                .limit(limit)
            )
        ]
        exact = True
    pk = parent.pk
    parents: list[Any] = list(
        session.scalars(select(parent.cls).where(pk.column.in_([k for k, _ in top])))
    )
    found = {getattr(row, pk.key): row for row in parents}
    return Biggest(parent, child, edge, exact, [(found[k], n) for k, n in top if k in found])


def _common_values(
    session: Session, child: ModelDescription, edge: Edge, limit: int
) -> list[Any]:
    """PostgreSQL's most common values of the foreign key (after ANALYZE), or []."""
    if session.get_bind().dialect.name != "postgresql":
        return []
    # Small tables: an exact GROUP BY is cheap and better than statistics.
    estimate = paging.table_estimate(session, child.table.name)
    if estimate is None or estimate < 100_000:
        return []
    values = session.scalar(
        text(
            "SELECT most_common_vals::text FROM pg_stats "
            "WHERE schemaname = current_schema() AND tablename = :table AND attname = :column"
        ),
        {"table": child.table.name, "column": edge.fk.name},
    )
    if not values:
        return []
    kind = child.column(_attribute(child, edge)).kind
    keys = []
    for raw in values.strip("{}").split(","):
        try:
            key = kind.parse(raw.strip().strip('"'), label="key")
        except ValueError:
            continue
        if key is not None:
            keys.append(key)
    return keys[:limit]


def _attribute(description: ModelDescription, edge: Edge) -> str:
    return next(c.key for c in description.columns if c.column is edge.fk)


# Sign-ins and account security events are in the audit log, but they change no data.
NOT_CHANGES = (
    "login", "login_failed", "sessions_ended", "two_factor_enabled", "two_factor_disabled",
    "two_factor_reset", "recovery_codes_replaced",
)


def recent_changes(
    session: Session, limit: int = 10, *, models: Iterable[str] | None = None
) -> list[AuditEntry]:
    """The latest audit entries that changed data, newest first (only ``models``'s if given)."""
    stmt = select(AuditEntry).where(AuditEntry.action.not_in(NOT_CHANGES))
    if models is not None:
        stmt = stmt.where(AuditEntry.model.in_(list(models)))
    return list(
        session.scalars(stmt.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit))
    )


__all__ = [
    "Biggest",
    "Chart",
    "Overdue",
    "activity_chart",
    "biggest_parents",
    "charted",
    "model_counts",
    "overdue",
    "parent_pairs",
    "recent_changes",
    "with_due_dates",
]
