#!/usr/bin/env python3
"""What keeping uploads in the database costs (console.bulk.jobs), against local files.

    .venv/bin/python bench/bench_job_files.py [--rows 300000] [--repeats 5] [--sqlite]

Issue 13 moved an import's upload (and its errors and changes) from the instance folder
into the console's ``job_file`` table, so that every instance and worker reads it. This
measures, interleaved ``--repeats`` times on a database of its own (PostgreSQL; SQLite
with ``--sqlite``), for the to-do CSV of bench/benchlib.py:

- store: ``JobStore.create`` (the upload streamed into the database in 1 MiB chunks)
  against copying the same file into a local folder (what the old store did);
- read back: ``JobStore.upload`` (the chunks copied to a local temporary file, which the
  runner reads) against reading the local copy;
- for scale, the dry run of the same file (``import_file``), which every upload pays.

Prints medians and the ratios; peak RSS shows that memory stays flat.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import (
    DATA,
    create_database,
    drop_database,
    make_app,
    peak_rss_mb,
    seed_parents,
    todo_file,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sqlite", action="store_true")
    args = parser.parse_args()
    if not 1_000 <= args.rows <= 2_000_000 or not 1 <= args.repeats <= 9:
        raise SystemExit("--rows 1,000..2,000,000 and --repeats 1..9: the run is bounded")
    source = todo_file(args.rows)
    size = source.stat().st_size
    if args.sqlite:
        folder = Path(tempfile.mkdtemp(prefix="bench-jobs-"))
        url = f"sqlite:///{folder / 'bench.sqlite3'}"
        app = make_app(url)
        with app.app_context():
            from console import histories_of_app, schema
            from console.extensions import db

            assert schema.initialise(db.engine, histories_of_app(app)).ok
    else:
        url = create_database()
        app = make_app(url)
    try:
        seed_parents(url)
        run(app, source, size, args.repeats)
    finally:
        if args.sqlite:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            drop_database(url)


def run(app: object, source: Path, size: int, repeats: int) -> None:
    from sqlalchemy.orm import Session

    from console import catalogue_of_app
    from console.admin.transfer import job_store
    from console.bulk.importer import import_file
    from console.extensions import db

    times: dict[str, list[float]] = {k: [] for k in
                                     ("store", "copy", "read", "read local", "dry run")}
    local = DATA / "bench-job-files"
    local.mkdir(parents=True, exist_ok=True)
    with app.app_context():  # type: ignore[attr-defined]
        store = job_store(app)
        dialect = db.engine.dialect.name
        description = catalogue_of_app(app).by_name("todo")  # type: ignore[arg-type]
        for repeat in range(repeats):
            started = time.perf_counter()
            with open(source, "rb") as fh:
                job_id = store.create(fh, model="todo", file_name="todos.csv", upsert=False,
                                      account_id=None)
            times["store"].append(time.perf_counter() - started)

            started = time.perf_counter()
            with open(source, "rb") as fh, open(local / f"upload-{repeat}.csv", "wb") as out:
                shutil.copyfileobj(fh, out, 1 << 20)
            times["copy"].append(time.perf_counter() - started)

            started = time.perf_counter()
            with store.upload(job_id) as fh:
                read = sum(len(chunk) for chunk in iter(lambda: fh.read(1 << 20), b""))
            times["read"].append(time.perf_counter() - started)
            assert read == size, (read, size)

            started = time.perf_counter()
            with open(local / f"upload-{repeat}.csv", "rb") as fh:
                sum(len(chunk) for chunk in iter(lambda: fh.read(1 << 20), b""))
            times["read local"].append(time.perf_counter() - started)

            started = time.perf_counter()
            with Session(db.engine) as session, open(source, "rb") as fh:
                result = import_file(session, description, fh, dry_run=True)
            times["dry run"].append(time.perf_counter() - started)
            assert result.error_count == 0, result.errors[:3]
            print(f"repeat {repeat + 1}: " + ", ".join(
                f"{k} {v[-1] * 1000:.0f} ms" for k, v in times.items()), flush=True)
    shutil.rmtree(local, ignore_errors=True)
    median = {k: statistics.median(v) for k, v in times.items()}
    print(f"\n{size / 1e6:.1f} MB file, medians of {repeats} interleaved repeats "
          f"({dialect}):")
    for key in times:
        print(f"  {key:<11} {median[key] * 1000:8.0f} ms")
    print(f"  store / local copy:        {median['store'] / median['copy']:.1f}x")
    print(f"  read back / local read:    {median['read'] / median['read local']:.1f}x")
    print(f"  (store + read) / dry run:  "
          f"{(median['store'] + median['read']) / median['dry run']:.2f}x")
    print(f"  peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
