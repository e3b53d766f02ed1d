"""Index helpers shared by the models and by migration 0002."""

from __future__ import annotations

from sqlalchemy import Index


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
