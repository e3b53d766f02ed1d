"""Helpers for the schema tests: databases of their own and copies of the migration scripts.

The console's own history (``migrations/``) is the one the migrations page acts on;
``REVISIONS``/``HEAD`` are its revisions, ``DEMO_REVISIONS``/``DEMO_HEAD`` the demo's.
"""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from flask import Flask
from flask.testing import FlaskClient

from console import create_app, schema
from console.extensions import db as _db
from console.models import Role
from tests.conftest import Auth, create_pg_database, drop_pg_database, make_account, require_pg

ROOT = Path(__file__).resolve().parent.parent
LEGACY_SCRIPTS = ROOT / "tests" / "fixtures" / "legacy_migrations"


def _revisions(directory: Path) -> list[str]:
    """The revisions of the scripts in ``directory``, oldest first."""
    return [r.revision for r in reversed(list(ScriptDirectory(str(directory)).walk_revisions()))]


# The project's real revisions, oldest first, and the newest of them.
REVISIONS = _revisions(schema.CONSOLE_SCRIPTS)
HEAD = REVISIONS[-1]
DEMO_REVISIONS = _revisions(schema.DEMO_SCRIPTS)
DEMO_HEAD = DEMO_REVISIONS[-1]
GATE_KEY = 4242


def _body(code: str) -> str:
    return textwrap.indent(textwrap.dedent(code).strip() + "\n", "    ")


def revision_source(
    rev: str, down: str, message: str, upgrade: str, downgrade: str = "pass"
) -> str:
    """The source of a revision file running ``upgrade`` / ``downgrade`` (Python statements)."""
    header = (
        f'"""{message}\n\nRevision ID: {rev}\nRevises: {down}\nCreate Date: 2026-11-27\n"""\n\n'
        "import sqlalchemy as sa\nfrom alembic import op\n\n"
        f'revision = "{rev}"\ndown_revision = "{down}"\n'
        "branch_labels = None\ndepends_on = None\n\n\n"
    )
    return (
        header + "def upgrade() -> None:\n" + _body(upgrade)
        + "\n\ndef downgrade() -> None:\n" + _body(downgrade)
    )


def noop(rev: str, down: str) -> str:
    """A revision that changes nothing the models can see (no drift after it)."""
    return revision_source(rev, down, f"No-op step {rev}", "op.execute('SELECT 1')")


def marker(rev: str, down: str) -> str:
    """A revision that creates a table and inserts one row per run, so runs can be counted."""
    return revision_source(
        rev, down, "Marker table",
        """\
        table = op.create_table("marker", sa.Column("id", sa.Integer, primary_key=True))
        op.bulk_insert(table, [{}])
        """,
        'op.drop_table("marker")',
    )


def gated(rev: str, down: str) -> str:
    """A revision that waits for the test to release advisory lock GATE_KEY (PostgreSQL)."""
    return revision_source(
        rev, down, "Waits for the test's gate",
        f"""\
        op.execute("SELECT pg_advisory_lock({GATE_KEY})")
        op.execute("SELECT pg_advisory_unlock({GATE_KEY})")
        """,
    )


def broken(rev: str, down: str) -> str:
    """A revision that adds a column and then fails."""
    return revision_source(
        rev, down, "Broken on purpose",
        """\
        op.add_column("account", sa.Column("half_done", sa.Integer))
        op.execute("SELECT * FROM no_such_table")
        """,
    )


def copy_scripts(tmp_path: Path, source: Path = schema.CONSOLE_SCRIPTS, **revisions: str) -> Path:
    """A copy of a scripts directory (the console's) with extra revision files (name -> source)."""
    own = source == schema.CONSOLE_SCRIPTS
    target = tmp_path / ("migrations" if own else f"{source.parent.name}_{source.name}")
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    for name, text in revisions.items():
        (target / "versions" / f"{name}.py").write_text(text)
    return target


@contextmanager
def empty_database(kind: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of the test's own: a SQLite file, or a new PostgreSQL database."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'own.sqlite3'}"
        return
    require_pg()
    url = create_pg_database("console_schema")
    try:
        yield url
    finally:
        drop_pg_database(url)


# The job queue's tables (procrastinate), made by the console's migrations on PostgreSQL.
QUEUE_TABLES = frozenset({"procrastinate_jobs", "procrastinate_workers", "procrastinate_events",
                          "procrastinate_periodic_defers"})


def queue_tables(url: str) -> set[str]:
    """The job queue's tables on ``url``: PostgreSQL's only (SQLite runs jobs in-process)."""
    return set(QUEUE_TABLES) if url.startswith("postgresql") else set()


def own(url: str) -> str:
    """The prefix of the console's own tables in SQL on ``url``: its schema on PostgreSQL."""
    return "console." if url.startswith("postgresql") else ""


def execute(url: str, *statements: str) -> list[Any]:
    """Run SQL statements in one transaction on a short-lived engine; return the last's rows.

    ``{console}`` in a statement stands for the schema of the console's own tables.
    """
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            rows: list[Any] = []
            for statement in statements:
                result = conn.exec_driver_sql(statement.replace("{console}", own(url)))
                rows = list(result) if result.returns_rows else []
            return rows
    finally:
        engine.dispose()


def version(url: str, table: str = schema.CONSOLE_VERSION_TABLE) -> list[str]:
    """The revisions a version table (the console's own, by default) holds now."""
    prefix = "{console}" if table == schema.CONSOLE_VERSION_TABLE else ""
    return sorted(row[0] for row in execute(url, f"SELECT version_num FROM {prefix}{table}"))


def all_tables(bind: Any) -> set[str]:
    """The tables of the default schema and, on PostgreSQL, of the console's (by name)."""
    engine = sa.create_engine(bind, poolclass=sa.pool.NullPool) if isinstance(bind, str) else bind
    try:
        inspector = sa.inspect(engine)
        names = set(inspector.get_table_names())
        if engine.dialect.name == "postgresql" and "console" in inspector.get_schema_names():
            names |= set(inspector.get_table_names(schema="console"))
        return names
    finally:
        if isinstance(bind, str):
            engine.dispose()


def legacy_upgrade(url: str, revision: str = schema.LEGACY_HEAD) -> None:
    """Migrate ``url`` with the console's old single history (0001-0004) to ``revision``."""
    from alembic import command
    from alembic.config import Config

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            config = Config(str(LEGACY_SCRIPTS / "alembic.ini"))
            config.set_main_option("script_location", str(LEGACY_SCRIPTS))
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
            conn.commit()
    finally:
        engine.dispose()


@contextmanager
def console_app(url: str, scripts: Path, tmp_path: Path) -> Iterator[Flask]:
    """The console on ``url`` with its migrations page pointed at ``scripts``."""
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "SQLALCHEMY_DATABASE_URI": url,
            "WTF_CSRF_ENABLED": True,
            "INSTANCE_PATH": str(tmp_path / "own-instance"),
        }
    )
    app.jinja_env.undefined = __import__("jinja2").StrictUndefined
    app.extensions["migrate"].directory = str(scripts)
    with app.app_context():
        yield app
        _db.session.remove()
        _db.engine.dispose()


def admin_client(app: Flask) -> FlaskClient:
    """A client logged in as a fresh admin of ``app``'s database."""
    make_account(Role.admin)
    client = app.test_client()
    response = Auth(client).login("admin@example.com")
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def _unqualified(value: Any) -> Any:
    """A definition's text without the schema names of the console's or the demo's objects."""
    if not isinstance(value, str):
        return value
    for prefix in ('"console".', "console.", "public."):
        value = value.replace(prefix, "")
    return value


def schema_snapshot(url: str) -> dict[str, Any]:
    """Everything the database's schema is made of (version tables aside), comparable with ==.

    SQLite: the CREATE statements it keeps. PostgreSQL: columns in order with types,
    NULLs and defaults; constraints, indexes and triggers as PostgreSQL prints them;
    the functions (whitespace-normalised) outside extensions; extensions; sequences.
    Plus the kept row counts, which a migration seeds.
    """
    versions = (schema.CONSOLE_VERSION_TABLE, schema.DEMO_VERSION_TABLE)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            snapshot: dict[str, Any] = {}
            if conn.dialect.name == "sqlite":
                rows = conn.exec_driver_sql(
                    "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name"
                )
                snapshot["objects"] = {
                    name: (kind, table, sql) for kind, name, table, sql in rows
                    if table not in versions
                }
            else:
                # The console's tables are in its own schema, the demo's in public (before
                # the console had a schema, everything was in public): both are read, and
                # the schema names are left out of what is compared.
                public = "ANY(ARRAY['public'::regnamespace, to_regnamespace('console')])"
                queries = {
                    "columns": (
                        "SELECT c.relname, a.attnum, a.attname, "
                        "format_type(a.atttypid, a.atttypmod), a.attnotnull, "
                        "pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a "
                        "JOIN pg_class c ON c.oid = a.attrelid "
                        "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
                        f"WHERE c.relnamespace = {public} AND c.relkind = 'r' AND a.attnum > 0 "
                        "AND NOT a.attisdropped AND c.relname <> ALL(:versions) ORDER BY 1, 2"
                    ),
                    "constraints": (
                        "SELECT c.relname, conname, pg_get_constraintdef(o.oid) "
                        "FROM pg_constraint o JOIN pg_class c ON c.oid = o.conrelid "
                        f"WHERE connamespace = {public} "
                        "AND c.relname <> ALL(:versions) ORDER BY 1, 2"
                    ),
                    "indexes": (
                        "SELECT tablename, indexname, indexdef FROM pg_indexes "
                        "WHERE schemaname IN ('public', 'console') AND tablename <> ALL(:versions) "
                        "ORDER BY 1, 2"
                    ),
                    "triggers": (
                        "SELECT c.relname, tgname, tgenabled, pg_get_triggerdef(t.oid) "
                        "FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                        "WHERE NOT tgisinternal ORDER BY 1, 2"
                    ),
                    "functions": (
                        "SELECT proname, "
                        "regexp_replace(pg_get_functiondef(p.oid), '\\s+', ' ', 'g') "
                        f"FROM pg_proc p WHERE pronamespace = {public} AND NOT EXISTS ("
                        "SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e') "
                        "ORDER BY 1"
                    ),
                    "extensions": "SELECT extname FROM pg_extension ORDER BY 1",
                    "sequences": (
                        "SELECT sequencename, data_type, start_value, increment_by "
                        "FROM pg_sequences WHERE schemaname IN ('public', 'console') ORDER BY 1"
                    ),
                }
                for key, query in queries.items():
                    snapshot[key] = [
                        tuple(_unqualified(value) for value in row)
                        for row in conn.execute(sa.text(query), {"versions": list(versions)})
                    ]
            deltas = None
            if conn.dialect.name == "postgresql":
                deltas = conn.exec_driver_sql(
                    "SELECT coalesce(to_regclass('console.row_count_delta'), "
                    "to_regclass('public.row_count_delta'))::text"
                ).scalar()
            elif sa.inspect(conn).has_table("row_count_delta"):
                deltas = "row_count_delta"
            if deltas:
                snapshot["row counts"] = [
                    tuple(row)
                    for row in conn.exec_driver_sql(
                        f"SELECT table_name, sum(delta) FROM {deltas} "
                        "GROUP BY table_name ORDER BY 1"
                    )
                ]
            return snapshot
    finally:
        engine.dispose()
