"""Import throughput on PostgreSQL against psql's \\copy of the same file, in one run.

    /work/venv/bin/python bench/bench_import.py [--rows 1000000] [--orm-rows 100000]

Creates a database of its own (dropped at the end), generates a deterministic to-do
CSV into bench/data/ (git-ignored), then times, each in its own process:
psql \\copy into an identical table (the baseline), psql \\copy of the same rows with
parents as ids into the real to-do table (a reference: the foreign keys are checked
there, as they are for us), our dry run, our commit, and SQLAlchemy ORM add_all on a
slice (plain, and with the console's audit entry per row). Prints rows/s, ratios and
peak RSS (peak RSS of a psql step is that of the Python process waiting for psql).
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
            from console.bulk import pg_import
            from console.bulk.importer import import_csv

            # The same commit with PostgreSQL's per-row foreign-key triggers (what an
            # account that is not a superuser gets).
            pg_import.TRUST_CHECKED_REFERENCES = name != "commit_row_triggers"

            def work() -> int:
                with open(path, "rb") as source:
                    result = import_csv(db.session, "todo", source, dry_run=name == "dry")
                assert result.ok, result.errors[:5]
                assert result.inserted == rows
                trusted.append(result.set_based_references)
                return result.rows
        elif name in ("orm", "orm_history"):
            from sqlalchemy import select

            from console.history import suppressed
            from console.models import Person, Todo, TodoList
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
    url = create_database()
    try:
        seed_parents(url)
        results = {}
        for name, n in (
            ("psql", args.rows),
            ("psql_fk", args.rows),
            ("dry", args.rows),
            ("commit", args.rows),
            ("commit_row_triggers", args.rows),
            ("commit_slice", args.orm_rows),
            ("orm", args.orm_rows),
            ("orm_history", args.orm_rows),
        ):
            reset(url)
            started = time.perf_counter()
            # commit_slice: our commit of exactly the rows the ORM steps insert (the first
            # --orm-rows rows of the file: todo_file draws them in the same order).
            source = slice_path if name == "commit_slice" else path
            results[name] = step(
                __file__, name.replace("_slice", ""), "--url", url, "--path", source, "--n", str(n)
            )
            print(f"  {name}: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    finally:
        drop_database(url)

    base = results["psql"]
    print(f"\nImport of {args.rows:,} to-dos (PostgreSQL; each step in its own process)")
    print(line("psql \\copy into an identical table", base))
    print(line("  reference: psql \\copy of ids into todo", results["psql_fk"], base))
    print(line("console import --dry-run", results["dry"], base))
    print(line("console import (commit)", results["commit"], base))
    print(line("  the same, per-row foreign-key triggers", results["commit_row_triggers"], base))
    print(line(f"console import (commit) of the {args.orm_rows:,}-row slice",
               results["commit_slice"], base))
    print(line(f"ORM add_all ({args.orm_rows:,}-row slice)", results["orm"], base))
    print(line("  the same, with an audit entry per row", results["orm_history"], base))
    commit_rate = results["commit"]["rows"] / results["commit"]["seconds"]
    orm_rate = results["orm"]["rows"] / results["orm"]["seconds"]
    base_rate = base["rows"] / base["seconds"]
    print(f"\ncommit vs psql \\copy: {commit_rate / base_rate:.2f}x (target >= 0.8x)")
    fk_rate = results["psql_fk"]["rows"] / results["psql_fk"]["seconds"]
    print(
        f"commit vs psql \\copy into the real table (foreign keys checked): "
        f"{commit_rate / fk_rate:.2f}x"
    )
    print(f"commit vs ORM add_all: {commit_rate / orm_rate:.1f}x (target >= 5x)")
    slice_rate = results["commit_slice"]["rows"] / results["commit_slice"]["seconds"]
    print(
        f"commit of the same {args.orm_rows:,} rows as ORM add_all: "
        f"{slice_rate / orm_rate:.1f}x (like for like: same rows, same table size)"
    )
    history_rate = results["orm_history"]["rows"] / results["orm_history"]["seconds"]
    print(f"commit vs ORM add_all with per-row audit entries: {commit_rate / history_rate:.1f}x")
    print(f"commit skipped the per-row foreign-key triggers: {results['commit']['trusted']}")
    peak = max(results["dry"]["rss_mb"], results["commit"]["rss_mb"])
    print(f"peak RSS of our import: {peak:.0f} MB (target < 300 MB)")


if __name__ == "__main__":
    main()
