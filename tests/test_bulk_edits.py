"""Bulk edits ("Set <column>") through the engine, on SQLite and PostgreSQL.

The demo's to-dos here; the contract models (a model without a version column, an
enum stored by value, numbers, aware date-times) in test_bulk_contract.py.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from console.bulk import edits
from console.demo.models import Priority, Todo, TodoList
from console.history import restorable_values
from console.models import AuditEntry
from console.rules import Role, RuleError
from console.versions import token_of
from tests import bulk_contract
from tests.bulk_contract import Contract
from tests.bulk_helpers import described
from tests.conftest import make_account
from tests.contract.models import Member, Stage, Task


def tokens(db: Any, *ids: int) -> dict[int, str]:
    """{id: token} as the confirmation page would carry them now."""
    description = described("todo")
    return {obj.id: token for obj, token in edits.selection(db.session, description, ids)}


def entries(action: str) -> list[AuditEntry]:
    from console.extensions import db

    return list(db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
    ))


def test_every_bulk_column_of_the_todos_is_offered(app: Any) -> None:
    """Booleans, dates, choices and references; never text, keys or bookkeeping."""
    keys = [c.key for c in edits.choices(described("todo"))]
    assert keys == ["completed", "due_date", "priority", "list_id", "assignee_id"]
    with pytest.raises(RuleError, match="'description' cannot be set in bulk"):
        edits.column_of(described("todo"), "description")
    assert edits.choices(described("person")) == []


def test_set_a_column_writes_changed_rows_and_records_each(db: Any, sample: dict) -> None:
    """One UPDATE: version and updated_at move only where the value changed; entries say so."""
    description = described("todo")
    milk, eggs = sample["milk"], sample["eggs"]
    before = {t.id: t.updated_at for t in db.session.scalars(sa.select(Todo))}
    rows = tokens(db, milk, eggs)
    value = edits.parse_value(db.session, description, "completed", "yes")
    outcome = edits.apply(db.session, description, "completed", value, rows)
    assert outcome.ok and (outcome.written, outcome.unchanged) == (1, 1)

    db.session.expire_all()
    got = {t.id: t for t in db.session.scalars(sa.select(Todo))}
    assert got[milk].completed and got[milk].version == 2
    assert got[eggs].completed and got[eggs].version == 1
    assert got[milk].updated_at > before[milk] and got[eggs].updated_at == before[eggs]
    # The row's own history entry, as an edit through the form writes it: revertible.
    update = entries("update")
    assert [(e.model, e.object_id, e.changes) for e in update] == [
        ("Todo", str(milk), {"before": {"completed": False}, "after": {"completed": True}})
    ]
    assert restorable_values(update[0], Todo) == {"completed": False}
    summary = entries("bulk_set")
    assert len(summary) == 1 and summary[0].model == "Todo"
    assert summary[0].changes == {"summary": {
        "column": "completed", "label": "Completed", "value": True, "count": 2, "changed": 1,
        "ids": [milk, eggs],
    }}


@pytest.mark.parametrize(
    ("column", "raw", "expected", "recorded", "written"),
    [
        ("priority", "HIGH", Priority.high, "high", 1),
        ("due_date", "2026-03-01", date(2026, 3, 1), "2026-03-01", 1),
        ("due_date", "", None, None, 0),  # it had none: checked, not written
        ("assignee_id", "", None, None, 1),
    ],
)
def test_each_kind_of_value(
    db: Any, sample: dict, column: str, raw: str, expected: Any, recorded: Any, written: int
) -> None:
    """Choices, dates and blanks go through the column's rule; entries hold JSON values."""
    description = described("todo")
    rows = tokens(db, sample["milk"])
    value = edits.parse_value(db.session, description, column, raw)
    assert edits.apply(db.session, description, column, value, rows).written == written
    db.session.expire_all()
    assert getattr(db.session.get(Todo, sample["milk"]), column) == expected
    changed = entries("update")
    assert len(changed) == written
    if changed:
        assert changed[0].changes["after"] == {column: recorded}


def test_a_reference_is_given_by_the_parents_primary_key(db: Any, sample: dict) -> None:
    """As an ajax lookup posts it; a parent that does not exist is refused by name."""
    description = described("todo")
    errands = TodoList(name="Errands", owner_id=sample["bob"])
    db.session.add(errands)
    db.session.commit()
    assert edits.parse_value(db.session, description, "list_id", str(errands.id)) == errands.id
    with pytest.raises(RuleError, match=r"^No to-do list with id 999\.$"):
        edits.parse_value(db.session, description, "list_id", "999")
    with pytest.raises(RuleError, match=r"^List is required\.$"):
        edits.parse_value(db.session, description, "list_id", " ")
    with pytest.raises(RuleError, match="List must be a whole number"):
        edits.parse_value(db.session, description, "list_id", "Errands")
    # The classic pages name the parent by its natural key instead.
    assert edits.parse_value(
        db.session, description, "assignee_id", "ANN@example.com", by_key=True
    ) == sample["ann"]
    with pytest.raises(RuleError, match=r"^No person with email 'zed@example.com'\.$"):
        edits.parse_value(db.session, description, "assignee_id", "zed@example.com", by_key=True)

    rows = tokens(db, sample["milk"], sample["eggs"])
    outcome = edits.apply(db.session, description, "list_id", errands.id, rows)
    assert outcome.written == 2
    summary = entries("bulk_set")[0].changes["summary"]
    assert summary["value"] == errands.id and summary["shown"] == "Errands"


def test_a_parent_deleted_after_it_was_chosen_stops_the_edit(db: Any, sample: dict) -> None:
    """The parent is checked (and locked) in the edit's own transaction."""
    description = described("todo")
    value = edits.parse_value(db.session, description, "assignee_id", str(sample["bob"]))
    rows = tokens(db, sample["milk"], sample["eggs"])
    db.session.rollback()
    with db.engine.begin() as other:  # Bob owns no list; his to-do is unassigned, unversioned
        other.execute(sa.text("DELETE FROM person WHERE id = :id"), {"id": sample["bob"]})
    with pytest.raises(RuleError, match="The person chosen for assignee was deleted meanwhile"):
        edits.apply(db.session, description, "assignee_id", value, rows)
    assert entries("bulk_set") == []


def test_bad_values_are_refused_with_the_rules_message(db: Any, sample: dict) -> None:
    """The same messages as the forms and the import."""
    description = described("todo")
    with pytest.raises(RuleError, match=r"Priority must be one of low, normal, high"):
        edits.parse_value(db.session, description, "priority", "urgent")
    with pytest.raises(RuleError, match=r"^Priority is required\.$"):
        edits.parse_value(db.session, description, "priority", "")
    with pytest.raises(RuleError, match=r"Expected a date as YYYY-MM-DD"):
        edits.parse_value(db.session, description, "due_date", "31/01/2026")


def test_a_row_changed_since_it_was_shown_stops_the_whole_edit(db: Any, sample: dict) -> None:
    """Nothing is written, no entry is made, and the stale row is named."""
    description = described("todo")
    rows = tokens(db, sample["milk"], sample["eggs"])
    eggs = db.session.get(Todo, sample["eggs"])
    eggs.description = "Buy free-range eggs"
    db.session.commit()
    audits = len(entries("update"))
    outcome = edits.apply(db.session, description, "priority", "low", rows)
    assert not outcome.ok and outcome.stale == [sample["eggs"]] and outcome.written == 0
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).where(Todo.priority == "low")) == 0
    assert len(entries("update")) == audits and entries("bulk_set") == []


def test_a_row_deleted_since_it_was_shown_stops_the_whole_edit(db: Any, sample: dict) -> None:
    """A deleted row is reported as missing; the others are not touched."""
    description = described("todo")
    rows = tokens(db, sample["milk"], sample["eggs"])
    db.session.delete(db.session.get(Todo, sample["milk"]))
    db.session.commit()
    outcome = edits.apply(db.session, description, "completed", False, rows)
    assert outcome.missing == [sample["milk"]] and not outcome.stale
    db.session.expire_all()
    assert db.session.get(Todo, sample["eggs"]).completed


def test_row_references_round_trip_and_refuse_nonsense(db: Any, sample: dict) -> None:
    """What the confirmation form carries comes back as {primary key: token}."""
    description = described("todo")
    milk = db.session.get(Todo, sample["milk"])
    ref = edits.row_ref(description, milk)
    assert ref == f"{milk.id}:{token_of(description, milk)}"
    assert edits.parse_row_refs(description, [ref]) == {milk.id: "1"}
    for bad in (["12"], ["x:1"], []):
        with pytest.raises(RuleError):
            edits.parse_row_refs(description, bad)
    with pytest.raises(RuleError, match="does not say which version"):
        edits.apply(db.session, description, "completed", True, {milk.id: ""})
    with pytest.raises(RuleError, match="Malformed row reference"):
        edits.apply(db.session, description, "completed", True, {milk.id: "v1"})


def test_the_person_of_a_bulk_edit_is_recorded(db: Any, sample: dict) -> None:
    """The account given is named in every entry of the edit."""
    description = described("todo")
    editor = make_account(Role.editor)
    rows = tokens(db, sample["milk"])
    edits.apply(db.session, description, "completed", True, rows, account=editor)
    assert {(e.account_id, e.account_email) for e in entries("update") + entries("bulk_set")} == {
        (editor.id, "editor@example.com")
    }


# -- an application the console has never heard of ---------------------------------------------

contract_pg_url = bulk_contract.contract_pg_url
contract = bulk_contract.contract
seeded = bulk_contract.seeded


def contract_tokens(contract: Contract, model: str, *ids: int) -> dict[int, str]:
    description = contract.describe(model)
    found = edits.selection(contract.session, description, ids)
    contract.session.rollback()
    return {getattr(obj, description.pk.key): token for obj, token in found}


def contract_entries(contract: Contract, action: str) -> list[AuditEntry]:
    contract.session.expire_all()
    found = list(contract.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
    ))
    contract.session.rollback()
    return found


def test_contract_bulk_columns(contract: Contract) -> None:
    """Every boolean, choice, number, date-time and reference of each model."""
    offered = {
        name: [c.key for c in edits.choices(contract.describe(name))]
        for name in ("team", "member", "project", "task", "step", "label")
    }
    assert offered == {
        "team": [], "member": ["active"], "project": ["budget", "archived", "team_id"],
        "task": ["stage", "estimate", "due_at", "project_id", "reviewer_id"],
        "step": ["position", "task_id"], "label": [],
    }


def test_a_model_without_versions_is_checked_by_the_values_shown(
    contract: Contract, seeded: dict
) -> None:
    """Members have no version column: a member changed since it was shown stops the edit."""
    description = contract.describe("member")
    rows = contract_tokens(contract, "member", seeded["ann"], seeded["bob"])
    assert all(token.startswith("values:") for token in rows.values())
    with contract.session.bind.connect() as other:  # type: ignore[union-attr]
        other.execute(sa.update(Member).where(Member.id == seeded["bob"])
                      .values(full_name="Robert"))
        other.commit()
    outcome = edits.apply(contract.session, description, "active", False, rows)
    assert outcome.stale == [seeded["bob"]] and outcome.written == 0
    assert contract_entries(contract, "bulk_set") == []

    rows = contract_tokens(contract, "member", seeded["ann"], seeded["bob"])
    outcome = edits.apply(contract.session, description, "active", False, rows)
    assert outcome.ok and (outcome.written, outcome.unchanged) == (1, 1)
    contract.session.expire_all()
    assert contract.session.get(Member, seeded["ann"]).active is False
    update = contract_entries(contract, "update")
    assert [(e.model, e.object_id, e.changes) for e in update] == [
        ("Member", str(seeded["ann"]), {"before": {"active": True}, "after": {"active": False}})
    ]


@pytest.mark.parametrize(
    ("column", "raw", "stored", "recorded"),
    [
        ("stage", "Done", Stage.done, "done"),
        ("stage", "to do", Stage.todo, "to do"),
        ("estimate", "3.50", Decimal("3.5"), "3.50"),
        ("estimate", "", None, None),
        ("due_at", "2026-05-01 12:00+02:00", datetime(2026, 5, 1, 10, 0, tzinfo=UTC),
         "2026-05-01T10:00:00+00:00"),
    ],
)
def test_contract_values_of_each_kind(
    contract: Contract, seeded: dict, column: str, raw: str, stored: Any, recorded: Any
) -> None:
    """An enum by value, a decimal, an aware date-time: stored, versioned and recorded."""
    description = contract.describe("task")
    rows = contract_tokens(contract, "task", seeded["plan"], seeded["build"])
    value = edits.parse_value(contract.session, description, column, raw)
    outcome = edits.apply(contract.session, description, column, value, rows)
    assert outcome.ok and outcome.written + outcome.unchanged == 2
    contract.session.expire_all()
    for ident in (seeded["plan"], seeded["build"]):
        task = contract.session.get(Task, ident)
        got = getattr(task, column)
        if isinstance(got, datetime) and got.tzinfo is None:
            got = got.replace(tzinfo=UTC)  # SQLite keeps no time zone
        assert got == stored
    written = contract_entries(contract, "update")
    assert len(written) == outcome.written
    assert all(e.changes["after"] == {column: recorded} for e in written)
    versions = {e.object_id for e in written}
    for ident in (seeded["plan"], seeded["build"]):
        expected = 2 if str(ident) in versions else 1
        assert contract.session.get(Task, ident).version == expected


def test_contract_references_by_primary_key(contract: Contract, seeded: dict) -> None:
    """A task's project and reviewer, as an ajax lookup posts them; SET NULL-able to none."""
    description = contract.describe("task")
    session = contract.session
    assert edits.parse_value(session, description, "project_id", str(seeded["zeus"])) == (
        seeded["zeus"]
    )
    with pytest.raises(RuleError, match=r"^No member with id 99\.$"):
        edits.parse_value(session, description, "reviewer_id", "99")
    assert edits.parse_value(session, description, "reviewer_id", "") is None
    with pytest.raises(RuleError, match=r"^Project is required\.$"):
        edits.parse_value(session, description, "project_id", "")
    rows = contract_tokens(contract, "task", seeded["plan"], seeded["ship"])
    outcome = edits.apply(session, description, "reviewer_id", None, rows)
    assert outcome.written == 2
    summary = contract_entries(contract, "bulk_set")[0].changes["summary"]
    assert summary["column"] == "reviewer_id" and summary["value"] is None
    step = contract.describe("step")
    rows = contract_tokens(contract, "step", *seeded["steps"])
    outcome = edits.apply(session, step, "task_id", seeded["ship"], rows)
    assert outcome.written == 3
    assert contract_entries(contract, "bulk_set")[-1].changes["summary"]["shown"] == "Ship"
