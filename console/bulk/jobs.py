"""Import jobs and their files, kept in the database (tables ``job`` and ``job_file``).

Any web instance and any worker can answer for any job: the upload, its status, its
errors and its changes live in the database under a random id, never in process memory
nor on one machine's disk. Files are stored as chunks of ``CHUNK_BYTES``, written and
read as streams, so memory stays flat whatever their size. Jobs expire after an hour.

Every change of state is one conditional UPDATE (``WHERE state = ...``), so that two
confirms, two workers or a cancel racing a finish never both win.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import secrets
import socket
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO, cast

from sqlalchemy import Engine, Table, and_, delete, func, insert, or_, select, update

from console.kinds import neutralise, unneutralise
from console.models.jobs import Job, JobFile

EXPIRY_SECONDS = 3600
# A running job's runner beats this often (console.jobs); a running job without a beat or
# a status change for STALE_SECONDS lost its process (killed, restarted).
HEARTBEAT_SECONDS = 5
STALE_SECONDS = 30
CHUNK_BYTES = 1 << 20
_ID = re.compile(r"[0-9a-f]{32}")
JOB = cast(Table, Job.__table__)
FILE = cast(Table, JobFile.__table__)
ACTIVE = ("queued", "running")
INTERRUPTED = ("The import was interrupted: the process running it stopped (it was killed "
               "or the server restarted). Nothing was written; start it again.")


def runner_name() -> str:
    """"host pid" of this process: who runs a job, as the status page may say."""
    return f"{socket.gethostname()} {os.getpid()}"[:200]


class JobStore:
    """Import jobs on ``engine`` (the app's engine: it translates the console's schema)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- the job ---------------------------------------------------------------------------

    def create(self, source: BinaryIO, *, model: str, file_name: str, upsert: bool,
               account_id: int | None) -> str:
        """Store an upload (streamed into the database) under a new id; return the id.

        The job is "queued" for its dry run. One transaction: an upload cut half-way
        leaves nothing behind.
        """
        self.clean_expired()
        with self.engine.begin() as conn:
            job_id = self._insert(conn, kind="import", model=model, file_name=file_name,
                                  upsert=upsert, account_id=account_id, phase="preview")
            size = 0
            for seq, chunk in enumerate(_chunks(source)):
                conn.execute(insert(FILE).values(job_id=job_id, name="upload", seq=seq,
                                                 data=chunk))
                size += len(chunk)
            conn.execute(update(JOB).where(JOB.c.id == job_id).values(bytes=size))
        return job_id

    def create_export(self, *, model: str, file_name: str, account_id: int | None,
                      options: dict[str, Any]) -> str:
        """A queued export of ``model`` (``options``: what the worker needs to make it)."""
        self.clean_expired()
        with self.engine.begin() as conn:
            return self._insert(conn, kind="export", model=model, file_name=file_name,
                                upsert=False, account_id=account_id, phase="export",
                                options=json.dumps(options))

    def _insert(self, conn: Any, **values: Any) -> str:
        """A new queued job under a random id."""
        job_id = secrets.token_hex(16)
        now = time.time()
        values["file_name"] = values["file_name"][:255]
        conn.execute(insert(JOB).values(id=job_id, state="queued", created=now, touched=now,
                                        bytes=0, bytes_read=0, **values))
        return job_id

    def write_stream(self, job_id: str, name: str, chunks: Iterable[bytes],
                     progress: Any = None) -> int:
        """Replace the job's file ``name`` with ``chunks`` (regrouped by CHUNK_BYTES), one
        transaction; ``progress(n)`` after each stored chunk. Returns the size."""
        size, seq, pending = 0, 0, bytearray()
        with self.engine.begin() as conn:
            conn.execute(delete(FILE).where(FILE.c.job_id == job_id, FILE.c.name == name))
            for chunk in chunks:
                pending += chunk
                while len(pending) >= CHUNK_BYTES:
                    conn.execute(insert(FILE).values(job_id=job_id, name=name, seq=seq,
                                                     data=bytes(pending[:CHUNK_BYTES])))
                    del pending[:CHUNK_BYTES]
                    seq += 1
                    size += CHUNK_BYTES
                    if progress is not None:
                        progress(CHUNK_BYTES)
            if pending or seq == 0:
                conn.execute(insert(FILE).values(job_id=job_id, name=name, seq=seq,
                                                 data=bytes(pending)))
                size += len(pending)
        return size

    def load(self, job_id: str) -> dict[str, Any] | None:
        """The job's status, or None when it does not exist (or expired).

        A running job whose runner has shown no sign of life for ``STALE_SECONDS`` is
        shown as failed (reading changes nothing: a worker's sweep records it).
        """
        if not _ID.fullmatch(job_id or ""):
            return None
        with self.engine.connect() as conn:
            row = conn.execute(select(JOB).where(JOB.c.id == job_id)).mappings().first()
        if row is None:
            return None
        status = _status(row)
        now = time.time()
        if now - status["created"] > EXPIRY_SECONDS and status["state"] not in ACTIVE:
            return None
        if status["state"] == "running" and now - _last_sign(status) > STALE_SECONDS:
            status.update(state="failed", message=INTERRUPTED)
        return status

    def fail_stale(self, job_id: str | None = None) -> int:
        """Mark failed the running jobs (or ``job_id``) whose runner stopped; how many."""
        limit = time.time() - STALE_SECONDS
        stale = and_(JOB.c.state == "running", JOB.c.touched < limit,
                     or_(JOB.c.heartbeat.is_(None), JOB.c.heartbeat < limit))
        if job_id is not None:
            stale = and_(stale, JOB.c.id == job_id)
        with self.engine.begin() as conn:
            return conn.execute(update(JOB).where(stale).values(
                state="failed", message=INTERRUPTED, touched=time.time())).rowcount

    def update(self, job_id: str, **changes: Any) -> None:
        """Change the job's columns (``result`` as a dict)."""
        self._set(job_id, None, **changes)

    def move(self, job_id: str, from_states: Iterable[str], **changes: Any) -> bool:
        """Change the job only while its state is one of ``from_states``; True if it did."""
        return self._set(job_id, tuple(from_states), **changes)

    def _set(self, job_id: str, from_states: tuple[str, ...] | None, **changes: Any) -> bool:
        if "result" in changes and changes["result"] is not None:
            changes["result"] = json.dumps(changes["result"])
        stmt = update(JOB).where(JOB.c.id == job_id)
        if from_states is not None:
            stmt = stmt.where(JOB.c.state.in_(from_states))
        with self.engine.begin() as conn:
            return conn.execute(stmt.values({"touched": time.time(), **changes})).rowcount == 1

    def beat(self, job_id: str) -> bool:
        """The runner is alive; True when someone asked to cancel the job meanwhile."""
        with self.engine.begin() as conn:
            conn.execute(update(JOB).where(JOB.c.id == job_id).values(heartbeat=time.time()))
            asked = conn.execute(select(JOB.c.cancel_requested_at)
                                 .where(JOB.c.id == job_id)).scalar()
        return asked is not None

    def cancel_requested(self, job_id: str) -> bool:
        """True when someone asked to cancel the job."""
        with self.engine.connect() as conn:
            return conn.execute(select(JOB.c.cancel_requested_at)
                                .where(JOB.c.id == job_id)).scalar() is not None

    def claim_commit(self, job_id: str, account_id: int | None) -> bool:
        """Queue the commit of a previewed job: True for one caller only."""
        with self.engine.begin() as conn:
            return conn.execute(
                update(JOB).where(JOB.c.id == job_id, JOB.c.state == "previewed",
                                  JOB.c.phase == "preview")
                .values(state="queued", phase="commit", confirmed_by=account_id,
                        confirmed_at=time.time(), touched=time.time(), bytes_read=0,
                        cancel_requested_at=None, cancel_requested_by=None)
            ).rowcount == 1

    def claim_run(self, job_id: str) -> dict[str, Any] | None:
        """Take a queued job for this process (it becomes "running"); None if another
        runner took it, or it was cancelled or expired meanwhile."""
        now = time.time()
        with self.engine.begin() as conn:
            taken = conn.execute(
                update(JOB).where(JOB.c.id == job_id, JOB.c.state == "queued")
                .values(state="running", runner=runner_name(), touched=now, heartbeat=now,
                        bytes_read=0)
            ).rowcount
        return self.load(job_id) if taken == 1 else None

    def request_cancel(self, job_id: str, account_id: int | None) -> str | None:
        """Ask to cancel an active job: a queued one is cancelled at once, a running one
        by its runner (within a second, its query cancelled). Returns the job's state
        after the request, or None when it was no longer active."""
        now = time.time()
        with self.engine.begin() as conn:
            if conn.execute(
                update(JOB).where(JOB.c.id == job_id, JOB.c.state == "queued")
                .values(state="cancelled", cancel_requested_by=account_id,
                        cancel_requested_at=now, touched=now,
                        message=_cancel_words(conn, account_id, now))
            ).rowcount:
                return "cancelled"
            if conn.execute(
                update(JOB).where(JOB.c.id == job_id, JOB.c.state == "running",
                                  JOB.c.cancel_requested_at.is_(None))
                .values(cancel_requested_by=account_id, cancel_requested_at=now)
            ).rowcount:
                return "running"
        return None

    def cancel_message(self, job_id: str) -> str:
        """"Cancelled by X at T; nothing was written." for a job whose cancel was asked."""
        with self.engine.connect() as conn:
            row = conn.execute(select(JOB.c.cancel_requested_by, JOB.c.cancel_requested_at)
                               .where(JOB.c.id == job_id)).first()
            if row is None:
                return "Cancelled; nothing was written."
            return _cancel_words(conn, row[0], row[1])

    def running_commits(self) -> list[dict[str, Any]]:
        """The jobs writing rows right now (committing imports), oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(JOB).where(JOB.c.state == "running",
                                                  JOB.c.phase == "commit")
                                .order_by(JOB.c.created)).mappings().all()
        limit = time.time() - STALE_SECONDS
        return [s for s in map(_status, rows) if _last_sign(s) >= limit]

    def clean_expired(self) -> int:
        """Delete jobs older than the expiry (their files with them); return how many.

        An active job goes too once its runner has shown no sign of life for
        ``STALE_SECONDS`` (it died, or no worker ever took it).
        """
        now = time.time()
        limit, quiet = now - EXPIRY_SECONDS, now - STALE_SECONDS
        gone = and_(JOB.c.created < limit, or_(
            JOB.c.state.not_in(ACTIVE),
            and_(JOB.c.touched < quiet, or_(JOB.c.heartbeat.is_(None), JOB.c.heartbeat < quiet)),
        ))
        with self.engine.begin() as conn:
            conn.execute(delete(FILE).where(FILE.c.job_id.in_(select(JOB.c.id).where(gone))))
            return conn.execute(delete(JOB).where(gone)).rowcount

    # -- its files ------------------------------------------------------------------------

    @contextmanager
    def upload(self, job_id: str) -> Iterator[BinaryIO]:
        """The stored upload as a local temporary file (seekable, as XLSX needs), removed
        afterwards: the copy the runner reads, never the job's only copy."""
        with tempfile.TemporaryFile(prefix="console-upload-") as local:
            for chunk in self.stream(job_id, "upload"):
                local.write(chunk)
            local.seek(0)
            yield cast(BinaryIO, local)

    def stream(self, job_id: str, name: str) -> Iterator[bytes]:
        """The chunks of one of the job's files, one query each (memory stays flat)."""
        seq = 0
        while True:
            with self.engine.connect() as conn:
                chunk = conn.execute(select(FILE.c.data).where(
                    FILE.c.job_id == job_id, FILE.c.name == name, FILE.c.seq == seq)).scalar()
            if chunk is None:
                return
            yield bytes(chunk)
            seq += 1

    def has_file(self, job_id: str, name: str) -> bool:
        """True when the job has a file of that name."""
        with self.engine.connect() as conn:
            return bool(conn.execute(select(func.count()).select_from(FILE).where(
                FILE.c.job_id == job_id, FILE.c.name == name, FILE.c.seq == 0)).scalar())

    def write_csv(self, job_id: str, name: str, header: list[str],
                  rows: Iterable[Iterable[Any]]) -> None:
        """Replace the job's file ``name`` with a CSV of ``rows`` (in chunks)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        with self.engine.begin() as conn:
            conn.execute(delete(FILE).where(FILE.c.job_id == job_id, FILE.c.name == name))
            seq = 0
            for row in rows:
                writer.writerow(row)
                if buffer.tell() >= CHUNK_BYTES:
                    conn.execute(insert(FILE).values(job_id=job_id, name=name, seq=seq,
                                                     data=buffer.getvalue().encode()))
                    seq += 1
                    buffer.seek(0)
                    buffer.truncate()
            if buffer.tell() or seq == 0:
                conn.execute(insert(FILE).values(job_id=job_id, name=name, seq=seq,
                                                 data=buffer.getvalue().encode()))

    def write_errors(self, job_id: str, errors: Iterable[Any]) -> None:
        """Save the errors as CSV (line, column, message)."""
        # Line 0 is the file as a whole (wrong columns, not UTF-8): no line of it.
        self.write_csv(job_id, "errors", ["line", "column", "message"],
                       ([e.line or "", e.column or "", e.message] for e in errors))

    def write_changes(self, job_id: str, changes: Iterable[Any]) -> None:
        """Save the changed fields as CSV (line, key, column, old, new), formula-safe."""
        self.write_csv(job_id, "changes", CHANGE_HEADER, map(_change_row, changes))

    def read_changes(self, job_id: str, offset: int, limit: int) -> list[list[str]]:
        """One page of the saved changes, as they were (the file's formula quotes undone)."""
        return [[line, unneutralise(key), column, unneutralise(old), unneutralise(new)]
                for line, key, column, old, new in
                self._read_page(job_id, "changes", offset, limit)]

    def read_errors(self, job_id: str, offset: int, limit: int) -> list[list[str]]:
        """One page of the saved errors."""
        return self._read_page(job_id, "errors", offset, limit)

    def _read_page(self, job_id: str, name: str, offset: int, limit: int) -> list[list[str]]:
        """Rows ``offset``..``offset+limit`` of a saved CSV (after its header)."""
        text = io.TextIOWrapper(cast(BinaryIO, io.BufferedReader(
            _ChunkReader(self.stream(job_id, name)))), encoding="utf-8", newline="")
        reader = csv.reader(text)
        next(reader, None)
        page = []
        for index, row in enumerate(reader):
            if index >= offset + limit:
                break
            if index >= offset:
                page.append(row)
        return page


class _ChunkReader(io.RawIOBase):
    """A readable stream over an iterator of byte chunks."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._rest = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self._rest:
            self._rest = next(self._chunks, b"")
            if not self._rest:
                return 0
        n = min(len(target), len(self._rest))
        target[:n] = self._rest[:n]
        self._rest = self._rest[n:]
        return n


CHANGE_HEADER = ["line", "key", "column", "old", "new"]


def _change_row(c: Any) -> list[Any]:
    return [c.line, neutralise(c.key), c.column, neutralise(str(c.old)), neutralise(str(c.new))]


def write_changes(path: Any, changes: Iterable[Any]) -> None:
    """The changed fields of an upsert as a local CSV file (the CLI's ``--changes``)."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(CHANGE_HEADER)
        writer.writerows(map(_change_row, changes))


def _chunks(source: BinaryIO) -> Iterator[bytes]:
    while True:
        chunk = source.read(CHUNK_BYTES)
        if not chunk:
            return
        yield chunk


def _status(row: Any) -> dict[str, Any]:
    status = dict(row)
    status["result"] = json.loads(status["result"]) if status["result"] else None
    status["options"] = json.loads(status["options"]) if status.get("options") else {}
    return status


def _last_sign(status: dict[str, Any]) -> float:
    """When the job's runner last showed it was alive: a status change or a beat."""
    return max(float(status.get("touched") or 0), float(status.get("heartbeat") or 0))


def _cancel_words(conn: Any, account_id: int | None, at: float | None) -> str:
    from datetime import UTC, datetime

    from console.models import Account

    table = cast(Table, Account.__table__)
    email = (conn.execute(select(table.c.email).where(table.c.id == account_id)).scalar()
             if account_id else None)
    when = (f" at {datetime.fromtimestamp(at, UTC).strftime('%Y-%m-%d %H:%M')} UTC"
            if at else "")
    return f"Cancelled by {email or 'someone'}{when}; nothing was written."
