"""Migration 0002: its indexes match the models, it reverses, and search uses pg_trgm."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from console import create_app
from console.extensions import db as _db
from console.models import Base
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


def test_0002_matches_the_models_and_reverses(scratch_url, tmp_path):
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": scratch_url,
            "SECRET_KEY": "x",
            "INSTANCE_PATH": str(tmp_path / "instance"),
        }
    )
    with app.app_context():
        upgrade()
        assert index_names(_db.engine) >= NEW_INDEXES
        with _db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
        downgrade(revision="0001_initial")
        assert not (NEW_INDEXES & index_names(_db.engine))
        upgrade()
        assert index_names(_db.engine) >= NEW_INDEXES
        _db.engine.dispose()


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
