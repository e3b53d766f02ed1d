"""Long work outside the request: imports are checked and written by a job runner.

Plain Python over SQLAlchemy, no Flask. The web stores the upload and the job
(``console.bulk.jobs.JobStore``, in the database), then hands the job's id to a
dispatcher, and shows the job's status; a runner takes the job and does the work on a
Session of its own.

Two dispatchers, chosen by ``CONSOLE_JOBS``:

- ``worker`` (the default on PostgreSQL): the id goes to the job queue, procrastinate,
  whose tables live in the console's schema. ``console worker`` processes fetch it
  (LISTEN/NOTIFY, no polling delay), on any machine: every instance and every worker
  reads the same job and the same upload from the database.
- ``embedded`` (the default on SQLite, and the only choice there): a thread of the
  process that received the request runs the job, so that ``python3 dev.py serve``
  alone suffices.

Whichever runs it, a runner beats (``job.heartbeat``) every ``HEARTBEAT_SECONDS`` and
looks every second whether someone asked to cancel: then it cancels its own query
(``pg_cancel_backend`` on PostgreSQL, ``interrupt()`` on SQLite) and the job ends
"cancelled", nothing written. A job whose runner died (killed, its machine gone)
shows no beat and is marked failed within ``STALE_SECONDS`` by the next reader or by
any worker's sweep; its database session ends with it (``client_connection_check_interval``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from console.bulk.importer import import_file
from console.bulk.jobs import HEARTBEAT_SECONDS, STALE_SECONDS, JobStore
from console.catalogue import Catalogue
from console.models import Account

log = logging.getLogger(__name__)

PROGRESS_EVERY_BYTES = 4 << 20
CANCEL_POLL_SECONDS = 1.0
# How long a runner keeps trying to record an outcome while the database is unreachable.
RECORD_RETRY_SECONDS = 60
# Import threads of this process (embedded), so that tests (and shutdown) can wait.
_threads: dict[str, threading.Thread] = {}


class Cancelled(Exception):
    """Someone asked to cancel the job while it ran."""


class JobRefused(Exception):
    """The job cannot be done as asked (the message says why, to the user)."""


class Interrupts:
    """How to cancel the job's running statement, while its session is the job's.

    Once ``close`` returns no cancel runs or will run: the session's connection goes
    back to the pool afterwards, and a late ``pg_cancel_backend`` (or SQLite interrupt)
    would hit whoever uses it next.
    """

    def __init__(self) -> None:
        self._acts: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def add(self, act: Callable[[], None]) -> None:
        with self._lock:
            self._acts.append(act)

    def fire(self, job_id: str) -> None:
        with self._lock:
            for act in self._acts:
                try:
                    act()
                except Exception:
                    log.warning("Job %s: could not cancel its query", job_id, exc_info=True)

    def close(self) -> None:
        with self._lock:
            self._acts.clear()


# What an export job makes: (the model, its select: the list's filters, search and sort,
# the format, a CSV byte order mark or not). The web side builds it from the job's options.
ExportPlan = tuple[Any, Any, str, bool]


def run_job(engine: Engine, catalogue: Catalogue, store: JobStore, job_id: str,
            exports: Callable[[dict[str, Any]], ExportPlan] | None = None) -> None:
    """Take the queued job ``job_id`` and run it (an import's dry run or commit, or an
    export, which ``exports`` plans); a job another runner took, or one cancelled
    meanwhile, is left alone."""
    status = store.claim_run(job_id)
    if status is None:
        return
    commit = status["phase"] == "commit"
    read = [0, 0]
    cancelled = threading.Event()
    interrupt = Interrupts()

    def progress(n: int) -> None:
        if cancelled.is_set():
            raise Cancelled
        read[0] += n
        if read[0] - read[1] >= PROGRESS_EVERY_BYTES:
            read[1] = read[0]
            store.update(job_id, bytes_read=read[0])

    stop = threading.Event()
    watching = threading.Thread(
        target=_watch, args=(store, job_id, stop, cancelled, interrupt), daemon=True,
        name=f"watch-{job_id[:8]}")
    watching.start()
    try:
        if status["kind"] == "export":
            _export(engine, store, job_id, status, exports, progress, cancelled, interrupt)
        else:
            _run(engine, catalogue, store, job_id, commit, status, read, progress, cancelled,
                 interrupt)
    finally:
        stop.set()
        watching.join(5)


def _watch(store: JobStore, job_id: str, stop: threading.Event, cancelled: threading.Event,
           interrupt: Interrupts) -> None:
    """Beat every HEARTBEAT_SECONDS; each second, look for a cancel and act on it."""
    last_beat = 0.0
    while not stop.wait(CANCEL_POLL_SECONDS):
        try:
            if time.monotonic() - last_beat >= HEARTBEAT_SECONDS:
                last_beat = time.monotonic()
                asked = store.beat(job_id)
            else:
                asked = store.cancel_requested(job_id)
        except Exception:
            log.warning("Import job %s: could not beat (database unreachable?)", job_id,
                        exc_info=True)
            continue
        if asked and not cancelled.is_set():
            cancelled.set()
            interrupt.fire(job_id)


@contextmanager
def _closing(interrupt: Interrupts) -> Iterator[None]:
    """No cancel after this block: it ends before the session gives its connection back."""
    try:
        yield
    finally:
        interrupt.close()


def _canceller(engine: Engine, session: Session) -> Callable[[], None]:
    """How to cancel the statement ``session`` runs, from another thread."""
    if engine.dialect.name == "postgresql":
        pid = session.execute(text("SELECT pg_backend_pid()")).scalar()

        def cancel_backend() -> None:
            with engine.connect() as conn:
                conn.execute(text("SELECT pg_cancel_backend(:pid)"), {"pid": pid})

        return cancel_backend
    raw = session.connection().connection.dbapi_connection
    return raw.interrupt  # type: ignore[union-attr]


def _run(
    engine: Engine, catalogue: Catalogue, store: JobStore, job_id: str, commit: bool,
    status: dict[str, Any], read: list[int], progress: Callable[[int], None],
    cancelled: threading.Event, interrupt: Interrupts,
) -> None:
    with Session(engine) as session, _closing(interrupt):
        try:
            _prepare(engine, session, interrupt)
            # The write is recorded as the confirming account's (an admin may confirm another's).
            who = status.get("confirmed_by") if commit else None
            who = who or status["account_id"]
            account = session.get(Account, who) if who else None
            description = catalogue.by_name(status["model"])
            with store.upload(job_id) as source:
                result = import_file(
                    session, description, source, upsert=status["upsert"],
                    dry_run=not commit, account=account, file_name=status["file_name"],
                    progress=progress,
                )
            if cancelled.is_set() and not result.committed:
                raise Cancelled
        except Exception as exc:
            _ended_early(session, store, job_id, exc, cancelled, "import")
            return

    def outcome() -> None:
        store.write_errors(job_id, result.errors)
        store.write_changes(job_id, result.changes)
        state = "done" if commit and result.committed else "previewed"
        store.move(job_id, ["running"], state=state, bytes_read=read[0],
                   result=result.summary()
                   | {"error_count": result.error_count, "committed": result.committed,
                      "shown_errors": len(result.errors),
                      "shown_changes": len(result.changes)})

    _record(outcome)


def _record(write: Callable[[], Any]) -> None:
    """Write a job's outcome, trying again while the database is unreachable (a restart
    that failed the import is still under way): the page must learn what happened."""
    from console.db_errors import outage_of

    deadline = time.monotonic() + RECORD_RETRY_SECONDS
    while True:
        try:
            write()
            return
        except Exception as exc:
            if outage_of(exc) is None or time.monotonic() > deadline:
                raise
            log.warning("Could not record a job's outcome yet (database unreachable)")
            time.sleep(1)


def _export(
    engine: Engine, store: JobStore, job_id: str, status: dict[str, Any],
    exports: Callable[[dict[str, Any]], ExportPlan] | None, progress: Callable[[int], None],
    cancelled: threading.Event, interrupt: Interrupts,
) -> None:
    """Write the export's file into the job (chunks in the database), then mark it done."""
    with Session(engine) as session, _closing(interrupt):
        try:
            if exports is None:
                raise RuntimeError("No export planner given to the job runner")
            _prepare(engine, session, interrupt)
            description, stmt, fmt, bom = exports(status)
            from console.bulk.exporter import export_chunks

            size = store.write_stream(job_id, "export", export_chunks(
                session, description, fmt, stmt, bom=bom), progress)
            session.rollback()
            if cancelled.is_set():
                raise Cancelled
        except Exception as exc:
            _ended_early(session, store, job_id, exc, cancelled, "export")
            return
    _record(lambda: store.move(job_id, ["running"], state="done", bytes=size, bytes_read=size,
                               result={"bytes": size}))


def _prepare(engine: Engine, session: Session, interrupt: Interrupts) -> None:
    """The job's session: it ends with its process, and a cancel can stop its statement."""
    if engine.dialect.name == "postgresql":
        # A backend whose client died (the process killed) notices within seconds, also
        # while it waits for a lock, and ends: no session holds the job's locks after its
        # process is gone.
        session.execute(text("SET client_connection_check_interval = '2s'"))
    interrupt.add(_canceller(engine, session))


def _ended_early(session: Session, store: JobStore, job_id: str, exc: Exception,
                 cancelled: threading.Event, what: str) -> None:
    """Roll back and record why the job ended without its outcome: cancelled or failed."""
    _rollback(session)
    if cancelled.is_set():
        log.info("Job %s (%s) cancelled", job_id, what)
        _record(lambda: store.move(job_id, ["running"], state="cancelled",
                                   message=store.cancel_message(job_id)))
        return
    if not isinstance(exc, JobRefused):
        log.exception("Job %s (%s) failed", job_id, what)
    words = _failure_words(exc, what)
    _record(lambda: store.move(job_id, ["running"], state="failed", message=words))


def _rollback(session: Session) -> None:
    """Roll back; on a connection the database dropped (a restart) that fails too, and the
    job must still be marked failed: the database has already discarded the transaction."""
    try:
        session.rollback()
    except Exception:
        log.warning("Could not roll back a failed import (connection lost)", exc_info=True)


def _failure_words(exc: BaseException, what: str = "import") -> str:
    """What the status page says of a failed job: the fault in words where it is known."""
    from console.db_errors import outage_of

    if isinstance(exc, JobRefused):
        return str(exc)
    outage = outage_of(exc)
    if outage is not None:
        return f"The {what} stopped. {outage.message}"
    return f"The {what} failed unexpectedly; nothing was written. It has been logged."


# -- dispatch ---------------------------------------------------------------------------------


def start(target: Callable[..., Any], job_id: str, *args: Any) -> None:
    """Run ``target(*args)`` for job ``job_id`` in a background thread (embedded)."""
    thread = threading.Thread(target=target, args=args, daemon=True, name=f"job-{job_id[:8]}")
    for finished in [k for k, t in _threads.items() if not t.is_alive()]:
        del _threads[finished]
    _threads[job_id] = thread
    thread.start()


def wait_for_job(job_id: str, timeout: float = 60.0) -> bool:
    """Block until this process's thread for ``job_id`` has finished; False on timeout."""
    thread = _threads.get(job_id)
    if thread is None:
        return True
    thread.join(timeout)
    return not thread.is_alive()


def sweep(engine: Engine, store: JobStore) -> int:
    """Fail the jobs whose runner died, and close their queue entries; how many jobs."""
    failed = store.fail_stale()
    if engine.dialect.name == "postgresql":
        from console.queue import close_stalled

        close_stalled(engine, STALE_SECONDS)
    return failed


__all__ = ["Cancelled", "ExportPlan", "JobRefused", "run_job", "start", "sweep", "wait_for_job"]
