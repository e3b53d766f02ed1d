"""Issue 15: one normalisation of text, the same through every path and on both databases.

Each test runs on SQLite (the Python import path) and on PostgreSQL (COPY and SQL), and
checks what is stored against the same expected values: the two databases agree.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from console import rules
from console.bulk.csvio import NUL_MESSAGE
from console.bulk.exporter import export_chunks
from console.cell_edits import parse_cell
from console.demo.models import Person, Todo, TodoList
from console.kinds import neutralise
from tests.bulk_helpers import described, errors_of, run_import
from tests.conftest import post_form

# (as typed, as stored): one normal form whatever the spelling.
EMAILS = [
    ("ΟΔΥΣΣΕΥΣ@example.com", "οδυσσευς@example.com"),  # Greek final sigma (not σ)
    ("İSTANBUL@example.com", "i\u0307stanbul@example.com"),  # dotted capital I
    ("ılık@example.com", "ılık@example.com"),  # dotless i stays
    ("STRAẞE@example.com", "straße@example.com"),  # capital sharp s; ß is not ss
    ("e\u0301lodie@example.com", "\u00e9lodie@example.com"),  # NFD to NFC
    ("ann@xn--bcher-kva.de", "ann@bücher.de"),  # punycode domain to Unicode
    ("Ann@BÜCHER.de", "ann@bücher.de"),
    ("Ann+Tag@Example.COM", "ann+tag@example.com"),  # plus-addressing kept
    ("\u00a0 MiXeD@ExAmPlE.com\t", "mixed@example.com"),  # surrounding blanks
]
INVISIBLE = ["\u200b", "\ufeff\u2060", "\u00ad \u200e", " \u200b\u3000\ufeff "]
NAUGHTY = [v for v in (Path(__file__).parent / "fixtures" / "naughty.txt").read_text(
    encoding="utf-8").split("\n") if v]


def person_csv(rows: list[tuple[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["name", "email"])
    writer.writerows(rows)
    return out.getvalue()


def emails(db) -> list[str]:
    db.session.expire_all()
    return db.session.scalars(sa.select(Person.email).order_by(Person.id)).all()


def test_the_rule_is_one_fixed_point() -> None:
    for typed, stored in EMAILS:
        assert rules.check_email(typed) == stored
        assert rules.normalise_email(typed) == stored
        assert rules.check_email(stored) == stored


@pytest.mark.parametrize(("typed", "stored"), EMAILS)
def test_emails_are_stored_alike_by_the_form_and_the_import(
    editor_client, db, typed, stored
) -> None:
    """Form, import, @validates, upsert and lookups: one stored value on both databases."""
    response = post_form(editor_client, "/admin/person/new/", {"name": "Form", "email": typed})
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    assert emails(db) == [stored]
    # Upsert by the same address, spelled as typed: the form's person is found.
    result = run_import("person", person_csv([("Imported", typed)]), upsert=True)
    assert (result.inserted, result.updated) == (0, 1), errors_of(result)
    # A reference by email, spelled another way, finds the person too.
    local, domain = stored.rsplit("@", 1)
    result = run_import("todolist", f"name,owner\nL,{local}@{domain.upper()}\n")
    assert result.committed, errors_of(result)
    result = run_import("todolist", f"name,owner\nM,{typed}\n")
    assert result.committed, errors_of(result)
    # The ORM's @validates gives the same form.
    db.session.add(Person(name="ORM", email="x" + typed.strip()))
    db.session.commit()
    assert emails(db) == [stored, "x" + stored]
    found = editor_client.get("/admin/todo/ajax/lookup/",
                              query_string={"name": "assignee", "query": typed.strip()})
    assert found.status_code == 200 and any(stored in label for _id, label in found.json)


def test_an_imported_address_is_found_by_the_form(editor_client, db) -> None:
    result = run_import("person", person_csv([(str(i), t) for i, (t, _s) in enumerate(EMAILS)
                                              if "bücher" not in t.lower()]))
    assert result.committed, errors_of(result)
    expected = [s for t, s in EMAILS if "bücher" not in t.lower()]
    assert emails(db) == expected
    response = post_form(editor_client, "/admin/person/new/",
                         {"name": "Again", "email": EMAILS[0][0].lower()})
    assert response.status_code == 400 and "exists" in response.get_data(as_text=True)


def test_special_use_domains_need_the_setting(app) -> None:
    with pytest.raises(rules.RuleError):
        rules.check_email("x@example.test")
    app.config["CONSOLE_EMAIL_TEST_DOMAINS"] = True
    assert rules.check_email("X@example.test") == "x@example.test"
    app.config["CONSOLE_EMAIL_TEST_DOMAINS"] = False
    result = run_import("person", "name,email\nT,t@example.test\n")
    assert [(e.line, e.column) for e in result.errors] == [(2, "email")]


@pytest.mark.parametrize("name", INVISIBLE)
def test_invisible_names_are_blank_everywhere(editor_client, db, sample, name) -> None:
    response = post_form(editor_client, "/admin/person/new/",
                         {"name": name, "email": "new@example.com"})
    assert response.status_code == 400
    assert "Name is required." in response.get_data(as_text=True)
    result = run_import("person", person_csv([(name, "new@example.com")]))
    assert errors_of(result) == [(2, "name", "Name is required.")]
    jsonl = json.dumps({"name": name, "email": "new@example.com"}) + "\n"
    result = run_import("person", jsonl)
    assert errors_of(result) == [(1, "name", "Name is required.")]
    info = described("person").column("name")
    with pytest.raises(rules.RuleError, match="Name is required"):
        parse_cell(db.session, info, name)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Person)) == 2


def test_nul_is_refused_by_row_and_column(db, sample) -> None:
    result = run_import("person", "name,email\nok,ok@example.com\nA\x00,a\x00@example.com\n")
    assert errors_of(result) == [(3, "name", NUL_MESSAGE), (3, "email", NUL_MESSAGE)]
    result = run_import("person", '{"name": "B\\u0000", "email": "b@example.com"}\n')
    assert errors_of(result) == [(1, "name", NUL_MESSAGE)]


def test_line_numbers_are_where_records_start_and_all_errors_in_order(db, sample) -> None:
    text = (
        "description,completed,due_date,priority,list,assignee\n"
        '"line one\nline two",maybe,,,Groceries,\n'
        "ok,,,,Groceries,\n"
        '"a\nb\nc",,2024-13-01,urgent,Nowhere,nobody@example.com\n'
        '"d",no,,,"Groceries",\n'
    )
    result = run_import("todo", text, dry_run=True)
    assert errors_of(result) == [
        (2, "completed", "Expected true/false, yes/no or 1/0 (got 'maybe')."),
        (5, "due_date", "Expected a date as YYYY-MM-DD (got '2024-13-01')."),
        (5, "priority", "Priority must be one of low, normal, high (got 'urgent')."),
        (5, "list", "No to-do list with name 'Nowhere'."),
        (5, "assignee", "No person with email 'nobody@example.com'."),
    ]
    assert result.rows == 4


def test_a_to_do_file_imported_twice_is_flagged(db, sample) -> None:
    text = ("description,completed,due_date,priority,list,assignee\n"
            "Buy milk,no,,normal,Groceries,bob@example.com\n"
            "New one,,2025-01-01,high,Groceries,\n"
            "New two,,,,Groceries,\n")
    result = run_import("todo", text)
    assert result.committed and result.identical == 1, result.warnings
    assert [(w.line, w.message) for w in result.warnings] == [
        (2, "Identical to an existing to-do (every column of the file equal).")
    ]
    result = run_import("todo", text, dry_run=True)
    assert result.identical == 3 and result.ok
    assert result.notes == ["3 rows are identical to existing to-dos (every column of the "
                            "file equal): importing them adds them a second time."]
    assert [w.line for w in result.warnings] == [2, 3, 4]
    assert result.summary()["identical"] == 3


def test_naughty_strings_round_trip(editor_client, db) -> None:
    """Form save, import and export give the same stored text on both databases."""
    assert len(NAUGHTY) > 80
    expected = [v.strip() for v in NAUGHTY]
    for i, value in enumerate(NAUGHTY[:40]):
        response = post_form(editor_client, "/admin/person/new/",
                             {"name": value, "email": f"form{i}@example.com"})
        assert response.status_code == 302, (value, response.get_data(as_text=True)[-1500:])
    # Cells as a spreadsheet-safe file carries them (the export's formula quoting).
    result = run_import("person", person_csv(
        [(neutralise(v), f"file{i}@example.com") for i, v in enumerate(NAUGHTY)]))
    assert result.committed, errors_of(result)
    db.session.expire_all()
    stored = db.session.scalars(sa.select(Person.name).order_by(Person.id)).all()
    assert stored == expected[:40] + expected
    data = b"".join(export_chunks(db.session, described("person"), "csv"))
    db.session.rollback()
    exported = [r["name"] for r in csv.DictReader(io.StringIO(data.decode(), newline=""))]
    assert [rules.check_text(c, label="x", max_length=None) for c in exported] != []
    result = run_import("person", data, upsert=True)
    assert (result.updated, result.inserted, result.unchanged) == (0, 0, len(stored))
    db.session.expire_all()
    assert db.session.scalars(sa.select(Person.name).order_by(Person.id)).all() == stored
    assert TodoList and Todo  # the demo models' import is what registers them
