"""XLSX against CSV, export and import of to-dos on PostgreSQL, each step in its own process.

    .venv/bin/python bench/bench_xlsx.py [--rows 1000000]

Creates a database of its own (dropped at the end), loads the deterministic to-do
CSV from bench/data/ with our import, then times, each in a child process whose peak
RSS (ru_maxrss) is its own: the CSV export (COPY) and the XLSX export (its sheet rows
written by the database, deflated by Python) to a file, then the dry-run import of each
file in upsert mode (every
row checked and matched: all unchanged), as `console export` / `console import` run
them. Prints time, peak RSS and the XLSX/CSV ratios.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from benchlib import DATA, drop_database, make_app, seed_parents, step, timed
from benchlib import todo_file as make_todo_file

STEPS = ("export_csv", "export_xlsx", "import_csv", "import_xlsx")


def run_step(name: str, url: str) -> None:
    """One measured step in this (child) process; prints its measurement as JSON."""
    app = make_app(url)
    fmt = name.split("_")[1]
    path = DATA / f"bench_xlsx_todos.{fmt}"
    with app.app_context():
        from console import catalogue_of_app
        from console.bulk.exporter import export_chunks
        from console.bulk.importer import import_file
        from console.extensions import db

        todo = catalogue_of_app(app).by_name("todo")
        if name.startswith("export"):

            def work() -> int:
                with open(path, "wb") as target:
                    for chunk in export_chunks(db.session(), todo, fmt, bom=True):
                        target.write(chunk)
                db.session.rollback()
                return int(db.session.scalar(db.text("SELECT count(*) FROM todo")) or 0)
        else:

            def work() -> int:
                with open(path, "rb") as source:
                    result = import_file(db.session, todo, source, upsert=True, dry_run=True)
                assert result.ok and result.unchanged == result.rows, result.errors[:3]
                return result.rows

        measured = timed(work)
        measured["bytes"] = path.stat().st_size
    print(json.dumps(measured))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--step", choices=STEPS)
    parser.add_argument("--url")
    args = parser.parse_args()
    if args.step:
        run_step(args.step, args.url)
        return

    from benchlib import create_database

    url = create_database()
    try:
        seed_parents(url)
        app = make_app(url)
        with app.app_context():
            from console import catalogue_of_app
            from console.bulk.importer import import_file
            from console.extensions import db

            todo = catalogue_of_app(app).by_name("todo")
            with open(make_todo_file(args.rows), "rb") as source:
                loaded = import_file(db.session, todo, source, dry_run=False)
            assert loaded.ok and loaded.inserted == args.rows, loaded.errors[:3]
            db.engine.dispose()
        results: dict[str, Any] = {}
        for name in STEPS:
            results[name] = step(__file__, name, "--url", url)
            m = results[name]
            print(f"{name:<12} {m['rows']:>9,} rows {m['seconds']:8.2f} s "
                  f"peak RSS {m['rss_mb']:6.0f} MB  file {m['bytes'] / 1e6:7.1f} MB", flush=True)
        for kind in ("export", "import"):
            x, c = results[f"{kind}_xlsx"], results[f"{kind}_csv"]
            print(f"{kind}: XLSX/CSV time {x['seconds'] / c['seconds']:.2f}x, "
                  f"peak RSS {x['rss_mb']:.0f} MB vs {c['rss_mb']:.0f} MB")
    finally:
        drop_database(url)
        for fmt in ("csv", "xlsx"):
            (DATA / f"bench_xlsx_todos.{fmt}").unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
