"""Helpers for the schema tests: databases of their own and copies of the migration scripts."""

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

from console import create_app
from console.extensions import db as _db
from console.models import Role
from tests.conftest import Auth, create_pg_database, drop_pg_database, make_account, require_pg

ROOT = Path(__file__).resolve().parent.parent
_SCRIPTS = ScriptDirectory(str(ROOT / "migrations"))
# The project's real revisions, oldest first, and the newest of them.
REVISIONS = [r.revision for r in reversed(list(_SCRIPTS.walk_revisions()))]
HEAD = REVISIONS[-1]
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
        op.add_column("person", sa.Column("half_done", sa.Integer))
        op.execute("SELECT * FROM no_such_table")
        """,
    )


def copy_scripts(tmp_path: Path, **revisions: str) -> Path:
    """A copy of migrations/ with extra revision files (name -> source) added."""
    target = tmp_path / "migrations"
    shutil.copytree(ROOT / "migrations", target, ignore=shutil.ignore_patterns("__pycache__"))
    for name, source in revisions.items():
        (target / "versions" / f"{name}.py").write_text(source)
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


def execute(url: str, *statements: str) -> list[Any]:
    """Run SQL statements in one transaction on a short-lived engine; return the last's rows."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            rows: list[Any] = []
            for statement in statements:
                result = conn.exec_driver_sql(statement)
                rows = list(result) if result.returns_rows else []
            return rows
    finally:
        engine.dispose()


def version(url: str) -> list[str]:
    """The revisions alembic_version holds now."""
    return sorted(row[0] for row in execute(url, "SELECT version_num FROM alembic_version"))


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
