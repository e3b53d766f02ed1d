"""The console's own tables in a schema of their own (PostgreSQL), and moving them there."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from console import create_app, own_schema, schema
from console.extensions import db as _db
from tests.schema_helpers import QUEUE_TABLES, empty_database, execute
from tests.test_schema import invoke as _invoke

OWN_TABLES = {"account", "audit_entry", "row_count_delta", "login_throttle", "recovery_code",
              "grid_view", "job", "job_file", schema.CONSOLE_VERSION_TABLE}
DEMO_TABLES = {"person", "todo_list", "todo", schema.DEMO_VERSION_TABLE}


def _app(url: str, tmp_path: Path, **config):
    return create_app({
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": url,
        "CONSOLE_ADMIN_PASSWORD": "a-long-admin-password",
        "INSTANCE_PATH": str(tmp_path / "instance"),
        **config,
    })


def _tables_by_schema(url: str) -> dict[str, set[str]]:
    rows = execute(
        url,
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')",
    )
    found: dict[str, set[str]] = {}
    for where, name in rows:
        found.setdefault(where, set()).add(name)
    return found


@pytest.fixture
def pg_url(tmp_path: Path):
    with empty_database("postgresql", tmp_path) as url:
        yield url


@pytest.mark.postgres_only
@pytest.mark.parametrize("name", ["console", "ops_console"])
def test_init_puts_the_consoles_tables_in_their_schema_and_the_demos_in_public(
    pg_url, tmp_path, name
):
    app = _app(pg_url, tmp_path, CONSOLE_SCHEMA=name)
    result = _invoke(app, "init", "--demo")
    assert result.exit_code == 0, result.output
    assert _tables_by_schema(pg_url) == {name: OWN_TABLES | QUEUE_TABLES, "public": DEMO_TABLES}
    functions = execute(
        pg_url,
        "SELECT pronamespace::regnamespace::text, proname FROM pg_proc "
        "WHERE proname LIKE 'row_count%%' ORDER BY 2",
    )
    assert {where for where, _ in functions} == {name} and len(functions) == 4
    # The demo's counted tables call the console's functions from any session's search path.
    count = f"SELECT sum(delta) FROM {name}.row_count_delta WHERE table_name = 'person'"
    before = execute(pg_url, count)[0][0]
    execute(pg_url, "INSERT INTO person (name, email, created_at, updated_at, version) "
                    "VALUES ('Zoë', 'zoe@example.com', now(), now(), 1)")
    assert execute(pg_url, count)[0][0] == before + 1
    status = _invoke(app, "schema-status")
    assert status.exit_code == 0, status.output
    assert "Not managed by the console: none" in status.output


@pytest.mark.postgres_only
def test_a_database_from_before_the_schema_is_moved_by_init_rows_and_counts_kept(
    pg_url, tmp_path
):
    # An earlier console kept its tables in public: CONSOLE_SCHEMA=public builds just that.
    old = _app(pg_url, tmp_path / "old", CONSOLE_SCHEMA="public")
    assert _invoke(old, "init", "--demo").exit_code == 0
    assert _tables_by_schema(pg_url)["public"] >= OWN_TABLES
    assert "console" not in _tables_by_schema(pg_url)
    execute(pg_url, "DROP SCHEMA IF EXISTS console")
    accounts = execute(pg_url, "SELECT id, email, password_hash FROM public.account")
    entries = execute(pg_url, "SELECT count(*) FROM public.audit_entry")[0][0]

    new = _app(pg_url, tmp_path / "new")
    with new.app_context():
        [status] = [s for s in schema.report(_db.engine, schema.histories_for(
            new.config["CONSOLE_MODELS"])).histories if s.name == "console"]
        _db.engine.dispose()
    assert status.state == schema.MOVING and status.can_upgrade
    assert "moves them" in status.explanation and "schema console" in status.explanation
    result = _invoke(new, "init")
    assert result.exit_code == 0, result.output
    assert "Moved the console's tables" in result.output

    placed = _tables_by_schema(pg_url)
    # The job queue's tables (and its types and functions) move with them.
    assert placed["console"] == OWN_TABLES | QUEUE_TABLES and placed["public"] == DEMO_TABLES
    leftover = execute(pg_url, "SELECT count(*) FROM pg_proc WHERE pronamespace = "
                               "'public'::regnamespace AND left(proname, 13) = 'procrastinate'")
    assert leftover == [(0,)]
    assert execute(pg_url, "SELECT id, email, password_hash FROM console.account") == accounts
    assert execute(pg_url, "SELECT count(*) FROM console.audit_entry")[0][0] >= entries
    # The counting triggers now reach the moved table through the rewritten functions.
    before = execute(pg_url, "SELECT sum(delta) FROM console.row_count_delta "
                             "WHERE table_name = 'person'")[0][0]
    execute(pg_url, "INSERT INTO person (name, email, created_at, updated_at, version) "
                    "VALUES ('Ünal', 'unal@example.com', now(), now(), 1)")
    after = execute(pg_url, "SELECT sum(delta) FROM console.row_count_delta "
                            "WHERE table_name = 'person'")[0][0]
    assert after == before + 1
    again = _invoke(new, "init")
    assert again.exit_code == 0 and "Moved" not in again.output
    assert _invoke(new, "schema-status").exit_code == 0


@pytest.mark.parametrize("bad", ["Console", "pg_mine", "two words", "x" * 64, "a-b"])
def test_a_wrong_schema_name_stops_the_console_with_the_reason(tmp_path, bad, monkeypatch):
    monkeypatch.setenv("CONSOLE_SCHEMA", bad)
    with pytest.raises(RuntimeError, match="CONSOLE_SCHEMA must be a plain lowercase"):
        _app(f"sqlite:///{tmp_path / 'x.sqlite3'}", tmp_path)


def test_sqlite_keeps_the_consoles_tables_in_the_database_file(tmp_path):
    url = f"sqlite:///{tmp_path / 'one.sqlite3'}"
    app = _app(url, tmp_path)
    assert _invoke(app, "init").exit_code == 0
    names = set(sa.inspect(sa.create_engine(url)).get_table_names())
    assert names >= OWN_TABLES
    assert own_schema.schema_for("sqlite", "anything") is None
