"""The list indexes (the demo's first migration): they match the models, they go with a
downgrade, and search uses pg_trgm.

The single-column to-do indexes the old history made and then dropped (its 0003) are
not among them: each column leads a (column, id) index instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from console import schema
from console.demo.models import DemoBase
from tests.conftest import create_pg_database, drop_pg_database, require_pg

NEW_INDEXES = {
    "ix_todo_description_id",
    "ix_todo_completed_id",
    "ix_todo_due_date_id",
    "ix_todo_priority_id",
    "ix_todo_list_id_id",
    "ix_todo_assignee_id_id",
    "ix_todo_created_at",
    "ix_todo_completed_updated_at",
    "ix_todo_completed_due_date",
    "ix_todo_description_trgm",
    "ix_todo_list_name_trgm",
    "ix_person_name_trgm",
    "ix_person_email_trgm",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def scratch_url(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """An empty database of its own (this test migrates it up and down)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'scratch.sqlite3'}"
        return
    require_pg()
    url = create_pg_database("console_idx")
    yield url
    drop_pg_database(url)


def index_names(engine: sa.Engine) -> set[str]:
    """Every index name in the todo, todo_list and person tables."""
    inspector = sa.inspect(engine)
    return {
        index["name"]
        for table in ("todo", "todo_list", "person")
        for index in inspector.get_indexes(table)
    }


REDUNDANT = {"ix_todo_assignee_id", "ix_todo_completed", "ix_todo_due_date", "ix_todo_list_id",
             "ix_todo_priority"}


def test_the_list_indexes_match_the_models_and_go_with_a_downgrade(scratch_url):
    console, demo = schema.console_history(), schema.demo_history()
    assert schema.initialise(scratch_url, [console, demo]).ok
    engine = sa.create_engine(scratch_url, poolclass=sa.pool.NullPool)
    try:
        names = index_names(engine)
        assert names >= NEW_INDEXES
        assert not (names & REDUNDANT)
        with engine.connect() as conn:
            assert schema.compare(conn, DemoBase.metadata) == []
        assert schema.downgrade(scratch_url, demo, "base").ok
        assert not ({"todo", "todo_list", "person"} & set(sa.inspect(engine).get_table_names()))
        assert schema.upgrade(scratch_url, demo).ok
        assert index_names(engine) == names
    finally:
        engine.dispose()


@pytest.mark.postgres_only
def test_text_search_uses_the_trigram_index(app, db):
    with db.engine.connect() as conn:
        conn.exec_driver_sql("SET enable_seqscan = off")
        plan = "\n".join(
            row[0]
            for row in conn.execute(
                sa.text(
                    "EXPLAIN SELECT id FROM todo WHERE CAST(description AS VARCHAR) ILIKE :term"
                ),
                {"term": "%milk%"},
            )
        )
    assert "ix_todo_description_trgm" in plan
