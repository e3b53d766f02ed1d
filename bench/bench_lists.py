#!/usr/bin/env python3
"""List views at 1,000 and at 1,000,000 to-dos on PostgreSQL: ours against stock Flask-Admin.

    /work/venv/bin/python bench/bench_lists.py [--rows 1000000] [--repeat 5]

Creates its own database on CONSOLE_BENCH_PG (default: the test server), seeds it
with set-based SQL (INSERT ... SELECT generate_series), measures in-process with
Flask's test client (logged in), and drops the database at the end. Times are the
median of ``--repeat`` runs after one warm-up. Stock is ``ModelView(Todo, db)``
with the same search and filter, mounted in its own app on the same database.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from flask import Flask  # noqa: E402
from flask_admin import Admin  # noqa: E402
from flask_admin.contrib.sqla import ModelView  # noqa: E402

from console import create_app  # noqa: E402
from console.demo.models import Todo  # noqa: E402
from console.demo.seed import NOUNS, WORDS  # noqa: E402  (the same words as `console seed`)
from console.extensions import db  # noqa: E402
from console.models import Account, Role  # noqa: E402
from console.paging import Cursor  # noqa: E402

SERVER = os.environ.get("CONSOLE_BENCH_PG", "postgresql+psycopg2://127.0.0.1:5432/test")
PASSWORD = "bench-password-123"  # noqa: S105 (a throwaway account in a throwaway database)
BIG_LIST = 1
BIG_LIST_SIZE = 100_000
LISTS = 1000
PEOPLE = 1000


def admin_engine() -> sa.Engine:
    return sa.create_engine(SERVER, isolation_level="AUTOCOMMIT")


def create_database() -> str:
    name = f"bench_lists_{uuid.uuid4().hex[:8]}"
    with admin_engine().connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    return sa.engine.make_url(SERVER).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    name = sa.engine.make_url(url).database
    with admin_engine().connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _array(words: list[str]) -> str:
    return "ARRAY[" + ",".join(f"'{w}'" for w in words) + "]"


def seed_todos(conn: Any, first: int, last: int) -> None:
    """To-dos ``first``..``last``: the first 100,000 overall on list 1, the rest spread out."""
    conn.execute(
        sa.text(
            f"""
        INSERT INTO todo (description, completed, due_date, priority, list_id, assignee_id,
                          created_at, updated_at, version)
        SELECT ({_array(WORDS)})[1 + (g * 7) % {len(WORDS)}] || ' '
                 || ({_array(NOUNS)})[1 + (g * 13 + g / 20) % {len(NOUNS)}] || ' #' || g,
               g % 10 < 3,
               CASE WHEN g % 5 < 3 THEN current_date + ((g * 31) % 121 - 60) END,
               (ARRAY['low','normal','high'])[1 + g % 3],
               CASE WHEN g <= {BIG_LIST_SIZE} THEN {BIG_LIST}
                    ELSE 2 + g % {LISTS - 1} END,
               CASE WHEN g % 10 < 7 THEN 1 + g % {PEOPLE} END,
               now() - (g % 730) * interval '1 day' - (g % 86400) * interval '1 second',
               now() - (g % 365) * interval '1 day',
               1
        FROM generate_series({first}, {last}) AS g
        """
        )
    )


def seed_base(conn: Any) -> None:
    conn.execute(
        sa.text(
            "INSERT INTO person (name, email)"
            " SELECT 'Person ' || g, 'person' || g || '@example.com'"
            f" FROM generate_series(1, {PEOPLE}) g"
        )
    )
    conn.execute(
        sa.text(
            f"INSERT INTO todo_list (name, owner_id) SELECT 'List ' || g, 1 + g % {PEOPLE}"
            f" FROM generate_series(1, {LISTS}) g"
        )
    )


def vacuum(url: str) -> None:
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")
    engine.dispose()


def stock_app(url: str, instance: str) -> tuple[Flask, ModelView]:
    """Stock Flask-Admin over the same database: ModelView(Todo, db), search and filter on."""
    # root_path: not the working directory (the repository), whose templates/ would
    # replace stock Flask-Admin's own.
    app = Flask("stock", instance_path=instance, root_path=instance)
    app.config.update(SQLALCHEMY_DATABASE_URI=url, SECRET_KEY="stock")  # noqa: S106
    db.init_app(app)
    admin = Admin(app, name="Stock", url="/stock")

    class StockTodo(ModelView):
        column_searchable_list = ["description"]
        column_filters = ["completed"]

    view = StockTodo(Todo, db, endpoint="stocktodo")
    admin.add_view(view)
    return app, view


# Time spent in the database per request, to tell query time from page rendering.
SQL_MS: list[float] = []
LAST_SQL_MS: dict[str, float] = {}


@sa.event.listens_for(sa.engine.Engine, "before_cursor_execute")
def _sql_start(
    conn: Any, cursor: Any, statement: Any, params: Any, context: Any, many: Any
) -> None:
    conn.info["bench_start"] = time.perf_counter()


@sa.event.listens_for(sa.engine.Engine, "after_cursor_execute")
def _sql_end(conn: Any, cursor: Any, statement: Any, params: Any, context: Any, many: Any) -> None:
    SQL_MS.append((time.perf_counter() - conn.info.pop("bench_start")) * 1000)


def timer(client: Any, repeat: int) -> Callable[[str], float]:
    def measure(url: str) -> float:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        samples, sql = [], []
        for _ in range(repeat):
            SQL_MS.clear()
            start = time.perf_counter()
            response = client.get(url)
            samples.append((time.perf_counter() - start) * 1000)
            sql.append(sum(SQL_MS))
            assert response.status_code == 200, (url, response.status_code)
        LAST_SQL_MS["value"] = statistics.median(sql)
        return statistics.median(samples)

    return measure


def column_index(view: Any, name: str) -> int:
    return [c for c, _ in view._list_columns].index(name)


def filter_arg(view: Any, column: str) -> str:
    from flask_admin.contrib.sqla.filters import BooleanEqualFilter

    for index, flt in enumerate(view._filters):
        if isinstance(flt, BooleanEqualFilter) and flt.column.key == column:
            return f"flt0_{view.get_filter_arg(index, flt)}=1"
    raise LookupError(column)


def our_view(app: Flask, endpoint: str) -> Any:
    return next(v for v in app.extensions["admin"][0]._views if v.endpoint == endpoint)


def cases(app: Flask, stock: Any, url: str) -> list[tuple[str, str, str | None]]:
    """(name, our URL, stock URL or None) for every measured page."""
    ours = our_view(app, "todo")
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        total = conn.execute(sa.text("SELECT count(*) FROM todo")).scalar()
        # Page 20,000 (page=19999) as our pager's "Next" link reaches it: a keyset cursor.
        offset = 19_998 * 50 + 49
        last_id = conn.execute(
            sa.text("SELECT id FROM todo ORDER BY id OFFSET :o LIMIT 1"),
            {"o": min(offset, total - 1)},
        ).scalar()
    engine.dispose()
    cursor = Cursor(last_id, last_id).encode()
    last_stock_page = max(0, (total - 1) // 50)
    rows = [
        ("first page", "/admin/todo/", "/stock/stocktodo/"),
        (
            "filter completed",
            f"/admin/todo/?{filter_arg(ours, 'completed')}",
            f"/stock/stocktodo/?{filter_arg(stock, 'completed')}",
        ),
        ("search common word", "/admin/todo/?search=invoice", "/stock/stocktodo/?search=invoice"),
        ("search rare term", "/admin/todo/?search=%23777777", "/stock/stocktodo/?search=%23777777"),
    ]
    for name in ours._sortable_columns:
        if name not in [c for c, _ in ours._list_columns]:
            continue
        stock_url = None
        if name in stock._sortable_columns:
            stock_url = f"/stock/stocktodo/?sort={column_index(stock, name)}"
        rows.append((f"sort {name}", f"/admin/todo/?sort={column_index(ours, name)}", stock_url))
        rows.append(
            (
                f"sort {name} desc",
                f"/admin/todo/?sort={column_index(ours, name)}&desc=1",
                stock_url and stock_url + "&desc=1",
            )
        )
    rows += [
        (
            "page 20,000 (keyset link)",
            f"/admin/todo/?page=19999&after={cursor}",
            "/stock/stocktodo/?page=19999",
        ),
        ("page 20,000 (typed ?page=)", "/admin/todo/?page=19999", "/stock/stocktodo/?page=19999"),
        # The middle of a million rows: the worst case of reading from the nearer end.
        ("page 10,000 (typed ?page=)", "/admin/todo/?page=9999", "/stock/stocktodo/?page=9999"),
        ("last page", "/admin/todo/?page=-1", f"/stock/stocktodo/?page={last_stock_page}"),
    ]
    return rows


def login(app: Flask) -> Any:
    with app.app_context():
        account = Account(email="bench@example.com", role=Role.admin, active=True)
        account.set_password(PASSWORD)
        db.session.add(account)
        db.session.commit()
    client = app.test_client()
    response = client.post("/login", data={"email": "bench@example.com", "password": PASSWORD})
    assert response.status_code == 302, response.status_code
    return client


def run(rows: int, repeat: int) -> int:
    url = create_database()
    instance = tempfile.mkdtemp(prefix="bench-lists-")
    try:
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": url,
                "SECRET_KEY": "bench",
                "WTF_CSRF_ENABLED": False,
                "INSTANCE_PATH": instance,
            }
        )
        with app.app_context():
            from console import histories_of_app, schema

            assert schema.initialise(db.engine, histories_of_app(app)).ok
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            seed_base(conn)
            seed_todos(conn, 1, 1000)
        vacuum(url)
        client = login(app)
        stock, stock_view = stock_app(url, instance)
        stock_client = stock.test_client()
        measure, measure_stock = timer(client, repeat), timer(stock_client, repeat)

        results: dict[str, dict[str, float | None]] = {}
        small_cases = cases(app, stock_view, url)
        for name, ours, theirs in small_cases:
            results[name] = {
                "ours_1k": measure(ours),
                "stock_1k": measure_stock(theirs) if theirs else None,
            }
        results["details of list 1"] = {
            "ours_1k": measure(f"/admin/todolist/details/?id={BIG_LIST}")
        }
        results["edit of list 1"] = {"ours_1k": measure(f"/admin/todolist/edit/?id={BIG_LIST}")}
        results["dashboard"] = {"ours_1k": measure("/admin/")}

        print(f"Seeding up to {rows:,} to-dos ...", flush=True)
        start = time.perf_counter()
        step = 250_000
        for first in range(1001, rows + 1, step):
            with engine.begin() as conn:
                seed_todos(conn, first, min(rows, first + step - 1))
        vacuum(url)
        print(f"  seeded and vacuumed in {time.perf_counter() - start:.0f} s", flush=True)
        engine.dispose()

        for name, ours, theirs in cases(app, stock_view, url):
            results[name]["ours_big"] = measure(ours)
            results[name]["ours_sql"] = LAST_SQL_MS["value"]
            results[name]["stock_big"] = measure_stock(theirs) if theirs else None
            results[name]["stock_sql"] = LAST_SQL_MS["value"] if theirs else None
        results["details of list 1"]["ours_big"] = measure(
            f"/admin/todolist/details/?id={BIG_LIST}"
        )
        results["edit of list 1"]["ours_big"] = measure(f"/admin/todolist/edit/?id={BIG_LIST}")
        results["dashboard"]["ours_big"] = measure("/admin/")
        results["dashboard"]["ours_sql"] = LAST_SQL_MS["value"]

        # Stock as it was before this work: the foundation's schema, without 0002's indexes.
        with app.app_context():
            from flask_migrate import downgrade

            downgrade(revision="0001_initial")
            db.engine.dispose()
        vacuum(url)
        for name, _ours, theirs in cases(app, stock_view, url):
            results[name]["stock_bare"] = measure_stock(theirs) if theirs else None
            results[name]["bare_sql"] = LAST_SQL_MS["value"] if theirs else None
        report(results, rows)
    finally:
        drop_database(url)
    return 0


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:8.1f}"


def report(results: dict[str, dict[str, float | None]], rows: int) -> None:
    big = f"{rows // 1000:,}k" if rows < 1_000_000 else f"{rows / 1_000_000:g}M"
    print()
    print(
        f"median ms; ours and stock at 1k and {big};"
        f" ratios: ours {big} / ours 1k, stock / ours at {big}"
    )
    print(
        f"{'page':30} {'ours 1k':>8} {'ours ' + big:>8} {'stock 1k':>8}"
        f" {'stock ' + big:>9} {'bare ' + big:>9} {'ours x':>7} {'faster':>7} {'vs bare':>7}"
    )
    for name, r in results.items():
        ours_small, ours_big = r.get("ours_1k"), r.get("ours_big")
        stock_small, stock_big = r.get("stock_1k"), r.get("stock_big")
        baseline = ours_small
        if name.startswith(("page 20,000", "page 10,000")):
            # At 1k rows these pages are empty: compare with the 1k last page instead.
            baseline = results["last page"]["ours_1k"]
        growth = f"{ours_big / baseline:6.2f}x" if ours_big and baseline else "      -"
        faster = f"{stock_big / ours_big:6.1f}x" if stock_big and ours_big else "      -"
        bare = r.get("stock_bare")
        vs_bare = f"{bare / ours_big:6.1f}x" if bare and ours_big else "      -"
        print(
            f"{name:30} {fmt(ours_small)} {fmt(ours_big)} {fmt(stock_small)} {fmt(stock_big):>9} "
            f"{fmt(bare):>9} {growth:>7} {faster:>7} {vs_bare:>7}   SQL {big}: ours"
            f" {fmt(r.get('ours_sql'))} stock {fmt(r.get('stock_sql'))}"
            f" bare {fmt(r.get('bare_sql'))}"
        )
    print()
    print("ours x: our time at the big size over our time at 1k (target <= 2x).")
    print("faster: stock time over ours at the big size, stock on the same indexed schema.")
    print(
        "vs bare: stock on the foundation's schema (no 0002 indexes) over ours: the issue's"
        " baseline (target >= 10x on search, sort, deep pages)."
    )
    print("Targets for details/edit of a list with 100,000 to-dos and for the dashboard: < 200 ms.")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if args.rows < BIG_LIST_SIZE + 1000:
        parser.error(f"--rows must be at least {BIG_LIST_SIZE + 1000:,}")
    return run(args.rows, args.repeat)


if __name__ == "__main__":
    sys.exit(main())
