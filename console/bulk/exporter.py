"""Streamed export in the import's own format (CSV and JSON Lines).

Rows come from a server-side cursor (``yield_per``) and leave as they are read, so
memory stays flat whatever the table size. ``copy_csv`` lets PostgreSQL write the
CSV itself (COPY ... TO STDOUT) for the command line, where the target is a file.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import date
from typing import Any, BinaryIO

from sqlalchemy import Select, case, literal, select
from sqlalchemy.orm import Session, aliased

from console.bulk.csvio import neutralise
from console.bulk.spec import ModelSpec
from console.history import json_value

BATCH = 2_000


def export_select(
    spec: ModelSpec, base: Select[Any] | None = None, *, as_text: bool = False
) -> Select[Any]:
    """The export columns of ``spec`` over ``base`` (a select of the model, with its filters).

    Parents are joined under aliases of their own, so a ``base`` that already joins
    them (for a filter or a sort) keeps its meaning. ``as_text`` makes the database
    render the cells as the Python writer would (for COPY).
    """
    model = spec.model
    stmt = base if base is not None else select(model).order_by(model.id)  # type: ignore[attr-defined]
    columns: list[Any] = []
    for f in spec.fields:
        if f.kind == "ref":
            assert f.ref is not None
            parent = aliased(_mapped(f.ref.table.name), name=f"export_{f.name}")
            stmt = stmt.outerjoin(parent, getattr(model, f.column) == parent.id)  # type: ignore[arg-type]
            column = getattr(parent, f.ref.key)
        else:
            column = getattr(model, f.column or f.name)
        if as_text and f.kind == "bool":
            column = case((column, literal("true")), else_=literal("false"))
        elif as_text and f.kind in ("text", "email", "ref"):
            # The same neutralising as ``csvio.neutralise``, done by the database.
            column = case(
                (column.regexp_match("^[=+@\t\r'-]"), literal("'") + column), else_=column
            )
        columns.append(column.label(f.name))
    return stmt.with_only_columns(*columns, maintain_column_froms=False)


def _mapped(table_name: str) -> type:
    from console.models import Person, TodoList

    return {"person": Person, "todo_list": TodoList}[table_name]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "value"):  # enums
        return str(value.value)
    return neutralise(str(value))


def _rows(session: Session, stmt: Select[Any]) -> Iterator[Any]:
    # The session's connection, not the session: plain column rows need none of the
    # ORM's per-row work. yield_per streams through a server-side cursor on PostgreSQL.
    result = session.connection().execute(stmt.execution_options(yield_per=BATCH))
    try:
        for partition in result.partitions():
            yield from partition
    finally:
        result.close()


def iter_csv(session: Session, spec: ModelSpec, stmt: Select[Any]) -> Iterator[bytes]:
    """The header then the rows of ``stmt`` as CSV (UTF-8, CRLF), in chunks of bytes."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(spec.columns)
    for count, row in enumerate(_rows(session, stmt), start=1):
        writer.writerow([_cell(v) for v in row])
        if count % BATCH == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def iter_jsonl(session: Session, spec: ModelSpec, stmt: Select[Any]) -> Iterator[bytes]:
    """The rows of ``stmt`` as JSON Lines: one object per row, keys as the CSV header."""
    names = spec.columns
    chunk: list[str] = []
    for row in _rows(session, stmt):
        record = {n: json_value(v) for n, v in zip(names, row, strict=True)}
        chunk.append(json.dumps(record, ensure_ascii=False))
        if len(chunk) >= BATCH:
            yield ("\n".join(chunk) + "\n").encode()
            chunk = []
    if chunk:
        yield ("\n".join(chunk) + "\n").encode()


def copy_csv(session: Session, spec: ModelSpec, stmt: Select[Any], target: BinaryIO) -> int:
    """Write ``stmt`` (from ``export_select(..., as_text=True)``) as CSV to ``target`` by COPY."""
    sql = str(stmt.compile(session.get_bind(), compile_kwargs={"literal_binds": True}))
    target.write((",".join(spec.columns) + "\r\n").encode())
    cur = session.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    cur.copy_expert(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", target, size=1 << 20)
    return int(cur.rowcount)
