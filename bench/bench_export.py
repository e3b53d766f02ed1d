"""Export throughput on PostgreSQL against psql's \\copy (select ...) to a file, in one run.

    /work/venv/bin/python bench/bench_export.py [--rows 1000000]

Creates a database of its own (dropped at the end), loads the deterministic to-do
CSV from bench/data/ with our import, then times, each in its own process:
psql \\copy of the export query (the baseline), psql running the JSON Lines export's
COPY (the baseline for JSON Lines), our COPY export to a file (what
`console export` uses), the web export as the list view's Export menu runs it (a
logged-in viewer's GET through the Flask app, its streamed body read chunk by chunk
as a WSGI server does: COPY in a worker thread on PostgreSQL) for CSV and JSON Lines,
and, for reference, the Python writers that SQLite's export uses.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Any

from benchlib import DATA, drop_database, line, make_app, psql_args, seed_parents, step, timed
from benchlib import todo_file as make_todo_file

STEPS = (
    "psql", "psql_jsonl", "copy", "web_csv", "web_jsonl", "python_csv", "python_jsonl",
    "psql_again",
)


def run_step(name: str, url: str, rows: int) -> None:
    """One measured step in this (child) process; prints its measurement as JSON."""
    app = make_app(url)
    target = DATA / f"export_{name}.out"
    with app.app_context():
        from console import catalogue_of_app
        from console.bulk.exporter import (
            JSONL_OPTIONS,
            copy_sql,
            export_chunks,
            export_select,
            iter_csv,
            iter_jsonl,
            json_select,
        )
        from console.extensions import db

        spec = catalogue_of_app(app).by_name("todo")  # the description the engines take
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
        elif name == "psql_jsonl":
            # JSON Lines has no psql format of its own: the baseline is psql running the
            # very COPY of row_to_json the web export runs, into a file.
            sql = copy_sql(db.session.connection(), json_select(spec), JSONL_OPTIONS)
            db.session.rollback()

            def work() -> int:
                with open(target, "wb") as fh:
                    subprocess.run([*psql_args(url), "-c", sql], check=True, stdout=fh)
                return rows  # counted in the file below, outside the time
        elif name == "copy":
            def work() -> int:
                # What `console export -o FILE` does (without its progress bar).
                lines = 0
                with open(target, "wb") as fh:
                    for chunk in export_chunks(db.session, spec, "csv"):
                        fh.write(chunk)
                        lines += chunk.count(b"\n")
                return lines - 1
        elif name in ("web_csv", "web_jsonl"):
            client = _viewer_client(app, name)
            fmt = name.removeprefix("web_")

            def work() -> int:
                response = client.get(f"/admin/todo/export/{fmt}/", buffered=False)
                assert response.status_code == 200, response.status
                lines = 0
                try:
                    with open(target, "wb") as fh:
                        for chunk in response.response:
                            fh.write(chunk)
                            lines += chunk.count(b"\n")
                finally:
                    response.close()
                return lines - (fmt == "csv")
        elif name in ("python_csv", "python_jsonl"):
            chunks = iter_csv if name == "python_csv" else iter_jsonl

            def work() -> int:
                lines = 0
                with open(target, "wb") as fh:
                    for chunk in chunks(db.session, spec, export_select(spec)):
                        fh.write(chunk)
                        lines += chunk.count(b"\n")
                return lines - (name == "python_csv")
        else:
            raise SystemExit(f"unknown step {name}")
        measured = timed(work)
    if name == "psql_jsonl":
        with open(target, "rb") as fh:  # one JSON object a line
            blocks = iter(lambda: fh.read(1 << 20), b"")
            measured["rows"] = sum(block.count(b"\n") for block in blocks)
    target.unlink(missing_ok=True)
    if measured["rows"] != rows:
        raise SystemExit(f"step {name} wrote {measured['rows']:,} rows, not {rows:,}")
    print(json.dumps(measured))


def _viewer_client(app: Any, name: str) -> Any:
    """A test client logged in as a new viewer through the login form (not timed)."""
    from console.extensions import db
    from console.models import Account
    from console.rules import Role

    email = f"bench-{name.replace('_', '-')}@example.com"
    account = Account(email=email, role=Role.viewer, active=True)
    account.set_password("bench-password-1")
    db.session.add(account)
    db.session.commit()
    app.config["WTF_CSRF_ENABLED"] = False  # the login form's token is not what is measured
    client = app.test_client()
    login = client.post("/login", data={"email": email, "password": "bench-password-1"})
    assert login.status_code == 302, login.status
    return client


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
            from console import catalogue_of_app
            from console.bulk.importer import import_file
            from console.extensions import db

            with open(path, "rb") as source:
                todo = catalogue_of_app(app).by_name("todo")
                loaded = import_file(db.session, todo, source, dry_run=False)
            assert loaded.ok, loaded.errors[:3]
            db.session.remove()
            db.engine.dispose()
        subprocess.run([*psql_args(url), "-c", "VACUUM ANALYZE"], check=True)
        results = {}
        # The baseline runs twice, first and last, so that a warm cache favours no one.
        for name in STEPS:
            started = time.perf_counter()
            results[name] = step(__file__, name.replace("_again", ""), "--url", url,
                                 "--n", str(args.rows))
            print(f"  {name}: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    finally:
        drop_database(url)

    best = min((results["psql"], results["psql_again"]), key=lambda m: m["seconds"])
    print(f"\nExport of {args.rows:,} to-dos (PostgreSQL; each step in its own process)")
    print(line("psql \\copy (select ...) to file (best of 2)", best))
    print(line("console export (COPY, chunks to a file)", results["copy"], best))
    print(line("web export CSV (the view; COPY, thread)", results["web_csv"], best))
    print(line("web export JSON Lines (the view; COPY)", results["web_jsonl"], best))
    print(line("  psql running the same JSON Lines COPY", results["psql_jsonl"], best))
    print(line("Python CSV writer (SQLite's path)", results["python_csv"], best))
    print(line("Python JSON Lines writer (SQLite's path)", results["python_jsonl"], best))
    psql_rate = best["rows"] / best["seconds"]
    print()
    for name, label in (("copy", "console export"), ("web_csv", "web CSV export")):
        rate = results[name]["rows"] / results[name]["seconds"]
        print(f"{label} vs psql: {rate / psql_rate:.2f}x (target >= 0.8x)")
    jsonl = results["web_jsonl"]["rows"] / results["web_jsonl"]["seconds"]
    psql_jsonl = results["psql_jsonl"]["rows"] / results["psql_jsonl"]["seconds"]
    print(f"web JSON Lines export vs psql running the same COPY: {jsonl / psql_jsonl:.2f}x "
          f"(target >= 0.8x; vs psql's CSV: {jsonl / psql_rate:.2f}x)")
    peak = max(m["rss_mb"] for n, m in results.items() if not n.startswith("psql"))
    print(f"peak RSS of our exports: {peak:.0f} MB (target < 300 MB)")


if __name__ == "__main__":
    main()
