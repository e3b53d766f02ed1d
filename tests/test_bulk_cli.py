"""`console import` and `console export` from the command line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask import Flask
from flask.cli import ScriptInfo
from sqlalchemy.orm import Session

from console import create_app, own_schema
from console.cli import main
from console.demo.models import Person, Todo
from console.extensions import db
from tests import bulk_contract
from tests.conftest import count
from tests.contract.models import Task


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


def test_import_by_id_without_a_version_exits_non_zero(
    app: Flask, tmp_path: Path, sample: dict
) -> None:
    """`console import --upsert` of rows with ids and blank versions writes nothing."""
    path = tmp_path / "todos.csv"
    path.write_text(f"id,description,list,version\n{sample['milk']},Oat milk,Groceries,\n")
    result = invoke(app, "import", "todo", str(path), "--upsert")
    assert result.exit_code == 1
    assert (f"line 2 [version]: Version is required to update to-do {sample['milk']}: "
            "export the rows again to get their versions.") in result.output
    assert count(Todo, Todo.description == "Oat milk") == 0


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
    lines = out.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "id,description,completed,due_date,priority,list,assignee,version"
    assert len(lines) == 3
    back = invoke(app, "import", "todo", str(out), "--upsert")
    assert back.exit_code == 0 and "2 unchanged" in back.output, back.output

    jsonl = tmp_path / "todos.jsonl"
    assert invoke(app, "export", "todo", "--format", "jsonl", "-o", str(jsonl)).exit_code == 0
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert sorted(r["description"] for r in records) == ["Buy eggs", "Buy milk"]


# -- any managed model: the contract application --------------------------------------------

contract_pg_url = bulk_contract.contract_pg_url


@pytest.fixture(params=["sqlite", "postgresql"])
def contract_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    """The console on the contract models (CONSOLE_MODELS=tests.contract.models), seeded."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'contract.sqlite3'}"
        engine = own_schema.on_engine(sa.create_engine(url))
        bulk_contract.create_tables(engine)
    else:
        url = request.getfixturevalue("contract_pg_url")
        engine = own_schema.on_engine(sa.create_engine(url))
    with Session(engine) as session:
        bulk_contract.seed(session)
    app = create_app({
        "TESTING": True, "SECRET_KEY": "test-secret", "SQLALCHEMY_DATABASE_URI": url,
        "CONSOLE_MODELS": bulk_contract.MODELS, "INSTANCE_PATH": str(tmp_path / "instance"),
    })
    try:
        with app.app_context():
            yield app
            db.session.remove()
            db.engine.dispose()
    finally:
        if request.param == "postgresql":
            with engine.begin() as conn:
                tables = ", ".join(bulk_contract.TABLES)
                conn.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        engine.dispose()


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_every_contract_model_exports_and_imports_back_unchanged(
    contract_app: Flask, tmp_path: Path, fmt: str
) -> None:
    """`console export MODEL`, then `console import MODEL FILE --upsert`: nothing changes."""
    for model in bulk_contract.ORDER:
        out = tmp_path / f"{model}.{fmt}"
        result = invoke(contract_app, "export", model, "--format", fmt, "-o", str(out))
        assert result.exit_code == 0, result.output
        back = invoke(contract_app, "import", model, str(out), "--upsert")
        assert back.exit_code == 0, back.output
        rows = int(result.output.split("Exported ", 1)[1].split(" ", 1)[0])
        assert rows > 0
        assert f"{rows} rows read: 0 were inserted, 0 were updated, {rows} unchanged" in back.output
    member = invoke(contract_app, "import", "members", str(tmp_path / f"member.{fmt}"), "--upsert")
    assert "Note: Members have no version column" in member.output


def test_a_contract_import_from_the_command_line(contract_app: Flask, tmp_path: Path) -> None:
    """A task file (a JSON Lines one, told by its content) checked, then written."""
    path = tmp_path / "tasks.txt"
    path.write_text(
        '{"title": "Review", "stage": "doing", "project": "Zeus", "reviewer": "ann"}\n'
        '{"title": "Audit", "stage": "later", "project": "Zeus", "reviewer": null}\n'
    )
    result = invoke(contract_app, "import", "task", str(path), "--dry-run")
    assert result.exit_code == 1
    assert "line 2 [stage]: Stage must be one of to do, doing, done (got 'later')." in (
        result.output
    )
    path.write_text(path.read_text().replace("later", "to do"))
    result = invoke(contract_app, "import", "task", str(path), "--format", "jsonl")
    assert result.exit_code == 0 and "2 were inserted" in result.output, result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Task)) == 5
    wrong = invoke(contract_app, "import", "task", str(path), "--format", "csv")
    assert wrong.exit_code == 1 and "Wrong columns" in wrong.output
