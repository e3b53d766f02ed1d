"""The import preview shows every change: each field an upsert would change, old -> new.

A spreadsheet that "helpfully" reformats cells nobody edited (a date, a number with a
leading zero) must be seen before anything is written, field by field, on both
databases alike; the web preview and the command line show the same list.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from console.demo.models import Todo, TodoList
from tests.bulk_helpers import job_url, run_import, upload


def exported(client: FlaskClient, model: str) -> list[dict[str, str]]:
    data = client.get(f"/admin/{model}/export/csv/?bom=0").get_data(as_text=True)
    return list(csv.DictReader(io.StringIO(data)))


def as_csv(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def edited(viewer_client: FlaskClient, db: Any, sample: dict[str, Any]) -> str:
    """The to-do export with three fields changed, as a spreadsheet might."""
    db.session.add(TodoList(name="Errands", owner_id=sample["ann"]))
    db.session.get(Todo, sample["eggs"]).due_date = date(2026, 1, 2)
    db.session.commit()
    rows = exported(viewer_client, "todo")
    by_id = {int(r["id"]): r for r in rows}
    by_id[sample["milk"]]["description"] = "Buy oat milk"
    by_id[sample["milk"]]["list"] = "Errands"
    by_id[sample["eggs"]]["due_date"] = "2026-02-01"  # "01/02/26" read the other way round
    return as_csv(rows)


def test_the_dry_run_lists_each_changed_field(viewer_client, db, sample):
    text = edited(viewer_client, db, sample)
    result = run_import("todo", text, upsert=True, dry_run=True)
    assert (result.inserted, result.updated, result.unchanged, result.error_count) == (0, 2, 0, 0)
    got = [(c.line, c.key, c.column, c.old, c.new) for c in result.changes]
    milk, eggs = str(sample["milk"]), str(sample["eggs"])
    lines = {r.split(",", 1)[0]: n for n, r in enumerate(text.splitlines(), start=1)}
    assert got == sorted([
        (lines[milk], milk, "description", "Buy milk", "Buy oat milk"),
        (lines[milk], milk, "list", "Groceries", "Errands"),
        (lines[eggs], eggs, "due_date", "2026-01-02", "2026-02-01"),
    ])
    assert result.change_counts == {"description": 1, "list": 1, "due_date": 1}
    assert db.session.get(Todo, sample["milk"]).description == "Buy milk"  # nothing written


def test_an_unchanged_export_lists_no_change(viewer_client, db, sample):
    result = run_import("todo", as_csv(exported(viewer_client, "todo")), upsert=True,
                        dry_run=True)
    assert result.updated == 0 and result.changes == [] and result.change_counts == {}


def test_the_preview_page_shows_and_downloads_the_changes(
    app: Flask, editor_client: FlaskClient, viewer_client: FlaskClient, db: Any, sample: dict
) -> None:
    text = edited(viewer_client, db, sample)
    status_url = job_url(upload(editor_client, "todo", text.encode(), mode="upsert"))
    page = editor_client.get(status_url).get_data(as_text=True)
    assert re.search(r'id="change-counts">.*description: 1 change.*due_date: 1 change', page,
                     re.S)
    table = page.split('id="import-changes"', 1)[1].split("</table>", 1)[0]
    assert "Buy milk" in table and "Buy oat milk" in table and "Errands" in table
    job_id = status_url.rstrip("/").rsplit("/", 1)[1]
    download = editor_client.get(f"/admin/todo/import/{job_id}/changes.csv")
    assert download.status_code == 200
    rows = list(csv.reader(io.StringIO(download.get_data(as_text=True))))
    assert rows[0] == ["line", "key", "column", "old", "new"]
    assert sorted(r[2] for r in rows[1:]) == ["description", "due_date", "list"]


def test_the_command_line_dry_run_prints_the_changes(
    app: Flask, runner: Any, viewer_client: FlaskClient, db: Any, sample: dict, tmp_path: Any
) -> None:
    path = tmp_path / "todos.csv"
    path.write_text(edited(viewer_client, db, sample))
    out = runner.invoke(args=["import", "todo", str(path), "--upsert", "--dry-run"])
    assert out.exit_code == 0, out.output
    assert "3 changes in 2 rows (description: 1, due_date: 1, list: 1)" in out.output
    assert "description: 'Buy milk' -> 'Buy oat milk'" in out.output
    listed = tmp_path / "todos.csv.changes.csv"
    assert f"All changes: {listed}" in out.output
    assert len(listed.read_text().splitlines()) == 4
