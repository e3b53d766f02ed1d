"""The job queue on PostgreSQL: procrastinate, its tables in the console's schema.

The web defers a job's id (``defer``, synchronous); ``console worker`` runs
procrastinate's worker, which fetches ids (LISTEN/NOTIFY) and calls the runner
(``console.jobs.run_job``) in a thread. The queue carries only ids: the job itself,
its upload and its outcome live in the console's ``job`` tables, which every
instance reads. procrastinate's functions name their tables unqualified, so every
connection of the queue has the console's schema first on its search path.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import procrastinate
from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection, make_url

from console import own_schema

log = logging.getLogger(__name__)

QUEUE = "console"
TASK = "console.run_job"
# What the task calls: set by ``console worker`` (the runner bound to its app).
_runner: list[Callable[[str], None]] = []


def conninfo(database_url: str) -> str:
    """A libpq connection string for an SQLAlchemy URL (any PostgreSQL driver)."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def make_app(
    database_url: str, schema: str | None = None, *, max_size: int = 4
) -> procrastinate.App:
    """A procrastinate app on the database of ``database_url``, in the console's schema."""
    real = own_schema.checked(schema or own_schema.configured())
    connector = procrastinate.PsycopgConnector(
        conninfo=conninfo(database_url),
        kwargs={"options": f"-c search_path={real},public"},
        min_size=1, max_size=max_size,
    )
    app = procrastinate.App(connector=connector)

    @app.task(name=TASK, queue=QUEUE)
    def run_job(job_id: str) -> None:
        if not _runner:
            raise RuntimeError("No job runner: start jobs with `console worker`.")
        _runner[0](job_id)

    return app


_apps: dict[tuple[str, str], procrastinate.App] = {}
_opening = threading.Lock()


def defer(database_url: str, schema: str | None, job_id: str) -> None:
    """Put job ``job_id`` on the queue (one short transaction of its own)."""
    key = (database_url, schema or "")
    with _opening:
        app = _apps.get(key)
        if app is None:
            # Opened once per process (after gunicorn's fork): a small pool of its own.
            app = _apps[key] = make_app(database_url, schema, max_size=2).open()
    app.tasks[TASK].defer(job_id=job_id)


def set_runner(runner: Callable[[str], None]) -> None:
    """What the queue's task runs in this process (``console worker``)."""
    _runner[:] = [runner]


@contextmanager
def _in_queue_schema(engine: Engine) -> Iterator[Connection]:
    """A transaction whose search path is the console's schema (procrastinate's tables)."""
    with engine.begin() as conn:
        schema = own_schema.of(conn) or "public"
        quoted = conn.dialect.identifier_preparer.quote_schema(schema)
        conn.exec_driver_sql(f"SET LOCAL search_path = {quoted}, public")
        yield conn


def close_stalled(engine: Engine, seconds: float) -> int:
    """Mark failed the queue entries whose worker stopped beating (killed, gone)."""
    with _in_queue_schema(engine) as conn:
        rows = conn.execute(text(
            "SELECT procrastinate_finish_job_v1(j.id, 'failed', false) "
            "FROM procrastinate_jobs j LEFT JOIN procrastinate_workers w ON w.id = j.worker_id "
            "WHERE j.status = 'doing' AND (w.id IS NULL OR w.last_heartbeat < "
            "now() - make_interval(secs => :seconds))"
        ), {"seconds": seconds}).all()
    return len(rows)


def live_workers(engine: Engine, seconds: float) -> int:
    """How many workers beat in the last ``seconds`` (0: none is running)."""
    with _in_queue_schema(engine) as conn:
        return int(conn.execute(text(
            "SELECT count(*) FROM procrastinate_workers "
            "WHERE last_heartbeat > now() - make_interval(secs => :seconds)"
        ), {"seconds": seconds}).scalar() or 0)


def run_worker(app: procrastinate.App, *, concurrency: int, **options: Any) -> None:
    """Run procrastinate's worker until a signal stops it."""
    app.run_worker(queues=[QUEUE], concurrency=concurrency, name="console",
                   delete_jobs="successful", stalled_worker_timeout=30,
                   update_heartbeat_interval=5, **options)
