#!/usr/bin/env python3
"""What the migrations page costs: console.schema.status() against `flask db current`.

    /work/venv/bin/python bench/bench_schema_status.py [--rows 200000] [--repeat 7]

Creates its own database on CONSOLE_BENCH_PG (default: the test server), migrates it,
and times (median of ``--repeat`` after one warm-up):
- baseline: reading the current revision only (what `flask db current` does);
- status(): revisions, pending list, history and the autogenerate drift comparison;
- status() again after ``--rows`` to-dos are added, to show the page's cost does not
  grow with the data (the drift check reads the catalog, never the rows).
Drops the database at the end.
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from alembic.runtime.migration import MigrationContext  # noqa: E402

from console import schema  # noqa: E402

SERVER = os.environ.get("CONSOLE_BENCH_PG", "postgresql+psycopg2://127.0.0.1:5432/test")


def median_seconds(run: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``repeat`` runs after one warm-up."""
    run()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    """Create, migrate, measure, drop."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    name = f"console_bench_schema_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.engine.make_url(SERVER).set(database=name)
    engine = sa.create_engine(url)
    try:
        # The console's history and the demo's, as `console init` runs them.
        assert schema.initialise(engine, [schema.console_history(), schema.demo_history()]).ok

        def current() -> object:
            with engine.connect() as conn:
                return MigrationContext.configure(conn).get_current_heads()

        def full() -> object:
            status = schema.status(engine, schema.console_history())
            assert status.ok, status.drift
            return status

        baseline = median_seconds(current, args.repeat)
        empty = median_seconds(full, args.repeat)
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO person (name, email) VALUES ('Bench', 'bench@example.com');"
                "INSERT INTO todo_list (name, owner_id) VALUES ('Bench', 1);"
                "INSERT INTO todo (description, list_id) "
                f"SELECT 'todo ' || n, 1 FROM generate_series(1, {args.rows}) AS n"
            )
            conn.exec_driver_sql("ANALYZE")
        loaded = median_seconds(full, args.repeat)
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()

    print(f"current revision only (baseline):  {baseline * 1000:8.1f} ms")
    print(f"status() with drift, empty tables: {empty * 1000:8.1f} ms  "
          f"({empty / baseline:.1f}x baseline)")
    print(f"status() with {args.rows:,} to-dos:   {loaded * 1000:8.1f} ms  "
          f"({loaded / empty:.2f}x the empty database)")


if __name__ == "__main__":
    main()
