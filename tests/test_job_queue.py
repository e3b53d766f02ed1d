"""The job queue across processes: two web instances and two `console worker`s on one database.

Each process is started from docker-compose.yml's own command and environment (as
tests/test_compose.py does), with its own instance folder, so that two processes on this
machine stand in for two machines: nothing may pass between them but the database.
An upload on one instance is previewed and confirmed on the other and run by whichever
worker takes it; a worker killed with SIGKILL mid-commit leaves a failed job, no lock and
no session; a cancel stops a running import's query. PostgreSQL only: on SQLite the
serving process runs jobs itself (tests/test_bulk_web.py).
"""

from __future__ import annotations

import http.cookiejar
import io
import os
import re
import signal
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from tests.conftest import create_pg_database, drop_pg_database, require_pg
from tests.test_compose import (
    GIVEN,
    _free_port,
    _service_env,
    start_service,
    stop_service,
    wait_for_page,
)

pytestmark = pytest.mark.postgres_only

NAMES = ["Zoë Ødegård", "Łukasz Żółć", "Søren Kierkegård", "Ana Muñoz", "Nguyễn Văn An",
         "Ελένη Παπαδοπούλου", "Дмитрий Иванов", "José Ñúñez", "Chloé Lefèvre", "Ahmet Y\u0131lmaz"]


class Browser:
    """A client with one cookie jar for every instance (the session cookie is shared)."""

    def __init__(self) -> None:
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect())

    def get(self, url: str) -> tuple[int, str, dict[str, str]]:
        return self._open(urllib.request.Request(url))  # noqa: S310 - loopback http

    def post(self, url: str, body: bytes, content_type: str) -> tuple[int, str, dict[str, str]]:
        return self._open(urllib.request.Request(  # noqa: S310 - loopback http
            url, data=body, method="POST", headers={"Content-Type": content_type}))

    def form(self, url: str, fields: dict[str, str]) -> tuple[int, str, dict[str, str]]:
        return self.post(url, urllib.parse.urlencode(fields).encode(),
                         "application/x-www-form-urlencoded")

    def _open(self, request: urllib.request.Request) -> tuple[int, str, dict[str, str]]:
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.read().decode(), dict(response.headers)
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(), dict(error.headers)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', page)
    assert found, page[:2000]
    return found.group(1)


class Deployment:
    """Two web instances and two workers, as `--scale console=2 --scale worker=2`."""

    def __init__(self, database: str, tmp: Path) -> None:
        self.database = database
        self.tmp = tmp
        self.ports = [_free_port(), _free_port()]
        self.webs: list[Any] = []
        self.workers: list[Any] = []
        self.engine = sa.create_engine(database, poolclass=sa.pool.NullPool)

    def start(self) -> None:
        for n, port in enumerate(self.ports):
            self.webs.append(start_service(
                _service_env(self.database, CONSOLE_BIND=f"127.0.0.1:{port}",
                             CONSOLE_WORKERS="1", CONSOLE_THREADS="4",
                             CONSOLE_INSTANCE_PATH=str(self.tmp / f"web-{n}")),
                self.tmp / f"web-{n}-container"))
            # The first instance migrates; its page answers once it serves.
            wait_for_page(self.webs[-1], port, self.tmp / f"web-{n}-container" / "console.log")
        for n in range(2):
            self.workers.append(start_service(
                _service_env(self.database, "worker", CONSOLE_WORKER_CONCURRENCY="1",
                             CONSOLE_INSTANCE_PATH=str(self.tmp / f"worker-{n}")),
                self.tmp / f"worker-{n}-container", service="worker"))
        self.until(lambda: self.scalar("SELECT count(*) FROM console.procrastinate_workers") >= 2,
                   90, "the workers never registered: " + self.logs())

    def url(self, n: int, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[n]}{path}"

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar()

    def job(self, job_id: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(sa.text("SELECT * FROM console.job WHERE id = :id"),
                               {"id": job_id}).mappings().one()
        return dict(row)

    def until(self, check: Callable[[], Any], seconds: float, why: str = "") -> Any:
        deadline = time.monotonic() + seconds
        while True:
            found = check()
            if found or time.monotonic() > deadline:
                assert found, why
                return found
            time.sleep(0.2)

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-2000:]}"
                         for p in sorted(self.tmp.glob("*-container/*.log")))

    def stop(self) -> None:
        for process in self.webs + self.workers:
            stop_service(process)
        self.engine.dispose()


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    require_pg()
    database = create_pg_database("console_queue")
    running = Deployment(database, tmp_path_factory.mktemp("queue"))
    try:
        running.start()
        yield running
    finally:
        running.stop()
        drop_pg_database(database)


@pytest.fixture(scope="module")
def admin(deployment: Deployment) -> Browser:
    browser = Browser()
    _status, page, _headers = browser.get(deployment.url(0, "/login"))
    status, page, _headers = browser.form(deployment.url(0, "/login"), {
        "email": "admin@example.com", "password": GIVEN["CONSOLE_ADMIN_PASSWORD"],
        "csrf_token": _csrf(page)})
    assert status == 302, page[:1000]
    return browser


def _people(count: int, start: int = 0) -> bytes:
    rows = [f"{NAMES[n % len(NAMES)]} {n},person{n}@example.com"
            for n in range(start, start + count)]
    return ("name,email\n" + "\n".join(rows) + "\n").encode()


def _upload(deployment: Deployment, browser: Browser, web: int, data: bytes) -> str:
    """Upload a people file on instance ``web``; the job's id."""
    _status, page, _headers = browser.get(deployment.url(web, "/admin/person/import/"))
    boundary, body = encode_multipart({
        "csrf_token": _csrf(page), "mode": "insert",
        "file": FileStorage(io.BytesIO(data), filename="people.csv")})
    status, page, headers = browser.post(deployment.url(web, "/admin/person/import/"), body,
                                         f"multipart/form-data; boundary={boundary}")
    assert status == 302, page[:1000]
    return re.findall(r"[0-9a-f]{32}", headers["Location"])[0]


def _previewed(deployment: Deployment, browser: Browser, web: int, job_id: str) -> str:
    """The status page on instance ``web`` once the dry run is done."""
    url = deployment.url(web, f"/admin/person/import/{job_id}/")
    deployment.until(lambda: deployment.job(job_id)["state"] == "previewed", 60,
                     f"never previewed: {deployment.job(job_id)}\n{deployment.logs()}")
    _status, page, _headers = browser.get(url)
    assert "Dry run finished" in page, page[:3000]
    return page


def _confirm(deployment: Deployment, browser: Browser, web: int, job_id: str, page: str) -> None:
    status, body, _headers = browser.form(
        deployment.url(web, f"/admin/person/import/{job_id}/confirm"),
        {"csrf_token": _csrf(page)})
    assert status == 302, body[:1000]


def _worker_pids(deployment: Deployment) -> set[int]:
    return {p.pid for p in deployment.workers if p.poll() is None}


def _runner_pid(job: dict[str, Any]) -> int:
    return int(str(job["runner"]).rsplit(" ", 1)[1])


def test_an_upload_on_one_instance_is_confirmed_on_the_other_and_run_by_a_worker(
    deployment: Deployment, admin: Browser
) -> None:
    job_id = _upload(deployment, admin, 0, _people(300))
    # The other instance (its own instance folder) has the upload, its preview and the job.
    page = _previewed(deployment, admin, 1, job_id)
    assert "To insert" in page and "300" in page
    preview_runner = _runner_pid(deployment.job(job_id))
    _confirm(deployment, admin, 1, job_id, page)
    deployment.until(lambda: deployment.job(job_id)["state"] == "done", 60,
                     f"never done: {deployment.job(job_id)}\n{deployment.logs()}")
    _status, page, _headers = admin.get(deployment.url(0, f"/admin/person/import/{job_id}/"))
    assert "Imported: nothing more to do." in page
    assert deployment.scalar("SELECT count(*) FROM person") == 300
    assert deployment.scalar("SELECT name FROM person WHERE email = 'person1@example.com'") \
        == "Łukasz Żółć 1"
    # Run by the workers, never by a web process.
    workers = _worker_pids(deployment)
    assert {preview_runner, _runner_pid(deployment.job(job_id))} <= workers
    # The queue's entries of both runs are finished, none left to do.
    assert deployment.scalar(
        "SELECT count(*) FROM console.procrastinate_jobs WHERE status IN ('todo', 'doing')") == 0


def test_a_background_export_is_made_by_a_worker_and_served_by_either_instance(
    deployment: Deployment, admin: Browser
) -> None:
    _status, page, _headers = admin.get(deployment.url(0, "/admin/person/?search=%C5%81ukasz"))
    status, body, headers = admin.form(deployment.url(0, "/admin/person/export/csv/job"), {
        "csrf_token": _csrf(page), "query": "search=%C5%81ukasz"})
    assert status == 302, body[:1000]
    job_id = re.findall(r"[0-9a-f]{32}", headers["Location"])[0]
    deployment.until(lambda: deployment.job(job_id)["state"] == "done", 60,
                     f"never done: {deployment.job(job_id)}\n{deployment.logs()}")
    assert _runner_pid(deployment.job(job_id)) in _worker_pids(deployment)
    status, made, _headers = admin.get(deployment.url(1, f"/admin/person/export/job/{job_id}/file"))
    assert status == 200
    rows = made.lstrip("\ufeff").splitlines()
    assert len(rows) == 1 + 30 and all("Łukasz Żółć" in row for row in rows[1:])


def _blocked_commit(deployment: Deployment, admin: Browser, start: int) -> tuple[str, Any]:
    """A confirmed import waiting for a lock on the people table: (job id, holder conn)."""
    job_id = _upload(deployment, admin, 0, _people(200, start))
    page = _previewed(deployment, admin, 1, job_id)
    holder = sa.create_engine(deployment.database, poolclass=sa.pool.NullPool).connect()
    holder.exec_driver_sql("BEGIN; LOCK TABLE person IN ACCESS EXCLUSIVE MODE")
    _confirm(deployment, admin, 1, job_id, page)
    deployment.until(lambda: deployment.job(job_id)["state"] == "running", 30)
    deployment.until(lambda: _waiting(deployment) == 1, 30, "the import never waited for the lock")
    return job_id, holder


def _waiting(deployment: Deployment) -> int:
    return deployment.scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock'")


def test_a_running_import_is_cancelled_with_its_query(
    deployment: Deployment, admin: Browser
) -> None:
    before = deployment.scalar("SELECT count(*) FROM person")
    job_id, holder = _blocked_commit(deployment, admin, 1_000)
    try:
        status_url = deployment.url(0, f"/admin/person/import/{job_id}/")
        _status, page, _headers = admin.get(status_url)
        assert 'id="import-cancel"' in page
        started = time.monotonic()
        status, body, _headers = admin.form(
            deployment.url(0, f"/admin/person/import/{job_id}/cancel"), {"csrf_token": _csrf(page)})
        assert status == 302, body[:1000]
        # The worker cancels its own query (it was waiting for the lock, which is still held).
        deployment.until(lambda: deployment.job(job_id)["state"] == "cancelled", 15,
                         f"not cancelled: {deployment.job(job_id)}\n{deployment.logs()}")
        assert time.monotonic() - started < 10
        assert _waiting(deployment) == 0
    finally:
        holder.rollback()
        holder.close()
    _status, page, _headers = admin.get(status_url)
    assert "Cancelled by admin@example.com" in page and "nothing was written" in page
    assert deployment.scalar("SELECT count(*) FROM person") == before
    # The worker lives on and takes the next job.
    assert len(_worker_pids(deployment)) == 2
    again = _upload(deployment, admin, 1, _people(5, 5_000))
    _previewed(deployment, admin, 0, again)


def test_a_worker_killed_mid_commit_fails_its_job_within_30_s_leaving_no_lock(
    deployment: Deployment, admin: Browser
) -> None:
    before = deployment.scalar("SELECT count(*) FROM person")
    job_id, holder = _blocked_commit(deployment, admin, 2_000)
    try:
        victim = _runner_pid(deployment.job(job_id))
        assert victim in _worker_pids(deployment)
        os.kill(victim, signal.SIGKILL)
        killed = time.monotonic()
        # Its backend notices the dead client within seconds, even while waiting for a lock.
        deployment.until(lambda: _waiting(deployment) == 0, 15,
                         "the killed worker's database session lived on")
        status_url = deployment.url(1, f"/admin/person/import/{job_id}/")

        def failed_on_the_page() -> bool:
            return "process running it stopped" in admin.get(status_url)[1]

        deployment.until(failed_on_the_page, 40, f"not failed: {deployment.job(job_id)}")
        assert time.monotonic() - killed <= 32
        # The page only shows it; the other worker's sweep (every 10 s) records it.
        deployment.until(lambda: deployment.job(job_id)["state"] == "failed", 20,
                         f"never recorded: {deployment.job(job_id)}")
        assert deployment.scalar("SELECT count(*) FROM pg_locks WHERE NOT granted") == 0
    finally:
        holder.rollback()
        holder.close()
    assert deployment.scalar("SELECT count(*) FROM person") == before
    # The other worker closes the dead one's queue entry, and takes new work.
    deployment.until(lambda: deployment.scalar(
        "SELECT count(*) FROM console.procrastinate_jobs WHERE status = 'doing'") == 0, 40,
        "the dead worker's queue entry stayed 'doing'")
    again = _upload(deployment, admin, 0, _people(5, 6_000))
    _previewed(deployment, admin, 1, again)
