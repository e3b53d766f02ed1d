"""A PostgreSQL restart under the console: its own 503 page, nothing partial, recovery by itself.

The server restarted is a private cluster made for this module (``pg_createcluster`` on a
port of its own, dropped at the end); the shared test server is never touched.
"""

from __future__ import annotations

import contextvars
import io
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from console import catalogue_of_app, create_app
from console.admin.transfer import job_store
from console.demo.models import Person, Todo, TodoList
from console.extensions import db as _db
from console.jobs import run_job, start, wait_for_job
from console.models import Role
from tests.conftest import REQUIRE_PG, IsolatedClient, migrate_database, require_pg
from tests.history_helpers import login_client

pytestmark = pytest.mark.postgres_only


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[str, str, str]]:
    """(version, name, URL of its database ``console``) of a private, running cluster."""
    require_pg()
    if shutil.which("pg_createcluster") is None or not Path("/etc/postgresql").is_dir():
        reason = "pg_createcluster (postgresql-common) is needed for the restart tests"
        if REQUIRE_PG:
            pytest.fail(reason)
        pytest.skip(reason)
    version = sorted(os.listdir("/etc/postgresql"), key=int)[-1]
    name = f"fault_{uuid.uuid4().hex[:8]}"
    port = _free_port()
    subprocess.run(
        ["pg_createcluster", version, name, "-p", str(port), "--start", "--",
         "--auth=trust", "--username=postgres"],
        check=True, capture_output=True, timeout=120,
    )
    try:
        admin = sa.create_engine(f"postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres",
                                 isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql("CREATE DATABASE console")
        admin.dispose()
        url = f"postgresql+psycopg2://postgres@127.0.0.1:{port}/console"
        migrate_database(url)
        yield version, name, url
    finally:
        subprocess.run(["pg_dropcluster", version, name, "--stop"], capture_output=True,
                       timeout=120)


def _ctl(cluster: tuple[str, str, str], action: str) -> None:
    version, name, _url = cluster
    subprocess.run(["pg_ctlcluster", version, name, action, "-m", "fast"], check=True,
                   capture_output=True, timeout=120)


@pytest.fixture
def app(cluster: tuple[str, str, str], tmp_path: Path) -> Iterator[Flask]:
    app = create_app({
        "TESTING": True, "SECRET_KEY": "test-secret", "SQLALCHEMY_DATABASE_URI": cluster[2],
        "WTF_CSRF_ENABLED": True, "INSTANCE_PATH": str(tmp_path / "instance"),
    })
    app.test_client_class = IsolatedClient
    with app.app_context():
        yield app
        _db.session.remove()
        _db.engine.dispose()
    engine = sa.create_engine(cluster[2], poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.exec_driver_sql("TRUNCATE todo, todo_list, person, console.account, "
                             "console.audit_entry, console.login_throttle RESTART IDENTITY "
                             "CASCADE")
    engine.dispose()


def _until(check: Any, seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        try:
            found = check()
        except sa.exc.DBAPIError:
            found = None
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_a_stopped_database_is_the_consoles_503_and_pages_come_back_by_themselves(
    app: Flask, cluster: tuple[str, str, str]
) -> None:
    client = login_client(app, "editor@example.com", Role.editor)
    assert client.get("/admin/todo/").status_code == 200
    _ctl(cluster, "stop")
    try:
        down = client.get("/admin/todo/")
        page = down.get_data(as_text=True)
        assert down.status_code == 503
        assert down.headers.get("Retry-After")
        assert "cannot reach its database" in page and "Traceback" not in page
    finally:
        _ctl(cluster, "start")
    # No restart of the console: the next requests find the database again.
    back = _until(lambda: client.get("/admin/todo/").status_code == 200)
    assert back, "the list page did not come back after the database started again"


def test_an_import_cut_by_a_restart_is_failed_in_words_with_nothing_written(
    app: Flask, cluster: tuple[str, str, str]
) -> None:
    owner = Person(name="Ødegård", email="o@example.com")
    _db.session.add_all([owner, TodoList(name="Inbox", owner=owner)])
    _db.session.commit()
    rows = "".join(f"Aufgabe {n} für Zoë,Inbox\n" for n in range(20_000))
    store = job_store(app)
    job_id = store.create(io.BytesIO(f"description,list\n{rows}".encode()), model="todo",
                          file_name="big.csv", upsert=False, account_id=None)
    store.update(job_id, state="queued", phase="commit")
    # The import waits for a lock on the to-dos, so the restart finds it mid-transaction.
    holder = sa.create_engine(cluster[2], poolclass=sa.pool.NullPool)
    conn = holder.connect()
    try:
        conn.exec_driver_sql("SET lock_timeout = '20s'")
        conn.exec_driver_sql("BEGIN; LOCK TABLE todo IN ACCESS EXCLUSIVE MODE")
        start(run_job, job_id, _db.engine, catalogue_of_app(app), store, job_id)
        def waiters() -> Any:
            # Statistics are a snapshot per transaction: a fresh one for every look.
            conn.exec_driver_sql("SELECT pg_stat_clear_snapshot()")
            return conn.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = 'console'").scalar()

        waiting = _until(waiters, 60)
        assert waiting, "the import never reached the locked table"
        _ctl(cluster, "restart")
    finally:
        conn.invalidate()
        holder.dispose()
    assert wait_for_job(job_id, 60)
    status = store.load(job_id)
    assert status["state"] == "failed", status
    assert "cannot reach its database" in status["message"] or "restarting" in status["message"]
    # Nothing partial: not one of the 20,000 rows, and the pages work again.
    _db.session.remove()
    assert _until(lambda: _db.session.scalar(sa.select(sa.func.count()).select_from(Todo)) == 0
                  or None, 30) is True
    client = login_client(app, "admin@example.com", Role.admin)
    assert client.get("/admin/todo/").status_code == 200


def test_an_export_cut_by_a_restart_does_not_end_like_a_whole_file(
    app: Flask, cluster: tuple[str, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from console.bulk import exporter

    owner = Person(name="Chloé", email="c@example.com")
    todo_list = TodoList(name="Big", owner=owner)
    _db.session.add_all([owner, todo_list])
    _db.session.flush()
    _db.session.execute(sa.insert(Todo), [
        {"description": f"Tâche {n} — ß", "list_id": todo_list.id} for n in range(5_000)
    ])
    _db.session.commit()
    # Small chunks and a one-chunk queue: the COPY is still running when the restart comes.
    monkeypatch.setattr(exporter, "CHUNK_BYTES", 1)
    monkeypatch.setattr(exporter, "QUEUE_CHUNKS", 1)
    client = login_client(app, "viewer@example.com", Role.viewer)

    def read_across_a_restart() -> tuple[bytes, BaseException | None]:
        response = FlaskClient.open(client, "/admin/todo/export/csv/", buffered=False)
        assert response.status_code == 200
        chunks = iter(response.response)
        received = next(chunks)
        _ctl(cluster, "restart")
        try:
            for chunk in chunks:
                received += chunk
        except Exception as exc:  # the driver's error, whichever it is
            return received, exc
        finally:
            response.close()
        return received, None

    received, cut = contextvars.Context().run(read_across_a_restart)
    lines = received.count(b"\n")
    # Either the stream breaks off (the client sees an incomplete download), or it is
    # whole: never a file that ends cleanly with rows missing.
    assert cut is not None or lines == 5_001, (lines, cut)
    monkeypatch.undo()
    again = _until(lambda: client.get("/admin/todo/").status_code == 200)
    assert again
    whole = client.get("/admin/todo/export/csv/").get_data()
    assert whole.count(b"\n") == 5_001
