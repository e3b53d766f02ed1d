"""SQLite: the console's own tables in a file of their own, attached beside the user's.

A user's database made by SQL only, adopted with ``CONSOLE_MODELS=reflect``: after
``console init`` and a day of work through the pages, the user's file defines exactly
what it defined before (every table, index, trigger and view in ``sqlite_master``), and
the console's tables and version table are in ``<stem>.console.sqlite3`` (console.own_file).
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy import event

from console import ROOT, catalogue_of_app, schema
from console.extensions import db as _db
from console.models import Base as ConsoleBase
from console.models import Role
from tests.bulk_helpers import action, confirm_bulk
from tests.conftest import delete_through_console, post_form
from tests.history_helpers import form_fields, login_client
from tests.test_contract import counted, import_through_the_pages
from tests.test_reflect import ROWS_SQL, SCHEMA_SQL, cls_of, make_app, one, run_sql, text

ADMIN_PASSWORD = "a-long-admin-password"
OWN_TABLES = {table.name for table in ConsoleBase.metadata.tables.values()} | {
    schema.CONSOLE_VERSION_TABLE}


def rows(path: Path, query: str, *params: Any) -> list[tuple[Any, ...]]:
    """``query`` on the SQLite file ``path`` alone, read only (nothing attached)."""
    raw = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        return [tuple(row) for row in raw.execute(query, params)]
    finally:
        raw.close()


def master(path: Path) -> list[tuple[Any, ...]]:
    """Every definition in the file: tables, indexes, triggers and views, with their SQL."""
    return rows(path, "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")


def journal_mode(path: Path) -> str:
    raw = sqlite3.connect(path)
    try:
        return str(raw.execute("PRAGMA journal_mode").fetchone()[0])
    finally:
        raw.close()


@pytest.fixture
def users(tmp_path: Path) -> Path:
    """The user's database file, made by SQL only, with a few rows."""
    path = tmp_path / "shop.sqlite3"
    run_sql(f"sqlite:///{path}", SCHEMA_SQL)
    run_sql(f"sqlite:///{path}", ROWS_SQL)
    return path


def adopt(path: Path, tmp_path: Path, **extra: Any) -> Flask:
    """The console over the user's file with CONSOLE_MODELS=reflect."""
    return make_app(f"sqlite:///{path}", tmp_path, CONSOLE_ADMIN_PASSWORD=ADMIN_PASSWORD, **extra)


@pytest.fixture
def app(users: Path, tmp_path: Path) -> Iterator[Flask]:
    """The console over the user's file, initialised, inside an app context."""
    app = adopt(users, tmp_path)
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["init"])
        assert result.exit_code == 0, result.output
        yield app
        _db.session.remove()
        _db.engine.dispose()


def test_a_day_of_work_leaves_the_users_file_as_it_was(users, tmp_path):
    before = master(users)
    apart = tmp_path / "shop.console.sqlite3"
    app = adopt(users, tmp_path)
    with app.app_context():
        runner = app.test_cli_runner()
        init = runner.invoke(args=["init"])
        assert init.exit_code == 0, init.output
        assert f"The console's tables are in {apart}, a file beside the database" in init.output
        editor = login_client(app, "editor@example.com", Role.editor)

        ann = one(app, "customer", email="ann@example.com").id
        url = f"/admin/customer/edit/?id={ann}"
        fields = form_fields(text(editor.get(url)))
        fields["name"] = "Ann Edited"
        assert editor.post(url, data=fields).status_code == 302
        bob = one(app, "customer", email="bob@example.com").id
        created = post_form(editor, "/admin/order/new/", {"code": "B-1", "customer": str(bob)})
        assert created.status_code == 302, text(created)[-2000:]
        _page, done = delete_through_console(editor, "order", one(app, "order", code="A-1").id)
        assert done is not None and done.status_code == 302
        data = b"order,position,item,price\nB-1,1,Scones,5.10\nB-1,2,Jam,2.40\n"
        page = import_through_the_pages(editor, "order_line", data, name="l.csv", mode="insert")
        assert counted(page, "inserted") == 2 and counted(page, "errors") == 0
        ids = sorted(_db.session.scalars(sa.select(cls_of(app, "order_line").id)).all())
        confirm = text(action(editor, "set:price", ids, model="order_line"))
        assert confirm_bulk(editor, "order_line", "price", confirm, "9.99").status_code == 302

        status = runner.invoke(args=["schema-status"])
        assert status.exit_code == 0, status.output
        assert f"Console tables:  file {apart}" in status.output
        assert "Drift: none" in status.output
        # Autogenerate against the console's file proposes nothing (a copy of the scripts,
        # so that a proposal would land in the copy and show here, not in the repository).
        scripts = tmp_path / "scripts"
        shutil.copytree(ROOT / "migrations", scripts)
        versions = sorted(p.name for p in (scripts / "versions").glob("*.py"))
        migrate = runner.invoke(args=["db", "migrate", "-d", str(scripts), "-m", "probe"])
        assert migrate.exit_code == 0, migrate.output
        assert sorted(p.name for p in (scripts / "versions").glob("*.py")) == versions
        _db.session.remove()
        _db.engine.dispose()

    assert master(users) == before
    assert not {name for _t, name, *_ in master(users)} & OWN_TABLES
    # The day's edits are in the user's file, their history in the console's.
    assert rows(users, "SELECT name FROM customer WHERE id = ?", ann) == [("Ann Edited",)]
    assert rows(users, "SELECT code FROM \"order\"") == [("B-1",)]
    assert rows(users, "SELECT DISTINCT price FROM order_line") == [(9.99,)]
    assert {name for kind, name, *_ in master(apart) if kind == "table"} == OWN_TABLES
    head = schema.scripts(schema.console_history()).get_current_head()
    assert rows(apart, f"SELECT version_num FROM {schema.CONSOLE_VERSION_TABLE}") == [(head,)]
    assert rows(apart, "SELECT email FROM account ORDER BY email") == [
        ("admin@example.com",), ("editor@example.com",)]
    actions = {action for (action,) in rows(apart, "SELECT action FROM audit_entry")}
    assert {"update", "create", "delete"} <= actions, actions
    # Neither file was switched to WAL: one commit over both is atomic (super-journal).
    assert journal_mode(users) == journal_mode(apart) == "delete"


def test_an_edit_and_its_audit_entry_are_one_transaction_across_the_files(app, users):
    """The audit entry's INSERT fails after the data's UPDATE: the UPDATE is rolled back."""
    editor = login_client(app, "editor@example.com", Role.editor)
    ann = one(app, "customer", email="ann@example.com").id
    url = f"/admin/customer/edit/?id={ann}"
    fields = form_fields(text(editor.get(url)))
    fields["name"] = "Never saved"
    entries = rows(Path(app.config["CONSOLE_SQLITE_CONSOLE_FILE"]),
                   "SELECT count(*) FROM audit_entry")
    statements: list[str] = []

    def fail_the_audit_insert(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)
        if statement.startswith("INSERT INTO console.audit_entry"):
            raise sqlite3.OperationalError("disk I/O error (made by the test)")

    event.listen(_db.engine, "before_cursor_execute", fail_the_audit_insert)
    try:
        response = editor.post(url, data=fields)
    finally:
        event.remove(_db.engine, "before_cursor_execute", fail_the_audit_insert)
    assert response.status_code >= 500, text(response)[-2000:]
    updates = [i for i, s in enumerate(statements) if s.startswith("UPDATE customer")]
    audits = [i for i, s in enumerate(statements) if s.startswith("INSERT INTO console.audit")]
    assert updates and audits and updates[0] < audits[0], statements
    assert rows(users, "SELECT name FROM customer WHERE id = ?", ann) == [("Ann Lee",)]
    assert rows(Path(app.config["CONSOLE_SQLITE_CONSOLE_FILE"]),
                "SELECT count(*) FROM audit_entry") == entries
    # The same edit goes through once the audit can be written, in both files.
    fields = form_fields(text(editor.get(url)))
    fields["name"] = "Saved"
    assert editor.post(url, data=fields).status_code == 302
    assert rows(users, "SELECT name FROM customer WHERE id = ?", ann) == [("Saved",)]


def test_every_connection_attaches_the_consoles_file_in_a_rollback_journal(app, users):
    databases = {name: file for _seq, name, file in _db.session.execute(
        sa.text("PRAGMA database_list"))}
    assert databases["main"] == str(users)
    assert databases["console"] == app.config["CONSOLE_SQLITE_CONSOLE_FILE"]
    assert _db.session.execute(sa.text("PRAGMA main.journal_mode")).scalar() == "delete"
    assert _db.session.execute(sa.text("PRAGMA console.journal_mode")).scalar() == "delete"


def test_the_migrations_page_says_where_the_consoles_tables_are(app):
    admin = login_client(app, "boss@example.com", Role.admin)
    page = text(admin.get("/admin/migrations/"))
    assert f"file {app.config['CONSOLE_SQLITE_CONSOLE_FILE']} (attached beside" in page, page
    assert "Up to date</span>" in page


def test_a_users_file_in_wal_mode_stays_so_and_init_says_what_that_means(users, tmp_path):
    raw = sqlite3.connect(users)
    raw.execute("PRAGMA journal_mode=WAL")
    raw.close()
    app = adopt(users, tmp_path)
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["init"])
        assert result.exit_code == 0, result.output
        assert "is in WAL mode (the console leaves it so)" in result.output
        assert "atomically per file only" in result.output
        assert _db.session.execute(sa.text("PRAGMA console.journal_mode")).scalar() == "delete"
        _db.session.remove()
        _db.engine.dispose()
    assert journal_mode(users) == "wal"


def test_the_file_setting_puts_the_consoles_tables_where_it_says(users, tmp_path, caplog):
    elsewhere = tmp_path / "ops" / "console-own.db"
    elsewhere.parent.mkdir()
    before = master(users)
    with caplog.at_level(logging.INFO, logger="console"):
        app = adopt(users, tmp_path, CONSOLE_SQLITE_CONSOLE_FILE=str(elsewhere))
    assert f"The console's own tables are in {elsewhere}" in caplog.text
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["init"])
        assert result.exit_code == 0, result.output
        _db.engine.dispose()
    assert {name for kind, name, *_ in master(elsewhere) if kind == "table"} == OWN_TABLES
    assert not (tmp_path / "shop.console.sqlite3").exists()
    assert master(users) == before


def test_a_wrong_file_setting_stops_the_console_with_the_reason(users, tmp_path):
    not_sqlite = tmp_path / "notes.txt"
    not_sqlite.write_text("hello")
    cases = {
        str(users): "is the database itself",
        str(tmp_path / "missing" / "own.db"): "does not exist",
        str(tmp_path): "is a folder",
        str(not_sqlite): "is not an SQLite database",
    }
    for value, words in cases.items():
        with pytest.raises(RuntimeError, match=words):
            adopt(users, tmp_path, CONSOLE_SQLITE_CONSOLE_FILE=value)


def test_the_file_setting_is_refused_on_postgresql(tmp_path):
    # Refused at start-up, before any connection is made.
    with pytest.raises(RuntimeError, match="applies to SQLite only"):
        make_app("postgresql+psycopg2://127.0.0.1:5432/test", tmp_path,
                 CONSOLE_SQLITE_CONSOLE_FILE=str(tmp_path / "own.db"))


CLASHING_SQL = """
CREATE TABLE account (id {id}, holder VARCHAR(80) NOT NULL UNIQUE);
CREATE TABLE audit_entry (id {id}, note TEXT NOT NULL,
    account_id INTEGER REFERENCES account (id) ON DELETE CASCADE);
INSERT INTO account (holder) VALUES ('Øystein Ødegård');
INSERT INTO audit_entry (note, account_id) VALUES ('opened', 1)
"""


def test_tables_named_like_the_consoles_own_are_the_users_on_sqlite(tmp_path):
    path = tmp_path / "bank.sqlite3"
    run_sql(f"sqlite:///{path}", CLASHING_SQL)
    before = master(path)
    app = adopt(path, tmp_path)
    with app.app_context():
        assert app.test_cli_runner().invoke(args=["init"]).exit_code == 0
        names = {d.name for d in catalogue_of_app(app).models}
        assert {"account_table", "audit_entry"} <= names, names
        editor = login_client(app, "editor@example.com", Role.editor)
        assert "Øystein Ødegård" in text(editor.get("/admin/account_table/"))
        assert "opened" in text(editor.get("/admin/audit_entry/"))
        _db.session.remove()
        _db.engine.dispose()
    assert master(path) == before
    assert rows(tmp_path / "bank.console.sqlite3", "SELECT email FROM account") == [
        ("admin@example.com",), ("editor@example.com",)]


def test_console_tables_from_before_stay_in_the_users_file(users, tmp_path, caplog):
    """An earlier console migrated its tables into the file itself: they carry on there."""
    outcome = schema.initialise(f"sqlite:///{users}", [schema.console_history()])
    assert outcome.ok
    with caplog.at_level(logging.WARNING, logger="console"):
        app = adopt(users, tmp_path)
    assert app.config["CONSOLE_SQLITE_CONSOLE_FILE"] is None
    assert "from an earlier version); they stay there" in caplog.text
    assert not (tmp_path / "shop.console.sqlite3").exists()
    with app.app_context():
        assert app.test_cli_runner().invoke(args=["schema-status"]).exit_code == 0
        _db.engine.dispose()


def test_a_step_down_and_back_up_from_the_migrations_page_runs_on_the_consoles_file(
    app, users
):
    from tests.test_migrations_page import confirmation

    before = master(users)
    apart = Path(app.config["CONSOLE_SQLITE_CONSOLE_FILE"])
    head = schema.scripts(schema.console_history()).get_current_head()
    version = f"SELECT version_num FROM {schema.CONSOLE_VERSION_TABLE}"
    admin = login_client(app, "boss@example.com", Role.admin)
    plan, url, fields = confirmation(admin, "/admin/migrations/downgrade")
    assert plan == [head]
    done = admin.post(url, data={**fields, "confirm_revision": head}, follow_redirects=True)
    assert "Downgrade done" in text(done), text(done)[-2000:]
    below = rows(apart, version)
    assert below != [(head,)] and len(below) == 1
    assert "job" not in {name for kind, name, *_ in master(apart) if kind == "table"}
    plan, url, fields = confirmation(admin, "/admin/migrations/upgrade")
    assert plan == [head]
    done = admin.post(url, data=fields, follow_redirects=True)
    assert "Upgrade done" in text(done), text(done)[-2000:]
    assert rows(apart, version) == [(head,)]
    assert {name for kind, name, *_ in master(apart) if kind == "table"} == OWN_TABLES
    audited = rows(apart, "SELECT count(*) FROM audit_entry WHERE action = 'migration'")
    assert audited[0][0] >= 2
    assert master(users) == before


def test_before_init_signing_in_says_to_run_console_init(users, tmp_path):
    from tests.conftest import csrf_token

    before = master(users)
    app = adopt(users, tmp_path)
    client = app.test_client()
    response = client.post("/login", data={
        "email": "admin@example.com", "password": "whatever-it-is",
        "csrf_token": csrf_token(client),
    })
    page = response.get_data(as_text=True)
    assert response.status_code == 503, page[:500]
    assert "The table console.login_throttle does not exist" in page, page
    assert "run `console init`" in page
    with app.app_context():
        _db.engine.dispose()
    assert master(users) == before
