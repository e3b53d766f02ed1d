#!/usr/bin/env python3
"""The grid's JSON at 1,000 and at ``--rows`` to-dos on PostgreSQL, and a 100 x 5 paste.

    .venv/bin/python bench/bench_grid.py [--rows 100000] [--repeat 7]

Uses bench_lists.py's seed and login, on two databases of its own: one with 1,000
to-dos (the baseline), one with ``--rows``. Each request is measured in-process
(Flask's test client, logged in) on both, interleaved (small, big, small, ...) so that
the machine's load falls on both alike; medians of ``--repeat`` runs after a warm-up,
and the ratio big / small. The paste is one batch of 100 rows x 5 cells (description,
completed, due date, priority, list by name) through ``/grid/save``, against fresh
tokens each time.
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
    filter_arg,
    login,
    our_view,
    seed_base,
    seed_todos,
    vacuum,
)

from console import create_app  # noqa: E402
from console.extensions import db  # noqa: E402


def requests(client: Any) -> dict[str, str]:
    """The grid's data requests: first screen, deep keyset pages, the end, a filter, a search."""
    from flask import current_app

    first = client.get("/admin/todo/grid/rows?limit=100").get_json()
    completed = filter_arg(our_view(current_app, "todo"), "completed")
    # A page far down the scroll: the cursor after the 100th-from-last row by id.
    engine = db.engine
    with engine.connect() as conn:
        deep = conn.execute(sa.text("SELECT id FROM todo ORDER BY id DESC OFFSET 100 LIMIT 1"))
        deep_id = deep.scalar()
    from console.paging import Cursor

    assert first["rows"]
    last = client.get("/admin/todo/grid/rows?limit=100&last=1").get_json()
    assert last["rows"] and last["prev"]
    return {
        "first screen": "/admin/todo/grid/rows?limit=100",
        "next screen (keyset)": f"/admin/todo/grid/rows?limit=100&after={first['next']}",
        "near the end (keyset)": "/admin/todo/grid/rows?limit=100&after="
        + Cursor(deep_id, deep_id).encode(),
        # Ctrl+End: the last page (with the count), then one screen up from it.
        "jump to the end (last=1)": "/admin/todo/grid/rows?limit=100&last=1",
        "up from the end (before)": f"/admin/todo/grid/rows?limit=100&before={last['prev']}",
        "filtered (completed)": f"/admin/todo/grid/rows?limit=100&{completed}",
        "search": "/admin/todo/grid/rows?limit=100&search=invoice",
    }


def timed_get(client: Any, url: str) -> float:
    start = time.perf_counter()
    response = client.get(url)
    elapsed = (time.perf_counter() - start) * 1000
    assert response.status_code == 200, (url, response.status_code)
    return elapsed


def paste_once(client: Any, round_: int) -> float:
    """Save 100 rows x 5 cells as one batch; its time in ms."""
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
    return elapsed


def setup(rows: int) -> tuple[str, Any, Any]:
    """A database with ``rows`` to-dos, its app and a logged-in client."""
    url = create_database()
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench",
                      "WTF_CSRF_ENABLED": False,
                      "INSTANCE_PATH": tempfile.mkdtemp(prefix="bench-grid-")})
    with app.app_context():
        from console import histories_of_app, schema

        assert schema.initialise(db.engine, histories_of_app(app)).ok
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        seed_base(conn)
    step = 250_000
    for first in range(1, rows + 1, step):
        with engine.begin() as conn:
            seed_todos(conn, first, min(rows, first + step - 1))
    engine.dispose()
    vacuum(url)
    return url, app, login(app)


def run(rows: int, repeat: int) -> int:
    urls: list[str] = []
    try:
        print(f"Seeding 1,000 and {rows:,} to-dos ...", flush=True)
        small_url, small_app, small_client = setup(1000)
        urls.append(small_url)
        big_url, big_app, big_client = setup(rows)
        urls.append(big_url)
        sides = {"small": (small_app, small_client), "big": (big_app, big_client)}
        cases: dict[str, dict[str, str]] = {}
        for side, (app, client) in sides.items():
            with app.app_context():
                cases[side] = requests(client)
        samples: dict[tuple[str, str], list[float]] = {}
        for round_ in range(repeat + 1):
            for name in cases["small"]:
                for side, (app, client) in sides.items():
                    with app.app_context():
                        elapsed = timed_get(client, cases[side][name])
                    if round_:
                        samples.setdefault((name, side), []).append(elapsed)
            for side, (app, client) in sides.items():
                with app.app_context():
                    elapsed = paste_once(client, round_)
                if round_:
                    samples.setdefault(("paste 100 x 5 (one batch)", side), []).append(elapsed)
        print(f"\n| request | 1,000 rows | {rows:,} rows | ratio |\n|---|---|---|---|")
        for name in [*cases["small"], "paste 100 x 5 (one batch)"]:
            small = statistics.median(samples[(name, "small")])
            big = statistics.median(samples[(name, "big")])
            print(f"| {name} | {small:.1f} ms | {big:.1f} ms | {big / small:.2f} |")
    finally:
        for url in urls:
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
