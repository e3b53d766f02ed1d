#!/usr/bin/env python3
"""Logged-in admins against gunicorn (gunicorn.conf.py) on PostgreSQL, and a bare Flask page.

    .venv/bin/python bench/bench_load.py [--todos 1000000] [--workers 2,4] [--seconds 30]
                                         [--repeats 3] [--users 16]

Creates its own database (dropped at the end), fills it with set-based SQL (the to-dos
of bench_lists.py: 1,000 people, 1,000 lists), makes one admin per simulated user and
logs each in once. Then, interleaved ``--repeats`` times, for each worker count it
starts gunicorn with gunicorn.conf.py (CONSOLE_WORKERS, the config's threads) serving
the console, then the same config serving bench/bare_app.py, and drives each for
``--seconds`` with ``--users`` clients (threads in two processes, keep-alive
connections, no think time). Each user works its own to-do list ("List <n>"), so its
edits and toggles never conflict with another's; a 409 counts as an error.

The mix, by weight: its list (15), the full list (10), a search (10), the next page
(10), a record (15), edit GET + POST with the version (10), a toggle (10), an export
of its list as CSV (3), a delete preview (5), the dashboard (7). Everything is on
127.0.0.1; each phase stops at its deadline.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from bench_lists import LISTS, PEOPLE, _array, seed_base, vacuum
from benchlib import DATA, ROOT, create_database, drop_database, make_app

from console.demo.seed import NOUNS, WORDS
from tests.history_helpers import form_fields

PASSWORD = "bench-load-password"  # noqa: S105 - throwaway accounts in a throwaway database
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
ROW_RE = re.compile(r'<tr data-id="(\d+)" data-token="([^"]+)"')
NEXT_RE = re.compile(r'rel="next" href="([^"#]+)"')
WEIGHTS = {
    "list_mine": 15, "list_all": 10, "search": 10, "next_page": 10, "details": 15,
    "edit": 10, "toggle": 10, "export": 3, "delete_preview": 5, "dashboard": 7,
}
SEARCHES = ("garden", "invoice", "roof", "slides", "budget")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seed_todos(conn: Any, first: int, last: int) -> None:
    """To-dos ``first``..``last``, spread evenly over the lists (bench_lists' words)."""
    conn.execute(sa.text(f"""
        INSERT INTO todo (description, completed, due_date, priority, list_id, assignee_id)
        SELECT ({_array(WORDS)})[1 + (g * 7) % {len(WORDS)}] || ' '
                 || ({_array(NOUNS)})[1 + (g * 13 + g / 20) % {len(NOUNS)}] || ' #' || g,
               g % 10 < 3,
               CASE WHEN g % 5 < 3 THEN current_date + ((g * 31) % 121 - 60) END,
               (ARRAY['low','normal','high'])[1 + g % 3],
               1 + g % {LISTS},
               CASE WHEN g % 10 < 7 THEN 1 + g % {PEOPLE} END
        FROM generate_series({first}, {last}) AS g"""))


def fill(url: str, todos: int, users: int) -> None:
    """People, lists and ``todos`` to-dos (set-based), one admin per user."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        seed_base(conn)
    step = 250_000
    for first in range(1, todos + 1, step):
        with engine.begin() as conn:
            seed_todos(conn, first, min(first + step - 1, todos))
    engine.dispose()
    vacuum(url)
    app = make_app(url)
    with app.app_context():
        from console.extensions import db
        from console.models import Account, Role

        for n in range(users):
            account = Account(email=f"admin{n}@example.com", role=Role.admin, active=True)
            account.set_password(PASSWORD)
            db.session.add(account)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


class Server:
    """gunicorn with gunicorn.conf.py on a loopback port, serving the console or the bare app."""

    def __init__(self, url: str, workers: int, bare: bool) -> None:
        self.port = free_port()
        local = sa.engine.make_url(url)
        env = {
            **os.environ,
            "DATABASE_URL": f"postgresql://{local.host}:{local.port}/{local.database}",
            "SECRET_KEY": "bench-load", "CONSOLE_INSTANCE_PATH": str(DATA / "load-instance"),
            "CONSOLE_BIND": f"127.0.0.1:{self.port}", "CONSOLE_WORKERS": str(workers),
            "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'bench'}", "FLASK_APP": "",
        }
        args = [sys.executable, "-m", "gunicorn", "--config", str(ROOT / "gunicorn.conf.py")]
        if bare:
            args.append("bare_app:app")
        DATA.mkdir(parents=True, exist_ok=True)
        self.log = DATA / f"load-gunicorn-{'bare' if bare else 'console'}-{workers}.log"
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(args, env=env, cwd=DATA, stdout=out,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited:\n{self.log.read_text()[-3000:]}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/" if bare else "/login")
                conn.getresponse().read()
                conn.close()
                return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise SystemExit("gunicorn did not answer within 60 s")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=150)


def cookies_of(response: http.client.HTTPResponse, jar: SimpleCookie) -> None:
    for header in response.headers.get_all("Set-Cookie") or []:
        jar.load(header)


def log_in(port: int, n: int) -> str:
    """Admin ``n``'s session cookie, from the login form."""
    jar: SimpleCookie = SimpleCookie()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/login")
    page = conn.getresponse()
    token = CSRF_RE.search(page.read().decode())
    cookies_of(page, jar)
    assert token, "no CSRF token on /login"
    header = "; ".join(f"{k}={m.value}" for k, m in jar.items())
    body = urlencode({"email": f"admin{n}@example.com", "password": PASSWORD,
                      "csrf_token": token.group(1)})
    conn.request("POST", "/login", body=body, headers={
        "Cookie": header, "Content-Type": "application/x-www-form-urlencoded"})
    answer = conn.getresponse()
    answer.read()
    cookies_of(answer, jar)
    conn.close()
    if answer.status != 302:
        raise SystemExit(f"admin{n} could not log in: {answer.status}")
    return "; ".join(f"{k}={m.value}" for k, m in jar.items())


class User:
    """One admin's session: a keep-alive connection and what its pages showed."""

    def __init__(self, port: int, n: int, cookie: str, seed: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        # Kept up to date as a browser does: a page that makes a CSRF token re-signs the session.
        self.jar: SimpleCookie = SimpleCookie()
        self.jar.load(cookie)
        self.rng = random.Random(seed)
        self.mine = "/admin/todo/?" + urlencode({"flt0_list_name_equals": f"List {n + 2}"})
        self.rows: dict[str, str] = {}  # id -> token, of its own list
        self.next_url: str | None = None
        self.csrf = ""

    def request(self, method: str, url: str, body: str | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        cookie = "; ".join(f"{k}={m.value}" for k, m in self.jar.items())
        sent = {"Cookie": cookie, **(headers or {})}
        try:
            self.conn.request(method, url, body=body, headers=sent)
            response = self.conn.getresponse()
            data = response.read()
            cookies_of(response, self.jar)
        except (OSError, http.client.HTTPException):
            self.conn.close()  # reconnects on the next request
            raise
        return response.status, data

    def read_mine(self, url: str) -> tuple[int, bytes]:
        status, data = self.request("GET", url)
        text = data.decode()
        rows = dict(ROW_RE.findall(text))
        if rows:
            self.rows = rows
        found = NEXT_RE.search(text)
        self.next_url = found.group(1).replace("&amp;", "&") if found else None
        token = CSRF_RE.search(text)
        if token:
            self.csrf = token.group(1)
        return status, data

    def some_row(self) -> str:
        return self.rng.choice(sorted(self.rows))

    def run(self, op: str) -> list[tuple[str, int, float]]:
        """Do ``op``; (endpoint, status, seconds) of each request it made."""
        done: list[tuple[str, int, float]] = []

        def timed(name: str, call: Any) -> tuple[int, bytes]:
            start = time.perf_counter()
            status, data = call()
            done.append((name, status, time.perf_counter() - start))
            return status, data

        if op == "list_mine" or not self.rows:
            timed("list_mine", lambda: self.read_mine(self.mine))
        elif op == "list_all":
            timed("list_all", lambda: self.request("GET", "/admin/todo/"))
        elif op == "search":
            word = self.rng.choice(SEARCHES)
            timed("search", lambda: self.request("GET", f"/admin/todo/?search={word}"))
        elif op == "next_page":
            url = self.next_url or self.mine
            timed("next_page", lambda: self.read_mine(url))
        elif op == "details":
            row = self.some_row()
            timed("details", lambda: self.request("GET", f"/admin/todo/details/?id={row}"))
        elif op == "delete_preview":
            row = self.some_row()
            timed("delete_preview", lambda: self.request("GET", f"/admin/todo/delete/?id={row}"))
        elif op == "dashboard":
            timed("dashboard", lambda: self.request("GET", "/admin/"))
        elif op == "export":
            url = self.mine.replace("/admin/todo/?", "/admin/todo/export/csv/?")
            timed("export", lambda: self.request("GET", url))
        elif op == "edit":
            row = self.some_row()
            url = f"/admin/todo/edit/?id={row}"
            status, data = timed("edit_get", lambda: self.request("GET", url))
            if status == 200:
                fields = form_fields(data.decode())
                fields["description"] = f"Edited by load {self.rng.randrange(10**9)}"
                body = urlencode(fields)
                timed("edit_post", lambda: self.request("POST", url, body, {
                    "Content-Type": "application/x-www-form-urlencoded"}))
                self.rows.pop(row, None)  # its token moved on; the next list read has it
        elif op == "toggle":
            row = self.some_row()
            body = urlencode({"csrf_token": self.csrf, "version": self.rows[row],
                              "value": self.rng.choice("01"), "url": self.mine})
            status, data = timed("toggle", lambda: self.request(
                "POST", f"/admin/todo/toggle/{row}/completed", body,
                {"Content-Type": "application/x-www-form-urlencoded",
                 "Accept": "application/json"}))
            if status == 200:
                self.rows[row] = str(json.loads(data)["version"])
        return done


EXPECTED = {"edit_post": (302,), "toggle": (200,)}


def drive(port: int, users: list[tuple[int, str]], seconds: float, bare: bool,
          seed: int) -> dict[str, Any]:
    """One client process: a thread per user until the deadline; latencies and errors."""
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    samples: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    ops, weights = list(WEIGHTS), list(WEIGHTS.values())

    def loop(n: int, cookie: str) -> None:
        user = User(port, n, cookie, seed * 1000 + n)
        count = 0
        # Bounded in time and in count.
        while time.monotonic() < deadline and count < 1_000_000:
            count += 1
            try:
                if bare:
                    start = time.perf_counter()
                    status, _data = user.request("GET", "/")
                    results = [("bare", status, time.perf_counter() - start)]
                else:
                    results = user.run(user.rng.choices(ops, weights)[0])
            except (OSError, http.client.HTTPException) as exc:
                with lock:
                    errors["connection"] += 1
                    if len(samples) < 5:
                        samples.append(f"connection: {exc!r}")
                continue
            with lock:
                for name, status, took in results:
                    latencies[name].append(took)
                    if status not in EXPECTED.get(name, (200,)):
                        errors[name] += 1
                        if len(samples) < 5:
                            samples.append(f"{name}: HTTP {status}")

    threads = [threading.Thread(target=loop, args=user) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 120)
    return {"latencies": dict(latencies), "errors": dict(errors), "samples": samples}


def phase(url: str, workers: int, bare: bool, cookies: list[str], seconds: float,
          seed: int) -> dict[str, Any]:
    """One measured run: gunicorn up, a short warm-up, the load, gunicorn down."""
    server = Server(url, workers, bare)
    try:
        users = list(enumerate(cookies))
        halves = [users[0::2], users[1::2]]
        with ProcessPoolExecutor(2) as pool:
            warm = [pool.submit(drive, server.port, half, 3, bare, seed) for half in halves]
            for future in warm:
                future.result()
            start = time.monotonic()
            parts = [pool.submit(drive, server.port, half, seconds, bare, seed + 1)
                     for half in halves]
            results = [future.result() for future in parts]
            elapsed = time.monotonic() - start
    finally:
        server.stop()
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    samples: list[str] = []
    for result in results:
        for name, values in result["latencies"].items():
            latencies[name].extend(values)
        for name, n in result["errors"].items():
            errors[name] += n
        samples.extend(result["samples"])
    total = sum(len(v) for v in latencies.values())
    timeouts = server.log.read_text().count("WORKER TIMEOUT")
    return {
        "workers": workers, "app": "bare" if bare else "console", "seconds": elapsed,
        "requests": total, "rps": total / elapsed, "errors": dict(errors),
        "samples": samples[:5], "worker_timeouts": timeouts,
        "endpoints": {name: {"n": len(v), **percentiles(v)} for name, v in latencies.items()},
    }


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return {"p50": at(0.50), "p95": at(0.95), "p99": at(0.99)}


def report(runs: list[dict[str, Any]], worker_counts: list[int]) -> str:
    """Medians over the repeats: throughput, the ratio to bare Flask, per-endpoint latency."""
    lines = []
    for workers in worker_counts:
        mine = [r for r in runs if r["workers"] == workers and r["app"] == "console"]
        bare = [r for r in runs if r["workers"] == workers and r["app"] == "bare"]
        rps = statistics.median(r["rps"] for r in mine)
        base = statistics.median(r["rps"] for r in bare)
        # Each console run against the bare run right after it (same repeat): the machine's
        # noise hits both of a pair alike.
        ratio = statistics.median(m["rps"] / b["rps"] for m, b in zip(mine, bare, strict=True))
        errors = sum(sum(r["errors"].values()) for r in mine + bare)
        timeouts = sum(r["worker_timeouts"] for r in mine + bare)
        lines.append(
            f"{workers} workers: console {rps:,.0f} req/s ({rps / workers:,.0f} per worker), "
            f"bare Flask {base:,.0f} req/s ({base / workers:,.0f} per worker), ratio "
            f"{ratio:.4f}; errors {errors}, worker timeouts {timeouts}; "
            f"{len(mine)} repeats"
        )
        lines.append(f"  {'endpoint':<16}{'requests':>10}"
                     + "".join(f"{q + ' ms':>10}" for q in ("p50", "p95", "p99")))
        names = sorted({n for r in mine for n in r["endpoints"]})
        for name in names:
            cells = [r["endpoints"][name] for r in mine if name in r["endpoints"]]
            lines.append(
                f"  {name:<16}{sum(c['n'] for c in cells):>10,}"
                + "".join(f"{statistics.median(c[q] for c in cells):>10.1f}"
                          for q in ("p50", "p95", "p99"))
            )
        bare_cells = [r["endpoints"]["bare"] for r in bare]
        lines.append(f"  {'bare /':<16}{sum(c['n'] for c in bare_cells):>10,}" + "".join(
            f"{statistics.median(c[q] for c in bare_cells):>10.1f}" for q in ("p50", "p95", "p99")))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--todos", type=int, default=1_000_000)
    parser.add_argument("--workers", default="2,4")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--users", type=int, default=16)
    args = parser.parse_args()
    worker_counts = [int(w) for w in args.workers.split(",")]
    if not 1 <= args.users <= 64 or not 1 <= args.seconds <= 300 or not 1 <= args.repeats <= 9:
        raise SystemExit("--users 1..64, --seconds 1..300, --repeats 1..9: the run is bounded")
    url = create_database()
    try:
        started = time.monotonic()
        fill(url, args.todos, args.users)
        print(f"filled {args.todos:,} to-dos in {time.monotonic() - started:.0f} s", flush=True)
        server = Server(url, 1, bare=False)
        try:
            cookies = [log_in(server.port, n) for n in range(args.users)]
        finally:
            server.stop()
        runs = []
        for repeat in range(args.repeats):
            for workers in worker_counts:
                for bare in (False, True):
                    run = phase(url, workers, bare, cookies, args.seconds, seed=repeat)
                    runs.append(run)
                    print(f"repeat {repeat + 1} {run['app']:<7} {workers} workers: "
                          f"{run['rps']:,.0f} req/s, errors {run['errors'] or 0}"
                          f"{' ' + str(run['samples']) if run['samples'] else ''}", flush=True)
        (DATA / "load_results.json").write_text(json.dumps(runs, indent=1))
        print(report(runs, worker_counts))
    finally:
        drop_database(url)


if __name__ == "__main__":
    main()
