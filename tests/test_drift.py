"""Drift named precisely, tables of nobody's kept apart, autogenerate never dropping.

Every test builds a database of its own (a SQLite file, or a PostgreSQL database made
with tests.conftest.create_pg_database), at the head of both histories, then changes
it the way a DBA or another application might have.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from console import schema
from console.cli import main
from console.demo.models import DemoBase
from console.models import Base
from tests.schema_helpers import admin_client, console_app, copy_scripts, empty_database, execute

HISTORIES = [schema.console_history(), schema.demo_history()]
FK = "fk_todo_list_id_todo_list"
ON_DELETE_LINE = "todo.list_id: ON DELETE is NO ACTION in the database, CASCADE in the models."
RENAME_LINE = "Index ix_todo_made on todo (created_at) in the database is ix_todo_created_at " \
    "in the models."


def _models_without_rule() -> sa.MetaData:
    """The models' tables, except that todo.list_id has no ON DELETE rule (NO ACTION)."""
    metadata = sa.MetaData(naming_convention=Base.metadata.naming_convention)
    for source in (schema.console_history().metadata, DemoBase.metadata):
        for table in source.sorted_tables:
            table.to_metadata(metadata)
    fk = next(iter(metadata.tables["todo"].c.list_id.foreign_keys))
    fk.ondelete = fk.constraint.ondelete = None
    return metadata


def _stamp_heads(url: str) -> None:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        for history in HISTORIES:
            config = Config()
            config.set_main_option("script_location", str(history.directory))
            config.attributes.update(connection=conn, skip_logging_config=True)
            command.stamp(config, "heads")
        conn.commit()
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def at_head(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of the test's own at the head of both histories."""
    with empty_database(request.param, tmp_path) as url:
        assert schema.initialise(url, HISTORIES).ok
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def rule_changed(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """At head, but todo.list_id is ON DELETE NO ACTION in the database (CASCADE in the models).

    PostgreSQL: the migrated constraint is altered in place. SQLite cannot alter one:
    the tables are built with the other rule and stamped at head.
    """
    with empty_database(request.param, tmp_path) as url:
        if request.param == "postgresql":
            assert schema.initialise(url, HISTORIES).ok
            execute(
                url,
                f"ALTER TABLE todo DROP CONSTRAINT {FK}, ADD CONSTRAINT {FK} "
                "FOREIGN KEY (list_id) REFERENCES todo_list (id)",
            )
        else:
            engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
            _models_without_rule().create_all(engine)
            engine.dispose()
            _stamp_heads(url)
        yield url


def _demo_drift(url: str) -> list[schema.DriftItem]:
    status = schema.status(url, schema.demo_history())
    assert status.up_to_date
    assert status.drift is not None
    return status.drift


def test_a_changed_on_delete_is_one_line_naming_the_rule(rule_changed):
    drift = _demo_drift(rule_changed)
    assert [(item.kind, item.text) for item in drift] == [("ON DELETE changed", ON_DELETE_LINE)]


def test_schema_status_and_the_migrations_page_name_the_rule(rule_changed, tmp_path):
    with console_app(rule_changed, schema.CONSOLE_SCRIPTS, tmp_path) as app:
        result = app.test_cli_runner().invoke(main, ["schema-status"])
        page = admin_client(app).get("/admin/migrations/").get_data(as_text=True)
    assert result.exit_code == 1, result.output
    assert f"  - {ON_DELETE_LINE}" in result.output
    assert "Foreign key" not in result.output
    assert ON_DELETE_LINE in page and "ON DELETE changed" in page
    assert "but not in the database" not in page


def test_an_index_renamed_is_one_line_an_index_changed_is_two(at_head):
    if at_head.startswith("postgresql"):
        execute(at_head, "ALTER INDEX ix_todo_created_at RENAME TO ix_todo_made")
    else:
        execute(
            at_head,
            "DROP INDEX ix_todo_created_at",
            "CREATE INDEX ix_todo_made ON todo (created_at)",
        )
    assert [(item.kind, item.text) for item in _demo_drift(at_head)] == [
        ("index renamed", RENAME_LINE)
    ]
    # Other columns under another name: not the same index.
    execute(
        at_head,
        "DROP INDEX ix_todo_priority_id",
        "CREATE INDEX ix_todo_priority ON todo (priority)",
    )
    assert sorted(item.text for item in _demo_drift(at_head)) == [
        RENAME_LINE,
        "Index ix_todo_priority on todo (priority) is in the database but not in the models.",
        "Index ix_todo_priority_id on todo (priority, id) is in the models but not in the "
        "database.",
    ]


def test_an_index_with_other_columns_under_its_name_stays_two_lines(at_head):
    execute(
        at_head,
        "DROP INDEX ix_todo_completed_due_date",
        "CREATE INDEX ix_todo_completed_due_date ON todo (due_date)",
    )
    assert sorted(item.kind for item in _demo_drift(at_head)) == ["extra index", "index missing"]


@pytest.mark.parametrize("strict", [False, True])
def test_schema_status_counts_tables_of_nobody_only_when_strict(at_head, tmp_path, strict):
    execute(at_head, "CREATE TABLE their_table (id INTEGER PRIMARY KEY)")
    args = ["schema-status", "--strict"] if strict else ["schema-status"]
    with console_app(at_head, schema.CONSOLE_SCRIPTS, tmp_path) as app:
        result = app.test_cli_runner().invoke(main, args)
    assert "Not managed by the console: their_table" in result.output
    assert "Drift: none" in result.output
    if strict:
        assert result.exit_code == 1, result.output
        assert "--strict: tables not managed by the console count as drift" in result.output
    else:
        assert result.exit_code == 0, result.output


def test_schema_status_strict_passes_without_tables_of_nobody(at_head, tmp_path):
    with console_app(at_head, schema.CONSOLE_SCRIPTS, tmp_path) as app:
        result = app.test_cli_runner().invoke(main, ["schema-status", "--strict"])
    assert result.exit_code == 0, result.output
    assert "Not managed by the console: none" in result.output


def test_autogenerate_proposes_no_drop_of_an_extra_table_or_column(at_head, tmp_path, caplog):
    """On each database: someone's table and a column the models lack stay, with a warning."""
    execute(
        at_head,
        "CREATE TABLE their_table (id INTEGER PRIMARY KEY, note VARCHAR(20))",
        "ALTER TABLE {console}account ADD COLUMN nickname VARCHAR(20)",
        "ALTER TABLE todo ADD COLUMN colour VARCHAR(10)",
    )
    sources = []
    engine = sa.create_engine(at_head, poolclass=sa.pool.NullPool)
    for history in HISTORIES:
        scripts = copy_scripts(tmp_path, history.directory)
        with engine.connect() as conn:
            config = Config(str(scripts / "alembic.ini"))
            config.set_main_option("script_location", str(scripts))
            config.attributes.update(connection=conn, skip_logging_config=True)
            with caplog.at_level("WARNING", logger="alembic.env"):
                command.revision(config, message="nothing", autogenerate=True, rev_id="x_none")
        [path] = (scripts / "versions").glob("x_none*.py")
        sources.append(path.read_text())
    engine.dispose()
    for source in sources:
        upgrade = source[source.index("def upgrade"):source.index("def downgrade")]
        assert "drop_table" not in upgrade and "drop_column" not in upgrade, upgrade
        assert "their_table" not in source
        assert "op." not in upgrade, upgrade
    assert "Not dropping column account.nickname" in caplog.text
    assert "Not dropping column todo.colour" in caplog.text
    assert "their_table" not in caplog.text


@pytest.mark.parametrize("rule", ["CASCADE", "SET NULL"])
def test_a_pending_revision_is_the_fix_only_when_it_sets_the_models_rule(
    rule_changed, tmp_path, rule
):
    from tests.schema_helpers import revision_source

    scripts = copy_scripts(
        tmp_path,
        schema.DEMO_SCRIPTS,
        d0002_rule=revision_source(
            "d0002_rule", "d0001_demo_tables", "Another rule for to-dos",
            f"""\
            with op.batch_alter_table("todo") as batch:
                batch.drop_constraint("{FK}", type_="foreignkey")
                batch.create_foreign_key(
                    "{FK}", "todo_list", ["list_id"], ["id"], ondelete="{rule}"
                )
            """,
        ),
    )
    history = schema.demo_history(scripts)
    found = schema.pending_rule_fix(rule_changed, [history], "todo", ["list_id"], "CASCADE")
    if rule == "CASCADE":
        assert found is not None and found[1].id == "d0002_rule"
    else:
        assert found is None
    # Nothing pending in the shipped scripts: no revision to point to.
    assert schema.pending_rule_fix(
        rule_changed, [schema.demo_history()], "todo", ["list_id"], "CASCADE"
    ) is None
