"""The import engine on SQLite and PostgreSQL: happy paths, every kind of bad row, bad files."""

from __future__ import annotations

import io
import sys
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa

from console import kinds, rules, sqltext
from console.bulk import pg_import
from console.bulk.csvio import csv_rows
from console.bulk.fileformat import file_format
from console.bulk.importer import ImportResult, _import_python
from console.bulk.pg_import import import_postgresql
from console.demo.models import Person, Priority, Todo, TodoList
from console.models import AuditEntry
from tests.bulk_helpers import LISTS, PEOPLE, counts, described, errors_of, run_import, todo_csv
from tests.conftest import count, create_pg_database, drop_pg_database


def test_people_lists_and_todos_import(db: Any) -> None:
    """A dry run counts without writing; the commit writes every row and one audit entry."""
    dry = run_import("person", PEOPLE, dry_run=True)
    assert counts(dry) == (2, 0, 0, 0)
    assert count(Person) == 0

    assert run_import("person", PEOPLE, file_name="people.csv").committed
    assert run_import("todolist", LISTS).committed
    result = run_import(
        "todo",
        "description,completed,due_date,priority,list,assignee\n"
        "Buy milk,yes,2025-03-01,HIGH,Groceries,BOB@example.com\n"
        "  Write report  ,,,,Work,\n",
    )
    assert counts(result) == (2, 0, 0, 0) and result.committed
    milk = db.session.scalars(sa.select(Todo).where(Todo.description == "Buy milk")).one()
    assert milk.completed and milk.due_date == date(2025, 3, 1)
    assert milk.priority == "high" and milk.assignee.email == "bob@example.com"
    assert milk.todo_list.name == "Groceries"
    report = db.session.scalars(sa.select(Todo).where(Todo.list_id != milk.list_id)).one()
    assert report.description == "Write report" and not report.completed
    assert report.assignee is None and report.priority == "normal"
    assert db.session.scalars(sa.select(TodoList.name).order_by(TodoList.name)).all() == [
        "Groceries", "Work"
    ]
    entries = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "import")).all()
    assert len(entries) == 3
    people_entry = next(e for e in entries if e.model == "Person")
    assert people_entry.changes["summary"]["inserted"] == 2
    assert people_entry.changes["summary"]["file"] == "people.csv"


def test_upsert_updates_changed_rows_and_leaves_the_rest(db: Any, sample: dict) -> None:
    """Upsert by natural key: changed rows updated (version bumped), others unchanged."""
    result = run_import(
        "person",
        "name,email\nAnn Smith,ANN@example.com\nBob,bob@example.com\nCid,cid@example.com\n",
        upsert=True,
    )
    assert counts(result) == (1, 1, 1, 0)
    ann = db.session.get(Person, sample["ann"])
    assert ann.name == "Ann Smith" and ann.version == 2
    assert db.session.get(Person, sample["bob"]).version == 1
    assert count(Person) == 3


def test_upsert_reports_rows_changed_since_export(db: Any, sample: dict) -> None:
    """A version in the file that is behind the database's is a conflict, not an overwrite."""
    db.session.execute(sa.update(Todo).where(Todo.id == sample["milk"]).values(version=3))
    db.session.commit()
    result = run_import(
        "todo",
        f"id,description,list,version\n{sample['milk']},Buy oat milk,Groceries,1\n",
        upsert=True,
    )
    assert errors_of(result) == [(2, "version", (
        "Changed since the file was exported (version 1 in the file, 3 in the database): "
        "export again and reapply your edits."
    ))]
    assert db.session.get(Todo, sample["milk"]).description == "Buy milk"


BAD_ROWS = [
    ("person", "name,email\n,new@example.com\n", "name", "Name is required."),
    ("person", "name,email\n\u200b\ufeff\u2060\u00ad \u200e,new@example.com\n", "name",
     "Name is required."),
    ("person", "name,email\nNul\x00here,new@example.com\n", "name",
     "Contains a NUL character (no database stores one in text)."),
    ("person", f"name,email\n{'x' * 121},a@example.com\n", "name",
     "Name must be at most 120 characters (got 121)."),
    ("person", "name,email\nAnn,not-an-email\n", "email", "Not a valid email address"),
    ("todo", "description,due_date,list\nX,2025-02-30,Groceries\n", "due_date",
     "Expected a date as YYYY-MM-DD (got '2025-02-30')."),
    ("todo", "description,due_date,list\nX,20250101,Groceries\n", "due_date",
     "Expected a date as YYYY-MM-DD (got '20250101')."),
    ("todo", "description,completed,list\nX,maybe,Groceries\n", "completed",
     "Expected true/false, yes/no or 1/0 (got 'maybe')."),
    ("todo", "description,priority,list\nX,urgent,Groceries\n", "priority",
     "Priority must be one of low, normal, high (got 'urgent')."),
    ("todo", f"description,list\n{'d' * 501},Groceries\n", "description",
     "Description must be at most 500 characters (got 501)."),
    ("todo", "description,list\nX,\n", "list", "List is required."),
    # The message names the model by its description ("to-do list", not "TodoList") and
    # says which key was looked for, as for any model.
    ("todo", "description,list\nX,Nowhere\n", "list", "No to-do list with name 'Nowhere'."),
    ("todo", "description,list,assignee\nX,Groceries,zed@example.com\n", "assignee",
     "No person with email 'zed@example.com'."),
    ("todo", "id,description,list\nabc,X,Groceries\n", "id", "ID must be a whole number"),
    ("todolist", "name,owner\nHome,nobody@example.com\n", "owner",
     "No person with email 'nobody@example.com'."),
    ("todolist", "name,owner\nGroceries,bob@example.com\n", "name",
     "A to-do list with name Groceries already exists"),
    ("person", "name,email\nAnn,ann@example.com\n", "email",
     "A person with email ann@example.com already exists"),
    ("person", "name,email\nZoe,zoe@example.com\nZed,ZOE@example.com\n", "email",
     "Email zoe@example.com appears twice in the file (first on line 2)."),
]


@pytest.mark.parametrize(("model", "text", "column", "message"), BAD_ROWS)
def test_each_kind_of_bad_row_is_reported_and_nothing_written(
    db: Any, sample: dict, model: str, text: str, column: str, message: str
) -> None:
    """The error names the line, the column and the problem; the database is unchanged."""
    before = (count(Person), count(TodoList), count(Todo))
    audits = count(AuditEntry)
    result = run_import(model, text)
    assert not result.committed
    assert result.error_count == 1, errors_of(result)
    line, col, msg = errors_of(result)[0]
    assert line == text.count("\n")  # the last line of the file
    assert col == column
    assert msg.startswith(message)
    assert (count(Person), count(TodoList), count(Todo)) == before
    assert count(AuditEntry) == audits


def test_json_lines_of_todos(db: Any, sample: dict) -> None:
    """The export's own JSON Lines: same checks and messages, errors by physical line."""
    text = (
        '{"description": "Paint", "completed": true, "due_date": "2025-06-01", '
        '"priority": "low", "list": "Groceries", "assignee": "ann@example.com"}\n'
        "\n"
        '{"description": "Fix", "completed": "perhaps", "due_date": null, '
        '"priority": null, "list": "Groceries", "assignee": null}\n'
        '{"description": "Move", "completed": false, "due_date": null, '
        '"priority": "high", "list": "Nowhere", "assignee": null}\n'
    )
    result = run_import("todo", text)
    assert result.format == "jsonl" and not result.committed
    assert errors_of(result) == [
        (3, "completed", "Expected true/false, yes/no or 1/0 (got 'perhaps')."),
        (4, "list", "No to-do list with name 'Nowhere'."),
    ]
    good = text.splitlines()[0] + "\n"
    assert run_import("todo", good).committed
    paint = db.session.scalars(sa.select(Todo).where(Todo.description == "Paint")).one()
    assert paint.completed and paint.due_date == date(2025, 6, 1) and paint.priority == "low"
    assert paint.assignee_id == sample["ann"]


def test_a_todo_id_twice_in_the_file(db: Any, sample: dict) -> None:
    """Explicit ids are keys too: the second use is an error."""
    result = run_import("todo", "id,description,list\n900,A,Groceries\n900,B,Groceries\n")
    assert errors_of(result) == [(3, "id", "ID 900 appears twice in the file (first on line 2).")]


def test_explicit_todo_ids_are_kept_and_later_inserts_follow_them(db: Any, sample: dict) -> None:
    """An id given in insert mode is used; the next generated id comes after it."""
    assert run_import("todo", "id,description,list\n500,A,Groceries\n").committed
    assert run_import("todo", "description,list\nB,Groceries\n").committed
    ids = db.session.scalars(sa.select(Todo.id).order_by(Todo.id)).all()
    assert ids[-2:] == [500, 501]


def test_bad_last_row_of_a_large_file_leaves_the_database_unchanged(
    db: Any, sample: dict
) -> None:
    """20,000 good rows then one bad: nothing is written (several chunks were already sent)."""
    text = todo_csv(20_001, last="Broken,perhaps,,,Groceries,")
    result = run_import("todo", text)
    assert result.rows == 20_001
    assert result.inserted == 20_000
    assert errors_of(result) == [
        (20_002, "completed", "Expected true/false, yes/no or 1/0 (got 'perhaps').")
    ]
    assert count(Todo) == 2


def test_bom_and_crlf_are_accepted(db: Any, sample: dict) -> None:
    """A file saved by a spreadsheet on Windows imports like any other."""
    data = "\ufeffdescription,list\r\nA,Groceries\r\n\"B, with comma\",Groceries\r\n".encode()
    result = run_import("todo", data)
    assert counts(result) == (2, 0, 0, 0)
    assert count(Todo, Todo.description == "B, with comma") == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty"),
        (b"\n", "The file is empty"),
        (b"description,list\n", "The file has a header but no rows."),
        (b"description,colour\nA,red\n",
         "Wrong columns: unknown column(s) 'colour'; missing required column(s) 'list'."),
        (b"description,list,list\nA,B,C\n", "Wrong columns: repeated column(s) 'list'."),
        (b"description,list\nCaf\xe9,Groceries\n", "The file is not UTF-8 text"),
        (b"descr\xff,list\n", "The file is not UTF-8 text"),
    ],
)
def test_files_that_cannot_be_imported(db: Any, sample: dict, data: bytes, message: str) -> None:
    """Each gets one clear message, and nothing is written."""
    result = run_import("todo", data)
    assert result.error_count == 1
    assert result.errors[0].message.startswith(message), result.errors[0].message
    assert count(Todo) == 2


def test_blank_lines_at_the_end_are_ignored(db: Any, sample: dict) -> None:
    """Editors leave blank lines at the end; they are not rows."""
    result = run_import("todo", "description,list\r\nA,Groceries\r\n\r\n\n")
    assert counts(result) == (1, 0, 0, 0) and result.committed


def test_a_row_with_too_many_values(db: Any, sample: dict) -> None:
    """The line is named; the message says how many values were expected."""
    result = run_import("todo", "description,list\nA,Groceries,extra\n")
    assert result.errors[0].line == 2
    assert result.errors[0].message.startswith("Expected 2 values (one per header column)")


def test_unknown_model_is_refused(app: Any) -> None:
    """The catalogue names person, todolist and todo; the console's own tables are not models."""
    with pytest.raises(KeyError, match="Unknown model 'account'"):
        described("account")


# -- the SQL mirror of the rules ---------------------------------------------------------

MIRROR_CASES = (
    "id,description,completed,due_date,priority,list,assignee,version\n"
    ",ok,TRUE,2024-02-29,Low,Groceries,ANN@example.com,\n"
    ",\t tabbed \t,Yes,,,Groceries,,\n"
    ",x,on,2023-02-29,,Groceries,,\n"
    ",x,off,0000-01-01,normal,Groceries,,\n"
    ",x,2,2024-13-01,medium,Groceries,,\n"
    ",x,F,2024-1-01,,Groceries ,,\n"
    ",'=1+1,,2024-04-31,,Groceries,,\n"
    ",,,,,,,\n"
    f",{'y' * 500},n,1999-12-31,high,Groceries,bob@example.com,\n"
    f",{'y' * 501},n,,,Groceries,,\n"
    "12a,x,,,,Groceries,,\n"
    ",x,,,,Groceries,,-1\n"
    ",x,,,,Nowhere,nobody@example.com,\n"
    ",x,maybe,2024-02-30,urgent,Nowhere,,\n"
    # Whitespace Python strips that is not ASCII, digits and letters that are not ASCII,
    # and the edges of the date and number rules.
    f",{'y' * 500}\u00a0,,,,Groceries,,\n"
    ",\u3000x\u2003,\uff34\uff32\uff35\uff25,1900-02-29,,Groceries,,\n"
    ",x,,\uff12\uff10\uff12\uff14-01-01,\uff28igh,Groceries,,\n"
    ",x,,2024-1 -01,,Groceries,,\n"
    ",x,,+024-01-01,,Groceries,,\n"
    ",x,,2024-01-01x,,Groceries,,\n"
    "1234567890123456789,x,,,,Groceries,,\n"
    "2147483648,x,,,,Groceries,,2147483647\n"
    "\u0663,x,,,,Groceries,,1.0\n"
    ",x,'\t1,,,Groceries,,+1\n"
    # Invisible text is blank; NUL is refused by cell; a record over several lines is
    # reported on the line it starts on; every error of a row, in column order.
    ",\u200b\ufeff\u2060\u00ad,,,,Groceries,,\n"
    ",\u200b,\u2060,\ufeff,\u200b,Groceries,,\n"
    ",nul\x00,,,,Groceries,nul\x00@example.com,\n"
    ',"two\nlines",maybe,"2024-02-30",,"Nowhere\n",,\n'
    ",x,,,,Groceries,\u039f\u0394\u03a5\u03a3\u03a3\u0395\u03a5\u03a3@example.com,\n"
    ",x,,,,Groceries,not an email,\n"
)

# Rows every rule accepts, at the edges of each: imported by both paths, stored alike.
MIRROR_GOOD = (
    "id,description,completed,due_date,priority,list,assignee,version\n"
    f"007,{'y' * 500}\u00a0,YES,2000-02-29,HIGH,Groceries,\u3000Bob@Example.com,\n"
    ",\u2003 spaced \u205f,'\t1,0001-01-01,Low ,Groceries ,,\n"
    ",'=1+1,Off,9999-12-31,,\tGroceries,,\n"
    "0099,'-x,\u00a0t\u00a0,2024-02-29,nOrMaL,Groceries,,\n"
)


@pytest.mark.postgres_only
def test_postgresql_sql_agrees_with_the_python_rules(db: Any, sample: dict) -> None:
    """The set-based checks and the Python rules give the same errors and counts."""
    outcomes = []
    for run in (_import_python, import_postgresql):
        result = _run_engine(db, run, MIRROR_CASES, dry_run=True)
        db.session.rollback()
        outcomes.append((counts(result), errors_of(result)))
    # The same errors, in the same order: by line, then by the file's column order.
    for python, sql in zip(outcomes[0][1], outcomes[1][1], strict=False):
        assert python == sql
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0][3] == 39  # the cases above hold thirty-nine errors


@pytest.mark.postgres_only
def test_postgresql_stores_what_the_python_rules_store(db: Any, sample: dict) -> None:
    """Trimmed, un-neutralised, parsed values and resolved parents are the same either way."""
    stored = []
    for run in (_import_python, import_postgresql):
        result = _run_engine(db, run, MIRROR_GOOD, dry_run=False)
        assert result.ok, errors_of(result)
        db.session.flush()
        given_id = sa.case((Todo.id.in_([7, 99]), Todo.id))  # others come from the sequence
        stored.append(db.session.execute(
            sa.select(given_id.label("id"), Todo.description, Todo.completed, Todo.due_date,
                      Todo.priority, Todo.list_id, Todo.assignee_id)
            .where(Todo.id.not_in([sample["milk"], sample["eggs"]])).order_by(Todo.description)
        ).all())
        db.session.rollback()
    assert stored[0] == stored[1]
    assert len(stored[0]) == 4
    by_description = {row.description: row for row in stored[0]}
    assert by_description["y" * 500].id == 7 and by_description["y" * 500].completed
    assert by_description["y" * 500].assignee_id == sample["bob"]
    assert by_description["spaced"].completed and by_description["spaced"].priority == "low"
    assert by_description["=1+1"].due_date == date(9999, 12, 31)
    assert by_description["-x"].id == 99


def _run_engine(
    db: Any, run: Any, text: str, *, dry_run: bool, model: str = "todo", upsert: bool = False
) -> ImportResult:
    """One engine (``_import_python`` or ``import_postgresql``) on a CSV text."""
    columns = text.splitlines()[0].split(",")
    result = ImportResult(model=model, upsert=upsert, dry_run=dry_run)
    stream = io.BytesIO(text.encode())
    stream.readline()
    source: Any = csv_rows(stream, len(columns)) if run is _import_python else stream
    run(db.session, file_format(described(model)), columns, source, result)
    return result


def test_the_sql_trims_what_python_strips() -> None:
    """The SQL's whitespace is exactly what str.strip() removes."""
    everything = (chr(c) for c in range(sys.maxunicode + 1))
    assert set(pg_import.WHITESPACE) == {c for c in everything if c.isspace()}


def test_ascii_lower_decides_as_python_lower_does() -> None:
    """sqltext.ascii_lower is enough for ASCII words without a "k": see its docstring."""
    to_ascii = [
        chr(c) for c in range(128, sys.maxunicode + 1) if chr(c).lower().isascii()
    ]
    assert to_ascii == ["\u212a"]  # the Kelvin sign, lower-cased to "k"
    assert sqltext.matches_like_python_lower(rules.TRUE_WORDS | rules.FALSE_WORDS)
    assert sqltext.matches_like_python_lower(p.value for p in Priority)
    # Choices that SQL cannot match as Python does are checked by Python instead.
    assert not sqltext.matches_like_python_lower(["backlog"])
    assert kinds.ChoiceKind(choices=("backlog", "done")).sql_value("t") is None
    assert kinds.ChoiceKind(choices=("Café",)).sql_value("t") is None


@pytest.mark.postgres_only
def test_postgresql_email_check_is_the_shared_rule(db: Any) -> None:
    """Person emails are checked by rules.check_email itself on the fast path too."""
    result = run_import(
        "person",
        "name,email\nA,a@example.com\nB,b@@example.com\nC,c@example\nD, D@Example.COM \n",
        dry_run=True,
    )
    assert [(e.line, e.column) for e in result.errors] == [(3, "email"), (4, "email")]
    assert result.inserted == 2


# -- PostgreSQL: references checked once, set-based ---------------------------------------

REFERRING = (
    "description,list,assignee\nA,Groceries,bob@example.com\nB,Groceries,\nC,Groceries,"
    "ann@example.com\n"
)


def _todos_by_description() -> list[tuple[str, int, int | None]]:
    rows = db_rows("SELECT description, list_id, assignee_id FROM todo ORDER BY description")
    return [tuple(r) for r in rows]


def db_rows(sql: str) -> list[Any]:
    from console.extensions import db

    return db.session.execute(sa.text(sql)).all()


@pytest.mark.postgres_only
def test_postgresql_set_based_references_write_what_the_row_triggers_write(
    db: Any, sample: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Skipping the per-row foreign-key triggers changes nothing in what is written."""
    from console.bulk import pg_import

    # The row-count triggers (ENABLE ALWAYS, migration 0004) fire in replica mode too.
    assert db_rows(
        "SELECT DISTINCT tgenabled FROM pg_trigger WHERE tgrelid = 'todo'::regclass "
        "AND NOT tgisinternal"
    ) == [("A",)]
    fast = run_import("todo", REFERRING)
    assert fast.committed and fast.set_based_references
    written_fast = _todos_by_description()
    db.session.execute(sa.text("DELETE FROM todo WHERE description IN ('A', 'B', 'C')"))
    db.session.commit()

    monkeypatch.setattr(pg_import, "TRUST_CHECKED_REFERENCES", False)
    slow = run_import("todo", REFERRING)
    assert slow.committed and not slow.set_based_references
    assert _todos_by_description() == written_fast
    # The role is back to normal after the import: triggers fire again in this session.
    assert db_rows("SHOW session_replication_role") == [("origin",)]


@pytest.mark.postgres_only
@pytest.mark.parametrize("trusted", [True, False])
def test_postgresql_a_parent_deleted_during_the_import_stops_it(
    db: Any, sample: dict, monkeypatch: pytest.MonkeyPatch, trusted: bool
) -> None:
    """A list deleted (by someone else) between the checks and the write: nothing is written."""
    from console.bulk import pg_import

    monkeypatch.setattr(pg_import, "TRUST_CHECKED_REFERENCES", trusted)
    engine = sa.create_engine(db.engine.url)
    real_write = pg_import._write

    def write_after_a_delete(cur: Any, *args: Any) -> None:
        with engine.begin() as other:
            other.execute(sa.text("DELETE FROM todo_list WHERE name = 'Groceries'"))
        real_write(cur, *args)

    monkeypatch.setattr(pg_import, "_write", write_after_a_delete)
    try:
        result = run_import("todo", REFERRING)
    finally:
        engine.dispose()
    assert not result.committed
    assert errors_of(result) == [
        (0, None, "1 list(s) the file refers to were deleted by someone else during the "
                  "import; nothing was written. Check the file and retry.")
    ]
    assert count(Todo, Todo.description.in_(["A", "B", "C"])) == 0


@pytest.mark.postgres_only
@pytest.mark.parametrize("enable", ["", "ENABLE REPLICA"])
def test_postgresql_a_table_with_its_own_trigger_keeps_every_trigger(
    db: Any, sample: dict, enable: str
) -> None:
    """A trigger someone added to the table fires as it would: the fast path is not taken.

    Replica mode would skip a plain trigger, and newly fire one enabled for replicas.
    (The row-count triggers, enabled ALWAYS, leave the fast path open: see the test above.)
    """
    statements = [
        "CREATE FUNCTION shout() RETURNS trigger LANGUAGE plpgsql AS "
        "$$BEGIN NEW.description := upper(NEW.description); RETURN NEW; END$$",
        "CREATE TRIGGER todo_shout BEFORE INSERT ON todo FOR EACH ROW EXECUTE FUNCTION shout()",
    ]
    if enable:
        statements.append(f"ALTER TABLE todo {enable} TRIGGER todo_shout")
    for sql in statements:
        db.session.execute(sa.text(sql))
    db.session.commit()
    try:
        result = run_import("todo", "description,list\nquiet,Groceries\n")
        assert result.committed and not result.set_based_references
        expected = "quiet" if enable else "QUIET"
        assert count(Todo, Todo.description == expected) == 1
    finally:
        db.session.rollback()
        db.session.execute(sa.text("DROP TRIGGER todo_shout ON todo"))
        db.session.execute(sa.text("DROP FUNCTION shout()"))
        db.session.commit()


@pytest.mark.postgres_only
def test_postgresql_an_account_that_is_not_superuser_keeps_the_row_triggers(
    db: Any, sample: dict
) -> None:
    """Only a superuser may skip triggers: anyone else gets PostgreSQL's own checks."""
    import uuid

    role = f"console_plain_{uuid.uuid4().hex[:8]}"
    for sql in (
        f'CREATE ROLE "{role}" NOLOGIN',
        f'GRANT ALL ON ALL TABLES IN SCHEMA public TO "{role}"',
        f'GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO "{role}"',
        # The console's own tables (the audit log, the row counts) are in its schema.
        f'GRANT USAGE ON SCHEMA console TO "{role}"',
        f'GRANT ALL ON ALL TABLES IN SCHEMA console TO "{role}"',
        f'GRANT ALL ON ALL SEQUENCES IN SCHEMA console TO "{role}"',
    ):
        db.session.execute(sa.text(sql))
    db.session.commit()
    try:
        db.session.execute(sa.text(f'SET LOCAL ROLE "{role}"'))
        result = run_import("todo", REFERRING)
        assert result.committed and not result.set_based_references
        assert count(Todo, Todo.description.in_(["A", "B", "C"])) == 3
    finally:
        db.session.rollback()
        db.session.execute(sa.text(f'DROP OWNED BY "{role}"'))
        db.session.execute(sa.text(f'DROP ROLE "{role}"'))
        db.session.commit()


@pytest.mark.postgres_only
def test_the_whitespace_literal_suits_the_database_encoding(db: Any) -> None:
    """A LATIN1 database gets the ASCII blanks: the full literal cannot even be parsed there."""
    url = create_pg_database(
        "console_test_latin1", "ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"
    )
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            encoding = conn.exec_driver_sql("SHOW server_encoding").scalar()
            cell = "E' \\t x \\r\\n'"
            trimmed = conn.exec_driver_sql(
                "SELECT " + pg_import.trimmed_sql(cell, pg_import.whitespace_sql(encoding))
            ).scalar()
            assert trimmed == "x"
            with pytest.raises(sa.exc.DBAPIError, match="no equivalent in encoding"):
                conn.exec_driver_sql("SELECT " + pg_import.whitespace_sql("UTF8"))
    finally:
        engine.dispose()
        drop_pg_database(url)
