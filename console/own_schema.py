"""Where the console's own tables live, apart from the tables it manages.

The console's tables (accounts, the audit log, row counts, login throttles, recovery
codes, its version table) are declared in the schema ``OWN``, a name that stands for
"the console's schema". Every engine of the app translates it
(``schema_translate_map``): on PostgreSQL to ``CONSOLE_SCHEMA`` (default ``console``),
so that a managed database's own ``account`` or ``person`` table never meets ours and
the user's schemas hold nothing of the console's; on SQLite to the main database (the
demo), or to the console's file attached beside the user's (``console.own_file``).

The console's migration scripts and its migration status work unqualified, inside
``scope``: on PostgreSQL the connection's ``search_path`` is the console's schema for
their duration, so that Alembic's DDL, its version table and autogenerate's reflection
all meet the console's tables and nothing else.

Plain SQLAlchemy; the schema comes from the connection's own translate map, else from
the ``CONSOLE_SCHEMA`` environment variable, else the default.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Connection

OWN = "console"
DEFAULT = "console"
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def checked(name: str | None) -> str:
    """``name`` as a schema name (lowercase letters, digits, ``_``), or ValueError saying why."""
    value = (name or "").strip() or DEFAULT
    if not _NAME.fullmatch(value) or value.startswith("pg_"):
        raise ValueError(
            f"CONSOLE_SCHEMA must be a plain lowercase schema name (letters, digits and _, "
            f"at most 63 characters, not starting with pg_), got {name!r}"
        )
    return value


def configured() -> str:
    """The schema named by the environment (``CONSOLE_SCHEMA``), else the default."""
    return checked(os.environ.get("CONSOLE_SCHEMA"))


def schema_for(dialect: str, name: str | None = None) -> str | None:
    """The real schema of the console's tables on ``dialect`` (None: the default one)."""
    return checked(name) if dialect == "postgresql" else None


def translate_map(dialect: str, name: str | None = None) -> dict[str | None, str | None]:
    """The ``schema_translate_map`` that puts the console's tables where they live."""
    return {OWN: schema_for(dialect, name)}


def of(conn: Connection) -> str | None:
    """The real schema of the console's tables for ``conn`` (None on SQLite)."""
    mapping = conn.get_execution_options().get("schema_translate_map") or {}
    if OWN in mapping:
        return mapping[OWN]
    return schema_for(conn.dialect.name, configured())


def with_map(conn: Connection) -> Connection:
    """``conn``, translating the console's schema (when its engine does not already)."""
    options = conn.get_execution_options().get("schema_translate_map") or {}
    if OWN not in options:
        conn.execution_options(
            schema_translate_map={**options, OWN: schema_for(conn.dialect.name, configured())}
        )
    return conn


def on_engine(engine: sa.Engine) -> sa.Engine:
    """``engine``, translating the console's schema (the app's engines already do)."""
    mapping = engine.get_execution_options().get("schema_translate_map") or {}
    if OWN in mapping:
        return engine
    return engine.execution_options(schema_translate_map={
        **mapping, OWN: schema_for(engine.dialect.name, configured())
    })


def create_schema(conn: Connection) -> None:
    """Create the console's schema if it does not exist (PostgreSQL; elsewhere nothing)."""
    schema = of(conn)
    if conn.dialect.name == "postgresql" and schema is not None:
        quoted = conn.dialect.identifier_preparer.quote_schema(schema)
        conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {quoted}")


def qualified(conn: Connection, name: str) -> str:
    """``name`` of one of the console's tables (or functions), quoted and schema-qualified."""
    schema = of(conn)
    preparer = conn.dialect.identifier_preparer
    quoted = preparer.quote(name)
    return f"{preparer.quote_schema(schema)}.{quoted}" if schema else quoted


def unqualified(metadata: sa.MetaData) -> sa.MetaData:
    """A copy of ``metadata`` whose tables have no schema (what Alembic sees in ``scope``)."""
    copy = sa.MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.sorted_tables:
        # None: no schema (SQLAlchemy accepts it; its hints name only str and RETAIN_SCHEMA).
        table.to_metadata(copy, schema=None)  # type: ignore[arg-type]
    return copy


def _search_path(conn: Connection) -> str:
    return str(conn.exec_driver_sql("SELECT current_setting('search_path')").scalar())


def _set_search_path(conn: Connection, value: str) -> None:
    conn.execute(sa.text("SELECT set_config('search_path', :v, false)"), {"v": value})


@contextmanager
def _outside_work(conn: Connection) -> Iterator[None]:
    """Run a setting's statements so that they leave the connection as they found it.

    Outside a transaction they are committed at once (a later rollback of the caller's
    work must not undo them, and Alembic must not find a transaction it did not begin);
    inside the caller's, they are part of it.
    """
    was_open = conn.in_transaction()
    yield
    if not was_open and conn.in_transaction():
        conn.commit()


@contextmanager
def scope(conn: Connection, create: bool = False) -> Iterator[str | None]:
    """Work on the console's tables unqualified: on PostgreSQL, its schema is the search path.

    ``create``: make the schema if it does not exist (migrations). Yields the schema
    (None on SQLite, where nothing changes). Only the console's schema is searched, so
    reflection (``pg_table_is_visible``) meets its tables and no one else's. The
    previous ``search_path`` comes back afterwards.
    """
    schema = of(conn)
    if conn.dialect.name != "postgresql" or schema is None:
        yield schema
        return
    quoted = conn.dialect.identifier_preparer.quote_schema(schema)
    was_open = conn.in_transaction()
    with _outside_work(conn):
        before = _search_path(conn)
        if before != quoted and create:
            conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {quoted}")
        if before != quoted:
            _set_search_path(conn, quoted)
    if before == quoted:
        yield schema
        return
    try:
        yield schema
    finally:
        if not conn.closed and not conn.invalidated:
            if not was_open and conn.in_transaction():
                # What is left open in here is reads (migrations commit their own work):
                # end it, so that the restored setting is committed, not rolled back later.
                if _failed(conn):
                    conn.rollback()
                else:
                    conn.commit()
            elif _failed(conn):
                conn.rollback()
            with _outside_work(conn):
                _set_search_path(conn, before)


def _failed(conn: Connection) -> bool:
    """Whether the connection's transaction is aborted (statements refused until rollback)."""
    try:
        with _outside_work(conn):
            conn.exec_driver_sql("SELECT 1")
    except sa.exc.DBAPIError:
        return True
    return False


def exists(conn: Connection) -> bool:
    """Whether the console's schema exists (always True off PostgreSQL)."""
    schema = of(conn)
    if conn.dialect.name != "postgresql" or schema is None:
        return True
    return bool(conn.execute(
        sa.text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": schema}
    ).scalar())


__all__ = ["OWN", "checked", "qualified", "scope", "translate_map", "unqualified", "with_map"]
