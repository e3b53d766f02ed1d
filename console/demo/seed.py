"""Demo and benchmark data, inserted in batches (set-based, never one ORM object per row)."""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Callable, Iterator
from datetime import date, timedelta

from sqlalchemy import Connection, func, insert, select

from console.demo.models import Person, Priority, Todo, TodoList

BATCH = 10_000

WORDS = [
    "buy",
    "milk",
    "call",
    "review",
    "write",
    "plan",
    "fix",
    "clean",
    "paint",
    "send",
    "book",
    "pay",
    "email",
    "check",
    "order",
    "read",
    "draft",
    "ship",
    "water",
    "test",
    "renew",
    "sort",
    "file",
    "print",
    "update",
    "cancel",
    "backup",
    "deploy",
]
NOUNS = [
    "report",
    "garden",
    "invoice",
    "car",
    "roof",
    "budget",
    "kitchen",
    "slides",
    "contract",
    "tickets",
    "meeting",
    "server",
    "window",
    "taxes",
    "letter",
    "plants",
    "photos",
    "bike",
    "boiler",
    "backlog",
]


def _batches(rows: Iterator[dict], size: int = BATCH) -> Iterator[list[dict]]:
    batch: list[dict] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


_TODO_COLUMNS = ("description", "completed", "due_date", "priority", "list_id", "assignee_id")


def _copy_todos(conn: Connection, batch: list[dict]) -> None:
    """PostgreSQL: COPY a batch in (several times faster than multi-row INSERTs)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in batch:
        writer.writerow(
            "" if row[c] is None else (row[c].value if c == "priority" else row[c])
            for c in _TODO_COLUMNS
        )
    buffer.seek(0)
    raw = conn.connection.dbapi_connection
    assert raw is not None
    cursor = raw.cursor()
    try:
        cursor.copy_expert(
            f"COPY todo ({', '.join(_TODO_COLUMNS)}) FROM STDIN WITH (FORMAT csv)", buffer
        )
    finally:
        cursor.close()


def seed(
    conn: Connection,
    *,
    people: int,
    lists: int,
    todos: int,
    seed_value: int = 1,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Add ``people`` people, ``lists`` lists and ``todos`` to-dos spread over them.

    Names are made unique by a run prefix, so seeding twice adds more data instead
    of failing. The caller owns the transaction.
    """
    if lists and not people:
        raise ValueError("Lists need owners: seed at least one person.")
    if todos and not lists:
        raise ValueError("To-dos need a list: seed at least one list.")
    rng = random.Random(seed_value)
    run = (conn.scalar(select(func.coalesce(func.max(Person.id), 0))) or 0) + 1
    tick = progress or (lambda _n: None)

    person_rows = (
        {"name": f"Person {run}-{i}", "email": f"person{run}-{i}@example.com"}
        for i in range(people)
    )
    for batch in _batches(person_rows):
        conn.execute(insert(Person), batch)
        tick(len(batch))
    person_ids = list(
        conn.scalars(
            select(Person.id).where(Person.email.like(f"person{run}-%")).order_by(Person.id)
        )
    )

    list_rows = (
        {"name": f"List {run}-{i}", "owner_id": person_ids[i % len(person_ids)]}
        for i in range(lists)
    )
    for batch in _batches(list_rows):
        conn.execute(insert(TodoList), batch)
        tick(len(batch))
    list_ids = list(
        conn.scalars(
            select(TodoList.id).where(TodoList.name.like(f"List {run}-%")).order_by(TodoList.id)
        )
    )

    today = date.today()
    priorities = list(Priority)

    def todo_rows() -> Iterator[dict]:
        for i in range(todos):
            yield {
                "description": f"{rng.choice(WORDS)} {rng.choice(NOUNS)} #{run}-{i}",
                "completed": rng.random() < 0.3,
                "due_date": today + timedelta(days=rng.randint(-60, 60))
                if rng.random() < 0.6
                else None,
                "priority": priorities[rng.randrange(3)],
                "list_id": list_ids[i % len(list_ids)],
                "assignee_id": person_ids[rng.randrange(len(person_ids))]
                if person_ids and rng.random() < 0.7
                else None,
            }

    for batch in _batches(todo_rows()):
        if conn.dialect.name == "postgresql":
            _copy_todos(conn, batch)
        else:
            conn.execute(insert(Todo), batch)
        tick(len(batch))
    return {"people": people, "lists": lists, "todos": todos}


def seed_if_empty(conn: Connection) -> bool:
    """A small demo (20 people, 10 lists, 200 to-dos) in an empty demo; False if it has people."""
    if conn.scalar(select(Person.id).limit(1)) is not None:
        return False
    seed(conn, people=20, lists=10, todos=200)
    return True
