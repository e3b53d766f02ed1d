"""Long work outside the request: imports are checked and written by a runner.

Plain Python over SQLAlchemy, no Flask: a job runs on a Session of its own, bound to
the app's engine. The web only stores the upload, starts the job and shows its
status (``console.bulk.jobs.JobStore``). Today the runner is a thread of the process
that received the upload.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from console.bulk.importer import import_file
from console.bulk.jobs import HEARTBEAT_SECONDS, JobStore
from console.catalogue import Catalogue
from console.models import Account

log = logging.getLogger(__name__)

PROGRESS_EVERY_BYTES = 4 << 20
# Import threads of this process, so that tests (and shutdown) can wait for them.
_threads: dict[str, threading.Thread] = {}


def run_import(
    engine: Engine, catalogue: Catalogue, store: JobStore, job_id: str, commit: bool
) -> None:
    """Check (or commit) a stored upload and record the outcome in the job's status."""
    status = store.update(job_id, state="running", phase="commit" if commit else "preview",
                          bytes_read=0)
    read = [0, 0]

    def progress(n: int) -> None:
        read[0] += n
        if read[0] - read[1] >= PROGRESS_EVERY_BYTES:
            read[1] = read[0]
            store.update(job_id, bytes_read=read[0])

    stop = threading.Event()
    beating = threading.Thread(target=_beat, args=(store, job_id, stop), daemon=True,
                               name=f"beat-{job_id[:8]}")
    beating.start()
    try:
        _run(engine, catalogue, store, job_id, commit, status, read, progress)
    finally:
        stop.set()


def _beat(store: JobStore, job_id: str, stop: threading.Event) -> None:
    while not stop.wait(HEARTBEAT_SECONDS):
        try:
            store.beat(job_id)
        except OSError:
            log.warning("Import job %s: could not write its heartbeat", job_id, exc_info=True)


def _run(
    engine: Engine, catalogue: Catalogue, store: JobStore, job_id: str, commit: bool,
    status: dict[str, Any], read: list[int], progress: Callable[[int], None],
) -> None:
    with Session(engine) as session:
        try:
            if engine.dialect.name == "postgresql":
                # A backend whose client died (the process killed) notices within seconds,
                # also while it waits for a lock, and ends: no session holds the import's
                # locks after its process is gone.
                session.execute(text("SET client_connection_check_interval = '2s'"))
            # The write is recorded as the confirming account's (an admin may confirm another's).
            who = status.get("confirmed_by") if commit else None
            who = who or status["account_id"]
            account = session.get(Account, who) if who else None
            description = catalogue.by_name(status["model"])
            with open(store.upload(job_id), "rb") as source:
                result = import_file(
                    session, description, source, upsert=status["upsert"],
                    dry_run=not commit, account=account, file_name=status["file_name"],
                    progress=progress,
                )
            store.write_errors(job_id, result.errors)
            store.write_changes(job_id, result.changes)
            state = "done" if commit and result.committed else "previewed"
            store.update(job_id, state=state, bytes_read=read[0], result=result.summary()
                         | {"error_count": result.error_count, "committed": result.committed,
                            "shown_errors": len(result.errors),
                            "shown_changes": len(result.changes)})
        except Exception as exc:
            log.exception("Import job %s failed", job_id)
            _rollback(session)
            store.update(job_id, state="failed", message=_failure_words(exc))


def _rollback(session: Session) -> None:
    """Roll back; on a connection the database dropped (a restart) that fails too, and the
    job must still be marked failed: the database has already discarded the transaction."""
    try:
        session.rollback()
    except Exception:
        log.warning("Could not roll back a failed import (connection lost)", exc_info=True)


def _failure_words(exc: BaseException) -> str:
    """What the status page says of a failed import: the fault in words where it is known."""
    from console.db_errors import outage_of

    outage = outage_of(exc)
    if outage is not None:
        return f"The import stopped. {outage.message}"
    return "The import failed unexpectedly; nothing was written. It has been logged."


def start(target: Callable[..., Any], job_id: str, *args: Any) -> None:
    """Run ``target(*args)`` for job ``job_id`` in a background thread."""
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


__all__ = ["run_import", "start", "wait_for_job"]
