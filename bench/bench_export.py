"""Export throughput on PostgreSQL against psql's \\copy (select ...) to a file, in one run.

    /work/venv/bin/python bench/bench_export.py [--rows 1000000]

Creates a database of its own (dropped at the end), loads the deterministic to-do
CSV from bench/data/ with our import, then times, each in its own process:
psql \\copy of the export query (the baseline), our COPY export (what
`console export` uses) and our streamed Python export (what the web list view uses).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from benchlib import DATA, drop_database, line, make_app, psql_args, seed_parents, step, timed
from benchlib import todo_file as make_todo_file


def run_step(name: str, url: str, rows: int) -> None:
    """One measured step in this (child) process; prints its measurement as JSON."""
    app = make_app(url)
    target = DATA / f"export_{name}.csv"
    with app.app_context():
        from console.bulk.exporter import copy_csv, export_select, iter_csv, iter_jsonl
        from console.bulk.spec import spec_for
        from console.extensions import db

        spec = spec_for("todo")
        if name == "psql":
            stmt = export_select(spec, as_text=True)
            sql = str(stmt.compile(db.engine, compile_kwargs={"literal_binds": True}))
            sql = " ".join(sql.split())

            def work() -> int:
                subprocess.run(
                    [*psql_args(url), "-c", f"\\copy ({sql}) TO '{target}' WITH (FORMAT csv)"],
                    check=True,
                )
                return rows
        elif name == "copy":
            def work() -> int:
                with open(target, "wb") as fh:
                    return copy_csv(db.session, spec, export_select(spec, as_text=True), fh)
        elif name in ("stream_csv", "stream_jsonl"):
            chunks = iter_csv if name == "stream_csv" else iter_jsonl

            def work() -> int:
                with open(target, "wb") as fh:
                    for chunk in chunks(db.session, spec, export_select(spec)):
                        fh.write(chunk)
                with open(target, "rb") as fh:
                    return sum(1 for _ in fh) - (name == "stream_csv")
        else:
            raise SystemExit(f"unknown step {name}")
        measured = timed(work)
    target.unlink(missing_ok=True)
    print(json.dumps(measured))


def main() -> None:
    """Load the data, run every step and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--step")
    parser.add_argument("--url")
    parser.add_argument("--n", type=int)
    args = parser.parse_args()
    if args.step:
        run_step(args.step, args.url, args.n)
        return

    from benchlib import create_database

    path = make_todo_file(args.rows)
    url = create_database()
    try:
        seed_parents(url)
        app = make_app(url)
        with app.app_context():
            from console.bulk.importer import import_csv
            from console.extensions import db

            with open(path, "rb") as source:
                loaded = import_csv(db.session, "todo", source, dry_run=False)
            assert loaded.ok, loaded.errors[:3]
            db.session.remove()
            db.engine.dispose()
        subprocess.run([*psql_args(url), "-c", "VACUUM ANALYZE"], check=True)
        results = {}
        # The baseline runs twice, first and last, so that a warm cache favours no one.
        for name in ("psql", "copy", "stream_csv", "stream_jsonl", "psql_again"):
            started = time.perf_counter()
            results[name] = step(__file__, name.replace("_again", ""), "--url", url,
                                 "--n", str(args.rows))
            print(f"  {name}: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    finally:
        drop_database(url)

    best = min((results["psql"], results["psql_again"]), key=lambda m: m["seconds"])
    print(f"\nExport of {args.rows:,} to-dos (PostgreSQL; each step in its own process)")
    print(line("psql \\copy (select ...) to file (best of 2)", best))
    print(line("console export (COPY TO STDOUT)", results["copy"], best))
    print(line("streamed CSV (web export, yield_per)", results["stream_csv"], best))
    print(line("streamed JSON Lines (web export)", results["stream_jsonl"], best))
    rate = results["copy"]["rows"] / results["copy"]["seconds"]
    print(f"\nconsole export vs psql: {rate / (best['rows'] / best['seconds']):.2f}x "
          "(target >= 0.8x)")
    peak = max(results[n]["rss_mb"] for n in ("copy", "stream_csv", "stream_jsonl"))
    print(f"peak RSS of our exports: {peak:.0f} MB (target < 300 MB)")


if __name__ == "__main__":
    main()
