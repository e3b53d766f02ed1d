"""Bulk edits of to-dos: one UPDATE in one transaction, refused whole if any row moved on.

The confirmation page carries each selected row's version; ``apply`` writes only
when every row still has that version, so nobody's newer edit is overwritten.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, tuple_, update
from sqlalchemy.orm import Session

from console import audit, rules
from console.demo.models import NAME_MAX, Person, Todo, TodoList
from console.models.base import utcnow


@dataclass(frozen=True)
class BulkAction:
    """One bulk edit: its name, its label and what it asks for (if anything)."""

    name: str
    label: str
    asks: str | None = None  # "list", "person" or "priority"


ACTIONS: dict[str, BulkAction] = {
    a.name: a
    for a in (
        BulkAction("complete", "Mark complete"),
        BulkAction("incomplete", "Mark not complete"),
        BulkAction("move", "Move to another list", "list"),
        BulkAction("assign", "Assign to a person", "person"),
        BulkAction("priority", "Set priority", "priority"),
    )
}


@dataclass
class Outcome:
    """What a bulk edit did: the rows written, or the rows that changed meanwhile."""

    written: int = 0
    stale: list[int] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the edit was written."""
        return not self.stale and not self.missing


def parse_rows(values: list[str]) -> dict[int, int]:
    """``["12:3", ...]`` (id:version pairs from the confirmation form) -> {id: version}."""
    rows: dict[int, int] = {}
    for value in values:
        ident, _, version = value.partition(":")
        try:
            rows[int(ident)] = int(version)
        except ValueError:
            raise rules.RuleError(f"Malformed row reference {value!r}.") from None
    if not rows:
        raise rules.RuleError("No rows selected.")
    return rows


def current_versions(session: Session, ids: list[int]) -> dict[int, int]:
    """{id: version} of the to-dos that exist among ``ids``."""
    return dict(session.execute(select(Todo.id, Todo.version).where(Todo.id.in_(ids))).all())


def resolve(session: Session, action: BulkAction, value: str | None) -> tuple[dict[str, Any], str]:
    """The column values the action sets and a description for the audit, or RuleError."""
    if action.name in ("complete", "incomplete"):
        return {"completed": action.name == "complete"}, ""
    text = (value or "").strip()
    if action.asks == "list":
        name = rules.check_text(text, label="List", max_length=NAME_MAX)
        list_id = session.scalar(select(TodoList.id).where(TodoList.name == name))
        if list_id is None:
            raise rules.RuleError(f"No to-do list named {name!r}.")
        return {"list_id": list_id}, name
    if action.asks == "person":
        if not text:
            return {"assignee_id": None}, "nobody"
        email = rules.normalise_email(text)
        person_id = session.scalar(select(Person.id).where(Person.email == email))
        if person_id is None:
            raise rules.RuleError(f"No person with email {email!r}.")
        return {"assignee_id": person_id}, email
    priority = rules.check_choice(
        text, label="Priority", choices=("low", "normal", "high"), default="normal"
    )
    return {"priority": priority}, str(priority)


def apply(
    session: Session, name: str, rows: dict[int, int], value: str | None = None, *,
    account: Any = None,
) -> Outcome:
    """Apply bulk action ``name`` to ``rows`` ({id: version seen}) in one transaction."""
    action = ACTIONS[name]
    values, target = resolve(session, action, value)
    ids = sorted(rows)
    table = Todo.__table__
    # Row locks (PostgreSQL) so that no edit slips in between the check and the write.
    locked = dict(
        session.execute(
            select(Todo.id, Todo.version).where(Todo.id.in_(ids)).with_for_update()
        ).all()
    )
    outcome = Outcome(
        missing=[i for i in ids if i not in locked],
        stale=[i for i in ids if i in locked and locked[i] != rows[i]],
    )
    if outcome.ok:
        written = session.execute(
            update(table)
            .where(tuple_(table.c.id, table.c.version).in_([(i, rows[i]) for i in ids]))
            .values(**values, version=table.c.version + 1, updated_at=utcnow())
        ).rowcount
        if written != len(ids):
            now = current_versions(session, ids)
            outcome.stale = [i for i in ids if now.get(i) != rows[i]] or ids
        outcome.written = written
    if not outcome.ok:
        session.rollback()
        outcome.written = 0
        return outcome
    summary: dict[str, Any] = {"action": name, "count": len(ids), "ids": ids}
    if target:
        summary["value"] = target
    audit.record(session, f"bulk_{name}", account=account, model="Todo",
                 changes={"summary": summary})
    session.commit()
    return outcome
