#!/usr/bin/env python3
"""The 50-row list page before and after the view layer's rebuild (issue 12), same run.

    .venv/bin/python bench/bench_rebuild.py [--before 1511c02] [--todos 1000] [--rounds 15]
                                            [--requests 10] [--url /admin/todo/]

Checks out ``--before`` (the main the rebuild started from) in a temporary git
worktree next to this checkout (removed afterwards). Each tree gets a SQLite
database of its own, made as a user makes it (``console init --demo`` then
``console seed``, the same seed and counts on both, so the rows are identical),
and a process of its own (``_rebuild_driver.py``: that tree's ``create_app``,
logged in as an admin, Flask's test client, answering "time N requests" on stdin).
The rounds alternate the two trees, the order swapped every round; each round
times ``--requests`` requests per tree after a warm-up. Printed: medians (ms) of
every request, the after/before ratio, and the ratio of the per-round medians'
median (the figure that resists a noisy neighbour). Bounded: rounds x requests
requests per tree, 60 s per answer.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
DRIVER = Path(__file__).resolve().parent / "_rebuild_driver.py"


def prepare(tree: Path, folder: Path, todos: int) -> dict[str, str]:
    """The environment of ``tree`` with a migrated, seeded demo database in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "PYTHONPATH": str(tree),
        "DATABASE_URL": f"sqlite:///{folder}/console.sqlite3",
        "CONSOLE_ADMIN_PASSWORD": "bench-password-123",
        "CONSOLE_INSTANCE_PATH": str(folder),
    }
    console = [str(PYTHON), "-c", "from console.cli import main; main()"]
    for args in (["init", "--demo"],
                 ["seed", "--people", "100", "--lists", "50", "--todos", str(todos),
                  "--seed", "7"]):
        subprocess.run([*console, *args], cwd=tree, env=env, check=True,
                       stdout=subprocess.DEVNULL, timeout=600)
    return env


class Driver:
    """One tree's console in a process of its own."""

    def __init__(self, name: str, tree: Path, env: dict[str, str], url: str) -> None:
        self.name = name
        self.process = subprocess.Popen(
            [str(PYTHON), str(DRIVER), url], cwd=tree, env=env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )
        hello = self.ask({"requests": 0})
        self.rows = hello["rows"]
        if not Path(hello["code"]).resolve().is_relative_to(tree.resolve()):
            raise SystemExit(f"{name}: ran {hello['code']}, not the code of {tree}")

    def ask(self, command: dict[str, int]) -> dict:
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        started = time.monotonic()
        line = self.process.stdout.readline()
        if not line or time.monotonic() - started > 60:
            raise RuntimeError(f"{self.name}: no answer")
        return json.loads(line)

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="1511c02")
    parser.add_argument("--todos", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--url", default="/admin/todo/")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-rebuild-"))
    old_tree = work / "before"
    subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(old_tree), args.before],
                   cwd=ROOT, check=True)
    drivers: list[Driver] = []
    try:
        for name, tree in (("before", old_tree), ("after", ROOT)):
            env = prepare(tree, work / f"db-{name}", args.todos)
            drivers.append(Driver(name, tree, env, args.url))
        rows = {d.name: d.rows for d in drivers}
        if len(set(rows.values())) != 1:
            raise SystemExit(f"The pages differ in rows: {rows}")
        every: dict[str, list[float]] = {d.name: [] for d in drivers}
        per_round: dict[str, list[float]] = {d.name: [] for d in drivers}
        for round_no in range(args.rounds):
            order = drivers if round_no % 2 == 0 else drivers[::-1]
            for driver in order:
                times = driver.ask({"requests": args.requests})["ms"]
                every[driver.name] += times
                per_round[driver.name].append(statistics.median(times))
        print(f"{args.url}: {rows['after']} rows a page, {args.todos} to-dos, "
              f"{args.rounds} rounds x {args.requests} requests, alternating")
        for name in ("before", "after"):
            print(f"  {name:6}  median {statistics.median(every[name]):6.1f} ms   "
                  f"best {min(every[name]):6.1f} ms")
        ratio = statistics.median(every["after"]) / statistics.median(every["before"])
        rounds = [a / b for a, b in zip(per_round["after"], per_round["before"], strict=True)]
        print(f"  after / before: {ratio:.2f}x (median of per-round ratios "
              f"{statistics.median(rounds):.2f}x)")
    finally:
        for driver in drivers:
            driver.close()
        subprocess.run(["git", "worktree", "remove", "--force", str(old_tree)], cwd=ROOT,
                       check=False)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
