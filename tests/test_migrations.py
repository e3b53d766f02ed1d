"""The migration scripts: one head, reversible, and in step with the models."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from console import create_app
from console.models import Base
from tests.conftest import create_pg_database, drop_pg_database, require_pg

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path):
    """An empty database of the test's own, on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    require_pg()
    url = create_pg_database("console_mig")
    yield url
    drop_pg_database(url)


def _app(url, tmp_path):
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "x",
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path / "instance"),
        }
    )


def _tables(url):
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    names = set(sa.inspect(engine).get_table_names())
    engine.dispose()
    return names - {"alembic_version"}


def test_single_head():
    script = ScriptDirectory.from_config(_alembic_config())
    assert len(script.get_heads()) == 1


def _alembic_config():
    config = Config(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def test_upgrade_downgrade_upgrade(empty_database, tmp_path):
    from flask_migrate import downgrade, upgrade

    app = _app(empty_database, tmp_path)
    model_tables = set(Base.metadata.tables)
    with app.app_context():
        upgrade()
        assert _tables(empty_database) == model_tables
        downgrade(revision="base")
        assert _tables(empty_database) == set()
        upgrade()
        assert _tables(empty_database) == model_tables
        from console.extensions import db

        db.engine.dispose()


def test_autogenerate_at_head_finds_no_difference(empty_database, tmp_path):
    from flask_migrate import upgrade

    app = _app(empty_database, tmp_path)
    with app.app_context():
        upgrade()
        from console.extensions import db

        db.engine.dispose()
    engine = sa.create_engine(empty_database, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == []


def _upgraded(url, tmp_path):
    """An engine on ``url`` after upgrading it to head through the app (dispose it after)."""
    from flask_migrate import upgrade

    app = _app(url, tmp_path)
    with app.app_context():
        upgrade()
        from console.extensions import db

        db.engine.dispose()
    return sa.create_engine(url, poolclass=sa.pool.NullPool)


def test_foreign_keys_carry_their_on_delete_rules_and_are_indexed(empty_database, tmp_path):
    engine = _upgraded(empty_database, tmp_path)
    inspector = sa.inspect(engine)
    rules = {}
    for table in ("todo", "todo_list"):
        # A foreign key is served by any index that leads with it (0002's (column, id)).
        leading = {ix["column_names"][0] for ix in inspector.get_indexes(table)}
        for fk in inspector.get_foreign_keys(table):
            column = fk["constrained_columns"][0]
            rules[(table, column)] = (fk["options"].get("ondelete") or "").upper()
            assert column in leading, f"{table}.{column} is not indexed"
    engine.dispose()
    assert rules == {
        ("todo", "list_id"): "CASCADE",
        ("todo", "assignee_id"): "SET NULL",
        ("todo_list", "owner_id"): "RESTRICT",
    }


def test_no_index_is_a_prefix_of_another(empty_database, tmp_path):
    """Every b-tree index earns its upkeep: none repeats the leading columns of another."""
    engine = _upgraded(empty_database, tmp_path)
    inspector = sa.inspect(engine)
    redundant = []
    for table in inspector.get_table_names():
        indexes = [
            (ix["name"], tuple(ix["column_names"]))
            for ix in inspector.get_indexes(table)
            if not ix["unique"] and not ix["name"].endswith("_trgm")
        ]
        for name, columns in indexes:
            for other, longer in indexes:
                prefix = longer[: len(columns)] == columns
                if other != name and len(longer) > len(columns) and prefix:
                    redundant.append(f"{name} {columns} is a prefix of {other} {longer}")
    engine.dispose()
    assert redundant == []
