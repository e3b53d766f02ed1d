"""Delete preview and confirmed delete of a 100,000-to-do list, against a raw SQL DELETE.

PostgreSQL only. Creates a database of its own (dropped at the end), loads fresh
data before every timed run, and prints medians and the ratio of the console's
delete (the same executor the confirm view uses) to a plain ``DELETE FROM
todo_list WHERE id = ...`` in the same run.

    /work/venv/bin/python bench/bench_delete.py [--todos 100000] [--repeat 5]

Environment: CONSOLE_BENCH_PG (default postgresql+psycopg2://127.0.0.1:5432/test),
the server on which the scratch database is made.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from console import own_schema
from console.cascade import execute_delete, plan_delete
from console.demo.models import TodoList
from console.models import create_own_tables

ADMIN_URL = os.environ.get("CONSOLE_BENCH_PG", "postgresql+psycopg2://127.0.0.1:5432/test")
PREVIEW_TARGET_MS = 100
RATIO_TARGET = 1.5


def load(engine: sa.Engine, run: int, todos: int) -> int:
    """A person, a list and ``todos`` to-dos on it (a third assigned); returns the list's id."""
    with engine.begin() as conn:
        person = conn.execute(
            sa.text("INSERT INTO person (name, email) VALUES (:n, :e) RETURNING id"),
            {"n": f"Owner {run}", "e": f"owner{run}@example.com"},
        ).scalar_one()
        list_id = conn.execute(
            sa.text("INSERT INTO todo_list (name, owner_id) VALUES (:n, :p) RETURNING id"),
            {"n": f"List {run}", "p": person},
        ).scalar_one()
        conn.execute(
            sa.text(
                "INSERT INTO todo (description, list_id, assignee_id, priority, completed) "
                "SELECT 'Task ' || g, :l, CASE WHEN g % 3 = 0 THEN :p END, 'normal', false "
                "FROM generate_series(1, :n) AS g"
            ),
            {"l": list_id, "p": person, "n": todos},
        )
        conn.exec_driver_sql("ANALYZE todo")
    return list_id


def vacuum(engine: sa.Engine) -> None:
    """Clear the dead rows of the previous run, so that every run starts from the same state."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM todo, todo_list, person")


def timed(fn: Callable[[], object]) -> float:
    """Seconds ``fn`` took."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> int:
    """Run the benchmark and print figures; exit 1 when a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--todos", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    repeat = max(1, min(args.repeat, 50))

    name = f"console_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.engine.make_url(ADMIN_URL).set(database=name)
    engine = own_schema.on_engine(sa.create_engine(url))
    previews, executor, raw = [], [], []
    try:
        create_own_tables(engine)
        run = 0
        for _ in range(repeat):
            run += 1
            vacuum(engine)
            list_id = load(engine, run, args.todos)
            with Session(engine) as session:
                plan = plan_delete(session, TodoList, [list_id])
                session.rollback()
                previews.append(
                    timed(lambda s=session, i=list_id: plan_delete(s, TodoList, [i]))
                )
                session.rollback()
                todos = next(e.count for e in plan.deleted if e.model.__name__ == "Todo")
                assert todos == args.todos, todos
                outcome = None

                def confirm(session: Session = session, fingerprint: str = plan.fingerprint,
                            list_id: int = list_id) -> None:
                    nonlocal outcome
                    outcome = execute_delete(session, TodoList, [list_id], fingerprint)

                executor.append(timed(confirm))
                assert outcome is not None and outcome.done, outcome

            run += 1
            vacuum(engine)
            list_id = load(engine, run, args.todos)

            def raw_delete(list_id: int = list_id) -> None:
                with engine.begin() as conn:
                    conn.execute(sa.text("DELETE FROM todo_list WHERE id = :id"), {"id": list_id})

            raw.append(timed(raw_delete))
            with engine.connect() as conn:
                left = conn.execute(sa.text("SELECT count(*) FROM todo")).scalar_one()
            assert left == 0, left
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()

    preview_ms = statistics.median(previews) * 1000
    executor_ms = statistics.median(executor) * 1000
    raw_ms = statistics.median(raw) * 1000
    ratio = executor_ms / raw_ms
    print(f"to-dos per list:            {args.todos:,} ({repeat} runs, medians)")
    print(f"preview (plan_delete):      {preview_ms:8.1f} ms   target < {PREVIEW_TARGET_MS} ms")
    print(f"confirmed delete (executor):{executor_ms:8.1f} ms")
    print(f"raw SQL DELETE:             {raw_ms:8.1f} ms")
    print(f"ratio executor / raw:       {ratio:8.2f}      target <= {RATIO_TARGET}")
    for label, values in (("preview", previews), ("executor", executor), ("raw", raw)):
        spread = ", ".join(f"{v * 1000:.0f}" for v in values)
        print(f"  {label} runs (ms): {spread}")
    ok = preview_ms < PREVIEW_TARGET_MS and ratio <= RATIO_TARGET
    print("targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
