#!/usr/bin/env python3
"""What the row-count triggers (migration 0004) cost a single-row write on PostgreSQL.

    /work/venv/bin/python bench/bench_row_counts.py [--rows 2000] [--rounds 5]

Creates its own database on CONSOLE_BENCH_PG (default: the test server), migrated
to head, and times single-row to-do inserts and deletes with the count triggers
enabled (ALWAYS, as migrated) and disabled, alternating, best of ``--rounds``:

- ORM: one ``session.add`` + ``commit`` per row, as a form save does;
- SQL: single-row INSERT statements in one transaction (the trigger's own cost,
  without the commit's fsync around it);
- DELETE: single-row deletes by id in one transaction;
- bulk: one INSERT ... SELECT of ``--bulk`` rows and one DELETE of them (the
  transition table holds every row of the statement: its cost grows with it).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from console import create_app  # noqa: E402
from console.demo.models import Person, Todo, TodoList  # noqa: E402
from console.extensions import db  # noqa: E402

SERVER = os.environ.get("CONSOLE_BENCH_PG", "postgresql+psycopg2://127.0.0.1:5432/test")
TRIGGERS = ("row_count_insert", "row_count_delete")


def admin_engine() -> sa.Engine:
    return sa.create_engine(SERVER, isolation_level="AUTOCOMMIT")


def set_triggers(engine: sa.Engine, on: bool) -> None:
    with engine.begin() as conn:
        for name in TRIGGERS:
            mode = "ENABLE ALWAYS" if on else "DISABLE"
            conn.exec_driver_sql(f"ALTER TABLE todo {mode} TRIGGER {name}")


def orm_inserts(engine: sa.Engine, list_id: int, rows: int) -> float:
    with Session(engine) as session:
        start = time.perf_counter()
        for n in range(rows):
            session.add(Todo(description=f"orm {n}", list_id=list_id))
            session.commit()
        return time.perf_counter() - start


def sql_inserts(engine: sa.Engine, list_id: int, rows: int) -> tuple[float, list[int]]:
    ids = []
    with engine.begin() as conn:
        insert = sa.text(
            "INSERT INTO todo (description, list_id) VALUES ('sql', :l) RETURNING id"
        )
        start = time.perf_counter()
        for _ in range(rows):
            ids.append(conn.execute(insert, {"l": list_id}).scalar())
        return time.perf_counter() - start, ids


def sql_deletes(engine: sa.Engine, ids: list[int]) -> float:
    with engine.begin() as conn:
        delete = sa.text("DELETE FROM todo WHERE id = :i")
        start = time.perf_counter()
        for i in ids:
            conn.execute(delete, {"i": i})
        return time.perf_counter() - start


def bulk(engine: sa.Engine, list_id: int, rows: int) -> tuple[float, float]:
    with engine.begin() as conn:
        start = time.perf_counter()
        conn.execute(
            sa.text(
                "INSERT INTO todo (description, list_id) "
                "SELECT 'bulk ' || g, :l FROM generate_series(1, :n) g"
            ),
            {"l": list_id, "n": rows},
        )
        inserted = time.perf_counter() - start
    with engine.begin() as conn:
        start = time.perf_counter()
        conn.execute(sa.text("DELETE FROM todo WHERE description LIKE 'bulk %'"))
        return inserted, time.perf_counter() - start


def run(rows: int, rounds: int, bulk_rows: int) -> None:
    name = f"bench_counts_{uuid.uuid4().hex[:8]}"
    with admin_engine().connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.engine.make_url(SERVER).set(database=name).render_as_string(hide_password=False)
    try:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
        with app.app_context():
            from console import histories_of_app, schema

            assert schema.initialise(db.engine, histories_of_app(app)).ok
            db.engine.dispose()
        engine = sa.create_engine(url)
        with Session(engine) as session:
            owner = Person(name="Bench", email="bench@example.com")
            todo_list = TodoList(name="Bench list", owner=owner)
            session.add_all([owner, todo_list])
            session.commit()
            list_id = todo_list.id
        times: dict[tuple[str, bool], list[float]] = {}
        for _ in range(rounds):
            for on in (False, True):
                set_triggers(engine, on)
                times.setdefault(("orm insert + commit", on), []).append(
                    orm_inserts(engine, list_id, rows)
                )
                took, ids = sql_inserts(engine, list_id, rows)
                times.setdefault(("sql insert", on), []).append(took)
                times.setdefault(("sql delete", on), []).append(sql_deletes(engine, ids))
                ins, dels = bulk(engine, list_id, bulk_rows)
                times.setdefault(("bulk insert", on), []).append(ins)
                times.setdefault(("bulk delete", on), []).append(dels)
                # In the same mode, so the kept count stays right (disabled: not counted).
                with engine.begin() as conn:
                    conn.execute(sa.text("DELETE FROM todo WHERE description LIKE 'orm %'"))
        set_triggers(engine, True)
        with engine.connect() as conn:
            deltas = conn.execute(sa.text("SELECT count(*) FROM console.row_count_delta")).scalar()
            kept = conn.execute(
                sa.text("SELECT sum(delta) FROM console.row_count_delta WHERE table_name = 'todo'")
            ).scalar()
            counted = conn.execute(sa.text("SELECT count(*) FROM todo")).scalar()
        engine.dispose()
        print(f"{rows} single-row writes, best of {rounds}, PostgreSQL:")
        print(f"{'':22} {'no triggers':>14} {'triggers':>14} {'cost/row':>10}")
        for what in ("orm insert + commit", "sql insert", "sql delete"):
            off, on = min(times[(what, False)]), min(times[(what, True)])
            print(
                f"{what:22} {off / rows * 1e6:11.0f} us {on / rows * 1e6:11.0f} us "
                f"{(on - off) / rows * 1e6:7.0f} us"
            )
        for what in ("bulk insert", "bulk delete"):
            off, on = min(times[(what, False)]), min(times[(what, True)])
            print(
                f"{what + f' {bulk_rows:,}':22} {off * 1000:11.0f} ms {on * 1000:11.0f} ms "
                f"{(on - off) / bulk_rows * 1e6:7.2f} us"
            )
        print(f"kept count {kept:,} = count(*) {counted:,}: {kept == counted}; "
              f"{deltas} delta rows left (compaction)")
    finally:
        with admin_engine().connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main(argv: Any = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--bulk", type=int, default=200_000)
    args = parser.parse_args(argv)
    run(args.rows, args.rounds, args.bulk)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
