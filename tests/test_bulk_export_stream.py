"""The web export's two paths agree, stop cleanly when the client goes away, and stay gated.

On PostgreSQL the list views' Export streams what COPY writes (a worker thread on the
request's connection); on SQLite it streams what Python writes. Each test here runs on
both databases unless marked PostgreSQL-only.
"""

from __future__ import annotations

import contextvars
import csv
import io
import json
import logging
import threading
from datetime import date
from typing import Any
from urllib.parse import urlencode

import psycopg2.errors
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

import console.admin.transfer as admin_transfer
from console.bulk import exporter
from console.bulk.fileformat import file_format
from console.demo.models import Person, Priority, Todo, TodoList
from console.rules import Role
from tests.bulk_helpers import described, run_import
from tests.conftest import Auth, make_account

# Cells that need quoting or neutralising, or that trip up SQL built as text.
AWKWARD = [
    "comma, inside",
    'a "quoted" word',
    "two\nlines",
    "carriage\rreturn",
    "windows\r\nline",
    "naïve café ☕ 日本",
    "=SUM(A1:A2)",
    "+33 1 23",
    "-minus",
    "@mention",
    "'already quoted",
    "100% done",
    "back\\slash",
    "it's",
    "tab\tinside",
    "control \x01\x02\x07 characters",
    # The console strips surrounding blanks from what it stores (so from an import too):
    # these two exist only in rows written some other way.
    "\tleading tab",
    "  spaces  ",
]
UNSTRIPPED = AWKWARD[-2:]
ODD_LIST = "Ann's 100% \\ list, \"the\" one"


def _export_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == exporter.THREAD_NAME]


def _rows(data: bytes) -> list[list[str]]:
    assert data.startswith(exporter.BOM)  # CSV exports start with a BOM by default
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


@pytest.fixture
def awkward(db: Any, sample: dict) -> dict[str, Any]:
    """To-dos whose cells need quoting, on a list with an awkward name, with varied fields."""
    odd = TodoList(name=ODD_LIST, owner_id=sample["ann"])
    bob = db.session.get(Person, sample["bob"])
    priorities = list(Priority)
    db.session.add(odd)
    db.session.add_all([
        Todo(description=text, todo_list=odd, completed=i % 3 == 0,
             due_date=_due(i),
             priority=priorities[i % 3], assignee=bob if i % 4 else None)
        for i, text in enumerate(AWKWARD)
    ])
    db.session.commit()
    return {"list": odd.id}


def _python_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the web view export through Python (SQLite's path) whatever the database."""

    def python_chunks(
        session: Any, description: Any, fmt: str, base: Any = None, *, bom: bool = False
    ) -> Any:
        stmt = exporter.export_select(description, base)
        if fmt == "csv":
            return exporter.iter_csv(session, description, stmt, bom=bom)
        return exporter.iter_jsonl(session, description, stmt)

    monkeypatch.setattr(admin_transfer, "export_chunks", python_chunks)


def _due(i: int) -> date | None:
    return date(2025, 1 + i % 12, 1 + i) if i % 2 else None


def _sorted(db: Any, texts: list[str], desc: bool = False) -> list[str]:
    """``texts`` in the database's own collation order (as the list view sorts them)."""
    order = Todo.description.desc() if desc else Todo.description
    return list(db.session.scalars(
        sa.select(Todo.description).where(Todo.description.in_(texts)).order_by(order, Todo.id)
    ))


VIEWS = [
    # (query arguments, the descriptions expected in order, given the database)
    ({"flt0_list_name_equals": ODD_LIST}, lambda db: AWKWARD),
    ({"search": "100%"}, lambda db: ["100% done"]),
    ({"search": "'", "sort": "1", "desc": "1"},
     lambda db: _sorted(db, ["it's", "'already quoted"], desc=True)),
    ({"flt0_priority_in_list": "low,high", "flt1_completed_equals": "1", "sort": "1"},
     lambda db: _sorted(db, AWKWARD[::3])),
    ({"flt0_due_date_greater_than": "2025-06-30", "sort": "3"},
     lambda db: [t for _d, t in sorted((_due(i), t) for i, t in enumerate(AWKWARD)
                                        if i % 2 and _due(i) > date(2025, 6, 30))]),
    ({"flt0_person_email_equals": "bob@example.com", "search": "a"},
     lambda db: [t for i, t in enumerate(AWKWARD) if i % 4 and "a" in t.lower()]),
]


@pytest.mark.parametrize(("args", "expected"), VIEWS)
def test_streamed_csv_equals_the_python_path(
    viewer_client: FlaskClient, awkward: dict, monkeypatch: pytest.MonkeyPatch,
    db: Any, args: dict[str, str], expected: Any,
) -> None:
    """Same header, rows, order, filters, search and sort, byte for byte, as Python writes."""
    url = f"/admin/todo/export/csv/?{urlencode(args)}"
    streamed = viewer_client.get(url)
    assert streamed.status_code == 200
    rows = _rows(streamed.get_data())
    header = file_format(described("todo")).columns
    assert rows[0] == header
    got = [dict(zip(header, r, strict=True)) for r in rows[1:]]
    # Neutralised cells come back with their quote; the import strips it again.
    assert [r["description"] for r in got] == [exporter.neutralise(t) for t in expected(db)]
    assert b"\r\n" not in streamed.get_data().replace(b"windows\r\nline", b"")

    _python_path(monkeypatch)
    python = viewer_client.get(url).get_data()
    assert _rows(python) == rows
    assert python == streamed.get_data()


def test_streamed_json_lines_equal_the_python_path(
    viewer_client: FlaskClient, awkward: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same records (typed values, raw text, not neutralised) in the same order."""
    url = "/admin/todo/export/jsonl/?" + urlencode({"search": "e", "sort": "1"})
    streamed = viewer_client.get(url).get_data(as_text=True)
    records = [json.loads(line) for line in streamed.splitlines()]
    assert [r["description"] for r in records] == sorted(t for t in [*AWKWARD, "Buy eggs"]
                                                         if "e" in t.lower())
    assert all(list(r) == file_format(described("todo")).columns for r in records)
    _python_path(monkeypatch)
    python = viewer_client.get(url).get_data(as_text=True)
    assert [json.loads(line) for line in python.splitlines()] == records


def test_streamed_csv_imports_back_unchanged(
    viewer_client: FlaskClient, db: Any, awkward: dict
) -> None:
    """Every model's web export, imported in upsert mode, changes nothing."""
    db.session.execute(sa.delete(Todo).where(Todo.description.in_(UNSTRIPPED)))
    db.session.commit()
    for model in ("person", "todolist", "todo"):
        data = viewer_client.get(f"/admin/{model}/export/csv/").get_data()
        result = run_import(model, data, upsert=True)
        assert result.ok and result.updated == 0 and result.inserted == 0, result.errors
        assert result.unchanged == len(_rows(data)) - 1
    texts = db.session.scalars(
        sa.select(Todo.description).where(Todo.list_id == awkward["list"]).order_by(Todo.id)
    ).all()
    assert texts == AWKWARD[:-2]


def test_closing_the_download_early_stops_the_export(
    app: Flask, viewer_client: FlaskClient, db: Any, awkward: dict,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The client goes away mid-download: no thread is left, the app serves the next request."""
    # A row or two per chunk and one chunk of slack: the export is still running when closed.
    monkeypatch.setattr(exporter, "BATCH", 2)  # the Python path (SQLite)
    monkeypatch.setattr(exporter, "CHUNK_BYTES", 1)  # COPY (PostgreSQL)
    monkeypatch.setattr(exporter, "QUEUE_CHUNKS", 1)
    invalidated: list[Any] = []
    sa.event.listen(db.engine, "invalidate", lambda *a: invalidated.append(a))
    on_postgres = db.engine.dialect.name == "postgresql"

    def read_a_little_then_hang_up() -> tuple[bytes, int]:
        # Unbuffered, as a WSGI server runs it: the body is pulled chunk by chunk, then
        # closed. In one context of its own, like a request (see IsolatedClient).
        response = FlaskClient.open(viewer_client, "/admin/todo/export/csv/", buffered=False)
        chunks = iter(response.response)
        first = next(chunks) + next(chunks)
        running = len(_export_threads())
        response.close()
        return first, running

    first, running = contextvars.Context().run(read_a_little_then_hang_up)
    assert first.startswith(exporter.BOM + b"id,description,")
    assert running == (1 if on_postgres else 0)

    assert _export_threads() == []
    # PostgreSQL: the connection that was mid-COPY is dropped, never handed out again.
    assert len(invalidated) == (1 if on_postgres else 0)
    full = viewer_client.get("/admin/todo/export/csv/")
    assert len(_rows(full.get_data())) == 1 + len(AWKWARD) + 2
    assert viewer_client.get("/admin/todo/").status_code == 200
    assert _export_threads() == []


@pytest.mark.postgres_only
def test_closing_stops_a_copy_still_waiting_on_the_server(
    db: Any, sample: dict, caplog: pytest.LogCaptureFixture
) -> None:
    """A query that has not produced a row yet is cancelled, not waited for."""
    caplog.set_level(logging.DEBUG, logger=exporter.__name__)
    chunks = exporter.copy_chunks(
        db.session, "COPY (SELECT pg_sleep(20)) TO STDOUT WITH (FORMAT csv)", b"head\n"
    )
    assert next(chunks) == b"head\n"
    assert len(_export_threads()) == 1
    chunks.close()
    assert _export_threads() == []
    # The server was told to stop: the COPY ended cancelled, not after the sleep.
    assert any("QueryCanceled" in r.getMessage() for r in caplog.records)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Todo)) == 2


@pytest.mark.postgres_only
def test_an_error_in_the_copy_reaches_the_reader(db: Any, sample: dict) -> None:
    """The worker thread's exception is raised by the generator; the session recovers."""
    chunks = exporter.copy_chunks(
        db.session, "COPY (SELECT 1 / (id - id) FROM todo) TO STDOUT WITH (FORMAT csv)"
    )
    with pytest.raises(psycopg2.errors.DivisionByZero):
        list(chunks)
    assert _export_threads() == []
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Todo)) == 2


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_the_export_has_every_row_not_a_page(
    viewer_client: FlaskClient, db: Any, sample: dict, fmt: str
) -> None:
    """More rows than any list page holds (CONSOLE_PAGE_SIZE is at most 500): all, by id."""
    extra = 501
    db.session.execute(sa.insert(Todo), [
        {"description": f"Row {i}", "list_id": sample["groceries"]} for i in range(extra)
    ])
    db.session.commit()
    data = viewer_client.get(f"/admin/todo/export/{fmt}/").get_data()
    lines = data.decode().splitlines()
    if fmt == "csv":
        lines = lines[1:]
    assert len(lines) == extra + 2
    ids = [int(line.split(",")[0]) if fmt == "csv" else json.loads(line)["id"] for line in lines]
    assert ids == sorted(ids)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_the_export_needs_a_login_and_the_viewer_role(
    app: Flask, client: FlaskClient, db: Any, sample: dict, fmt: str
) -> None:
    """Anonymous visitors and deactivated accounts get no rows; a viewer gets them all."""
    url = f"/admin/todo/export/{fmt}/"
    anonymous = client.get(url)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    viewer = make_account(Role.viewer)
    assert Auth(client).login(viewer.email).status_code == 302
    allowed = client.get(url)
    assert allowed.status_code == 200 and b"Buy milk" in allowed.get_data()
    viewer.active = False
    db.session.commit()
    refused = client.get(url)
    assert refused.status_code in (302, 403) and b"Buy milk" not in refused.get_data()


def test_the_command_line_writes_what_the_web_sends(
    app: Flask, viewer_client: FlaskClient, awkward: dict, tmp_path: Any
) -> None:
    """`console export` and the web export: the same bytes (CSV), the same records (JSONL)."""
    from tests.test_bulk_cli import invoke

    for fmt in ("csv", "jsonl"):
        out = tmp_path / f"todos.{fmt}"
        result = invoke(app, "export", "todo", "--format", fmt, "-o", str(out))
        assert result.exit_code == 0, result.output
        web = viewer_client.get(f"/admin/todo/export/{fmt}/").get_data()
        if fmt == "csv":
            assert out.read_bytes() == web
            # One line ending, LF, for the header and the rows (CRLF only inside a cell).
            assert out.read_bytes().split(b"\n", 1)[0] == exporter.BOM + b",".join(
                c.encode() for c in file_format(described("todo")).columns
            )
            assert out.read_bytes().count(b"\r\n") == 1
        else:
            assert [json.loads(x) for x in out.read_bytes().splitlines()] == [
                json.loads(x) for x in web.splitlines()
            ]


@pytest.mark.postgres_only
def test_the_web_export_writes_iso_dates_whatever_the_servers_datestyle(
    viewer_client: FlaskClient, db: Any, sample: dict
) -> None:
    """The export's settings apply in the streamed body's own transaction, and it ends.

    (Set at the view instead, they were lost when the request's session closed before
    the body was read; and a body that reopened that session left it open.)
    """
    db.session.get(Todo, sample["milk"]).due_date = date(2025, 1, 31)
    db.session.commit()
    db.session.remove()
    db.engine.dispose()

    def day_month_year(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET DateStyle = 'SQL, DMY'")

    sa.event.listen(db.engine, "connect", day_month_year)
    try:
        assert db.session.scalar(sa.text("SELECT date '2025-01-31'::text")) == "31/01/2025"
        db.session.rollback()
        rows = _rows(viewer_client.get("/admin/todo/export/csv/").get_data())
        assert rows[1][3] == "2025-01-31"
        with db.engine.connect() as conn:
            open_transactions = conn.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state = 'idle in transaction'"
            ).scalar()
        assert open_transactions == 0
    finally:
        sa.event.remove(db.engine, "connect", day_month_year)
        db.session.remove()
        db.engine.dispose()
