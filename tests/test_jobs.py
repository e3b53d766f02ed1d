"""Jobs in the database: state changes that only one caller wins, cancel, and the dispatchers.

The multi-process queue (two instances, two `console worker`s, kill -9) is in
tests/test_job_queue.py; these run in the test's own process on both databases.
"""

from __future__ import annotations

import io
import re
import time
import zipfile
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from console import config as settings
from console import create_app, queue
from console.admin.transfer import job_store
from console.demo.models import Todo
from console.jobs import wait_for_job
from tests.bulk_helpers import upload
from tests.conftest import count, csrf_token


def _job_id(response: Any, *, wait: bool = True) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    job_id = re.findall(r"[0-9a-f]{32}", response.headers["Location"])[0]
    assert not wait or wait_for_job(job_id, timeout=60)
    return job_id


def _cancel(client: FlaskClient, job_id: str) -> Any:
    url = f"/admin/todo/import/{job_id}/"
    return client.post(url + "cancel", data={"csrf_token": csrf_token(client, url)})


def test_a_queued_job_is_cancelled_at_once_and_names_who(
    app: Flask, editor_client: FlaskClient, sample: dict
) -> None:
    store = job_store(app)
    job_id = store.create(io.BytesIO(b"description,list\nA,Groceries\n"), model="todo",
                          file_name="a.csv", upsert=False, account_id=None)
    # Not the editor's own upload: an editor cannot see (nor cancel) it.
    assert _cancel(editor_client, job_id).status_code == 404
    store.update(job_id, account_id=_account_id(app, "editor@example.com"))
    assert _cancel(editor_client, job_id).status_code == 302
    status = store.load(job_id)
    assert status["state"] == "cancelled"
    page = editor_client.get(f"/admin/todo/import/{job_id}/").get_data(as_text=True)
    assert "Cancelled by editor@example.com at " in page and "nothing was written" in page
    assert 'id="import-cancel"' not in page
    # A second cancel: nothing left to cancel, said so; a runner never takes it.
    response = _cancel(editor_client, job_id)
    page = editor_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "no longer running; there is nothing to cancel" in page
    assert store.claim_run(job_id) is None


def test_a_cancel_without_its_csrf_token_is_refused(
    app: Flask, editor_client: FlaskClient, sample: dict
) -> None:
    job_id = _job_id(upload(editor_client, "todo", b"description,list\nA,Groceries\n"))
    response = editor_client.post(f"/admin/todo/import/{job_id}/cancel")
    assert response.status_code == 400
    assert job_store(app).load(job_id)["state"] == "previewed"


def test_a_running_dry_run_is_cancelled_and_writes_nothing(
    app: Flask, editor_client: FlaskClient, sample: dict
) -> None:
    rows = "".join(f"Tâche numéro {n} für Zoë,no,,normal,Groceries,\n" for n in range(300_000))
    data = ("description,completed,due_date,priority,list,assignee\n" + rows).encode()
    job_id = _job_id(upload(editor_client, "todo", data), wait=False)
    store = job_store(app)
    deadline = time.monotonic() + 30
    while store.load(job_id)["state"] == "queued" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert store.load(job_id)["state"] == "running"
    started = time.monotonic()
    assert _cancel(editor_client, job_id).status_code == 302
    assert wait_for_job(job_id, timeout=60)
    status = store.load(job_id)
    assert status["state"] == "cancelled", status
    assert time.monotonic() - started < 10
    assert "Cancelled by editor@example.com" in status["message"]
    assert status["result"] is None  # no preview was recorded
    assert count(Todo) == 2


def test_only_one_runner_takes_a_job_and_only_one_confirm_wins(
    app: Flask, sample: dict
) -> None:
    store = job_store(app)
    job_id = store.create(io.BytesIO(b"description,list\nA,Groceries\n"), model="todo",
                          file_name="a.csv", upsert=False, account_id=None)
    assert store.claim_run(job_id)["state"] == "running"
    assert store.claim_run(job_id) is None
    store.update(job_id, state="previewed")
    assert store.claim_commit(job_id, None) is True
    assert store.claim_commit(job_id, None) is False
    assert store.load(job_id)["phase"] == "commit"


def test_a_running_job_without_a_beat_is_failed_by_the_first_reader(
    app: Flask, sample: dict
) -> None:
    store = job_store(app)
    job_id = store.create(io.BytesIO(b"description,list\nA,Groceries\n"), model="todo",
                          file_name="a.csv", upsert=False, account_id=None)
    assert store.claim_run(job_id) is not None
    # A beat 31 s ago but a status change just now: alive.
    store.update(job_id, heartbeat=time.time() - 31)
    assert store.load(job_id)["state"] == "running"
    store.update(job_id, heartbeat=time.time() - 31, touched=time.time() - 31)
    status = store.load(job_id)
    assert status["state"] == "failed" and "process running it stopped" in status["message"]
    assert store.running_commits() == []


def test_a_queued_import_says_when_no_worker_is_running(
    app: Flask, database_url: str, editor_client: FlaskClient, sample: dict
) -> None:
    if not database_url.startswith("postgresql"):
        with pytest.raises(RuntimeError, match="CONSOLE_JOBS=worker needs PostgreSQL"):
            settings.job_mode("worker", database_url)
        return
    app.config["CONSOLE_JOBS"] = "worker"
    try:
        job_id = _job_id(upload(editor_client, "todo", b"description,list\nA,Groceries\n"),
                         wait=False)
        store = job_store(app)
        assert store.load(job_id)["state"] == "queued"
        with app.app_context():
            conn = sa.create_engine(database_url).connect()
        try:
            queued = conn.execute(sa.text(
                "SELECT args->>'job_id' FROM console.procrastinate_jobs WHERE status = 'todo'"
            )).scalars().all()
        finally:
            conn.close()
        assert queued == [job_id]
        store.update(job_id, touched=time.time() - 10)
        page = editor_client.get(f"/admin/todo/import/{job_id}/").get_data(as_text=True)
        assert "Check queued: it starts when a worker takes it." in page
        assert "none is running. Start one with `console worker`" in page
    finally:
        for key in [k for k in queue._apps if k[0] == app.config["SQLALCHEMY_DATABASE_URI"]]:
            queue._apps.pop(key).close()


def test_job_settings_are_checked_at_start_up(tmp_path: Any) -> None:
    assert settings.job_mode(None, "sqlite:///x") == "embedded"
    assert settings.job_mode(None, "postgresql+psycopg2://h/d") == "worker"
    assert settings.job_mode("embedded", "postgresql+psycopg2://h/d") == "embedded"
    with pytest.raises(RuntimeError, match="CONSOLE_JOBS must be worker or embedded"):
        settings.job_mode("celery", "sqlite:///x")
    with pytest.raises(RuntimeError, match="needs PostgreSQL"):
        create_app({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x", "CONSOLE_JOBS": "worker",
                    "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.sqlite3"})


@pytest.mark.sqlite_only
def test_console_worker_on_sqlite_says_the_server_runs_jobs(app: Flask) -> None:
    result = CliRunner().invoke(app.cli, ["worker"], obj=None)
    assert result.exit_code != 0
    assert "console worker needs PostgreSQL" in result.output
    assert "python3 dev.py serve is all it takes" in result.output


def _account_id(app: Flask, email: str) -> int:
    from console.extensions import db
    from console.models import Account

    return db.session.scalar(sa.select(Account.id).where(Account.email == email))


# -- exports in the background -----------------------------------------------------------


def _start_export(client: FlaskClient, query: str, fmt: str = "csv") -> Any:
    return client.post(f"/admin/todo/export/{fmt}/job", data={
        "csrf_token": csrf_token(client, f"/admin/todo/?{query}"), "query": query})


def test_a_background_export_makes_the_lists_file_and_serves_it(
    app: Flask, viewer_client: FlaskClient, editor_client: FlaskClient, sample: dict
) -> None:
    query = "search=milk&sort=1"
    response = _start_export(viewer_client, query)
    job_id = _job_id(response)
    assert response.headers["Location"].endswith(f"/admin/todo/export/job/{job_id}/")
    page = viewer_client.get(f"/admin/todo/export/job/{job_id}/").get_data(as_text=True)
    assert "The export is ready" in page and 'id="export-download"' in page
    made = viewer_client.get(f"/admin/todo/export/job/{job_id}/file")
    assert made.status_code == 200 and made.mimetype == "text/csv"
    assert "attachment; filename=todo-" in made.headers["Content-Disposition"]
    direct = viewer_client.get(f"/admin/todo/export/csv/?{query}")
    assert made.data == direct.data
    assert b"Buy milk" in made.data and len(made.data.decode("utf-8-sig").splitlines()) == 2
    # Someone else's job is not theirs to see.
    assert editor_client.get(f"/admin/todo/export/job/{job_id}/").status_code == 404
    assert editor_client.get(f"/admin/todo/export/job/{job_id}/file").status_code == 404
    # Nor is it an import's page.
    assert viewer_client.get(f"/admin/todo/import/{job_id}/").status_code in (403, 404)


def test_a_background_xlsx_export_and_a_refused_search(
    app: Flask, viewer_client: FlaskClient, sample: dict
) -> None:
    job_id = _job_id(_start_export(viewer_client, "", "xlsx"))
    made = viewer_client.get(f"/admin/todo/export/job/{job_id}/file")
    assert made.status_code == 200 and made.data[:2] == b"PK"
    direct = viewer_client.get("/admin/todo/export/xlsx/").data

    def sheet(data: bytes) -> bytes:
        with zipfile.ZipFile(io.BytesIO(data)) as book:
            return book.read("xl/worksheets/sheet1.xml")

    assert sheet(made.data) == sheet(direct) and b"Buy milk" in sheet(made.data)
    refused = _job_id(_start_export(viewer_client, "search=a%00b"))
    status = job_store(app).load(refused)
    assert status["state"] == "failed"
    assert status["message"].startswith("Nothing was exported:")
    page = viewer_client.get(f"/admin/todo/export/job/{refused}/").get_data(as_text=True)
    assert "Nothing was exported" in page
    assert viewer_client.get(f"/admin/todo/export/job/{refused}/file").status_code == 404


def test_a_background_export_needs_its_csrf_token(
    app: Flask, viewer_client: FlaskClient, sample: dict
) -> None:
    response = viewer_client.post("/admin/todo/export/csv/job", data={"query": ""})
    assert response.status_code == 400
    with job_store(app).engine.connect() as conn:
        assert conn.execute(sa.text(f"SELECT count(*) FROM {_own(app)}job")).scalar() == 0


def _own(app: Flask) -> str:
    return "console." if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql") else ""
