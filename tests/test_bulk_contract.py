"""Import and export of an application the console has never heard of (tests/contract).

Every file format comes from the models' metadata: keys other than ``id``, a model
without a version column (Member), an Enum stored by value, Numerics, a
timezone-aware DateTime, a reference by id (a step's task), a second declarative
base (Label). Each test runs on SQLite and on PostgreSQL (COPY and set-based SQL).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from console.bulk.fileformat import file_format
from tests import bulk_contract
from tests.bulk_contract import ORDER, Contract
from tests.bulk_helpers import counts, errors_of
from tests.contract.models import Label, Member, Project, Stage, Step, Task, Team

contract_pg_url = bulk_contract.contract_pg_url
contract = bulk_contract.contract
pg_contract = bulk_contract.pg_contract
seeded = bulk_contract.seeded

HEADERS = {
    "team": "id,code,title,version",
    "member": "id,handle,full_name,active",
    "project": "id,name,budget,archived,team,version",
    "task": "id,title,stage,estimate,due_at,project,reviewer,version",
    "step": "id,position,note,task,version",
    "label": "id,text,colour",
}


def rows_of(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode(), newline="")))


def test_each_models_file_columns_come_from_its_metadata(contract: Contract) -> None:
    """Parents by their natural key, the version last and only where there is one."""
    for name, header in HEADERS.items():
        layout = file_format(contract.describe(name))
        assert ",".join(layout.columns) == header
    assert file_format(contract.describe("team")).key == "code"
    assert file_format(contract.describe("task")).key == "id"
    assert file_format(contract.describe("task")).required == ["title", "project"]
    assert file_format(contract.describe("member")).required == ["handle", "full_name"]


def test_cells_are_written_by_their_kind(contract: Contract, seeded: dict) -> None:
    """Decimals with their places, enums by value, aware times in UTC, blanks for NULL."""
    tasks = {r["title"]: r for r in rows_of(contract.export("task"))}
    assert tasks["Plan"] == {
        "id": str(seeded["plan"]), "title": "Plan", "stage": "doing", "estimate": "2.5",
        "due_at": "2026-01-31T14:30:00+00:00", "project": "Apollo", "reviewer": "ann",
        "version": "1",
    }
    assert tasks["Build, then test"]["due_at"] == "2026-02-01T09:00:00.250000+00:00"
    assert tasks["Build, then test"]["stage"] == "to do"
    assert tasks["Build, then test"]["estimate"] == tasks["Build, then test"]["reviewer"] == ""
    projects = {r["name"]: r for r in rows_of(contract.export("project"))}
    assert projects["Apollo"]["budget"] == "1234.50" and projects["Apollo"]["team"] == "core"
    assert projects["Zeus"]["archived"] == "true" and projects["Zeus"]["budget"] == ""
    steps = rows_of(contract.export("step"))
    assert [s["task"] for s in steps] == [str(seeded["plan"])] * 2 + [str(seeded["build"])]
    assert steps[1]["position"] == "-3"  # a number, not neutralised
    assert steps[1]["note"] == "'-3 starts like a formula"
    assert rows_of(contract.export("team"))[1]["title"] == "'=Ops"

    records = [json.loads(line) for line in contract.export("task", "jsonl").splitlines()]
    plan = next(r for r in records if r["title"] == "Plan")
    assert plan == {
        "id": seeded["plan"], "title": "Plan", "stage": "doing", "estimate": "2.5",
        "due_at": "2026-01-31T14:30:00+00:00", "project": "Apollo", "reviewer": "ann",
        "version": 1,
    }
    members = [json.loads(line) for line in contract.export("member", "jsonl").splitlines()]
    assert members[1] == {"id": seeded["bob"], "handle": "bob",
                          "full_name": "Bob 'the builder'", "active": False}


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_an_export_imported_back_in_upsert_mode_changes_nothing(
    contract: Contract, seeded: dict, fmt: str
) -> None:
    """Every model, every row unchanged, every table identical."""
    before = contract.snapshot()
    for model in ORDER:
        data = contract.export(model, fmt)
        result = contract.run_import(model, data, upsert=True)
        assert result.ok, result.errors[:5]
        assert (result.inserted, result.updated) == (0, 0)
        assert result.unchanged == result.rows > 0
        assert result.format == fmt
    assert contract.snapshot() == before


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_an_export_loads_into_empty_tables(contract: Contract, seeded: dict, fmt: str) -> None:
    """Parents first, each file refers to them by key: the same rows come back.

    Ids given in the files are kept where rows are matched by id (tasks, steps); the
    others are numbered anew (and so are the references to them).
    """
    before = natural(contract)
    files = {model: contract.export(model, fmt) for model in ORDER}
    for cls in (Step, Task, Project, Team, Member, Label):
        contract.session.execute(sa.delete(cls))
    contract.session.commit()
    for model in ORDER:
        result = contract.run_import(model, files[model])
        assert result.committed, result.errors[:5]
    assert natural(contract) == before


def natural(contract: Contract) -> dict[str, list[Any]]:
    """Every table's rows with parents by natural key, ids only where files keep them."""
    session = contract.session
    session.expire_all()
    tables = {
        "team": session.execute(sa.select(Team.code, Team.title).order_by(Team.code)).all(),
        "member": session.execute(
            sa.select(Member.handle, Member.full_name, Member.active).order_by(Member.handle)
        ).all(),
        "project": session.execute(
            sa.select(Project.name, Project.budget, Project.archived, Team.code)
            .join(Team).order_by(Project.name)
        ).all(),
        "task": session.execute(
            sa.select(Task.id, Task.title, Task.stage, Task.estimate, Task.due_at, Project.name,
                      Member.handle).join(Project).outerjoin(Member).order_by(Task.id)
        ).all(),
        "step": session.execute(
            sa.select(Step.id, Step.position, Step.note, Step.task_id).order_by(Step.id)
        ).all(),
        "label": session.execute(sa.select(Label.text, Label.colour).order_by(Label.text)).all(),
    }
    session.rollback()
    return tables


def test_new_rows_get_their_defaults(contract: Contract, seeded: dict) -> None:
    """Blank cells: the column's default (stage "to do", active), empty, or required."""
    result = contract.run_import(
        "task", "title,stage,estimate,due_at,project,reviewer\nNew,,,,Zeus,\n"
    )
    assert result.committed, result.errors
    task = contract.session.scalars(sa.select(Task).where(Task.title == "New")).one()
    assert task.stage is Stage.todo and task.estimate is None and task.due_at is None
    assert task.version == 1 and task.project_id == seeded["zeus"]
    assert contract.run_import("member", "handle,full_name\ncid,Cid\n").committed
    cid = contract.session.scalars(sa.select(Member).where(Member.handle == "cid")).one()
    assert cid.active is True
    assert contract.run_import("team", "code,title\nnew,New team\n").committed
    assert contract.session.scalars(sa.select(Team.version).where(Team.code == "new")).one() == 1


BAD = [
    ("task", "title,stage,project\nX,someday,Apollo\n", "stage",
     "Stage must be one of to do, doing, done (got 'someday')."),
    ("task", "title,estimate,project\nX,2.25,Apollo\n", "estimate",
     "Estimate takes at most 1 decimal place(s) (got '2.25')."),
    ("task", "title,estimate,project\nX,123456,Apollo\n", "estimate",
     "Estimate must have at most 5 digit(s) before the point (got '123456')."),
    ("task", "title,estimate,project\nX,1e3,Apollo\n", "estimate",
     "Estimate must be a number such as 12.50 (got '1e3')."),
    ("task", "title,due_at,project\nX,2026-02-30 10:00,Apollo\n", "due_at",
     "Due at: expected a date and time as YYYY-MM-DD HH:MM (got '2026-02-30 10:00')."),
    ("task", "title,project\nX,Hermes\n", "project", "No project with name 'Hermes'."),
    ("task", "title,project,reviewer\nX,Apollo,zed\n", "reviewer",
     "No member with handle 'zed'."),
    ("task", "title,project\n,Apollo\n", "title", "Title is required."),
    ("step", "position,note,task\n1,x,999\n", "task", "No task with id 999."),
    ("step", "position,note,task\n1,x,first\n", "task",
     "Task must be a whole number from 0 to 2147483647 (got 'first')."),
    ("step", "position,note,task\n2147483648,x,1\n", "position",
     "Position must be a whole number from -2147483648 to 2147483647 (got '2147483648')."),
    ("step", "position,note\n1,x\n", None, "Wrong columns: missing required column(s) 'task'. "
     "Expected: id, position, note, task, version (required: position, note, task)."),
    ("project", "name,budget,team\nX,12.5.0,core\n", "budget",
     "Budget must be a number such as 12.50 (got '12.5.0')."),
    ("project", "name,archived,team\nX,maybe,core\n", "archived",
     "Expected true/false, yes/no or 1/0 (got 'maybe')."),
    ("project", "name,team\nApollo,core\n", "name",
     "A project with name Apollo already exists (import in upsert mode to update it)."),
    ("team", "code,title\n" + "c" * 21 + ",x\n", "code",
     "Code must be at most 20 characters (got 21)."),
    ("member", "handle,full_name,active\nann,Ann,yes\n", "handle",
     "A member with handle ann already exists (import in upsert mode to update it)."),
    ("label", "text,colour\nnew,\"it's \"\"odd\"\"\"\n", None, None),  # fine: see below
]


@pytest.mark.parametrize(("model", "text", "column", "message"), BAD)
def test_each_kind_of_bad_cell_is_reported(
    contract: Contract, seeded: dict, model: str, text: str, column: str | None,
    message: str | None,
) -> None:
    """The line, the column and the rule's message; nothing is written."""
    before = contract.snapshot()
    result = contract.run_import(model, text)
    if message is None:
        assert result.committed, result.errors
        return
    assert errors_of(result) == [(text.count("\n") if column else 1, column, message)]
    assert not result.committed and contract.snapshot() == before


def test_a_version_column_catches_stale_rows_and_its_absence_is_said(
    contract: Contract, seeded: dict
) -> None:
    """Tasks have versions: a stale row is a conflict. Members have none: it is overwritten."""
    tasks = contract.export("task")
    members = contract.export("member")
    task = contract.session.get(Task, seeded["plan"])
    task.title = "Plan again"
    member = contract.session.get(Member, seeded["ann"])
    member.full_name = "Ann Changed"
    contract.session.commit()

    edited = tasks.replace(b"Ship", b"Ship it")
    result = contract.run_import("task", edited, upsert=True)
    assert result.stale_rows_detected and not result.notes
    assert [(e.column, e.message[:42]) for e in result.errors] == [
        ("version", "Changed since the file was exported (versi")
    ]
    result = contract.run_import("member", members, upsert=True)
    assert result.committed and not result.stale_rows_detected
    assert result.notes == [
        "Members have no version column: a row changed by someone else since this file was "
        "made is overwritten, not reported as a conflict."
    ]
    assert counts(result) == (0, 1, 1, 0)
    # The status page and the audit entry get it too.
    assert result.summary()["notes"] == result.notes
    assert not result.summary()["stale_rows_detected"]
    contract.session.expire_all()
    assert contract.session.get(Member, seeded["ann"]).full_name == "Ann Example"


def test_upsert_by_a_natural_key_and_explicit_ids(contract: Contract, seeded: dict) -> None:
    """Teams are matched by code, tasks by id: ids given for new tasks are kept."""
    result = contract.run_import(
        "team", "code,title\ncore,Core renamed\nqa,Quality\n", upsert=True
    )
    assert counts(result) == (1, 1, 0, 0)
    core = contract.session.get(Team, seeded["core"])
    assert core.title == "Core renamed" and core.version == 2
    result = contract.run_import(
        "task", f"id,title,project,due_at,version\n{seeded['ship']},Ship,Zeus,"
        "2026-03-01 12:00+02:00,1\n500,Later,Zeus,,\n,Next,Zeus,,\n", upsert=True,
    )
    assert counts(result) == (2, 1, 0, 0), result.errors
    contract.session.expire_all()
    ship = contract.session.get(Task, seeded["ship"])
    assert ship.version == 2
    assert ship.due_at.replace(tzinfo=ship.due_at.tzinfo or UTC) == datetime(
        2026, 3, 1, 10, 0, tzinfo=UTC
    )
    ids = contract.session.scalars(sa.select(Task.id).order_by(Task.id)).all()
    assert ids[-2:] == [500, 501]


# -- JSON Lines ---------------------------------------------------------------------------


def test_json_lines_errors_name_the_physical_line(contract: Contract, seeded: dict) -> None:
    """Blank lines count; unreadable lines, wrong keys and nested values are each reported."""
    lines = [
        '{"title": "A", "project": "Apollo", "estimate": "1.5"}',
        "",
        '{"title": "B", "project": "Apollo", "estimate": 2}',
        '{"title": "C", "project": "Nowhere", "estimate": null}',
        "not json",
        '{"title": "D", "project": "Apollo"}',
        '{"title": "E", "project": ["Apollo"], "estimate": null}',
        '["F"]',
        '{"title": "G", "project": "Apollo", "estimate": "0.25"}',
        '{"title": "H", "project": "Apollo", "estimate": 1.0, "colour": "red"}',
    ]
    result = contract.run_import("task", "\n".join(lines) + "\n\n", dry_run=True)
    assert result.format == "jsonl"
    assert [(line, column) for line, column, _ in errors_of(result)] == [
        (4, "project"), (5, None), (6, None), (7, "project"), (8, None), (9, "estimate"),
        (10, None),
    ]
    messages = dict(((line, column), message) for line, column, message in errors_of(result))
    assert messages[(4, "project")] == "No project with name 'Nowhere'."
    assert messages[(5, None)].startswith("Not a line of JSON: Expecting value")
    assert messages[(6, None)] == "Not the keys of the first line (missing 'estimate')."
    assert messages[(7, "project")] == "Expected a single value, not a list."
    assert messages[(8, None)] == "Not a JSON object with the columns as keys."
    assert messages[(9, "estimate")] == "Estimate takes at most 1 decimal place(s) (got '0.25')."
    assert messages[(10, None)] == "Not the keys of the first line (unknown 'colour')."
    assert (result.rows, result.inserted, result.error_count) == (9, 2, 7)


def test_json_lines_keep_text_exactly(contract: Contract, seeded: dict) -> None:
    """Text in JSON is not a spreadsheet cell: quotes and formula characters stay as they are."""
    notes = ["'=quoted", "=SUM(A1)", "''two", " padded ", "tab\there"]
    data = "".join(
        json.dumps({"position": 100 + i, "note": n, "task": seeded["plan"]}) + "\n"
        for i, n in enumerate(notes)
    )
    assert contract.run_import("step", data).committed
    stored = contract.session.scalars(
        sa.select(Step.note).where(Step.position >= 100).order_by(Step.position)
    ).all()
    # Surrounding blanks are trimmed, as from any file and form.
    assert stored == ["'=quoted", "=SUM(A1)", "''two", "padded", "tab\there"]


def test_a_json_lines_file_that_is_not_one(contract: Contract, seeded: dict) -> None:
    """A first line that is not an object of columns is a problem of the whole file."""
    for data, message in [
        (b'{"title": "A", "project": "Apollo"', "Line 1 is not JSON"),
        (b'{}\n', "Line 1 is not a JSON object"),
        (b'\n{"nope": 1}\n', "Wrong columns: unknown column(s) 'nope'"),
        (b'{"title": "Caf\xe9", "project": "Apollo"}\n', "The file is not UTF-8 text"),
        # Found while COPY is reading the file on PostgreSQL.
        (b'{"title": "A", "project": "Apollo"}\n{"title": "Caf\xe9", "project": "Apollo"}\n',
         "The file is not UTF-8 text (bad bytes on or near line 2)"),
    ]:
        result = contract.run_import("task", data, fmt="jsonl")
        assert result.error_count == 1 and result.errors[0].message.startswith(message), (
            data, result.errors
        )
    assert contract.count(Task) == 3


# -- both paths on PostgreSQL, value by value ------------------------------------------------

MIRROR = {
    "task": (
        "id,title,stage,estimate,due_at,project,reviewer,version\n"
        ",ok,DOING,1.5,2026-01-31 14:30,Apollo,ann,\n"
        ",x,To Do,+.5,2026-01-31T14:30:00Z,Apollo,,\n"
        ",x,someday,1.25,2026-02-30 10:00,Nowhere,zed,\n"
        ",x,,00012.50,2026-01-31 14:30+02:00,Apollo ,ANN,\n"
        ",,done,1e2,2026-01-31,Zeus,bob,\n"
        ",'=x,doing,-,tomorrow,,,\n"
        "abc,x,,123456,2026-01-31 24:00,Apollo,,1.0\n"
        "1,x,,,,Apollo,,7\n"
        "1,y,,,,Apollo,,\n"
        ",x,\u00a0doing\u3000,\uff11,2026-01-31\u00a014:30,Apollo,\tann,\n"
        # Quoted formulas after leading blanks lose the quote; other quotes stay.
        ",'  =x,doing,,,Apollo,,\n"
        ",' x,doing,,,Apollo,,\n"
        ",\"'\n@y\",doing,,,Apollo,,\n"
        ",'  ,doing,,,Apollo,,\n"
    ),
    "step": (
        "id,position,note,task,version\n"
        ",1,ok,1,\n"
        ",-2147483648,edge,2,\n"
        ",2147483648,too big,1,\n"
        ",+7,plus,1,\n"
        ",1.0,not whole,1,\n"
        ",,no position,1,\n"
        ",3,no task,99,\n"
        ",3,bad task,first,\n"
        ",3,,1,\n"
        ",\uff13,wide digit,1,\n"
    ),
    "project": (
        "id,name,budget,archived,team,version\n"
        ",New,1234567890.12,yes,core,\n"
        ",Newer,12345678901.00,no,core,\n"
        ",Old,0.005,,ops,\n"
        ",Apollo,1,maybe,nobody,\n"
        ",X,\u00a0-0.50\u00a0,Y,OPS,\n"
        ",X,.5,t,core,\n"
    ),
    "member": (
        "id,handle,full_name,active\n"
        ",cid,Cid,\n"
        ",ann,Ann again,no\n"
        ",dee,,maybe\n"
        f",{'h' * 41},Long,yes\n"
        ",eve,\u200b\ufeff\u2060\u00ad,\u200b\n"
        ',"fay\n",\u2060,"maybe\nnot"\n'
        ",gus,Gus\x00,\n"
    ),
}


@pytest.mark.parametrize("model", list(MIRROR))
@pytest.mark.parametrize("upsert", [False, True])
def test_postgresql_sql_agrees_with_the_python_rules(
    pg_contract: Contract, model: str, upsert: bool
) -> None:
    """The set-based checks and the Python rules give the same errors and counts."""
    from console.bulk.csvio import csv_rows
    from console.bulk.importer import ImportResult, _import_python
    from console.bulk.pg_import import import_postgresql
    from tests.bulk_contract import seed

    seed(pg_contract.session)
    text = MIRROR[model]
    columns = text.splitlines()[0].split(",")
    layout = file_format(pg_contract.describe(model))
    outcomes = []
    for run in (_import_python, import_postgresql):
        result = ImportResult(model=model, upsert=upsert, dry_run=True)
        stream = io.BytesIO(text.encode())
        stream.readline()
        source: Any = csv_rows(stream, len(columns)) if run is _import_python else stream
        run(pg_contract.session, layout, columns, source, result)
        pg_contract.session.rollback()
        outcomes.append((counts(result), errors_of(result)))
    # The same errors in the same order (by line, then by the file's column order).
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0][3] >= 3  # the cases hold errors of several kinds


GOOD = {
    "task": (
        "id,title,stage,estimate,due_at,project,reviewer\n"
        "700,\u00a0Spaced\u3000,DOING,00012.50,2026-01-31 14:30+02:00,Apollo ,\u2003ann\n"
        "701,'=x,To Do,+.5,2026-01-31T14:30:00.5Z,Zeus,\n"
        "702,Blank stage,,,,\tApollo,\n"
    ),
    "project": (
        "name,budget,archived,team\n"
        "P1,\u00a0-0.50\u00a0,Y, ops\n"
        "P2,.5,t,core\n"
        "P3,9999999999.99,,core\n"
    ),
}


@pytest.mark.parametrize("model", list(GOOD))
def test_postgresql_stores_what_the_python_rules_store(pg_contract: Contract, model: str) -> None:
    """Trimmed, parsed, defaulted values and resolved parents are the same either way."""
    from console.bulk.csvio import csv_rows
    from console.bulk.importer import ImportResult, _import_python
    from console.bulk.pg_import import import_postgresql
    from tests.bulk_contract import seed

    seed(pg_contract.session)
    text = GOOD[model]
    columns = text.splitlines()[0].split(",")
    description = pg_contract.describe(model)
    layout = file_format(description)
    cls = description.cls
    stored = []
    for run in (_import_python, import_postgresql):
        result = ImportResult(model=model, upsert=False, dry_run=False)
        stream = io.BytesIO(text.encode())
        stream.readline()
        source: Any = csv_rows(stream, len(columns)) if run is _import_python else stream
        run(pg_contract.session, layout, columns, source, result)
        assert result.ok and result.inserted == 3, result.errors
        pg_contract.session.flush()
        table = description.table
        keep = [c for c in table.columns if c.name not in ("id",)]
        stored.append(pg_contract.session.execute(
            sa.select(*keep).where(table.c.id.in_(range(700, 710)) if model == "task"
                                   else table.c.name.like("P_")).order_by(*keep[:1])
        ).all())
        pg_contract.session.rollback()
    assert stored[0] == stored[1]
    assert len(stored[0]) == 3 and cls is not None
