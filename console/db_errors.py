"""Turn a database's refusal (IntegrityError) into words for the field it concerns."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from console.catalogue import catalogue_of, table_of
from console.declare import OnDelete


@dataclass
class Problem:
    """A refusal explained: the form field it belongs to (if any) and a message."""

    field: str | None
    message: str


_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: (\w+)\.(\w+)")
_SQLITE_NOT_NULL = re.compile(r"NOT NULL constraint failed: (\w+)\.(\w+)")


def _constraint_name(exc: IntegrityError) -> str | None:
    diag = getattr(exc.orig, "diag", None)
    return getattr(diag, "constraint_name", None)


def describe_integrity_error(exc: IntegrityError, model: type) -> Problem:
    """Explain ``exc`` raised while writing ``model``; never leaks SQL to the user."""
    table = table_of(model)
    text = str(exc.orig)
    name = _constraint_name(exc)
    column: str | None = None
    kind = ""
    if name:
        for constraint in table.constraints:
            if constraint.name == name:
                cols = [c.key for c in getattr(constraint, "columns", [])]
                column = cols[0] if cols else None
                kind = type(constraint).__name__
        if name.startswith("fk_"):
            kind = "ForeignKeyConstraint"
    match = _SQLITE_UNIQUE.search(text)
    if match:
        column, kind = match.group(2), "UniqueConstraint"
    match = _SQLITE_NOT_NULL.search(text)
    if match:
        column, kind = match.group(2), "NotNull"
    if "FOREIGN KEY constraint failed" in text or "foreign key constraint" in text:
        kind = "ForeignKeyConstraint"
    if kind == "UniqueConstraint" and column:
        return Problem(column, "Already exists: another record has this value.")
    if kind == "NotNull" and column:
        return Problem(column, "This field is required.")
    if kind == "ForeignKeyConstraint":
        catalogue = catalogue_of(model)
        restricting = [
            edge
            for edge in (catalogue.children_of(model) if catalogue else [])
            if edge.policy is OnDelete.RESTRICT
        ]
        if restricting and ("delete" in text.lower() or "still referenced" in text or not name):
            assert catalogue is not None
            owned = ", ".join(
                sorted({catalogue.describe(edge.child).plural for edge in restricting})
            )
            return Problem(
                None,
                f"Other records still depend on this one ({owned}): move or delete them first.",
            )
        return Problem(column, "The referenced record does not exist (it may have been deleted).")
    return Problem(column, "The database refused the change: it conflicts with existing data.")


@dataclass
class Outage:
    """A database fault explained to people: the status to answer and what to say."""

    status: int
    title: str
    message: str
    retry_after: int | None = None


# PostgreSQL's SQLSTATEs of faults people can be told about (not bugs of ours).
_PG_FAULTS = {
    "57014": Outage(503, "The database took too long",
                    "The database stopped this request because it ran longer than allowed "
                    "(a statement timeout). Nothing was saved. Try again, or narrow the list "
                    "with a filter.", 5),
    "55P03": Outage(409, "Rows are being written",
                    "The rows this needs are being written by another operation (an import or "
                    "a bulk edit, for example). Nothing was saved. Try again when it finishes.", 5),
    "53100": Outage(503, "The database is out of disk space",
                    "The database server has no disk space left, so nothing could be saved. "
                    "Nothing was written. Tell the administrator.", 60),
    "53200": Outage(503, "The database is out of memory",
                    "The database server ran out of memory. Nothing was saved. Try again "
                    "shortly.", 10),
    "57P01": Outage(503, "The database is restarting",
                    "The database server is restarting. Nothing was saved. Try again in a "
                    "few seconds.", 5),
    "57P03": Outage(503, "The database is starting",
                    "The database server is starting up. Try again in a few seconds.", 5),
}
UNREACHABLE = Outage(
    503, "The database is unreachable",
    "The console cannot reach its database right now, so it cannot show or save anything. "
    "Nothing was written. It will recover by itself when the database is back: try again "
    "in a few seconds.", 10,
)
_SQLITE_FAULTS = (
    ("database is locked", Outage(
        503, "The database is busy",
        "Another operation is writing to the database. Nothing was saved. Try again in a "
        "moment.", 2)),
    ("database or disk is full", _PG_FAULTS["53100"]),
    ("disk i/o error", Outage(
        503, "The database cannot be written",
        "The database file cannot be read or written (a disk error). Nothing was saved. "
        "Tell the administrator.", 60)),
)


_MISSING_TABLE = (
    re.compile(r'relation "([^"]+)" does not exist'),  # PostgreSQL
    re.compile(r"no such table: (\S+)"),  # SQLite
)


def _missing_table(table: str) -> Outage:
    return Outage(
        503, "The database is not set up",
        f"The table {table} does not exist in the database. If the console has not been set "
        "up on this database yet, run `console init` (it creates the console's own tables and "
        "the first admin account). If it is a table of your application, create it with your "
        "application's migrations.", None,
    )


def outage_of(exc: BaseException) -> Outage | None:
    """What to tell people about ``exc`` when it is a database fault, else None (a bug)."""
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    if isinstance(exc, PoolTimeout):
        return Outage(503, "The console is busy",
                      "Every database connection is in use. Nothing was saved. Try again in a "
                      "moment.", 2)
    if not isinstance(exc, DBAPIError):
        return _driver_outage(exc)
    code = getattr(exc.orig, "pgcode", None)
    if code == "42P01" or "no such table" in str(exc.orig):
        for pattern in _MISSING_TABLE:
            found = pattern.search(str(exc.orig))
            if found:
                return _missing_table(found.group(1))
    if code in _PG_FAULTS:
        return _PG_FAULTS[code]
    if exc.connection_invalidated or isinstance(exc, InterfaceError):
        return UNREACHABLE
    text = str(exc.orig).lower()
    for words, outage in _SQLITE_FAULTS:
        if words in text:
            return outage
    if isinstance(exc, OperationalError) and code is None:
        # psycopg2 reports a refused, dropped or closed connection without a SQLSTATE.
        return UNREACHABLE
    return None


def _driver_outage(exc: BaseException) -> Outage | None:
    """The same words for a driver's own error, raised where no SQLAlchemy wraps it (COPY)."""
    kind = type(exc)
    if kind.__module__.split(".")[0] not in ("psycopg2", "psycopg", "sqlite3"):
        return None
    code = getattr(exc, "pgcode", None)
    if code in _PG_FAULTS:
        return _PG_FAULTS[code]
    if code is None and kind.__name__ in ("OperationalError", "InterfaceError"):
        text = str(exc).lower()
        for words, outage in _SQLITE_FAULTS:
            if words in text:
                return outage
        return UNREACHABLE
    return None
