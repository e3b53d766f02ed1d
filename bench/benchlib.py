"""Shared pieces of the bulk benchmarks: a throwaway database, the data file, subprocess steps."""

from __future__ import annotations

import csv
import json
import os
import random
import resource
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
ADMIN_URL = os.environ.get("CONSOLE_BENCH_PG", "postgresql+psycopg2://127.0.0.1:5432/test")
PEOPLE = 1_000
LISTS = 200
sys.path.insert(0, str(ROOT))


def create_database() -> str:
    """A new, migrated database of our own; returns its URL."""
    name = f"console_bench_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()
    url = sa.engine.make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    app = make_app(url)
    with app.app_context():
        from console import histories_of_app, schema
        from console.extensions import db

        assert schema.initialise(db.engine, histories_of_app(app)).ok
        db.engine.dispose()
    return url


def drop_database(url: str) -> None:
    """Drop a database made by ``create_database``."""
    name = sa.engine.make_url(url).database
    engine = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    engine.dispose()


def make_app(url: str) -> Any:
    """The console app on ``url`` (quiet logging)."""
    import logging

    logging.getLogger("alembic").setLevel(logging.WARNING)
    from console import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench",
                       "INSTANCE_PATH": str(DATA / "instance")})


def psql_args(url: str) -> list[str]:
    """psql's connection arguments for ``url``."""
    u = sa.engine.make_url(url)
    return ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", u.host or "127.0.0.1",
            "-p", str(u.port or 5432), "-d", u.database or ""]


def seed_parents(url: str) -> None:
    """People and lists the generated to-dos refer to."""
    engine = sa.create_engine(url)

    def numbers(n: int) -> str:
        if engine.dialect.name == "sqlite":
            return (f"(WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s "
                    f"WHERE i < {n}) SELECT i FROM s) AS numbers")
        return f"generate_series(1, {n}) i"

    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO person (name, email) SELECT 'Person ' || i, 'person' || i || "
            f"'@example.com' FROM {numbers(PEOPLE)}"
        )
        conn.exec_driver_sql(
            f"INSERT INTO todo_list (name, owner_id) SELECT 'List ' || i, i FROM {numbers(LISTS)}"
        )
    engine.dispose()


def todo_file(rows: int) -> Path:
    """A deterministic to-do CSV of ``rows`` rows (generated once into bench/data/)."""
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"todos_{rows}.csv"
    if path.exists():
        return path
    rng = random.Random(42)
    words = ("buy", "call", "fix", "write", "plan", "review", "paint", "send", "book", "pay")
    nouns = ("milk", "report", "garden", "invoice", "car", "roof", "budget", "slides", "bike")
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["description", "completed", "due_date", "priority", "list", "assignee"])
        for i in range(rows):
            writer.writerow([
                f"{rng.choice(words).capitalize()} the {rng.choice(nouns)} #{i}",
                "yes" if rng.random() < 0.3 else "no",
                f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}" if rng.random() < 0.6
                else "",
                rng.choice(("low", "normal", "normal", "high")),
                f"List {rng.randint(1, LISTS)}",
                f"person{rng.randint(1, PEOPLE)}@example.com" if rng.random() < 0.7 else "",
            ])
    tmp.rename(path)
    return path


def peak_rss_mb() -> float:
    """This process's peak resident set size, in MB (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def step(script: str, name: str, *args: str) -> dict[str, Any]:
    """Run one measured step in its own process (so its peak RSS is its own)."""
    out = subprocess.run(
        [sys.executable, script, "--step", name, *args], capture_output=True, text=True,
        timeout=3600, check=False,
    )
    if out.returncode:
        raise SystemExit(f"step {name} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def timed(fn: Callable[[], int]) -> dict[str, Any]:
    """Run ``fn`` (which returns a row count) and report rows, seconds and peak RSS."""
    start = time.perf_counter()
    rows = fn()
    seconds = time.perf_counter() - start
    return {"rows": rows, "seconds": seconds, "rss_mb": peak_rss_mb()}


def line(label: str, m: dict[str, Any], baseline: dict[str, Any] | None = None) -> str:
    """One row of the results table."""
    rate = m["rows"] / m["seconds"]
    ratio = ""
    if baseline:
        ratio = f"{rate / (baseline['rows'] / baseline['seconds']):6.2f}x"
    return (f"{label:<42} {m['rows']:>9,} rows {m['seconds']:8.2f} s {rate:>11,.0f} rows/s "
            f"{ratio:>8} peak RSS {m['rss_mb']:6.0f} MB")
