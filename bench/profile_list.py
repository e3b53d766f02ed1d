#!/usr/bin/env python3
"""Time and profile one list page in-process (SQLite, Flask test client, logged in as admin).

    /work/venv/bin/python bench/profile_list.py [URL] [--requests 300] [--profile 50]

Seeds a temporary SQLite database with 300 to-dos (text that needs escaping, every
other one completed, some assigned), then requests URL (default ``/admin/todo/``,
50 rows): 20 warm-up requests, ``--requests`` timed ones (best, median, median CPU
time), and with ``--profile N`` a cProfile of N more, printed by cumulative and by
own time. This is for finding where a page's time goes; the figures that count are
bench_lists.py's (PostgreSQL, 1,000 and 1,000,000 rows).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import re
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from console import create_app  # noqa: E402
from console.demo.models import Person, Todo, TodoList  # noqa: E402
from console.extensions import db  # noqa: E402
from console.models import Account, Role  # noqa: E402
from console.models import accounts as accounts_module  # noqa: E402

PASSWORD = "profile-password-123"  # noqa: S105 (a throwaway account in a throwaway database)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", nargs="?", default="/admin/todo/")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--profile", type=int, default=0)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--save", help="write the page's HTML to this file")
    parser.add_argument("--dump", help="also write the profile's stats to this file (pstats)")
    args = parser.parse_args()

    # Logging in is not what is measured: a cheap hash.
    accounts_module.PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"  # noqa: S105
    instance = tempfile.mkdtemp(prefix="profile-list-")
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance}/profile.sqlite3",
            "SECRET_KEY": "profile",
            "WTF_CSRF_ENABLED": True,
            "INSTANCE_PATH": instance,
        }
    )
    with app.app_context():
        from console import histories_of_app, schema

        assert schema.initialise(db.engine, histories_of_app(app)).ok
        account = Account(email="admin@example.com", role=Role.admin, active=True)
        account.set_password(PASSWORD)
        people = [Person(name=f"Person {i}", email=f"p{i}@example.com") for i in range(20)]
        lists = [TodoList(name=f"List {i}", owner=people[i]) for i in range(10)]
        todos = [
            Todo(
                description=f"buy milk <&> #{i}",
                todo_list=lists[i % 10],
                assignee=people[i % 20] if i % 3 else None,
                completed=i % 2 == 0,
                due_date=date(2024, 1, 1 + i % 28) if i % 2 else None,
            )
            for i in range(300)
        ]
        db.session.add_all([account, *people, *lists, *todos])
        db.session.commit()

    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert token, "no CSRF token on the login page"
    response = client.post(
        "/login",
        data={"email": "admin@example.com", "password": PASSWORD, "csrf_token": token.group(1)},
    )
    assert response.status_code == 302, response.status_code

    for _ in range(20):
        assert client.get(args.url).status_code == 200
    if args.save:
        Path(args.save).write_text(client.get(args.url).get_data(as_text=True), encoding="utf-8")
    wall, cpu = [], []
    for _ in range(args.requests):
        start, start_cpu = time.perf_counter(), time.process_time()
        client.get(args.url)
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    print(
        f"{args.url}: best {min(wall):.1f} ms, median {statistics.median(wall):.1f} ms,"
        f" median CPU {statistics.median(cpu):.1f} ms ({args.requests} requests)"
    )
    if args.profile:
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(args.profile):
            client.get(args.url)
        profile.disable()
        stats = pstats.Stats(profile)
        if args.dump:
            stats.dump_stats(args.dump)
        stats.sort_stats("cumulative").print_stats(args.top)
        stats.sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
