"""Exact row counts kept by the database, for any table the console manages.

A PostgreSQL b-tree keeps no subtree counts, so row k of an ordering costs O(k)
from the front and ``count(*)`` at a million rows costs tens of milliseconds. With
an exact total kept, a list shows "1,000,000 records" at no cost and reads a deep
page from the back instead. So the database keeps the count:

- ``row_count_delta`` (a table of the console's own): one row ``(table, delta)`` per
  INSERT or DELETE statement, appended by AFTER ... FOR EACH STATEMENT triggers that
  count the statement's transition table. A delta row commits or rolls back with the
  rows it counts, so ``sum(delta)`` is the exact row count in every snapshot, and no
  writer ever updates a shared row: concurrent writers never wait on each other.
  ON DELETE CASCADE deletes are statements too and are counted.
- The triggers are ENABLE ALWAYS: they fire under ``session_replication_role =
  replica`` as well, which the bulk import sets to skip the foreign-key triggers.
- TRUNCATE resets the table's deltas to one row of 0. TRUNCATE holds ACCESS
  EXCLUSIVE, so every writer of the table has ended before the trigger runs, and
  under READ COMMITTED the trigger's DELETE takes a fresh snapshot that sees every
  delta they committed. Under REPEATABLE READ its snapshot may predate a writer's
  commit (whose delta would survive the reset), so the trigger refuses there.
- ``row_count_compact(table)`` folds a table's deltas into one row: it deletes the
  rows it can lock at once (FOR UPDATE SKIP LOCKED, so never waiting on another
  compaction) and inserts their sum in the same statement, so readers see either
  all the old rows or the one new row. It holds ACCESS SHARE on the counted table,
  which writers ignore and TRUNCATE waits for. The insert and delete triggers run
  it for about one statement in a hundred (under READ COMMITTED only: under
  REPEATABLE READ a row folded by a concurrent compaction would be a serialization
  error in the user's write).
- ``install_row_counts`` seeds the count with ``count(*)`` while the tables are
  locked against writers (SHARE ROW EXCLUSIVE, which CREATE TRIGGER needs anyway)
  until the triggers exist, in the caller's transaction: the count is exact from
  the start.

The functions are the console's (its first migration creates them with
``row_count_delta``); the triggers go on each counted table: the demo's migration
installs them on its tables, ``console row-counts install TABLE...`` on any other.
``console.paging.exact_table_count`` finds them by name per table. Other databases
keep no counts: they count with ``count(*)``, and everything here does nothing.

Every function takes a Connection or Alembic's ``op`` (inside a migration), and
runs in the caller's transaction. Table names are plain (unqualified) names in the
connection's search path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from console import own_schema

DELTA_TABLE = "row_count_delta"

# (signature, body): the console's row-count functions (PostgreSQL). Their bodies name
# the console's tables schema-qualified (@DELTA@, @COMPACT@): the triggers run in the
# sessions of whichever application writes the counted table, with its search path.
FUNCTIONS = [
    (
        "row_count_compact(target text)",
        """
        RETURNS bigint LANGUAGE plpgsql AS $$
        DECLARE
            folded bigint;
        BEGIN
            -- Writers (ROW EXCLUSIVE) pass; a TRUNCATE (ACCESS EXCLUSIVE) of the table
            -- waits, so its reset never races a fold.
            EXECUTE format('LOCK TABLE %I IN ACCESS SHARE MODE', target);
            WITH gone AS (
                DELETE FROM @DELTA@
                WHERE id IN (
                    SELECT id FROM @DELTA@ WHERE table_name = target
                    FOR UPDATE SKIP LOCKED
                )
                RETURNING delta
            ), summed AS (
                INSERT INTO @DELTA@ (table_name, delta)
                SELECT target, sum(delta) FROM gone HAVING count(*) > 0
            )
            SELECT count(*) INTO folded FROM gone;
            RETURN folded;
        END
        $$
        """,
    ),
    (
        "row_count_added()",
        """
        RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO @DELTA@ (table_name, delta)
            SELECT TG_TABLE_NAME, count(*) FROM added_rows HAVING count(*) > 0;
            IF random() < 0.01
               AND current_setting('transaction_isolation') = 'read committed' THEN
                PERFORM @COMPACT@(TG_TABLE_NAME);
            END IF;
            RETURN NULL;
        END
        $$
        """,
    ),
    (
        "row_count_removed()",
        """
        RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO @DELTA@ (table_name, delta)
            SELECT TG_TABLE_NAME, -count(*) FROM removed_rows HAVING count(*) > 0;
            IF random() < 0.01
               AND current_setting('transaction_isolation') = 'read committed' THEN
                PERFORM @COMPACT@(TG_TABLE_NAME);
            END IF;
            RETURN NULL;
        END
        $$
        """,
    ),
    (
        "row_count_truncated()",
        """
        RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF current_setting('transaction_isolation') <> 'read committed' THEN
                RAISE EXCEPTION 'TRUNCATE % needs READ COMMITTED to reset its row count',
                    TG_TABLE_NAME;
            END IF;
            DELETE FROM @DELTA@ WHERE table_name = TG_TABLE_NAME;
            INSERT INTO @DELTA@ (table_name, delta) VALUES (TG_TABLE_NAME, 0);
            RETURN NULL;
        END
        $$
        """,
    ),
]

# (trigger, event and transition table, function): what keeps one table's count.
TRIGGERS = [
    ("row_count_insert", "AFTER INSERT", "REFERENCING NEW TABLE AS added_rows", "row_count_added"),
    ("row_count_delete", "AFTER DELETE", "REFERENCING OLD TABLE AS removed_rows",
     "row_count_removed"),
    ("row_count_truncate", "AFTER TRUNCATE", "", "row_count_truncated"),
]
TRIGGER_NAMES = tuple(name for name, _event, _referencing, _function in TRIGGERS)

KEPT = "kept"
NOT_KEPT = "not kept"
INCOMPLETE = "incomplete"
NO_TABLE = "no such table"
NOT_POSTGRESQL = "not kept on this database"


class CountsError(Exception):
    """Counts cannot be installed or removed as asked; the message says why."""


@dataclass(frozen=True)
class TableCounts:
    """Whether the database keeps one table's row count, and the count when it does."""

    table: str
    state: str
    rows: int | None = None
    missing: tuple[str, ...] = ()

    @property
    def kept(self) -> bool:
        """True when all three triggers exist and fire ALWAYS."""
        return self.state == KEPT

    def describe(self) -> str:
        """One line for the command line."""
        if self.state == KEPT:
            return f"{self.table}: kept by the database ({self.rows:,} rows)"
        if self.state == INCOMPLETE:
            return (
                f"{self.table}: incomplete (missing or not firing ALWAYS: "
                f"{', '.join(self.missing)}); `console row-counts install {self.table}` "
                "reinstalls them"
            )
        if self.state == NO_TABLE:
            return f"{self.table}: no such table"
        if self.state == NOT_POSTGRESQL:
            return f"{self.table}: counted with count(*) (counts are kept on PostgreSQL only)"
        return f"{self.table}: not kept (lists count rows with count(*) or estimate)"


def _connection(target: Any) -> Connection:
    """The connection of ``target``: a Connection, or Alembic's ``op`` in a migration."""
    if isinstance(target, Connection):
        return target
    get_bind = getattr(target, "get_bind", None)
    if get_bind is None:
        raise TypeError(f"expected a Connection or alembic's op, got {type(target).__name__}")
    connection = get_bind()
    assert isinstance(connection, Connection)
    return connection


def _postgres(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def _quote(conn: Connection, table: str) -> str:
    return conn.dialect.identifier_preparer.quote(table)


def _delta(conn: Connection) -> str:
    return own_schema.qualified(conn, DELTA_TABLE)


def _function(conn: Connection, signature: str) -> str:
    """``signature``'s function name, in the console's schema (arguments left out)."""
    return own_schema.qualified(conn, signature.split("(")[0])


def _body(conn: Connection, body: str) -> str:
    return body.replace("@DELTA@", _delta(conn)).replace(
        "@COMPACT@", own_schema.qualified(conn, "row_count_compact")
    )


def install_functions(target: Any, replace: bool = False) -> None:
    """Create (or ``replace``) the console's row-count functions (PostgreSQL; elsewhere nothing)."""
    conn = _connection(target)
    if not _postgres(conn):
        return
    for signature, body in FUNCTIONS:
        name, _, arguments = signature.partition("(")
        # text(): the driver would read the bodies' % (format(), RAISE) as parameters.
        conn.execute(sa.text(
            f"CREATE {'OR REPLACE ' if replace else ''}FUNCTION {_function(conn, name)}"
            f"({arguments} {_body(conn, body)}"
        ))


def remove_functions(target: Any) -> None:
    """Drop the row-count functions, after removing the counts of every table still using them."""
    conn = _connection(target)
    if not _postgres(conn):
        return
    remove_row_counts(conn, *counted_tables(conn))
    for signature, _body in reversed(FUNCTIONS):
        conn.exec_driver_sql(f"DROP FUNCTION {_function(conn, signature)}")


def counted_tables(target: Any) -> list[str]:
    """Tables with at least one of the row-count triggers (PostgreSQL), by name."""
    conn = _connection(target)
    if not _postgres(conn):
        return []
    return list(
        conn.scalars(
            sa.text(
                "SELECT DISTINCT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE t.tgname = ANY(:names) AND pg_table_is_visible(c.oid) ORDER BY c.relname"
            ),
            {"names": list(TRIGGER_NAMES)},
        )
    )


def table_counts(target: Any, table: str) -> TableCounts:
    """Whether the database keeps ``table``'s row count (and the count when it does)."""
    conn = _connection(target)
    if not _postgres(conn):
        return TableCounts(table, NOT_POSTGRESQL)
    if not sa.inspect(conn).has_table(table):
        return TableCounts(table, NO_TABLE)
    firing = _triggers(conn, table, firing_only=True)
    if not firing:
        return TableCounts(table, NOT_KEPT)
    missing = tuple(name for name in TRIGGER_NAMES if name not in firing)
    if missing:
        return TableCounts(table, INCOMPLETE, missing=missing)
    rows = conn.scalar(
        sa.text(f"SELECT sum(delta) FROM {_delta(conn)} WHERE table_name = :t"),  # noqa: S608
        {"t": table},
    )
    return TableCounts(table, KEPT, rows=int(rows or 0))


_TRIGGERS = sa.text(
    "SELECT tgname FROM pg_trigger WHERE tgrelid = to_regclass(quote_ident(:t)) "
    "AND tgname = ANY(:names)"
)
_FIRING_TRIGGERS = sa.text(
    "SELECT tgname FROM pg_trigger WHERE tgrelid = to_regclass(quote_ident(:t)) "
    "AND tgname = ANY(:names) AND tgenabled = 'A'"
)


def _triggers(conn: Connection, table: str, *, firing_only: bool) -> set[str]:
    """The row-count triggers ``table`` has (only those that fire always: ``firing_only``)."""
    query = _FIRING_TRIGGERS if firing_only else _TRIGGERS
    return set(conn.scalars(query, {"t": table, "names": list(TRIGGER_NAMES)}))


def _check_installable(conn: Connection, tables: tuple[str, ...]) -> None:
    inspector = sa.inspect(conn)
    if not inspector.has_table(DELTA_TABLE, schema=own_schema.of(conn)) or not conn.scalar(
        sa.text("SELECT to_regproc(:f) IS NOT NULL"), {"f": _function(conn, "row_count_added")}
    ):
        raise CountsError(
            f"The console's {DELTA_TABLE} table or its row-count functions are missing: "
            "run `console init` (the console's own migrations) first."
        )
    for table in tables:
        if table == DELTA_TABLE:
            raise CountsError(f"{DELTA_TABLE} holds the counts: it cannot count itself.")
        if not inspector.has_table(table):
            raise CountsError(f"There is no table {table!r} in this database.")


def install_row_counts(target: Any, *tables: str) -> list[str]:
    """Keep the exact row count of each of ``tables`` in the database (PostgreSQL).

    Seeds each count with ``count(*)`` while the tables are locked against writers
    until their triggers exist (in the caller's transaction: the lock is held until
    it commits). Tables whose count is already kept are left alone; a table with only
    some of the triggers gets them all again and a fresh count. Returns the tables
    it installed; on other databases nothing (and an empty list).
    """
    conn = _connection(target)
    if not _postgres(conn) or not tables:
        return []
    _check_installable(conn, tables)
    todo = [table for table in dict.fromkeys(tables) if not table_counts(conn, table).kept]
    if not todo:
        return []
    # Writers wait from here to commit: nothing changes between the count and the triggers.
    conn.exec_driver_sql(
        f"LOCK TABLE {', '.join(_quote(conn, t) for t in todo)} IN SHARE ROW EXCLUSIVE MODE"
    )
    for table in todo:
        quoted = _quote(conn, table)
        for name in TRIGGER_NAMES:
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name} ON {quoted}")
        conn.execute(sa.text(f"DELETE FROM {_delta(conn)} WHERE table_name = :t"), {"t": table})  # noqa: S608
        conn.execute(
            sa.text(
                f"INSERT INTO {_delta(conn)} (table_name, delta) "  # noqa: S608 - quoted names
                f"SELECT :t, count(*) FROM {quoted}"
            ),
            {"t": table},
        )
        for name, event, referencing, function in TRIGGERS:
            conn.exec_driver_sql(
                f"CREATE TRIGGER {name} {event} ON {quoted} {referencing} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {_function(conn, function)}()"
            )
            conn.exec_driver_sql(f"ALTER TABLE {quoted} ENABLE ALWAYS TRIGGER {name}")
    return todo


def remove_row_counts(target: Any, *tables: str) -> list[str]:
    """Stop keeping the row count of each of ``tables``: drop its triggers and its deltas.

    Tables without triggers (or that no longer exist) are skipped. Returns the tables it
    changed; on other databases nothing.
    """
    conn = _connection(target)
    if not _postgres(conn):
        return []
    done = []
    has_deltas = sa.inspect(conn).has_table(DELTA_TABLE, schema=own_schema.of(conn))
    for table in dict.fromkeys(tables):
        state = table_counts(conn, table).state
        if state == NO_TABLE:
            continue
        quoted = _quote(conn, table)
        present = _triggers(conn, table, firing_only=False)
        for name in TRIGGER_NAMES:
            if name in present:
                conn.exec_driver_sql(f"DROP TRIGGER {name} ON {quoted}")
        if has_deltas:
            conn.execute(sa.text(f"DELETE FROM {_delta(conn)} WHERE table_name = :t"), {"t": table})  # noqa: S608
        if present:
            done.append(table)
    return done


__all__ = [
    "FUNCTIONS",
    "TRIGGERS",
    "TRIGGER_NAMES",
    "CountsError",
    "TableCounts",
    "counted_tables",
    "install_functions",
    "install_row_counts",
    "remove_functions",
    "remove_row_counts",
    "table_counts",
]
