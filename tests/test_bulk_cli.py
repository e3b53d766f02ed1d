"""`console import` and `console export` from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from flask import Flask
from flask.cli import ScriptInfo

from console.cli import main
from console.demo.models import Person, Todo
from tests.conftest import count


def invoke(app: Flask, *args: str) -> Any:
    """Run a console command against the test app."""
    return CliRunner().invoke(main, list(args), obj=ScriptInfo(create_app=lambda: app))


def test_import_dry_run_then_commit(app: Flask, tmp_path: Path) -> None:
    """A dry run reports and writes nothing; the real run writes and says so."""
    path = tmp_path / "people.csv"
    path.write_text("name,email\nAnn,ann@example.com\nBob,bob@example.com\n")
    result = invoke(app, "import", "people", str(path), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "2 rows read: 2 would be inserted" in result.output
    assert "Dry run: nothing was written." in result.output
    assert count(Person) == 0
    result = invoke(app, "import", "person", str(path))
    assert result.exit_code == 0, result.output
    assert "2 were inserted" in result.output
    assert count(Person) == 2
    again = invoke(app, "import", "person", str(path), "--upsert")
    assert again.exit_code == 0 and "2 unchanged" in again.output


def test_import_exits_non_zero_on_a_bad_row(app: Flask, tmp_path: Path, sample: dict) -> None:
    """Each error is printed with its line and column; nothing is written."""
    path = tmp_path / "todos.csv"
    path.write_text("description,list\nA,Groceries\nB,Nowhere\n")
    result = invoke(app, "import", "todo", str(path))
    assert result.exit_code == 1
    # Named by the model's description and its key, as for any model (was "named 'Nowhere'").
    assert "line 3 [list]: No to-do list with name 'Nowhere'." in result.output
    assert "Nothing was written." in result.output
    assert count(Todo) == 2


def test_import_of_an_unknown_model(app: Flask, tmp_path: Path) -> None:
    """A usage error, not a traceback."""
    path = tmp_path / "x.csv"
    path.write_text("a\n")
    result = invoke(app, "import", "accounts", str(path))
    assert result.exit_code == 2 and "Unknown model" in result.output


def test_export_to_a_file_and_back(app: Flask, tmp_path: Path, sample: dict) -> None:
    """CSV export re-imports unchanged; JSON Lines has one object per row."""
    out = tmp_path / "todos.csv"
    result = invoke(app, "export", "todo", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "Exported 2 todo row(s)" in result.output
    lines = out.read_text().splitlines()
    assert lines[0] == "id,description,completed,due_date,priority,list,assignee,version"
    assert len(lines) == 3
    back = invoke(app, "import", "todo", str(out), "--upsert")
    assert back.exit_code == 0 and "2 unchanged" in back.output, back.output

    jsonl = tmp_path / "todos.jsonl"
    assert invoke(app, "export", "todo", "--format", "jsonl", "-o", str(jsonl)).exit_code == 0
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert sorted(r["description"] for r in records) == ["Buy eggs", "Buy milk"]
