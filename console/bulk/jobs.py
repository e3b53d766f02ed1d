"""Uploaded import files and their status, kept in a folder (the instance folder).

Any worker can answer for any job: the upload, its status and its errors live on
disk under a random id, never in process memory. Jobs expire after an hour.
"""

from __future__ import annotations

import csv
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO

from console.kinds import neutralise, unneutralise

EXPIRY_SECONDS = 3600
# A running job's runner beats this often (console.jobs); a running job without a beat or
# a status change for STALE_SECONDS lost its process (killed, restarted).
HEARTBEAT_SECONDS = 5
STALE_SECONDS = 30
_ID = re.compile(r"[0-9a-f]{32}")


class JobStore:
    """Import jobs under ``root``: ``<id>/upload.csv``, ``status.json``, ``errors.csv``."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def path(self, job_id: str) -> Path | None:
        """The job's folder, or None for an id that is malformed or gone."""
        if not _ID.fullmatch(job_id or ""):
            return None
        folder = self.root / job_id
        return folder if folder.is_dir() else None

    def create(self, source: BinaryIO, *, model: str, file_name: str, upsert: bool,
               account_id: int | None) -> str:
        """Store an upload under a new random id and return the id."""
        self.clean_expired()
        job_id = secrets.token_hex(16)
        folder = self.root / job_id
        folder.mkdir(parents=True)
        with open(folder / "upload.csv", "wb") as target:
            shutil.copyfileobj(source, target, 1 << 20)
        self.save(job_id, {
            "id": job_id, "model": model, "file_name": file_name, "upsert": upsert,
            "account_id": account_id, "state": "queued", "phase": "preview",
            "created": time.time(), "bytes": (folder / "upload.csv").stat().st_size,
            "bytes_read": 0, "result": None, "message": None,
        })
        return job_id

    def load(self, job_id: str) -> dict[str, Any] | None:
        """The job's status, or None when it does not exist (or expired)."""
        folder = self.path(job_id)
        if folder is None:
            return None
        try:
            status = json.loads((folder / "status.json").read_text())
        except (OSError, ValueError):
            return None
        if time.time() - status["created"] > EXPIRY_SECONDS and status["state"] != "running":
            return None
        alive = _last_sign(folder, status)
        if status["state"] == "running" and time.time() - alive > STALE_SECONDS:
            status["state"] = "failed"
            status["message"] = (
                "The import was interrupted: the process running it stopped (it was killed "
                "or the server restarted). Nothing was written; start it again."
            )
        return status

    def beat(self, job_id: str) -> None:
        """The runner is alive: a file of its own, so a beat never races a status change."""
        folder = self.path(job_id)
        if folder is not None:
            (folder / "heartbeat").touch()

    def save(self, job_id: str, status: dict[str, Any]) -> None:
        """Replace the status atomically (readers never see half a file)."""
        folder = self.root / job_id
        status["touched"] = time.time()
        tmp = folder / f"status.{secrets.token_hex(4)}.tmp"
        tmp.write_text(json.dumps(status))
        os.replace(tmp, folder / "status.json")

    def update(self, job_id: str, **changes: Any) -> dict[str, Any]:
        """Load, change and save the status."""
        status = json.loads((self.root / job_id / "status.json").read_text())
        status.update(changes)
        self.save(job_id, status)
        return status

    def claim_commit(self, job_id: str) -> bool:
        """True for one caller only: a second confirm (another tab or worker) gets False."""
        try:
            fd = os.open(self.root / job_id / "commit.lock", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return False
        os.close(fd)
        return True

    def upload(self, job_id: str) -> Path:
        """The stored upload."""
        return self.root / job_id / "upload.csv"

    def errors_file(self, job_id: str) -> Path:
        """The CSV of the job's errors."""
        return self.root / job_id / "errors.csv"

    def write_errors(self, job_id: str, errors: Iterable[Any]) -> None:
        """Save the errors as CSV (line, column, message)."""
        with open(self.errors_file(job_id), "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["line", "column", "message"])
            for e in errors:
                # Line 0 is the file as a whole (wrong columns, not UTF-8): no line of it.
                writer.writerow([e.line or "", e.column or "", e.message])

    def changes_file(self, job_id: str) -> Path:
        """The CSV of the fields the job's upsert changes (its preview)."""
        return self.root / job_id / "changes.csv"

    def write_changes(self, job_id: str, changes: Iterable[Any]) -> None:
        """Save the changed fields as CSV (line, key, column, old, new)."""
        write_changes(self.changes_file(job_id), changes)

    def read_changes(self, job_id: str, offset: int, limit: int) -> list[list[str]]:
        """One page of the saved changes, as they were (the file's formula quotes undone)."""
        return [[line, unneutralise(key), column, unneutralise(old), unneutralise(new)]
                for line, key, column, old, new in
                _read_page(self.changes_file(job_id), offset, limit)]

    def read_errors(self, job_id: str, offset: int, limit: int) -> list[list[str]]:
        """One page of the saved errors."""
        return _read_page(self.errors_file(job_id), offset, limit)

    def clean_expired(self) -> int:
        """Delete jobs older than the expiry (their uploads with them); return how many."""
        if not self.root.is_dir():
            return 0
        removed = 0
        now = time.time()
        for folder in self.root.iterdir():
            if not _ID.fullmatch(folder.name):
                continue
            try:
                status = json.loads((folder / "status.json").read_text())
                touched = status.get("touched", status["created"])
            except (OSError, ValueError, KeyError):
                touched = folder.stat().st_mtime
                status = {}
            touched = max(touched, _last_sign(folder, status))
            running = status.get("state") == "running" and now - touched < STALE_SECONDS
            if now - status.get("created", touched) > EXPIRY_SECONDS and not running:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        return removed


def _last_sign(folder: Path, status: dict[str, Any]) -> float:
    """When the job's runner last showed it was alive: a status change or a beat."""
    try:
        beat = (folder / "heartbeat").stat().st_mtime
    except OSError:
        beat = 0.0
    return max(float(status.get("touched", 0)), beat)


def write_changes(path: Path, changes: Iterable[Any]) -> None:
    """The changed fields of an upsert as CSV (line, key, column, old, new), formula-safe."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["line", "key", "column", "old", "new"])
        for c in changes:
            writer.writerow([c.line, neutralise(c.key), c.column, neutralise(str(c.old)),
                             neutralise(str(c.new))])


def _read_page(path: Path, offset: int, limit: int) -> list[list[str]]:
    """Rows ``offset``..``offset+limit`` of a saved CSV (after its header)."""
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        next(reader, None)
        page = []
        for index, row in enumerate(reader):
            if index >= offset + limit:
                break
            if index >= offset:
                page.append(row)
        return page
