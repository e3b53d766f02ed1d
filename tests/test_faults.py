"""Database faults get the console's own pages, which need no database themselves.

A database that cannot be reached answers 503 with Retry-After (even for a signed-in
user, whose account cannot be loaded); a statement timeout and a lock wait that ran out
are said in words; SQLite readers are never refused while a writer holds the file.
"""

from __future__ import annotations

import io
import re
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from console import create_app
from console.admin.transfer import job_store
from console.demo.models import Todo
from console.extensions import db as _db
from console.jobs import wait_for_job
from console.models import Account, Role
from tests.bulk_helpers import job_url, upload
from tests.conftest import IsolatedClient, count, csrf_token, post_form
from tests.history_helpers import login_client

UNREACHABLE = {
    "sqlite": "sqlite:////nonexistent-folder-of-the-fault-test/console.sqlite3",
    # Port 1 on loopback: nothing listens, the connection is refused at once.
    "postgresql": "postgresql+psycopg2://postgres@127.0.0.1:1/console",
}


def app_on(url: str, tmp_path: Path) -> Flask:
    """The console with the test's secret key (so a session cookie carries over) on ``url``."""
    app = create_app({
        "TESTING": True, "SECRET_KEY": "test-secret", "SQLALCHEMY_DATABASE_URI": url,
        "WTF_CSRF_ENABLED": True, "INSTANCE_PATH": str(tmp_path / "other-instance"),
    })
    app.test_client_class = IsolatedClient
    return app


def test_an_unreachable_database_is_a_503_page_that_needs_no_database(
    app: Flask, database_url: str, tmp_path: Path
) -> None:
    dialect = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    editor = login_client(app, "editor@example.com", Role.editor)
    cookie = editor.get_cookie("session")
    assert cookie is not None
    down = app_on(UNREACHABLE[dialect], tmp_path).test_client()
    down.set_cookie("session", cookie.value)
    for url in ("/admin/", "/admin/todo/", "/admin/todo/details/?id=1"):
        response = down.get(url)
        assert response.status_code == 503, (url, response.get_data(as_text=True)[:300])
        assert response.headers["Retry-After"] == "10"
        page = response.get_data(as_text=True)
        assert "The database is unreachable" in page and "Nothing was written" in page
        assert "editor@example.com" not in page  # the account could not be loaded
    answer = down.get("/admin/todo/", headers={"Accept": "application/json"})
    assert answer.status_code == 503 and answer.get_json()["ok"] is False
    # The same console on the reachable database serves the same session again.
    assert editor.get("/admin/").status_code == 200


@pytest.mark.postgres_only
def test_a_statement_timeout_and_a_lock_wait_are_said_in_words(
    database_url: str, tmp_path: Path
) -> None:
    app = app_on(database_url, tmp_path)

    @app.get("/fault/slow")
    def slow() -> Any:
        _db.session.execute(sa.text("SET LOCAL statement_timeout = 50"))
        _db.session.execute(sa.text("SELECT pg_sleep(2)"))
        return "not reached"

    @app.get("/fault/locked")
    def locked() -> Any:
        _db.session.execute(sa.text("SET LOCAL lock_timeout = 50"))
        _db.session.execute(sa.text("LOCK TABLE console.account IN ACCESS EXCLUSIVE MODE"))
        return "not reached"

    client = app.test_client()
    response = client.get("/fault/slow")
    assert response.status_code == 503
    assert "ran longer than allowed (a statement timeout)" in response.get_data(as_text=True)
    holder = sa.create_engine(database_url)
    try:
        with holder.connect() as conn:
            conn.execute(sa.text("LOCK TABLE console.account IN SHARE MODE"))
            response = client.get("/fault/locked")
            assert response.status_code == 409
            assert "being written by another operation" in response.get_data(as_text=True)
    finally:
        holder.dispose()


@pytest.mark.sqlite_only
def test_sqlite_is_in_wal_mode_and_readers_pass_a_writer(
    app: Flask, database_url: str, viewer_client: Any, sample: dict
) -> None:
    assert _db.session.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
    path = database_url.removeprefix("sqlite:///")
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        # An import's commit in progress: a write transaction holding the file.
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE todo SET description = 'being written' WHERE id = ?",
                       (sample["milk"],))
        pages = []
        reader = threading.Thread(target=lambda: pages.append(viewer_client.get("/admin/todo/")))
        reader.start()
        reader.join(timeout=30)
        assert pages and pages[0].status_code == 200
        assert "Buy milk" in pages[0].get_data(as_text=True)  # the committed state
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_the_instance_folder_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "instance-a"
    monkeypatch.setenv("CONSOLE_INSTANCE_PATH", str(folder))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/a.sqlite3")
    app = create_app({"TESTING": True})
    assert app.instance_path == str(folder)
    assert (folder / "secret_key").exists()  # the generated key lives there


@pytest.mark.postgres_only
def test_a_save_of_rows_an_import_holds_is_a_409_naming_the_import(
    app: Flask, database_url: str, editor_client: Any, sample: dict
) -> None:
    """No request waits for an import's row locks until a worker timeout kills it."""

    app.config["CONSOLE_LOCK_TIMEOUT_SECONDS"] = 1
    # An import of to-dos committing now, confirmed by the editor.
    store = job_store(app)
    job_id = store.create(io.BytesIO(b"description,list\n"), model="todo", file_name="big.csv",
                          upsert=True, account_id=None)
    editor = _db.session.scalar(sa.select(Account).where(Account.email == "editor@example.com"))
    store.update(job_id, state="running", phase="commit", confirmed_by=editor.id,
                 confirmed_at=time.time(), touched=time.time())
    holder = sa.create_engine(database_url)
    try:
        with holder.connect() as conn:
            conn.execute(sa.text("SELECT id FROM todo WHERE id = :id FOR UPDATE"),
                         {"id": sample["milk"]})
            started = time.monotonic()
            response = post_form(editor_client, f"/admin/todo/edit/?id={sample['milk']}",
                                 {"description": "Buy oat milk", "todo_list": sample["groceries"],
                                  "priority": "normal"})
            waited = time.monotonic() - started
            page = response.get_data(as_text=True)
            assert response.status_code == 409, page[:500]
            assert "being written by another operation" in page
            assert "an import of todo (big.csv) started by editor@example.com" in page
            assert waited < 10
    finally:
        holder.dispose()
    # Nothing was written; once the lock is gone the same save goes through.
    _db.session.expire_all()
    assert _db.session.scalar(sa.text("SELECT description FROM todo WHERE id = :id"),
                              {"id": sample["milk"]}) == "Buy milk"
    response = post_form(editor_client, f"/admin/todo/edit/?id={sample['milk']}",
                         {"description": "Buy oat milk", "todo_list": sample["groceries"],
                          "priority": "normal"})
    assert response.status_code == 302


def test_before_console_init_every_page_says_to_run_it(tmp_path: Path, database_url: str) -> None:
    """An empty database (no console tables yet): a page saying what to do, never a 500."""
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path}/empty.sqlite3"
    else:
        from tests.conftest import create_pg_database, drop_pg_database

        url = create_pg_database("console_uninit")
    try:
        client = app_on(url, tmp_path).test_client()
        for path in ("/login", "/admin/"):
            response = client.get(path, follow_redirects=True)
            page = response.get_data(as_text=True)
            assert response.status_code in (200, 503), (path, page[:300])
        response = client.post("/login", data={
            "email": "admin@example.com", "password": "whatever-it-is",
            "csrf_token": csrf_token(client),
        })
        page = response.get_data(as_text=True)
        assert response.status_code == 503, page[:500]
        assert "run `console init`" in page and "does not exist" in page
    finally:
        if not database_url.startswith("sqlite"):
            drop_pg_database(url)


@pytest.mark.sqlite_only
def test_the_sqlite_import_status_page_never_fails_while_50000_rows_commit(
    app: Flask, editor_client: Any, sample: dict
) -> None:
    """The status page, polled as its refresh does, while the import holds the write lock."""
    rows = "".join(f"Imported task {i},no,,normal,Groceries,\n" for i in range(50_000))
    data = ("description,completed,due_date,priority,list,assignee\n" + rows).encode()
    status_url = job_url(upload(editor_client, "todo", data))
    job_id = re.findall(r"[0-9a-f]{32}", status_url)[0]
    confirm = editor_client.post(f"/admin/todo/import/{job_id}/confirm",
                                 data={"csrf_token": csrf_token(editor_client, status_url)})
    assert confirm.status_code == 302
    polls: list[tuple[int, str, bool]] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        state = job_store(app).load(job_id)
        assert state is not None
        response = editor_client.get(status_url)
        page = response.get_data(as_text=True)
        after = job_store(app).load(job_id)
        assert after is not None
        # Running before and after the page: the page itself saw it running.
        seen = "running" if state["state"] == after["state"] == "running" else after["state"]
        polls.append((response.status_code, seen, 'http-equiv="refresh"' in page))
        if after["state"] not in ("queued", "running"):
            break
    assert wait_for_job(job_id, timeout=120)
    assert [p for p in polls if p[0] != 200] == []
    # Polled while the commit ran, and each of those pages goes on refreshing itself.
    during = [p for p in polls if p[1] == "running"]
    assert len(during) >= 3, polls
    assert all(refreshing for _status, _state, refreshing in during)
    assert "Imported" in editor_client.get(status_url).get_data(as_text=True)
    assert count(Todo) == 50_002


CHILD_IMPORT = """
import sys
from console import catalogue_of_app, create_app
from console.admin.transfer import job_store
from console.extensions import db
from console.jobs import run_job

url, instance, job_id = sys.argv[1:4]
app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": instance,
                  "SECRET_KEY": "child"})
with app.app_context():
    run_job(db.engine, catalogue_of_app(app), job_store(app), job_id)
"""


@pytest.mark.postgres_only
def test_an_import_whose_process_is_killed_fails_soon_and_leaves_no_session_or_lock(
    app: Flask, database_url: str, sample: dict, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """kill -9 of the process running an import: failed on the page, its backend gone."""
    import os
    import signal
    import subprocess
    import sys

    from console.bulk import jobs as job_files

    monkeypatch.setattr(job_files, "STALE_SECONDS", 12)
    store = job_store(app)
    rows = "".join(f"Tâche {n},Groceries\n" for n in range(5_000))
    job_id = store.create(io.BytesIO(f"description,list\n{rows}".encode()), model="todo",
                          file_name="killed.csv", upsert=False, account_id=None)
    store.update(job_id, state="queued", phase="commit")
    child_url = sa.engine.make_url(database_url).update_query_dict(
        {"application_name": "console-killed-import"}).render_as_string(hide_password=False)
    holder = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    conn = holder.connect()
    child = None
    child_log = open(tmp_path / "child.log", "wb")  # noqa: SIM115 - closed in finally
    try:
        # The import waits for a lock on the to-dos: killed mid-transaction, holding locks.
        _db.session.commit()  # the test's own session reads to-dos too
        conn.exec_driver_sql("SET lock_timeout = '20s'")
        conn.exec_driver_sql("BEGIN; LOCK TABLE todo IN ACCESS EXCLUSIVE MODE")
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD_IMPORT, child_url, app.instance_path, job_id],
            cwd=Path(__file__).resolve().parent.parent,
            stderr=child_log,
        )
        backends = ("SELECT count(*) FROM pg_stat_activity "
                    "WHERE application_name = 'console-killed-import'")
        def now(query: str) -> Any:
            # Statistics are a snapshot per transaction: a fresh one for every look.
            conn.exec_driver_sql("SELECT pg_stat_clear_snapshot()")
            return conn.exec_driver_sql(query).scalar()

        waiting = _wait_for(lambda: now(backends + " AND wait_event_type = 'Lock'"), 60)
        assert waiting, (str(store.load(job_id)), (tmp_path / "child.log").read_text()[-3000:])
        assert store.load(job_id)["state"] == "running"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        # Its backend notices the dead client within seconds, even while waiting for a lock.
        gone = _wait_for(lambda: now(backends) == 0, 15)
        assert gone, "the killed import's database session lived on"
        assert now("SELECT count(*) FROM pg_locks WHERE NOT granted") == 0
    finally:
        if child is not None and child.poll() is None:
            child.kill()
            child.wait(10)
        child_log.close()
        conn.rollback()
        conn.close()
        holder.dispose()
    failed = _wait_for(lambda: store.load(job_id)["state"] == "failed", 20)
    assert failed, store.load(job_id)
    assert "process running it stopped" in store.load(job_id)["message"]
    assert count(Todo) == 2  # the sample's, nothing of the file


def _wait_for(check: Any, seconds: float) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)
