#!/usr/bin/env python3
"""The grid's JSON at 1,000 and at ``--rows`` to-dos on PostgreSQL, and a 100 x 5 paste.

    .venv/bin/python bench/bench_grid.py [--rows 100000] [--repeat 7]

Uses bench_lists.py's database, seed and login. Each request is measured in-process
(Flask's test client, logged in) at 1,000 rows and again after seeding up to
``--rows``; the ratio is big / small, medians of ``--repeat`` runs interleaved
(one of each case in turn) after a warm-up. The paste is one batch of 100 rows x 5
cells (description, completed, due date, priority, list by name) through
``/grid/save``, against fresh tokens each time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import sqlalchemy as sa  # noqa: E402
from bench_lists import (  # noqa: E402
    create_database,
    drop_database,
    login,
    seed_base,
    seed_todos,
    vacuum,
)

from console import create_app  # noqa: E402
from console.extensions import db  # noqa: E402


def requests(client: Any) -> dict[str, str]:
    """The grid's data requests: first screen, a deep keyset page, a filter, a search."""
    first = client.get("/admin/todo/grid/rows?limit=100").get_json()
    # A page far down the scroll: the cursor after the 100th-from-last row by id.
    engine = db.engine
    with engine.connect() as conn:
        deep = conn.execute(sa.text("SELECT id FROM todo ORDER BY id DESC OFFSET 100 LIMIT 1"))
        deep_id = deep.scalar()
    from console.paging import Cursor

    assert first["rows"]
    return {
        "first screen": "/admin/todo/grid/rows?limit=100",
        "next screen (keyset)": f"/admin/todo/grid/rows?limit=100&after={first['next']}",
        "near the end (keyset)": "/admin/todo/grid/rows?limit=100&after="
        + Cursor(deep_id, deep_id).encode(),
        "search": "/admin/todo/grid/rows?limit=100&search=invoice",
    }


def measure(client: Any, urls: dict[str, str], repeat: int) -> dict[str, float]:
    """Median ms per request, the cases interleaved."""
    samples: dict[str, list[float]] = {name: [] for name in urls}
    for url in urls.values():
        assert client.get(url).status_code == 200, url
    for _ in range(repeat):
        for name, url in urls.items():
            start = time.perf_counter()
            response = client.get(url)
            samples[name].append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, (url, response.status_code)
    return {name: statistics.median(values) for name, values in samples.items()}


def paste(client: Any, repeat: int) -> float:
    """Median ms of saving 100 rows x 5 cells as one batch."""
    times = []
    for round_ in range(repeat + 1):
        page = client.get("/admin/todo/grid/rows?limit=100").get_json()
        changes = []
        for i, row in enumerate(page["rows"]):
            for column, value in (("description", f"Pasted {round_} {i}"),
                                  ("completed", "yes" if i % 2 else "no"),
                                  ("due_date", "2026-06-01"),
                                  ("priority", "high"),
                                  ("list_id", "List 2")):
                changes.append({"row": row["id"], "token": row["token"], "column": column,
                                "value": value, "byKey": column == "list_id"})
        start = time.perf_counter()
        response = client.post("/admin/todo/grid/save", json={"changes": changes})
        elapsed = (time.perf_counter() - start) * 1000
        assert response.status_code == 200, response.get_json()
        if round_:
            times.append(elapsed)
    return statistics.median(times)


def run(rows: int, repeat: int) -> int:
    url = create_database()
    instance = tempfile.mkdtemp(prefix="bench-grid-")
    try:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench",
                          "WTF_CSRF_ENABLED": False, "INSTANCE_PATH": instance})
        with app.app_context():
            from console import histories_of_app, schema

            assert schema.initialise(db.engine, histories_of_app(app)).ok
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            seed_base(conn)
            seed_todos(conn, 1, 1000)
        vacuum(url)
        client = login(app)
        with app.app_context():
            small = measure(client, requests(client), repeat)
            small_paste = paste(client, repeat)
        print(f"Seeding up to {rows:,} to-dos ...", flush=True)
        step = 250_000
        for first in range(1001, rows + 1, step):
            with engine.begin() as conn:
                seed_todos(conn, first, min(rows, first + step - 1))
        engine.dispose()
        vacuum(url)
        with app.app_context():
            big = measure(client, requests(client), repeat)
            big_paste = paste(client, repeat)
        print(f"\n| request | 1,000 rows | {rows:,} rows | ratio |\n|---|---|---|---|")
        for name in small:
            print(f"| {name} | {small[name]:.1f} ms | {big[name]:.1f} ms | "
                  f"{big[name] / small[name]:.2f} |")
        print(f"| paste 100 x 5 (one batch) | {small_paste:.1f} ms | {big_paste:.1f} ms | "
              f"{big_paste / small_paste:.2f} |")
    finally:
        drop_database(url)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    return run(args.rows, args.repeat)


if __name__ == "__main__":
    sys.exit(main())
