"""Import throughput on PostgreSQL against psql's \\copy of the same file, in one run.

    /work/venv/bin/python bench/bench_import.py [--rows 1000000] [--orm-rows 100000]
        [--repeat 3]

Creates a database of its own (dropped at the end), generates a deterministic to-do
CSV into bench/data/ (git-ignored), then times, each in its own process:
psql \\copy into an identical table (the baseline), our commit, the same two on the
first --orm-rows rows, and SQLAlchemy ORM add_all of those rows, --repeat times each,
interleaved (medians are reported); then once each: psql \\copy of the same rows with
parents as ids into the real to-do table (a reference: the foreign keys are checked
there, as they are for us), our dry run, our commit with PostgreSQL's per-row
foreign-key triggers, and add_all with the console's audit entry per row. Prints
rows/s, ratios and peak RSS (peak RSS of a psql step is that of the Python process
waiting for psql).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import subprocess
import sys
import time
from typing import Any

import sqlalchemy as sa
from benchlib import (
    drop_database,
    line,
    make_app,
    psql_args,
    seed_parents,
    step,
    timed,
    todo_file,
)

# The baseline table: the to-do table as it would be if the file's columns were
# stored as they are (parents by name/email), with the same types and checks; its
# indexes are copied from the real table by ``baseline_indexes`` (so the baseline
# pays the same index upkeep as the import, whatever migrations add).
BASELINE_TABLE = """
CREATE TABLE todo_baseline (
    id serial PRIMARY KEY,
    description varchar(500) NOT NULL,
    completed boolean NOT NULL DEFAULT false,
    due_date date,
    priority varchar(10) NOT NULL DEFAULT 'normal'
        CHECK (priority IN ('low', 'normal', 'high')),
    list varchar(120) NOT NULL,
    assignee varchar(254),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1
);
"""


def baseline_indexes(db: Any) -> str:
    """CREATE INDEX statements giving todo_baseline every secondary index of todo."""
    rows = db.session.execute(
        sa.text(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'todo' AND indexname NOT LIKE 'pk_%'"
        )
    ).scalars()
    statements = []
    for definition in rows:
        # "CREATE INDEX ix_x ON public.todo USING btree (list_id, id)" -> the baseline's columns.
        _, _, rest = definition.partition(" ON ")
        rest = rest.replace("public.todo ", "public.todo_baseline ", 1)
        rest = rest.replace("list_id", "list").replace("assignee_id", "assignee")
        statements.append(f"CREATE INDEX ON {rest};")
    return "\n".join(statements)


def run_step(name: str, url: str, path: str, rows: int) -> None:
    """One measured step, in this (child) process; prints its measurement as JSON."""
    app = make_app(url)
    trusted: list[bool] = []
    with app.app_context():
        from console.extensions import db

        if name == "psql":
            subprocess.run(
                [*psql_args(url), "-c", BASELINE_TABLE + baseline_indexes(db)], check=True
            )

            def work() -> int:
                subprocess.run(
                    [
                        *psql_args(url),
                        "-c",
                        f"\\copy todo_baseline (description, completed, due_date, priority, list, "
                        f"assignee) FROM '{path}' WITH (FORMAT csv, HEADER true)",
                    ],
                    check=True,
                )
                return rows
        elif name == "psql_fk":
            resolved = _resolved_file(path)

            def work() -> int:
                subprocess.run(
                    [
                        *psql_args(url),
                        "-c",
                        f"\\copy todo (description, completed, due_date, priority, list_id, "
                        f"assignee_id) FROM '{resolved}' WITH (FORMAT csv, HEADER true)",
                    ],
                    check=True,
                )
                return rows
        elif name in ("dry", "commit", "commit_row_triggers"):
            from console import catalogue_of_app
            from console.bulk import pg_import
            from console.bulk.importer import import_file

            # The same commit with PostgreSQL's per-row foreign-key triggers (what an
            # account that is not a superuser gets).
            pg_import.TRUST_CHECKED_REFERENCES = name != "commit_row_triggers"

            def work() -> int:
                with open(path, "rb") as source:
                    result = import_file(
                        db.session, catalogue_of_app(app).by_name("todo"), source,
                        dry_run=name == "dry",
                    )
                assert result.ok, result.errors[:5]
                assert result.inserted == rows
                trusted.append(result.set_based_references)
                return result.rows
        elif name in ("orm", "orm_history"):
            from sqlalchemy import select

            from console.demo.models import Person, Todo, TodoList
            from console.history import suppressed
            from console.rules import parse_bool, parse_date

            def work() -> int:
                if name == "orm_history":
                    return add_all()
                # Plain ORM: no audit entry per row (our import writes one for the file).
                with suppressed(db.session):
                    return add_all()

            def add_all() -> int:
                lists = dict(db.session.execute(select(TodoList.name, TodoList.id)).all())
                people = dict(db.session.execute(select(Person.email, Person.id)).all())
                with open(path, newline="", encoding="utf-8") as fh:
                    reader = csv.DictReader(fh)
                    todos = [
                        Todo(
                            description=r["description"],
                            completed=parse_bool(r["completed"]),
                            due_date=parse_date(r["due_date"]),
                            priority=r["priority"],
                            list_id=lists[r["list"]],
                            assignee_id=people.get(r["assignee"]) if r["assignee"] else None,
                        )
                        for r in itertools.islice(reader, rows)
                    ]
                db.session.add_all(todos)
                db.session.commit()
                return len(todos)
        else:
            raise SystemExit(f"unknown step {name}")
        measured = timed(work)
    measured["trusted"] = bool(trusted and trusted[0])
    print(json.dumps(measured))


def _resolved_file(path: str) -> str:
    """The same rows with parents as ids (seed_parents numbers them 1..N in order)."""
    target = path.replace(".csv", "_ids.csv")
    if not os.path.exists(target):
        with (
            open(path, newline="", encoding="utf-8") as src,
            open(target, "w", newline="", encoding="utf-8") as out,
        ):
            reader, writer = csv.reader(src), csv.writer(out)
            writer.writerow(
                ["description", "completed", "due_date", "priority", "list_id", "assignee_id"]
            )
            next(reader)
            for d, c, due, p, lst, who in reader:
                person = who.removeprefix("person").removesuffix("@example.com")
                writer.writerow([d, c, due, p, lst.removeprefix("List "), person])
    return target


def reset(url: str) -> None:
    """Empty the to-do tables between steps (the parents stay)."""
    for sql in (
        "TRUNCATE todo RESTART IDENTITY",
        "DROP TABLE IF EXISTS todo_baseline",
        "CHECKPOINT",
        "VACUUM ANALYZE",
    ):
        subprocess.run([*psql_args(url), "-c", sql], check=True, capture_output=True)


def main() -> None:
    """Run every step and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--orm-rows", type=int, default=100_000)
    parser.add_argument(
        "--repeat", type=int, default=3,
        help="runs of each compared step, interleaved (psql, commit, psql, commit, ...)",
    )
    parser.add_argument("--step")
    parser.add_argument("--url")
    parser.add_argument("--path")
    parser.add_argument("--n", type=int)
    args = parser.parse_args()
    if args.step:
        run_step(args.step, args.url, args.path, args.n)
        return

    from benchlib import create_database

    path = str(todo_file(args.rows))
    slice_path = str(todo_file(args.orm_rows))
    # (label, step, file, rows): the "_slice" labels load the first --orm-rows rows
    # (todo_file draws them in the same order), the rows the ORM steps insert.
    compared = [
        ("psql", "psql", path, args.rows),
        ("commit", "commit", path, args.rows),
        ("psql_slice", "psql", slice_path, args.orm_rows),
        ("commit_slice", "commit", slice_path, args.orm_rows),
        ("orm", "orm", path, args.orm_rows),
    ]
    once = [
        ("psql_fk", "psql_fk", path, args.rows),
        ("dry", "dry", path, args.rows),
        ("commit_row_triggers", "commit_row_triggers", path, args.rows),
        ("orm_history", "orm_history", path, args.orm_rows),
    ]
    url = create_database()
    runs: dict[str, list[dict[str, Any]]] = {}
    try:
        seed_parents(url)
        # Interleaved, so that a slow spell of the machine (checkpoints of the
        # multi-GB WAL these inserts write, other work) falls on both sides.
        for label, name, source, n in compared * args.repeat + once:
            reset(url)
            started = time.perf_counter()
            runs.setdefault(label, []).append(
                step(__file__, name, "--url", url, "--path", source, "--n", str(n))
            )
            print(f"  {label}: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    finally:
        drop_database(url)
    report(args, runs)


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median time (its rows and peak RSS with it)."""
    ordered = sorted(runs, key=lambda m: m["seconds"])
    return ordered[(len(ordered) - 1) // 2]


def rate(m: dict[str, Any]) -> float:
    """Rows per second of one measurement."""
    return m["rows"] / m["seconds"]  # type: ignore[no-any-return]


def report(args: argparse.Namespace, runs: dict[str, list[dict[str, Any]]]) -> None:
    """Print medians, the spread of the repeated steps and the ratios against the targets."""
    results = {label: median_run(ms) for label, ms in runs.items()}
    base = results["psql"]
    repeats = len(runs["psql"])
    print(f"\nImport of {args.rows:,} to-dos (PostgreSQL; each step in its own process; "
          f"psql, commit, the slices and ORM: median of {repeats} interleaved runs)")
    print(line("psql \\copy into an identical table", base))
    print(line("  reference: psql \\copy of ids into todo", results["psql_fk"], base))
    print(line("console import --dry-run", results["dry"], base))
    print(line("console import (commit)", results["commit"], base))
    print(line("  the same, per-row foreign-key triggers", results["commit_row_triggers"], base))
    n = f"{args.orm_rows:,}-row slice"
    print(line(f"psql \\copy of the {n}", results["psql_slice"], base))
    print(line(f"console import (commit) of the {n}", results["commit_slice"], base))
    print(line(f"ORM add_all ({n})", results["orm"], base))
    print(line("  the same, with an audit entry per row", results["orm_history"], base))
    print("\nspread of the repeated steps (rows/s, slowest - fastest):")
    for label in ("psql", "commit", "psql_slice", "commit_slice", "orm"):
        rates = sorted(rate(m) for m in runs[label])
        print(f"  {label:<14} {rates[0]:>10,.0f} - {rates[-1]:>10,.0f}")
    paired = sorted(rate(c) / rate(p) for p, c in zip(runs["psql"], runs["commit"], strict=True))
    print(f"\ncommit vs psql \\copy: {rate(results['commit']) / rate(base):.2f}x of the medians; "
          f"run by run {', '.join(f'{r:.2f}x' for r in paired)} (target >= 0.8x)")
    print(f"commit vs psql \\copy into the real table (foreign keys checked): "
          f"{rate(results['commit']) / rate(results['psql_fk']):.2f}x")
    orm = rate(results["orm"])
    print(f"commit of the same {args.orm_rows:,} rows vs ORM add_all of them: "
          f"{rate(results['commit_slice']) / orm:.1f}x (target >= 5x; like for like)")
    print(f"commit of {args.rows:,} rows vs ORM add_all of {args.orm_rows:,}: "
          f"{rate(results['commit']) / orm:.1f}x")
    # For scale: the rate of psql's own COPY, the physical limit here, against the ORM's.
    print(f"  for scale, psql \\copy of {args.rows:,} rows vs the same ORM add_all: "
          f"{rate(base) / orm:.1f}x (psql \\copy of the slice: "
          f"{rate(results['psql_slice']) / orm:.1f}x)")
    history = rate(results["orm_history"])
    print(f"commit vs ORM add_all with per-row audit entries: "
          f"{rate(results['commit']) / history:.1f}x")
    print(f"commit skipped the per-row foreign-key triggers: {results['commit']['trusted']}")
    peak = max(m["rss_mb"] for label in ("dry", "commit") for m in runs[label])
    print(f"peak RSS of our import: {peak:.0f} MB (target < 300 MB)")


if __name__ == "__main__":
    main()
