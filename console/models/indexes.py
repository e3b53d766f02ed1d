"""Index helpers shared by the models and by migration 0002."""

from __future__ import annotations

from sqlalchemy import DDL, Index, event

from console.models.base import Base


def trigram_index(name: str, column: str) -> Index:
    """A pg_trgm GIN index for ``ILIKE '%term%'`` search on PostgreSQL.

    Other databases get a plain index of the same name (migration 0002 does the
    same), so the metadata and every migrated database agree.
    """
    return Index(
        name,
        column,
        postgresql_using="gin",
        postgresql_ops={column: "gin_trgm_ops"},
        info={"trigram": True},
    )


# Trigram indexes need the pg_trgm extension. Migration 0002 creates it; this does
# the same for schemas built straight from the metadata (tests, scripts), so that
# ``metadata.create_all`` works on a fresh PostgreSQL database too.
event.listen(
    Base.metadata,
    "before_create",
    DDL("CREATE EXTENSION IF NOT EXISTS pg_trgm").execute_if(dialect="postgresql"),
)
