"""On SQLite, the console's own tables in a database file of their own, beside the user's.

A database the console did not create (``CONSOLE_MODELS=reflect``) is the user's file:
the console edits its rows and leaves everything else in it as it was, its
``sqlite_master`` and its journal mode included. The console's tables (accounts, audit
entries, jobs, row counts, saved views and their version table) live in a second file,
by default ``<stem>.console.sqlite3`` next to the user's (``CONSOLE_SQLITE_CONSOLE_FILE``
chooses another path). The built-in demo, and models named by ``CONSOLE_MODELS=pkg``,
keep one file unless that setting is given; so does a file into which an earlier
console migrated its tables (they carry on there, with a warning).

- The app's engine connects to the user's file and ATTACHes the console's file as
  schema ``console`` on every connection; the translate map sends the console's stand-in
  schema (``own_schema.OWN``) there, so ``console.account`` is the console's and an
  ``account`` table of the user's stays the user's.
- Migrations, the version table, autogenerate and the drift check of the console's
  history run on an engine connected to the console's file alone (``direct``): there it
  is the main database, so unqualified DDL and Alembic's reflection meet the console's
  tables and nothing else, as ``own_schema.scope`` arranges with ``search_path`` on
  PostgreSQL.
- Atomicity: SQLite commits a transaction that wrote to two files atomically across
  both only through a super-journal, which it uses in rollback-journal modes only. The
  console's file is kept in ``journal_mode=DELETE`` and the user's is never switched to
  WAL (that would be a lasting change to their file). When the user's file already is in
  WAL mode, each commit is still atomic per file, not across the two: start-up and
  ``console init`` say so (``wal_warning``).

Plain SQLAlchemy and sqlite3; the file comes from the engine's execution options.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

# The name the console's file is attached as (SQLite's schema for it).
ATTACHED = "console"
# The execution option that carries the console's file on the app's engine.
OPTION = "console_sqlite_file"
SUFFIX = ".console.sqlite3"
_HEADER = b"SQLite format 3\x00"
log = logging.getLogger(__name__)


class OwnFileError(ValueError):
    """A console file setting that cannot work, with the reason."""


def user_file(database_url: str | sa.URL) -> Path | None:
    """The user's SQLite database file of ``database_url`` (None: not SQLite, or in memory)."""
    url = sa.make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return None
    name = url.database or ""
    if not name or name == ":memory:" or name.startswith("file:") or "mode=memory" in name:
        return None
    return Path(os.path.abspath(name))


def default_for(user: Path) -> Path:
    """The console's file beside the user's ``user``: ``<stem>.console.sqlite3``."""
    return user.with_name(user.stem + SUFFIX)


def choose(database_url: str, models: str, setting: str | None) -> Path | None:
    """Where the console's own tables live on SQLite, or None: in the database itself.

    Apart for ``reflect`` (the user's database) or whenever ``setting``
    (``CONSOLE_SQLITE_CONSOLE_FILE``) names a file; OwnFileError when that cannot work.
    """
    from console import reflect

    value = (setting or "").strip()
    backend = sa.make_url(database_url).get_backend_name()
    if backend != "sqlite":
        if value:
            raise OwnFileError(
                f"CONSOLE_SQLITE_CONSOLE_FILE={value}: applies to SQLite only (the database "
                f"is {backend}; on PostgreSQL the console's tables go to CONSOLE_SCHEMA)"
            )
        return None
    user = user_file(database_url)
    if not value and not reflect.is_reflect(models):
        return None
    if user is None:
        if value:
            raise OwnFileError(
                f"CONSOLE_SQLITE_CONSOLE_FILE={value}: the database is in memory; a file "
                "of its own for the console's tables needs the database in a file too"
            )
        return None
    if not value and _holds_console_tables(user):
        # An earlier console put its tables into this file: they stay in use there, so
        # that accounts and history carry on (moving them is not automated).
        log.warning(
            "The console's tables are in the database %s itself (from an earlier version); "
            "they stay there. Set CONSOLE_SQLITE_CONSOLE_FILE to start a file of their own.",
            user,
        )
        return None
    path = Path(os.path.abspath(value)) if value else default_for(user)
    return checked(path, user)


def _holds_console_tables(user: Path) -> bool:
    """Whether the SQLite file ``user`` has the console's version table (read only)."""
    from console.schema import CONSOLE_VERSION_TABLE

    if not user.exists() or not user.stat().st_size:
        return False
    try:
        raw = sqlite3.connect(f"{user.as_uri()}?mode=ro", uri=True)
        try:
            found = raw.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                (CONSOLE_VERSION_TABLE,),
            ).fetchone()
        finally:
            raw.close()
    except sqlite3.Error:
        return False
    return found is not None


def checked(path: Path, user: Path) -> Path:
    """``path`` when it can hold the console's tables beside ``user``, else OwnFileError."""
    name = f"CONSOLE_SQLITE_CONSOLE_FILE={path}"
    if path == user or (path.exists() and user.exists() and path.samefile(user)):
        raise OwnFileError(f"{name}: is the database itself; name a file of its own")
    if path.is_dir():
        raise OwnFileError(f"{name}: is a folder; name a file in it")
    if not path.parent.is_dir():
        raise OwnFileError(f"{name}: folder {path.parent} does not exist")
    if path.exists() and path.stat().st_size:
        with path.open("rb") as fh:
            if fh.read(len(_HEADER)) != _HEADER:
                raise OwnFileError(f"{name}: exists and is not an SQLite database")
    return path


def in_wal_mode(path: Path | None) -> bool:
    """Whether the SQLite file ``path`` is in WAL mode (read from its header; no change)."""
    if path is None or not path.exists():
        return False
    with path.open("rb") as fh:
        header = fh.read(20)
    # Bytes 18 and 19: the file format's write and read versions, 2 in WAL mode.
    return len(header) == 20 and header.startswith(_HEADER) and header[18] == 2


def wal_warning(user: Path) -> str:
    """What WAL mode of the user's file means for the console's commits."""
    return (
        f"The database {user} is in WAL mode (the console leaves it so): a change and its "
        "audit entry, in two files, are then committed atomically per file only; a crash "
        "between the two commits can keep one without the other. Switch the database to "
        "journal_mode=DELETE when no other program needs WAL, for commits atomic across both."
    )


def execution_options(path: Path) -> dict[str, Any]:
    """The app engine's options that send the console's tables to the attached ``path``."""
    from console.own_schema import OWN

    return {"schema_translate_map": {OWN: ATTACHED}, OPTION: str(path)}


def install(engine: Engine, path: Path | str) -> None:
    """Attach the console's file on every new connection of ``engine`` (the app's)."""
    where = str(path)

    @event.listens_for(engine, "connect")
    def _attach(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"ATTACH DATABASE ? AS {ATTACHED}", (where,))
        # A rollback journal, so that one COMMIT over both files is atomic (super-journal).
        cursor.execute(f"PRAGMA {ATTACHED}.journal_mode=DELETE")
        cursor.close()


def path_of(bind: Engine | Connection | None) -> str | None:
    """The console's file attached by ``bind`` (the app's engine), or None."""
    if bind is None:
        return None
    value = bind.get_execution_options().get(OPTION)
    return str(value) if value else None


def direct(path: str) -> Engine:
    """An engine on the console's file alone: there its tables are the main database's."""
    from console.own_schema import OWN

    engine = sa.create_engine(
        sa.URL.create("sqlite", database=path),
        poolclass=sa.pool.NullPool,
        execution_options={"schema_translate_map": {OWN: None}},
    )

    @event.listens_for(engine, "connect")
    def _rollback_journal(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=DELETE")
        cursor.close()

    return engine


__all__ = ["ATTACHED", "OwnFileError", "choose", "direct", "install", "path_of"]
