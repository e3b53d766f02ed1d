"""Streamed export: what the list view shows, neutralised cells, and the round trip."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from console.bulk.exporter import export_chunks, export_select, iter_csv
from console.bulk.fileformat import file_format
from console.demo.models import Person, Todo, TodoList
from tests.bulk_helpers import counts, described, run_import
from tests.conftest import count, csrf_token


def _rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def _more_todos(db: Any, sample: dict) -> None:
    work = TodoList(name="Work", owner_id=sample["bob"])
    db.session.add(work)
    db.session.add_all(
        [Todo(description=f"Report {i}", todo_list=work, priority="high") for i in range(3)]
    )
    db.session.commit()


def test_export_streams_exactly_what_the_list_shows(
    app: Flask, viewer_client: FlaskClient, db: Any, sample: dict
) -> None:
    """Filters, search and sort of the list view apply to the export (viewer may export)."""
    _more_todos(db, sample)
    query = "flt0_list_name_equals=Work"
    response = viewer_client.get(f"/admin/todo/export/csv/?{query}&search=Report&sort=1&desc=1")
    assert response.status_code == 200
    # A generator body: sent as it is produced, so no Content-Length up front.
    assert "Content-Length" not in response.headers
    assert "attachment" in response.headers["Content-Disposition"]
    rows = _rows(response.get_data())
    assert [r["description"] for r in rows] == ["Report 2", "Report 1", "Report 0"]
    assert {r["list"] for r in rows} == {"Work"}
    assert list(rows[0]) == file_format(described("todo")).columns

    everything = _rows(viewer_client.get("/admin/todo/export/csv/").get_data())
    assert len(everything) == 5


def test_export_as_json_lines(viewer_client: FlaskClient, sample: dict) -> None:
    """One JSON object per line, typed values, parents by natural key."""
    response = viewer_client.get("/admin/todo/export/jsonl/")
    assert response.status_code == 200
    records = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    milk = next(r for r in records if r["description"] == "Buy milk")
    assert milk["completed"] is False and milk["assignee"] == "bob@example.com"
    assert milk["list"] == "Groceries" and milk["due_date"] is None and milk["version"] == 1


def test_export_needs_a_login(client: FlaskClient, sample: dict) -> None:
    """Anonymous users are sent to the login page."""
    response = client.get("/admin/todo/export/csv/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_formula_cells_are_neutralised_and_import_back_unchanged(
    viewer_client: FlaskClient, db: Any, sample: dict
) -> None:
    """Cells starting with = + - @ tab CR (or a quote) get a leading quote; import strips it."""
    values = ["=HYPERLINK(\"http://x\")", "+1", "-2", "@SUM(A1)", "'quoted", "plain - text"]
    group = db.session.get(TodoList, sample["groceries"])
    db.session.add_all([Todo(description=v, todo_list=group) for v in values])
    db.session.commit()
    data = viewer_client.get("/admin/todo/export/csv/").get_data()
    cells = {r["description"] for r in _rows(data)}
    assert {"'=HYPERLINK(\"http://x\")", "'+1", "'-2", "'@SUM(A1)", "''quoted",
            "plain - text"} <= cells
    result = run_import("todo", data, upsert=True)
    assert counts(result) == (0, 0, 8, 0)
    assert db.session.scalars(sa.select(Todo.description).where(Todo.id > sample["eggs"])
                              ).all() == values


def test_round_trip_of_every_model_is_unchanged(db: Any, sample: dict) -> None:
    """Export then import in upsert mode: every row unchanged, the tables identical."""
    db.session.get(Todo, sample["milk"]).due_date = date(2025, 1, 31)
    db.session.commit()

    def snapshot() -> list[Any]:
        db.session.expire_all()
        return [
            db.session.execute(sa.select(m.__table__).order_by(m.id)).all()
            for m in (Person, TodoList, Todo)
        ]

    before = snapshot()
    for model in ("person", "todolist", "todo"):
        description = described(model)
        data = b"".join(iter_csv(db.session, description, export_select(description)))
        result = run_import(model, data, upsert=True)
        assert result.ok and result.updated == 0 and result.inserted == 0, result.errors
    assert snapshot() == before


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_round_trip_through_the_streamed_export(db: Any, sample: dict, fmt: str) -> None:
    """The export as the web and `console export` stream it (COPY on PostgreSQL), both formats."""
    db.session.get(Todo, sample["milk"]).due_date = date(2025, 1, 31)
    db.session.commit()
    before = [db.session.execute(sa.select(m.__table__).order_by(m.id)).all()
              for m in (Person, TodoList, Todo)]
    for model in ("person", "todolist", "todo"):
        data = b"".join(export_chunks(db.session, described(model), fmt))
        db.session.rollback()
        result = run_import(model, data, upsert=True)
        assert result.ok and result.format == fmt, result.errors
        assert (result.inserted, result.updated, result.unchanged) == (0, 0, result.rows)
    db.session.expire_all()
    assert [db.session.execute(sa.select(m.__table__).order_by(m.id)).all()
            for m in (Person, TodoList, Todo)] == before


def test_exported_file_loads_into_an_empty_database(db: Any, sample: dict) -> None:
    """The same files make a copy elsewhere (parents first)."""
    files = {}
    for model in ("person", "todolist", "todo"):
        description = described(model)
        files[model] = b"".join(iter_csv(db.session, description, export_select(description)))
    db.session.execute(sa.delete(Todo))
    db.session.execute(sa.delete(TodoList))
    db.session.execute(sa.delete(Person))
    db.session.commit()
    for model in ("person", "todolist", "todo"):
        assert run_import(model, files[model]).committed
    assert (count(Person), count(TodoList), count(Todo)) == (2, 1, 2)


# -- the checked rows, by id ------------------------------------------------------------------


def _post_selected(client: FlaskClient, ids: list[Any], query: str = "",
                   fmt: str = "csv", token: str | None = None) -> Any:
    if token is None:
        token = csrf_token(client, "/admin/todo/")
    data: dict[str, Any] = {"rowid": [str(i) for i in ids], "url": "/admin/todo/",
                            "csrf_token": token}
    return client.post(f"/admin/todo/export/{fmt}/selected{query}", data=data)


def test_export_of_the_checked_rows_in_the_lists_sort(
    editor_client: FlaskClient, db: Any, sample: dict
) -> None:
    """Only the rows posted by id, in the list's sort, within its filters; the list's
    Export menu posts its action form (the checked rows) there, with its arguments."""
    _more_todos(db, sample)
    reports = db.session.scalars(sa.select(Todo.id).where(Todo.description.like("Report%"))
                                 .order_by(Todo.id)).all()
    page = editor_client.get("/admin/todo/?sort=1&desc=1").get_data(as_text=True)
    assert 'formaction="/admin/todo/export/csv/selected?sort=1&amp;desc=1"' in page
    assert 'form="action_form" id="export-checked-xlsx"' in page
    response = _post_selected(editor_client, [sample["milk"], reports[0], reports[2]],
                              "?sort=1&desc=1")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    rows = _rows(response.get_data())
    assert [r["description"] for r in rows] == ["Report 2", "Report 0", "Buy milk"]
    # The list's filter still applies: a posted id outside it is not exported.
    rows = _rows(_post_selected(editor_client, [sample["milk"], reports[1]],
                                "?flt0_list_name_equals=Work").get_data())
    assert [r["description"] for r in rows] == ["Report 1"]
    jsonl = _post_selected(editor_client, [sample["eggs"]], fmt="jsonl").get_data(as_text=True)
    assert [json.loads(line)["description"] for line in jsonl.splitlines()] == ["Buy eggs"]


def test_viewers_may_export_checked_rows_but_not_without_a_token(
    viewer_client: FlaskClient, client: FlaskClient, sample: dict
) -> None:
    response = _post_selected(viewer_client, [sample["eggs"]])
    assert response.status_code == 200
    assert [r["description"] for r in _rows(response.get_data())] == ["Buy eggs"]
    refused = _post_selected(viewer_client, [sample["eggs"]], token="forged")
    assert refused.status_code == 400
    anonymous = client.post("/admin/todo/export/csv/selected", data={"rowid": "1"})
    assert anonymous.status_code in (302, 400)
    assert b"Buy eggs" not in anonymous.get_data()


@pytest.mark.parametrize("ids, words", [
    ([], "select the rows to export first"),
    (["abc"], "Nothing was exported:"),
    ([1, 2, 3], "one export by ids takes at most 2"),
])
def test_a_bad_export_of_checked_rows_says_why(
    app: Flask, editor_client: FlaskClient, sample: dict, ids: list[Any], words: str
) -> None:
    app.config["CONSOLE_MAX_SELECTION"] = 2
    response = _post_selected(editor_client, ids)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/admin/todo/")
    page = editor_client.get(response.headers["Location"]).get_data(as_text=True)
    assert words in page


def test_export_of_checked_rows_of_an_unknown_format_is_not_found(
    editor_client: FlaskClient, sample: dict
) -> None:
    assert _post_selected(editor_client, [sample["eggs"]], fmt="pdf").status_code == 404


def test_checked_rows_with_all_matching_chosen_are_the_filters_export(
    editor_client: FlaskClient, db: Any, sample: dict
) -> None:
    _more_todos(db, sample)
    token = csrf_token(editor_client, "/admin/todo/")
    response = editor_client.post(
        "/admin/todo/export/csv/selected?sort=1&desc=1",
        data={"rowid": [str(sample["milk"])], "matching": "flt0_list_name_equals=Work&page=2",
              "url": "/admin/todo/", "csrf_token": token})
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location == "/admin/todo/export/csv/?flt0_list_name_equals=Work&sort=1&desc=1"
    rows = _rows(editor_client.get(location).get_data())
    assert [r["description"] for r in rows] == ["Report 2", "Report 1", "Report 0"]
