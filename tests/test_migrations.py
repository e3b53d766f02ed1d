"""The migration scripts: two histories, one head each, reversible, in step with the models.

The console's own history (``migrations/``) and the demo's (``console/demo/migrations``)
replaced one history that created both sets of tables; a fresh database gets exactly
the schema that history gave, and a database it migrated is adopted without DDL.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from console import create_app, own_schema, schema
from console.cli import main
from console.demo.models import DemoBase
from console.extensions import db as _db
from tests.schema_helpers import (
    DEMO_HEAD,
    HEAD,
    LEGACY_SCRIPTS,
    all_tables,
    copy_scripts,
    empty_database,
    execute,
    legacy_upgrade,
    queue_tables,
    schema_snapshot,
    version,
)

HISTORIES = [schema.console_history(), schema.demo_history()]
VERSION_TABLES = {schema.CONSOLE_VERSION_TABLE, schema.DEMO_VERSION_TABLE}


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request, tmp_path):
    """An empty database of the test's own, on each backend."""
    with empty_database(request.param, tmp_path) as url:
        yield url


def _tables(url):
    return all_tables(url) - VERSION_TABLES


# The console's revision that the old history's 0004_row_counts is adopted as.
LEGACY_EQUIVALENT = "c0001_console_tables"


def _initialised(url):
    """``url`` after `console init`'s migrations; an engine on it (dispose it after)."""
    outcome = schema.initialise(url, HISTORIES)
    assert outcome.ok, [run.describe() for run in outcome.runs]
    return sa.create_engine(url, poolclass=sa.pool.NullPool)


def test_each_history_has_one_head_and_its_own_version_table():
    for history in HISTORIES:
        assert len(ScriptDirectory(str(history.directory)).get_heads()) == 1, history.name
    assert schema.console_history().version_table == "console_alembic_version"
    assert schema.demo_history().version_table == "alembic_version"


def test_upgrade_downgrade_upgrade(empty_url):
    model_tables = (schema.console_history().tables | set(DemoBase.metadata.tables)
                    | queue_tables(empty_url))
    _initialised(empty_url).dispose()
    assert _tables(empty_url) == model_tables
    # The demo's first: its row counts use the console's functions.
    for history in reversed(HISTORIES):
        result = schema.downgrade(empty_url, history, "base")
        assert result.ok, result.error
    assert _tables(empty_url) == set()
    assert version(empty_url) == [] and version(empty_url, "alembic_version") == []
    _initialised(empty_url).dispose()
    assert _tables(empty_url) == model_tables


def test_the_console_history_creates_only_the_console_tables(empty_url):
    result = schema.upgrade(empty_url, schema.console_history())
    assert result.ok, result.error
    assert _tables(empty_url) == schema.console_history().tables | queue_tables(empty_url)
    assert version(empty_url) == [HEAD]
    assert execute(empty_url, "SELECT count(*) FROM {console}account") == [(0,)]
    with pytest.raises(sa.exc.DBAPIError):
        execute(empty_url, "SELECT * FROM alembic_version")


def test_autogenerate_at_head_finds_no_difference(empty_url):
    engine = _initialised(empty_url)
    with engine.connect() as conn:
        for history in HISTORIES:
            with schema.scope(conn, history):
                assert schema.compare(conn, history.metadata) == [], history.name
    engine.dispose()


def test_foreign_keys_carry_their_on_delete_rules_and_are_indexed(empty_url):
    engine = _initialised(empty_url)
    inspector = sa.inspect(engine)
    rules = {}
    own = own_schema.schema_for(engine.dialect.name)
    for table, where in (("todo", None), ("todo_list", None), ("audit_entry", own),
                         ("grid_view", own)):
        # A foreign key is served by any index that leads with it (the (column, id) ones).
        leading = {ix["column_names"][0] for ix in inspector.get_indexes(table, where)}
        # A unique constraint is an index too.
        leading |= {uq["column_names"][0]
                    for uq in inspector.get_unique_constraints(table, where)}
        for fk in inspector.get_foreign_keys(table, where):
            column = fk["constrained_columns"][0]
            rules[(table, column)] = (fk["options"].get("ondelete") or "").upper()
            assert column in leading, f"{table}.{column} is not indexed"
    engine.dispose()
    assert rules == {
        ("todo", "list_id"): "CASCADE",
        ("todo", "assignee_id"): "SET NULL",
        ("todo_list", "owner_id"): "RESTRICT",
        ("audit_entry", "account_id"): "SET NULL",
        ("grid_view", "account_id"): "CASCADE",
    }


def test_no_index_is_a_prefix_of_another(empty_url):
    """Every b-tree index earns its upkeep: none repeats the leading columns of another."""
    engine = _initialised(empty_url)
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


def test_c0003_adds_the_grid_views_table_to_a_database_at_c0002(empty_url):
    console = schema.console_history()
    assert schema.upgrade(empty_url, console, "c0002_account_security").ok
    assert "grid_view" not in _tables(empty_url)
    result = schema.upgrade(empty_url, console, "c0003_grid_views")
    assert result.ok, result.error
    assert version(empty_url) == ["c0003_grid_views"]
    engine = sa.create_engine(empty_url, poolclass=sa.pool.NullPool)
    where = own_schema.schema_for(engine.dialect.name)
    inspector = sa.inspect(engine)
    columns = {c["name"]: c["nullable"] for c in inspector.get_columns("grid_view", where)}
    [unique] = inspector.get_unique_constraints("grid_view", where)
    [fk] = inspector.get_foreign_keys("grid_view", where)
    engine.dispose()
    assert columns == {"id": False, "account_id": False, "model": False, "name": False,
                       "layout": False, "args": False, "updated_at": False}
    assert unique["column_names"] == ["account_id", "model", "name"]
    assert (fk["referred_table"], fk["options"].get("ondelete", "").upper()) == (
        "account", "CASCADE")
    # And back: the table goes, the account's columns stay.
    result = schema.downgrade(empty_url, console, "c0002_account_security")
    assert result.ok, result.error
    assert "grid_view" not in _tables(empty_url) and "account" in _tables(empty_url)


# --- the old single history ---------------------------------------------------------------


def test_a_fresh_database_gets_exactly_the_schema_of_the_old_single_history(empty_url, tmp_path):
    kind = "sqlite" if empty_url.startswith("sqlite") else "postgresql"
    (tmp_path / "legacy").mkdir()
    with empty_database(kind, tmp_path / "legacy") as legacy_url:
        legacy_upgrade(legacy_url)
        # The first revision of each history is what the old history's last one made;
        # the console's later revisions change its own tables further.
        console, demo = HISTORIES
        assert schema.upgrade(empty_url, console, LEGACY_EQUIVALENT).ok
        assert schema.upgrade(empty_url, demo).ok
        legacy, fresh = schema_snapshot(legacy_url), schema_snapshot(empty_url)
    assert fresh == legacy
    if kind == "postgresql":
        # The comparison covers what matters: the trigram indexes and the counting triggers.
        assert any("gin_trgm_ops" in index[2] for index in fresh["indexes"])
        assert len(fresh["triggers"]) == 9 and {t[2] for t in fresh["triggers"]} == {"A"}
        assert len(fresh["functions"]) == 4
        assert fresh["row counts"] == [("person", 0), ("todo", 0), ("todo_list", 0)]


def _console_app(url, tmp_path, **config):
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "x",
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path / "instance"),
            **config,
        }
    )


def _invoke(app, *args):
    with app.app_context():
        try:
            return app.test_cli_runner().invoke(main, list(args))
        finally:
            _db.session.remove()
            _db.engine.dispose()


DDL = re.compile(r"^\s*(CREATE|ALTER|DROP|TRUNCATE|COMMENT|GRANT)\b", re.I)


def test_console_init_adopts_a_database_of_the_old_history_at_0004_without_ddl(
    empty_url, tmp_path
):
    legacy_upgrade(empty_url)
    execute(
        empty_url,
        "INSERT INTO person (name, email) VALUES ('Ann', 'ann@example.com')",
        "INSERT INTO todo_list (name, owner_id) VALUES ('Groceries', 1)",
        "INSERT INTO todo (description, list_id) VALUES ('Milk', 1), ('Eggs', 1)",
    )
    app = _console_app(empty_url, tmp_path)
    with app.app_context():
        status = schema.status(_db.engine, schema.console_history())
        _db.engine.dispose()
    assert status.state == schema.LEGACY and status.adoptable and status.can_upgrade
    assert "0004_row_counts" in status.explanation and "without changing any table" in (
        status.explanation
    )

    statements: list[str] = []

    def collect(_conn, _cursor, statement, *_args):
        statements.append(statement)

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", collect)
    try:
        result = _invoke(app, "init")
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", collect)

    assert result.exit_code == 0, result.output
    assert "Adopted a database of the console's old migration history at 0004_row_counts" in (
        result.output
    )
    assert version(empty_url) == [HEAD]
    assert version(empty_url, "alembic_version") == [DEMO_HEAD]
    # Adopting is no DDL but creating the console's own version table; after it, only the
    # console's revisions since the old history's last one run, on its own tables.
    ddl = [s.strip().splitlines()[0] for s in statements if DDL.match(s)]
    assert ddl[0] == f"CREATE TABLE {schema.CONSOLE_VERSION_TABLE} ("
    # On PostgreSQL the console's tables then move, as they are, into its own schema.
    moves = [d for d in ddl if " SET SCHEMA " in d or d.startswith(
        ("CREATE SCHEMA", "CREATE OR REPLACE FUNCTION"))]
    ddl = [d for d in ddl if d not in moves]
    moved = {re.match(r"ALTER TABLE public\.(\w+) SET SCHEMA console$", d).group(1)
             for d in moves if d.startswith("ALTER TABLE")}
    if empty_url.startswith("postgresql"):
        assert moved == {"account", "audit_entry", "row_count_delta",
                         schema.CONSOLE_VERSION_TABLE}, moves
        assert "Moved the console's tables" in result.output
    else:
        assert moves == []
    later = {"account", "login_throttle", "recovery_code", "grid_view", "_alembic_tmp_account",
             "job", "job_file"}
    touched = {re.search(r"(?:TABLE|ON) (?:IF NOT EXISTS )?\"?(\w+)", d).group(1) for d in ddl[1:]}
    assert touched <= later, touched
    # The demo's tables are as they were, and the whole schema is a fresh database's.
    kind = "sqlite" if empty_url.startswith("sqlite") else "postgresql"
    (tmp_path / "fresh").mkdir()
    with empty_database(kind, tmp_path / "fresh") as fresh_url:
        _initialised(fresh_url).dispose()
        adopted, fresh = schema_snapshot(empty_url), schema_snapshot(fresh_url)
    # (The kept counts differ, as they should: the adopted database has rows.)
    assert [tuple(r) for r in adopted.pop("row counts")] in ([], [("person", 1), ("todo", 2),
                                                                 ("todo_list", 1)])
    fresh.pop("row counts")
    assert _unordered(adopted) == _unordered(fresh)
    status_run = _invoke(app, "schema-status")
    assert status_run.exit_code == 0, status_run.output
    assert status_run.output.count("State:           up to date") == 2


def _unordered(snapshot):
    """A snapshot with each SQLite CREATE statement's lines as a set: SQLite's batch mode
    recreates a table with its constraints in whatever order it reflected them."""
    objects = snapshot.get("objects")
    if objects is None:
        return snapshot
    return {**snapshot, "objects": {
        name: (kind, table, frozenset(line.strip().rstrip(",").strip()
                                      for line in (sql or "").splitlines()))
        for name, (kind, table, sql) in objects.items()
    }}


@pytest.mark.parametrize("revision", schema.LEGACY_REVISIONS[:-1])
def test_an_older_legacy_database_is_told_what_to_do(empty_url, tmp_path, revision):
    legacy_upgrade(empty_url, revision)
    before = schema_snapshot(empty_url)
    app = _console_app(empty_url, tmp_path)
    result = _invoke(app, "init")
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert f"is at its revision {revision}" in text
    assert "only at that history's last revision, 0004_row_counts" in text
    assert "upgrade it there first with the console release that migrated it" in text
    assert schema_snapshot(empty_url) == before
    assert version(empty_url, "alembic_version") == [revision]
    with pytest.raises(sa.exc.DBAPIError):
        version(empty_url)


def test_a_legacy_database_at_0004_missing_a_table_is_not_adopted(empty_url, tmp_path):
    legacy_upgrade(empty_url)
    execute(empty_url, "DROP TABLE todo")
    result = _invoke(_console_app(empty_url, tmp_path), "init")
    assert result.exit_code == 1
    assert "lacks table(s) todo" in " ".join(result.output.split())
    assert version(empty_url, "alembic_version") == [schema.LEGACY_HEAD]


def test_an_applications_own_alembic_version_is_left_alone(empty_url, tmp_path):
    """With other models than the demo, the console's history never reads alembic_version."""
    execute(
        empty_url,
        "CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)",
        "INSERT INTO alembic_version VALUES ('their_0007')",
        "CREATE TABLE shop_order (id INTEGER PRIMARY KEY)",
    )
    status = schema.status(empty_url, schema.console_history())
    assert status.state == schema.EMPTY
    assert schema.upgrade(empty_url, schema.console_history()).ok
    assert version(empty_url) == [HEAD]
    assert version(empty_url, "alembic_version") == ["their_0007"]
    report = schema.report(empty_url, [schema.console_history()])
    assert report.ok and report.unmanaged == ["alembic_version", "shop_order"]


# --- portable autogenerate ------------------------------------------------------------------


def _changed_metadata() -> sa.MetaData:
    """The console's metadata plus a throwaway table and a new column, with server defaults."""
    own = schema.console_history().metadata
    metadata = sa.MetaData(naming_convention=dict(own.naming_convention))
    for table in own.tables.values():
        table.to_metadata(metadata)
    sa.Table(
        "flag_note",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "pinned",
            sa.Boolean(create_constraint=True, name="pinned_bool"),
            server_default=sa.true(),
            nullable=False,
        ),
        sa.Column("archived", sa.Boolean, server_default=sa.false(), nullable=False),
        sa.Column(
            "noted_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("label", sa.String(20), server_default="none", nullable=False),
    )
    metadata.tables["account"].append_column(
        sa.Column(
            "beta",
            sa.Boolean(create_constraint=True, name="beta_bool"),
            server_default=sa.false(),
            nullable=False,
        )
    )
    return metadata


def test_a_revision_autogenerated_on_sqlite_runs_on_postgresql(tmp_path):
    scripts = copy_scripts(tmp_path)
    sqlite_url = f"sqlite:///{tmp_path / 'dev.sqlite3'}"
    assert schema.upgrade(sqlite_url, scripts).ok
    # Someone else's table in the same database: autogenerate must not touch it.
    execute(sqlite_url, "CREATE TABLE their_table (id INTEGER PRIMARY KEY, note TEXT)")
    metadata = _changed_metadata()
    engine = sa.create_engine(sqlite_url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        config = Config(str(scripts / "alembic.ini"))
        config.set_main_option("script_location", str(scripts))
        config.attributes.update(
            connection=conn, target_metadata=metadata, skip_logging_config=True
        )
        command.revision(config, message="flags", autogenerate=True, rev_id="c0002_flags")
    engine.dispose()
    [path] = (scripts / "versions").glob("c0002_flags*.py")
    source = path.read_text()
    upgrade_part = source[source.index("def upgrade"):source.index("def downgrade")]
    assert "server_default=sa.true()" in upgrade_part
    assert upgrade_part.count("server_default=sa.false()") == 2
    assert "server_default=sa.func.now()" in upgrade_part
    assert "sa.text('1')" not in source and "sa.text('0')" not in source
    assert "their_table" not in source and "drop_table" not in upgrade_part
    assert "drop_column" not in upgrade_part
    assert "alembic_version" not in source

    # The same script runs on SQLite, where it was written...
    assert schema.upgrade(sqlite_url, scripts).ok
    # ...and on PostgreSQL, with the defaults PostgreSQL means by them.
    with empty_database("postgresql", tmp_path) as pg_url:
        result = schema.upgrade(pg_url, scripts)
        assert result.ok, result.error
        assert version(pg_url) == ["c0002_flags"]
        row = execute(
            pg_url,
            "INSERT INTO {console}flag_note DEFAULT VALUES",
            "INSERT INTO {console}account (email, password_hash, session_token) "
            "VALUES ('a@example.com', 'x', 't')",
            "SELECT f.pinned, f.archived, f.label, f.noted_at IS NOT NULL, a.beta "
            "FROM {console}flag_note f, {console}account a",
        )
        assert row == [(True, False, "none", True, False)]
        pg_engine = sa.create_engine(pg_url, poolclass=sa.pool.NullPool)
        with pg_engine.connect() as conn:
            with schema.scope(conn, schema.console_history()):
                assert schema.compare(conn, metadata) == []
            types = {c["name"]: c["type"]
                     for c in sa.inspect(conn).get_columns("flag_note", "console")}
        pg_engine.dispose()
        assert isinstance(types["pinned"], sa.Boolean)
        assert schema.downgrade(pg_url, scripts).ok
        assert version(pg_url) == [HEAD]


def test_autogenerate_leaves_drops_to_a_person(tmp_path, caplog):
    """A column the models lack is reported, never dropped by a generated script."""
    scripts = copy_scripts(tmp_path)
    url = f"sqlite:///{tmp_path / 'dev.sqlite3'}"
    assert schema.upgrade(url, scripts).ok
    execute(url, "ALTER TABLE account ADD COLUMN nickname VARCHAR(20)")
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        config = Config(str(scripts / "alembic.ini"))
        config.set_main_option("script_location", str(scripts))
        config.attributes.update(connection=conn, skip_logging_config=True)
        with caplog.at_level("WARNING", logger="alembic.env"):
            command.revision(config, message="nothing", autogenerate=True, rev_id="c0002_none")
    engine.dispose()
    [path] = (scripts / "versions").glob("c0002_none*.py")
    assert "drop_column" not in path.read_text()
    assert "Not dropping column account.nickname" in caplog.text


def test_plain_alembic_runs_take_the_migration_lock(tmp_path):
    """Flask-Migrate and the alembic command go through env.py, which takes the lock too."""
    with empty_database("postgresql", tmp_path) as url:
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        with engine.connect() as holder:
            holder.execute(sa.select(sa.func.pg_advisory_lock(schema.LOCK_KEY)))
            holder.commit()
            app = _console_app(url, tmp_path, CONSOLE_MIGRATION_LOCK_WAIT=0.2)
            with app.app_context():
                config = Config(str(schema.CONSOLE_SCRIPTS / "alembic.ini"))
                config.set_main_option("script_location", str(schema.CONSOLE_SCRIPTS))
                config.attributes["skip_logging_config"] = True
                with pytest.raises(schema.MigrationRunning):
                    command.upgrade(config, "head")
                _db.engine.dispose()
            holder.execute(sa.select(sa.func.pg_advisory_unlock(schema.LOCK_KEY)))
            holder.commit()
        engine.dispose()
        assert _tables(url) == set()


def test_the_legacy_scripts_are_the_old_history():
    """tests/fixtures keeps the old history's four revisions, in order, ending at 0004."""
    legacy = ScriptDirectory(str(LEGACY_SCRIPTS))
    revisions = [r.revision for r in reversed(list(legacy.walk_revisions()))]
    assert tuple(revisions) == schema.LEGACY_REVISIONS
