"""What recording history costs an ORM write: the same edits with and without the flush hook.

Runs on a temporary SQLite file (or CONSOLE_BENCH_DATABASE_URL) and prints the
ratio of recorded to unrecorded time, both measured in this run.

    /work/venv/bin/python bench/bench_history.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from console import history, own_schema
from console.demo.models import Person, Todo, TodoList
from console.models import AuditEntry, create_own_tables

ROUNDS = 3
EDITS = 300  # one commit each, like form saves


def run(engine, recorded: bool) -> float:
    """Seconds for EDITS single-row edits, each committed on its own."""
    with Session(engine) as session:
        ids = list(session.scalars(select(Todo.id).limit(EDITS)))
        start = time.perf_counter()
        with history.acting_as(history.Actor(None, "bench@example.com")):
            for n, todo_id in enumerate(ids):
                todo = session.get(Todo, todo_id)
                todo.description = f"edit {n} {recorded}"
                todo.priority = "high" if n % 2 else "low"
                if recorded:
                    session.commit()
                else:
                    with history.suppressed(session):
                        session.flush()
                    session.commit()
        return time.perf_counter() - start


def main() -> None:
    url = os.environ.get("CONSOLE_BENCH_DATABASE_URL")
    with tempfile.TemporaryDirectory() as tmp:
        engine = own_schema.on_engine(
            create_engine(url or f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"))
        create_own_tables(engine)
        with Session(engine) as session, history.suppressed(session):
            owner = Person(name="Bench", email="bench@example.com")
            todo_list = TodoList(name="Bench list", owner=owner)
            session.add_all([owner, todo_list])
            session.add_all(
                Todo(description=f"todo {n}", todo_list=todo_list) for n in range(EDITS)
            )
            session.commit()
        plain, recorded = [], []
        for _ in range(ROUNDS):
            plain.append(run(engine, recorded=False))
            recorded.append(run(engine, recorded=True))
        with Session(engine) as session:
            entries = session.scalar(select(func.count()).select_from(AuditEntry))
        engine.dispose()
    base, with_history = min(plain), min(recorded)
    print(f"{EDITS} single-row edits, best of {ROUNDS} ({engine.url.get_backend_name()}):")
    print(f"  without history: {base * 1000:8.1f} ms ({base / EDITS * 1e6:6.0f} us/edit)")
    per_edit = with_history / EDITS * 1e6
    print(f"  with history:    {with_history * 1000:8.1f} ms ({per_edit:6.0f} us/edit)")
    print(f"  ratio with/without: {with_history / base:.2f}x  ({entries} entries written)")


if __name__ == "__main__":
    main()
