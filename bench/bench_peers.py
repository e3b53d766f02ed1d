#!/usr/bin/env python3
"""Our to-do list against stock Flask-Admin, Django admin and SQLAdmin, on the same tables.

    .venv/bin/python bench/bench_peers.py [--sizes 10000,100000,1000000] [--repeat 5]

Makes each peer's virtual environment under bench/.peers/ (pinned versions from
bench/peers/requirements-*.txt; pip is needed only the first time), creates a
PostgreSQL database of its own on CONSOLE_BENCH_PG (default: the test server) with
our migrations, and grows it through the sizes: the demo seed (``console seed``'s
``seed()``), a fifth of each step's rows given a multilingual Faker description,
and a rare word planted in one row in 10,000. At each size every system runs in a
process of its own (bench/peers/*.py, in its own venv), requests pages in-process
through its framework's test client and answers in JSON. Each page is requested
once by each system as a warm-up (which also checks that all show the rows the plain
SQL query gives), then ``--repeat`` times, interleaved: ours, then each peer, page by
page, the order rotated each round. Reports medians in ms and ours / the fastest peer.
The database is dropped at the end. See bench/README.md for the method and results.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import selectors
import statistics
import subprocess
import sys
import time
import venv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

import benchlib  # noqa: E402
import sqlalchemy as sa  # noqa: E402

PEERS_DIR = HERE / ".peers"
SCRIPTS = HERE / "peers"
PAGE = 50
COMMON_WORD = "invoice"  # one of the seed's nouns: about 1 row in 20 of the seed's rows
RARE_TERM = "quetzal"  # planted in the rows whose id ends in 7777 (1 in 10,000)
RARE_EVERY, RARE_AT = 10_000, 7777
CODE_TERM = "#1-7777"  # the seed's suffix "#<run>-<i>" of one row of its first run
FAKER_EVERY = 5  # rows whose id is a multiple of 5 get a Faker description
# "Page 20,000" of a million rows, at the same relative depth for the other sizes.
DEEP_PAGE, DEEP_OF = 19_999, 20_000
ANSWER_TIMEOUT = 300.0
START_TIMEOUT = 300.0


# -- virtual environments of the peers ---------------------------------------------------------


def ensure_venv(name: str) -> Path:
    """bench/.peers/NAME with bench/peers/requirements-NAME.txt installed; its python."""
    requirements = SCRIPTS / f"requirements-{name}.txt"
    target = PEERS_DIR / name
    python = target / "bin" / "python"
    stamp = target / ".installed"
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest and python.exists():
        return python
    print(f"Installing {requirements.name} into {target.relative_to(ROOT)} ...", flush=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(target)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "-r", str(requirements)],
        check=True,
        timeout=1800,
    )
    stamp.write_text(digest)
    return python


# -- data ---------------------------------------------------------------------------------------


def max_id(conn: Any) -> int:
    return int(conn.execute(sa.text("SELECT coalesce(max(id), 0) FROM todo")).scalar() or 0)


def grow(url: str, size: int, faker_python: Path) -> dict[str, Any]:
    """Seed to-dos up to ``size``; Faker descriptions and the rare word in the new rows."""
    from console.demo.seed import seed

    engine = sa.create_engine(url)
    started = time.perf_counter()
    with engine.begin() as conn:
        first = max_id(conn) + 1
        have = int(conn.execute(sa.text("SELECT count(*) FROM todo")).scalar() or 0)
        new = size - have
        if new <= 0:
            raise SystemExit(f"the database already has {have:,} to-dos, more than {size:,}")
        parents = 1000 if have == 0 else 100
        seed(conn, people=parents, lists=parents, todos=new, seed_value=size)
        last = max_id(conn)
        ids = [i for i in range(first, last + 1) if i % FAKER_EVERY == 0]
        texts = subprocess.run(
            [str(faker_python), str(SCRIPTS / "faker_text.py"), str(len(ids)), str(size)],
            check=True,
            capture_output=True,
            text=True,
            timeout=1800,
        ).stdout.splitlines()
        buffer = io.StringIO("".join(f"{i}\t{t}\n" for i, t in zip(ids, texts, strict=True)))
        conn.exec_driver_sql("CREATE TEMP TABLE faker_text (id int PRIMARY KEY, text text)")
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            cursor.copy_expert("COPY faker_text FROM STDIN", buffer)
        finally:
            cursor.close()
        conn.exec_driver_sql(
            "UPDATE todo SET description = f.text FROM faker_text f WHERE todo.id = f.id"
        )
        conn.execute(
            sa.text(
                "UPDATE todo SET description = description || ' ' || :term "
                "WHERE id BETWEEN :first AND :last AND id % :every = :at"
            ),
            {"term": RARE_TERM, "first": first, "last": last, "every": RARE_EVERY, "at": RARE_AT},
        )
    seeded = time.perf_counter() - started
    vacuum = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with vacuum.connect() as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")
    vacuum.dispose()
    with engine.connect() as conn:
        facts = {
            "rows": int(conn.execute(sa.text("SELECT count(*) FROM todo")).scalar() or 0),
            "faker_rows": int(
                conn.execute(sa.text(f"SELECT count(*) FROM todo WHERE id % {FAKER_EVERY} = 0"))
                .scalar() or 0
            ),
            "common_matches": matches(conn, COMMON_WORD),
            "rare_matches": matches(conn, RARE_TERM),
            "seconds": round(time.perf_counter() - started, 1),
            "seed_seconds": round(seeded, 1),
        }
    engine.dispose()
    return facts


def matches(conn: Any, term: str) -> int:
    return int(
        conn.execute(
            sa.text("SELECT count(*) FROM todo WHERE description ILIKE :p"), {"p": f"%{term}%"}
        ).scalar()
        or 0
    )


# -- pages --------------------------------------------------------------------------------------


@dataclass
class Page:
    """One measured page: its abstract spec, the ids the plain query gives, who measures it."""

    name: str
    spec: dict[str, Any]
    expected: list[int]
    ours_only: bool = False
    extra: bool = False


def pages_for(url: str, size: int) -> list[Page]:
    """The issue's pages at this size, with the ids the plain SQL query shows on each."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        total = int(conn.execute(sa.text("SELECT count(*) FROM todo")).scalar() or 0)

        def ids(where: str = "", order: str = "id", offset: int = 0, **params: Any) -> list[int]:
            sql = f"SELECT id FROM todo {where} ORDER BY {order} LIMIT {PAGE} OFFSET {offset}"
            return list(conn.execute(sa.text(sql), params).scalars())

        pages_total = max(1, -(-total // PAGE))
        deep = min(pages_total - 1, DEEP_PAGE * pages_total // DEEP_OF)
        middle = pages_total // 2
        before_deep = ids(offset=(deep - 1) * PAGE) if deep else []
        search = "WHERE description ILIKE :p"
        result = [
            Page("first page", {"kind": "first"}, ids()),
            Page("filter completed = false", {"kind": "filter_open"},
                 ids("WHERE NOT completed")),
            Page(f"search, common word ({COMMON_WORD})", {"kind": "search", "term": COMMON_WORD},
                 ids(search, p=f"%{COMMON_WORD}%")),
            Page(f"search, rare term ({RARE_TERM})", {"kind": "search", "term": RARE_TERM},
                 ids(search, p=f"%{RARE_TERM}%")),
            Page("sort by description", {"kind": "sort", "column": "description"},
                 ids(order="description, id")),
            Page(f"page {deep + 1:,} (typed)", {"kind": "page", "index": deep},
                 ids(offset=deep * PAGE)),
            Page("last page (pager's link)", {"kind": "last", "pages": pages_total},
                 ids(offset=(pages_total - 1) * PAGE)),
            Page(f"page {deep + 1:,} by our Next link",
                 {"kind": "after", "index": deep, "id": before_deep[-1] if before_deep else 0},
                 ids(offset=deep * PAGE), ours_only=True, extra=True),
            # The seed's own numbering: one row at every size, of digits many rows share.
            Page(f"search, a to-do's number ({CODE_TERM})", {"kind": "search", "term": CODE_TERM},
                 ids(search, p=f"%{CODE_TERM}%"), extra=True),
            Page(f"page {middle + 1:,} of {pages_total:,} (typed, the middle)",
                 {"kind": "page", "index": middle}, ids(offset=middle * PAGE), extra=True),
        ]
    engine.dispose()
    return result


# -- the systems --------------------------------------------------------------------------------


@dataclass
class System:
    """A peer script in its own process, answering driver.py's commands."""

    name: str
    python: Path
    script: Path
    url: str
    log: Path
    proc: Any = None
    selector: Any = None
    failed: str | None = None
    lines: list[bytes] = field(default_factory=list)

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        err = open(self.log, "ab")  # noqa: SIM115 (the child keeps it open)
        self.proc = subprocess.Popen(
            [str(self.python), str(self.script), self.url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            cwd=ROOT,
        )
        err.close()
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.proc.stdout, selectors.EVENT_READ)
        ready = self._answer(START_TIMEOUT)
        if not ready or not ready.get("ready"):
            self.fail(f"did not start: {ready}")

    def _answer(self, timeout: float) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.selector.select(max(0.0, deadline - time.monotonic())):
                continue
            line = self.proc.stdout.readline()
            if not line:
                return None
            return json.loads(line)  # type: ignore[no-any-return]
        return None

    def get(self, page: Page, n: int = 1) -> dict[str, Any] | None:
        if self.failed:
            return None
        self.proc.stdin.write((json.dumps({"op": "get", "page": page.spec, "n": n}) + "\n")
                              .encode())
        self.proc.stdin.flush()
        answer = self._answer(ANSWER_TIMEOUT)
        if answer is None:
            self.fail(f"no answer within {ANSWER_TIMEOUT:.0f} s for {page.name}")
            return None
        if "error" in answer:
            print(f"  {self.name}: {page.name}: {answer['error']}", flush=True)
            return None
        if answer["status"] != 200:
            print(f"  {self.name}: {page.name}: HTTP {answer['status']} for {answer['url']}",
                  flush=True)
            return None
        return answer

    def fail(self, why: str) -> None:
        self.failed = why
        print(f"  {self.name} failed: {why} (log: {self.log})", flush=True)
        self.stop()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            self.proc.stdin.write(b'{"op": "quit"}\n')
            self.proc.stdin.flush()
            self.proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait(timeout=30)


def systems_for(url: str, pythons: dict[str, Path], log_dir: Path) -> list[System]:
    ours = System("ours", Path(sys.executable), SCRIPTS / "ours.py", url, log_dir / "ours.log")
    peers = [
        System(label, pythons[name], SCRIPTS / f"{name}_peer.py", url, log_dir / f"{name}.log")
        for name, label in PEER_LABELS.items()
        if name in pythons
    ]
    return [ours, *peers]


PEER_LABELS = {"flask_admin": "Flask-Admin", "django": "Django admin", "sqladmin": "SQLAdmin"}


# -- measuring ----------------------------------------------------------------------------------


def measure(systems: list[System], pages: list[Page], repeat: int, budget: float) -> dict:
    """Warm up (and check rows), then ``repeat`` interleaved rounds; samples per system/page."""
    samples: dict[tuple[str, str], list[float]] = {}
    sql: dict[tuple[str, str], list[float]] = {}
    checks: dict[tuple[str, str], str] = {}
    started = time.monotonic()
    for page in pages:
        for system in systems:
            if page.ours_only and system.name != "ours":
                continue
            answer = system.get(page)
            if answer is None:
                checks[(system.name, page.name)] = "failed"
                continue
            checks[(system.name, page.name)] = check(answer["ids"], page.expected)
    rounds = 0
    for r in range(repeat):
        if time.monotonic() - started > budget:
            print(f"  time budget of {budget:.0f} s spent after {rounds} rounds", flush=True)
            break
        for page in pages:
            who = [s for s in systems if not page.ours_only or s.name == "ours"]
            shift = r % len(who)
            for system in who[shift:] + who[:shift]:
                answer = system.get(page)
                if answer is None:
                    continue
                samples.setdefault((system.name, page.name), []).extend(answer["ms"])
                sql.setdefault((system.name, page.name), []).extend(answer["sql_ms"])
        rounds += 1
    return {"samples": samples, "sql": sql, "checks": checks, "rounds": rounds}


def check(shown: list[int], expected: list[int]) -> str:
    """'ok' when the page shows exactly the plain query's rows, else what differs."""
    if shown == expected:
        return "ok"
    if sorted(shown) == sorted(expected):
        return "same rows, other order"
    if not shown:
        return "no rows found on the page"
    return f"differs ({len(set(shown) & set(expected))} of {len(expected)} rows shared)"


# -- reporting ----------------------------------------------------------------------------------


def median(values: list[float] | None) -> float | None:
    return statistics.median(values) if values else None


def table(size: int, facts: dict, systems: list[System], pages: list[Page], result: dict) -> str:
    names = [s.name for s in systems]
    peers = names[1:]
    out = io.StringIO()
    out.write(
        f"\n### {size:,} to-dos ({facts['faker_rows']:,} with Faker descriptions; "
        f"'{COMMON_WORD}' in {facts['common_matches']:,} rows, '{RARE_TERM}' in "
        f"{facts['rare_matches']:,}); medians of {result['rounds']} interleaved rounds, ms\n\n"
    )
    head = ["page", *names, "ours / fastest peer", "SQL: ours", "SQL: fastest"]
    out.write("| " + " | ".join(head) + " |\n")
    out.write("|" + "---|" * len(head) + "\n")
    bad_checks = []
    for page in pages:
        cells = [page.name + (" (extra)" if page.extra and not page.ours_only else "")]
        times = {n: median(result["samples"].get((n, page.name))) for n in names}
        sqls = {n: median(result["sql"].get((n, page.name))) for n in names}
        for n in names:
            cells.append("-" if times[n] is None else f"{times[n]:.1f}")
        measured = [(times[p], p) for p in peers if times[p] is not None]
        if measured and times["ours"] is not None:
            fastest_time, fastest = min(measured)
            cells.append(f"{times['ours'] / fastest_time:.2f}x ({fastest})")
            cells.append(f"{sqls['ours']:.1f}")
            cells.append(f"{sqls[fastest]:.1f}")
        else:
            cells += ["-", "-" if sqls["ours"] is None else f"{sqls['ours']:.1f}", "-"]
        out.write("| " + " | ".join(cells) + " |\n")
        for n in names:
            verdict = result["checks"].get((n, page.name))
            if verdict and verdict != "ok":
                bad_checks.append(f"{n}, {page.name}: {verdict}")
    if bad_checks:
        out.write("\nRows that differ from the plain query's:\n")
        out.writelines(f"- {line}\n" for line in bad_checks)
    else:
        out.write("\nEvery page of every system showed exactly the plain query's rows.\n")
    return out.getvalue()


# -- main ---------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--peers", default=",".join(PEER_LABELS))
    parser.add_argument(
        "--budget", type=float, default=900.0, help="seconds of measuring per size, at most"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database (for EXPLAIN)")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    if not 1 <= args.repeat <= 50:
        parser.error("--repeat must be 1..50")
    wanted = [p for p in args.peers.split(",") if p]
    unknown = set(wanted) - set(PEER_LABELS)
    if unknown:
        parser.error(f"unknown peers: {', '.join(sorted(unknown))}")

    started = time.perf_counter()
    pythons = {name: ensure_venv(name) for name in wanted}
    faker = ensure_venv("faker")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    log_dir = benchlib.DATA / f"peers-{stamp}"
    url = benchlib.create_database()
    print(f"Database {sa.engine.make_url(url).database}; peer logs in {log_dir}", flush=True)
    report: list[str] = []
    record: dict[str, Any] = {"sizes": {}, "repeat": args.repeat}
    try:
        for size in sizes:
            print(f"Growing to {size:,} to-dos ...", flush=True)
            facts = grow(url, size, faker)
            print(f"  {facts}", flush=True)
            pages = pages_for(url, size)
            systems = systems_for(url, pythons, log_dir)
            try:
                for system in systems:
                    system.start()
                live = [s for s in systems if not s.failed]
                print(f"  measuring {', '.join(s.name for s in live)} ...", flush=True)
                result = measure(live, pages, args.repeat, args.budget)
            finally:
                for system in systems:
                    system.stop()
            text = table(size, facts, live, pages, result)
            print(text, flush=True)
            report.append(text)
            record["sizes"][str(size)] = {
                "facts": facts,
                "pages": {p.name: p.spec for p in pages},
                "samples": {f"{s}|{p}": v for (s, p), v in result["samples"].items()},
                "sql": {f"{s}|{p}": v for (s, p), v in result["sql"].items()},
                "checks": {f"{s}|{p}": v for (s, p), v in result["checks"].items()},
            }
    finally:
        if args.keep:
            print(f"Kept {url}", flush=True)
        else:
            benchlib.drop_database(url)
    (log_dir / "results.json").write_text(json.dumps(record, indent=1))
    print("".join(report))
    print(f"Whole run: {time.perf_counter() - started:.0f} s; samples in {log_dir}/results.json")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
