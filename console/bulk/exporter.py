"""Streamed export in the import's own format (CSV, JSON Lines, XLSX), for any managed model.

The columns come from the model's description (``console.bulk.fileformat``): each
cell is written by its kind (``console.kinds``), parents by their natural key. On
PostgreSQL the database writes the file itself (``COPY (select) TO STDOUT``), each
kind rendering its cells in SQL as its Python writer would: ``copy_chunks`` streams
it, for a web response or the command line, through a worker thread and a bounded
queue, so memory stays flat whatever the table size. Elsewhere (SQLite) rows come
from the cursor in batches and are written by Python (``iter_csv``, ``iter_jsonl``).
``export_chunks`` picks the path.

Every path writes one line ending, LF, for the header and the rows (COPY cannot
write CRLF; the import reads both).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import queue
import threading
import time
from collections.abc import Generator, Iterator
from typing import Any

from sqlalchemy import Connection, Select, func, select, true, values
from sqlalchemy import column as sql_column
from sqlalchemy.orm import Session, aliased, scoped_session

from console.bulk.fileformat import FileFormat, file_format
from console.catalogue import ModelDescription, mapper_of
from console.kinds import EXPORT_SETTINGS, neutralise

log = logging.getLogger(__name__)

BATCH = 2_000
# COPY hands over one row at a time; the streamed export gathers them into chunks of
# about this size and keeps at most QUEUE_CHUNKS of them waiting for a slow client.
CHUNK_BYTES = 64 * 1024
QUEUE_CHUNKS = 8
# How long closing an export waits for its COPY thread (it normally takes milliseconds:
# the query is cancelled and the thread's next write stops it).
STOP_TIMEOUT = 10.0
THREAD_NAME = "export-copy"
FORMATS = ("csv", "jsonl", "xlsx")
BOM = b"\xef\xbb\xbf"

CSV_OPTIONS = "FORMAT csv"
# One JSON object per row. PostgreSQL's JSON text escapes every control character
# (\u0001, \n, ...), and COPY's CSV format quotes a value only when it holds the
# delimiter, the quote character, CR, LF or equals the NULL string (empty): with
# two control characters as delimiter and quote, a JSON object is never quoted or
# altered, so each line is exactly the JSON the database made.
JSONL_OPTIONS = "FORMAT csv, DELIMITER E'\\x02', QUOTE E'\\x01'"

__all__ = ["FORMATS", "export_chunks", "export_select", "iter_csv", "iter_jsonl", "neutralise"]


def _attribute(cls: Any, description: ModelDescription, column: Any) -> Any:
    """The mapped attribute of ``cls`` (a class or an alias) for a table column."""
    return getattr(cls, mapper_of(description.cls).get_property_by_column(column).key)


def _columns(layout: FileFormat, base: Select[Any] | None) -> tuple[Select[Any], list[Any]]:
    """``base`` joined to the parents, and the export columns (unlabelled) in file order."""
    description = layout.description
    model = description.cls
    stmt = base if base is not None else select(model).order_by(description.pk.column)
    columns: list[Any] = []
    for f in layout.fields:
        if f.parent is not None and f.parent.key.column is f.parent.target:
            # The foreign key holds the very key files name the parent by (a step's task
            # id): no join needed.
            columns.append(getattr(model, f.info.key))
        elif f.parent is not None:
            parent = f.parent.description
            alias: Any = aliased(parent.cls, name=f"export_{f.name}")
            target = _attribute(alias, parent, f.parent.target)
            stmt = stmt.outerjoin(alias, getattr(model, f.info.key) == target)
            columns.append(getattr(alias, f.parent.key.key))
        else:
            columns.append(getattr(model, f.info.key))
    return stmt, columns


def export_select(
    description: ModelDescription, base: Select[Any] | None = None, *, as_text: bool = False
) -> Select[Any]:
    """The export columns of the model over ``base`` (a select of it, with its filters).

    Parents are joined under aliases of their own, so a ``base`` that already joins
    them (for a filter or a sort) keeps its meaning. ``as_text`` makes the database
    render the cells as the Python writer would (for COPY).
    """
    layout = file_format(description)
    stmt, columns = _columns(layout, base)
    labelled = []
    for f, column in zip(layout.fields, columns, strict=True):
        labelled.append((f.kind.sql_text(column) if as_text else column).label(f.name))
    return stmt.with_only_columns(*labelled, maintain_column_froms=False)


def json_select(description: ModelDescription, base: Select[Any] | None = None) -> Select[Any]:
    """One JSON object per row of ``base``, keys as the CSV header (PostgreSQL).

    ``row_to_json`` of a lateral ``VALUES`` row named like the CSV columns: compact JSON,
    and cheaper for the database than ``json_build_object`` (about 3.5 s against 5 s for
    a million rows here); the rows keep ``base``'s order. Each kind gives the value
    that JSON renders as its Python writer does (decimals as text, times in UTC).
    """
    layout = file_format(description)
    stmt, columns = _columns(layout, base)
    cells = [f.kind.sql_json(c) for f, c in zip(layout.fields, columns, strict=True)]
    record = (
        values(*[sql_column(name, c.type) for name, c in zip(layout.columns, cells, strict=True)],
               name="export_record")
        .data([tuple(cells)])
        .lateral()
    )
    return stmt.join(record, true()).with_only_columns(
        func.row_to_json(record.table_valued()).label("record"), maintain_column_froms=False
    )


# -- the Python path (SQLite) -------------------------------------------------------------


def _rows(session: Session, stmt: Select[Any]) -> Iterator[Any]:
    # The session's connection, not the session: plain column rows need none of the
    # ORM's per-row work. yield_per streams through a server-side cursor on PostgreSQL.
    result = session.connection().execute(stmt.execution_options(yield_per=BATCH))
    try:
        yield from result.partitions()
    finally:
        result.close()


class _Lines:
    """What ``csv.writer`` writes to: its CRLF row ends become LF.

    The writer is told to end rows with CRLF because it quotes a cell only when the cell
    holds a character of the line ending: with LF alone, a cell holding a bare CR would
    go out unquoted and split the row when read back.
    """

    def __init__(self) -> None:
        self.lines: list[str] = []

    def write(self, line: str) -> None:
        self.lines.append(line[:-2])

    def take(self) -> bytes:
        if not self.lines:
            return b""
        data = ("\n".join(self.lines) + "\n").encode()
        self.lines = []
        return data


def iter_csv(
    session: Session, description: ModelDescription, stmt: Select[Any], *, bom: bool = False
) -> Iterator[bytes]:
    """The header then the rows of ``stmt`` (``export_select``) as CSV (UTF-8, LF), in chunks.

    ``bom``: the file starts with a UTF-8 byte order mark (spreadsheets then read it as UTF-8).
    """
    layout = file_format(description)
    writers = [f.kind.to_cell for f in layout.fields]
    lines = _Lines()
    writer = csv.writer(lines, lineterminator="\r\n")
    writer.writerow(layout.columns)
    head = BOM if bom else b""
    for partition in _rows(session, stmt):
        writer.writerows(
            [[write(v) for write, v in zip(writers, row, strict=True)] for row in partition]
        )
        yield head + lines.take()  # the header goes with the first rows
        head = b""
    if lines.lines:  # no rows at all: the header alone
        yield head + lines.take()


def iter_jsonl(
    session: Session, description: ModelDescription, stmt: Select[Any]
) -> Iterator[bytes]:
    """The rows of ``stmt`` as JSON Lines: one object per row, keys as the CSV header."""
    layout = file_format(description)
    names = layout.columns
    writers = [f.kind.to_json for f in layout.fields]
    encode = json.JSONEncoder(ensure_ascii=False).encode
    for partition in _rows(session, stmt):
        text = "\n".join([
            encode({n: write(v) for n, write, v in zip(names, writers, row, strict=True)})
            for row in partition
        ])
        yield _escape_separators((text + "\n").encode())


# U+2028 and U+2029 as UTF-8: valid in JSON text, but JavaScript before ES2019 and some
# line-oriented readers take them for line ends. The export writes them as \u escapes
# (they only ever occur inside JSON strings, where the escape means the same).
_SEPARATORS = ((b"\xe2\x80\xa8", b"\\u2028"), (b"\xe2\x80\xa9", b"\\u2029"))


def _escape_separators(data: bytes) -> bytes:
    if b"\xe2\x80" not in data:
        return data
    for raw, escaped in _SEPARATORS:
        data = data.replace(raw, escaped)
    return data


def escaped_separators(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """``chunks`` of JSON Lines with U+2028/U+2029 escaped (a character split between chunks too).

    Closing this closes ``chunks`` (a COPY is stopped at once).
    """
    held = b""
    try:
        for chunk in chunks:
            data = held + chunk
            # Keep back the start of a three-byte character cut by the chunk's end.
            cut = len(data) - next((i for i in (2, 1) if data.endswith(b"\xe2\x80"[:i])), 0)
            data, held = data[:cut], data[cut:]
            if data:
                yield _escape_separators(data)
        if held:
            yield held
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


# -- COPY (PostgreSQL) -----------------------------------------------------------------------


def copy_sql(connection: Connection, stmt: Select[Any], options: str = CSV_OPTIONS) -> str:
    """``COPY (stmt) TO STDOUT WITH (options)``, its parameters quoted by the driver."""
    return f"COPY ({query_sql(connection, stmt)}) TO STDOUT WITH ({options})"


def query_sql(connection: Connection, stmt: Select[Any]) -> str:
    """The text of ``stmt`` with its parameters quoted by the driver (for COPY).

    COPY takes no parameters, so the values (filters, search terms typed by users) are
    put in the text by psycopg2's own quoting, exactly as it does for every query; not
    by SQLAlchemy's ``literal_binds``, whose strings are meant for a later %-format
    (``%`` doubled) and which it does not recommend for untrusted input.
    """
    dialect = connection.dialect
    compiled = stmt.compile(dialect=dialect)
    state = compiled.construct_expanded_state(escape_names=False)  # IN lists expanded
    values = {}
    for key, value in state.parameters.items():
        process = state.processors.get(key)
        if process is None and key in compiled.binds:
            process = compiled.binds[key].type.dialect_impl(dialect).bind_processor(dialect)
        values[compiled.escaped_bind_names.get(key, key)] = process(value) if process else value
    raw = connection.connection.dbapi_connection
    assert raw is not None
    cursor: Any = raw.cursor()
    try:
        query = cursor.mogrify(state.statement, values).decode()
    finally:
        cursor.close()
    return str(query)


def _header(layout: FileFormat) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(layout.columns)
    return buffer.getvalue().encode()


class _Stopped(Exception):
    """Raised in the COPY thread when the reader has gone: it ends the COPY."""


class _ChunkSink:
    """The file COPY writes to in the worker thread: rows gathered into chunks, queued."""

    def __init__(self, handoff: queue.Queue[Any], stop: threading.Event) -> None:
        self.handoff = handoff
        self.stop = stop
        self.parts: list[bytes] = []
        self.size = 0

    def write(self, data: bytes) -> None:
        self.parts.append(data)
        self.size += len(data)
        if self.size >= CHUNK_BYTES:
            self.flush()

    def flush(self) -> None:
        if self.stop.is_set():
            raise _Stopped
        if self.parts:
            chunk = b"".join(self.parts)
            self.parts = []
            self.size = 0
            self.handoff.put(chunk)  # blocks while the queue is full: memory stays bounded


_DONE = object()


def _copy_worker(raw: Any, sql: str, handoff: queue.Queue[Any], stop: threading.Event) -> None:
    sink = _ChunkSink(handoff, stop)
    try:
        with raw.cursor() as cursor:
            cursor.copy_expert(sql, sink)
        sink.flush()
        handoff.put(_DONE)
    except BaseException as exc:  # handed to the reader, who raises it
        log.debug("An export's COPY ended early: %r", exc)
        if not stop.is_set():
            handoff.put(exc)


def copy_chunks(
    session: Session, sql: str, head: bytes = b""
) -> Generator[bytes, None, None]:
    """``head``, then the output of ``sql`` (from ``copy_sql``) in chunks, for a streamed body.

    COPY runs in a worker thread on the session's own connection and hands chunks over
    through a bounded queue. When the generator is closed early (the client went away),
    the query is cancelled, the thread stopped and joined, and the connection
    invalidated: the pool replaces it instead of reusing one left mid-COPY. An error in
    the thread is raised here. Nothing else may use the session while this runs.
    """
    connection = session.connection()
    raw: Any = connection.connection.dbapi_connection
    assert raw is not None
    handoff: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_CHUNKS)
    stop = threading.Event()
    thread = threading.Thread(
        target=_copy_worker, args=(raw, sql, handoff, stop), name=THREAD_NAME, daemon=True
    )
    completed = False
    thread.start()
    try:
        if head:
            yield head
        while (item := handoff.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item
        completed = True
    finally:
        if not completed:
            stop.set()
            try:
                raw.cancel()  # a COPY still waiting on the server stops at once
            except Exception:  # the connection is dropped below anyway
                log.debug("Cancelling an export's COPY failed", exc_info=True)
        deadline = time.monotonic() + STOP_TIMEOUT
        while thread.is_alive() and time.monotonic() < deadline:
            _drain(handoff)  # a thread blocked on a full queue gets to see ``stop``
            thread.join(0.05)
        if thread.is_alive():
            log.error("An export's COPY thread did not stop within %s s", STOP_TIMEOUT)
        if not completed:
            connection.invalidate()


def _drain(handoff: queue.Queue[Any]) -> None:
    try:
        while True:
            handoff.get_nowait()
    except queue.Empty:
        pass


# -- choosing the path ------------------------------------------------------------------------


def export_chunks(
    session: Session | scoped_session[Any], description: ModelDescription, fmt: str,
    base: Select[Any] | None = None, *, bom: bool = False,
) -> Iterator[bytes]:
    """The rows of ``base`` (a select of the model, filtered and sorted) as ``fmt`` chunks.

    ``fmt`` is "csv", "jsonl" or "xlsx"; ``base`` defaults to every row by primary key;
    ``bom`` starts a CSV file with a UTF-8 byte order mark (the web and command-line
    exports ask for one unless told not to). PostgreSQL writes CSV, JSON Lines and the
    XLSX sheet's rows itself by COPY; other databases go through Python (XLSX: typed
    cells, built in a temporary file: ``console.bulk.xlsx``). The web
    export and ``console export`` both read them. Nothing touches the database until
    the first chunk is asked for: a streamed response should pass the scoped session
    (``db.session``), so that the body uses the session of the context it runs in
    (Flask's ``stream_with_context`` runs it after the request's own has been closed).
    """
    if fmt not in FORMATS:
        raise ValueError(f"Unknown export format {fmt!r}: choose csv, jsonl or xlsx")
    postgresql = session.get_bind().dialect.name == "postgresql"
    if fmt == "xlsx" and postgresql and xlsx_by_copy(description):
        return _copy_xlsx(session, description, base)
    if fmt == "xlsx":
        from console.bulk.xlsx import iter_xlsx

        return iter_xlsx(description, _rows(session, export_select(description, base)))  # type: ignore[arg-type]
    if postgresql:
        return _copy_export(session, description, fmt, base, bom)
    stmt = export_select(description, base)
    if fmt == "csv":
        return iter_csv(session, description, stmt, bom=bom)  # type: ignore[arg-type]
    return iter_jsonl(session, description, stmt)  # type: ignore[arg-type]


def _copy_export(
    session: Any, description: ModelDescription, fmt: str, base: Select[Any] | None, bom: bool
) -> Iterator[bytes]:
    # The settings, the query and the COPY in one transaction, when the body is read.
    connection = session.connection()
    for setting in EXPORT_SETTINGS:  # until the transaction ends
        connection.exec_driver_sql(setting)
    if fmt == "csv":
        sql = copy_sql(connection, export_select(description, base, as_text=True))
        head = (BOM if bom else b"") + _header(file_format(description))
        yield from copy_chunks(session, sql, head)
    else:
        sql = copy_sql(connection, json_select(description, base), JSONL_OPTIONS)
        yield from escaped_separators(copy_chunks(session, sql))


def xlsx_by_copy(description: ModelDescription) -> bool:
    """True when PostgreSQL can write the model's XLSX sheet rows itself (every kind has SQL)."""
    from console.bulk.xlsx import sheet_rows_sql

    return XLSX_BY_COPY and sheet_rows_sql(file_format(description), "SELECT 1") is not None


# Tests turn this off to compare the database's sheet with Python's.
XLSX_BY_COPY = True


def _copy_xlsx(
    session: Any, description: ModelDescription, base: Select[Any] | None
) -> Iterator[bytes]:
    """The XLSX workbook, its sheet rows written by the database (``xlsx.sheet_rows_sql``).

    Python only deflates them into the workbook: each row's XML (typed cells, escaped
    text) is built by the query and streamed by COPY, as the CSV export is.
    """
    from console.bulk.xlsx import sheet_rows_sql, zip_sheet

    connection = session.connection()
    raw = connection.connection.dbapi_connection
    if raw.get_parameter_status("server_encoding") != "UTF8":
        # The sheet's escapes name characters only a UTF-8 database has: Python writes it.
        from console.bulk.xlsx import iter_xlsx

        yield from iter_xlsx(description, _rows(session, export_select(description, base)))
        return
    for setting in EXPORT_SETTINGS:  # until the transaction ends
        connection.exec_driver_sql(setting)
    rows = query_sql(connection, export_select(description, base))
    sql = sheet_rows_sql(file_format(description), rows)
    assert sql is not None
    # One text per row: never quoted by COPY (it holds no line break, quote or delimiter).
    copy = f"COPY ({sql}) TO STDOUT WITH ({JSONL_OPTIONS}, ENCODING 'UTF8')"

    def fill(sheet: Any) -> None:
        with raw.cursor() as cursor:
            cursor.copy_expert(copy, sheet, size=CHUNK_BYTES)

    yield from zip_sheet(description, fill)
