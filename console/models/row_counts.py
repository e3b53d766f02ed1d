"""Exact row counts kept by the database (``console.counts``).

On PostgreSQL, statement-level triggers on each counted table (``console.counts``
installs them) append one row ``(table, +n)`` or ``(table, -n)`` per INSERT or DELETE statement,
so ``sum(delta)`` is the table's exact row count in any snapshot: a delta row
commits (or rolls back) with the rows it counts. No row is ever updated by a
writer, so concurrent writers never wait on each other. See ``console.counts`` for
TRUNCATE and compaction, and ``console.paging.exact_table_count`` for the reader.

On other databases the table exists (the schema is the same everywhere) but stays
empty: ``count(*)`` is what they use.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from console.models.base import Base


class RowCountDelta(Base):
    """One statement's change to a table's row count (or a compacted sum of many)."""

    __tablename__ = "row_count_delta"

    # SQLite only numbers an INTEGER PRIMARY KEY by itself.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
    table_name: Mapped[str] = mapped_column(String(63), index=True)
    delta: Mapped[int] = mapped_column(BigInteger)
