"""Exact row counts kept by the database (console.counts), and typed pages from the nearer end."""

from __future__ import annotations

import queue
import re
import threading
from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from console import counts, create_app, paging, schema
from console.cli import main
from console.demo.models import Person, Priority, Todo, TodoList
from console.extensions import db as _db
from tests.bulk_helpers import run_import, todo_csv
from tests.conftest import create_pg_database, drop_pg_database, require_pg
from tests.test_big_lists import row_ids

COUNTED_TABLES = ("person", "todo_list", "todo")
ROWS = 130
SIZE = 20
# 130 rows, 20 a page: pages 0-6 (the last one short). Offsets past 65 are read backwards.
PAGES = [0, 1, 3, 4, 5, 6, 7, 50]


@pytest.fixture
def rows(db: Any) -> dict[str, Any]:
    """130 to-dos with repeated values and NULL due dates, on two lists."""
    ann = Person(name="Ann", email="ann@example.com")
    home = TodoList(name="Home", owner=ann)
    work = TodoList(name="Work", owner=ann)
    db.session.add_all([ann, home, work])
    db.session.flush()
    start = date(2026, 1, 1)
    db.session.execute(
        sa.insert(Todo),
        [
            {
                "description": f"task {i % 9}",
                "completed": i % 3 == 0,
                "due_date": None if i % 4 == 0 else start + timedelta(days=i % 5),
                "priority": list(Priority)[i % 3],
                "list_id": (home if i % 2 else work).id,
            }
            for i in range(ROWS)
        ],
    )
    db.session.commit()
    return {"home": home.id, "work": work.id}


def plain_offset(column: Any, desc: bool, offset: int, *where: Any) -> list[int]:
    """The page as a plain OFFSET query gives it: the reference."""
    order = [column.desc(), Todo.id.desc()] if desc else [column.asc(), Todo.id.asc()]
    if column is Todo.id:
        order = order[1:]
    return list(
        _db.session.scalars(
            sa.select(Todo.id).where(*where).order_by(*order).offset(offset).limit(SIZE)
        )
    )


# (sort argument, column): the sortable columns of the to-do list, nullable due_date included.
SORTS = [(None, Todo.id), (1, Todo.description), (2, Todo.completed), (3, Todo.due_date),
         (4, Todo.priority)]


@pytest.mark.parametrize("sort,column", SORTS)
@pytest.mark.parametrize("desc", [False, True])
def test_typed_pages_are_the_rows_of_the_plain_offset_query(
    viewer_client, rows, sort, column, desc
):
    for page in PAGES:
        url = f"/admin/todo/?page_size={SIZE}&page={page}"
        if sort is not None:
            url += f"&sort={sort}" + ("&desc=1" if desc else "")
        response = viewer_client.get(url)
        assert response.status_code == 200
        want = plain_offset(column, desc and sort is not None, page * SIZE)
        assert row_ids(response.get_data(as_text=True)) == want, url


@pytest.mark.parametrize("desc", [False, True])
@pytest.mark.parametrize(
    "query,where",
    [
        ("flt0_completed_equals=0", [Todo.completed.is_(False)]),
        ("search=task+3", [Todo.description.ilike("%task 3%")]),
    ],
)
def test_typed_pages_of_a_filtered_list_from_both_ends(viewer_client, rows, desc, query, where):
    matching = _db.session.scalar(sa.select(sa.func.count()).select_from(Todo).where(*where))
    last = (matching - 1) // SIZE
    for page in sorted({0, last // 2, last - 1, last, last + 1}):
        if page < 0:
            continue
        url = f"/admin/todo/?page_size={SIZE}&page={page}&{query}&sort=3"
        url += "&desc=1" if desc else ""
        page_html = viewer_client.get(url).get_data(as_text=True)
        assert row_ids(page_html) == plain_offset(Todo.due_date, desc, page * SIZE, *where), url
        assert f"{matching} records" in page_html


def link(page: str, rel: str) -> str | None:
    """The href of the pager link with ``rel`` when it is enabled."""
    match = re.search(
        rf'<li class="page-item( disabled)?"><a class="page-link" rel="{rel}" href="([^"]*)"', page
    )
    return None if not match or match.group(1) else match.group(2)


def test_pager_of_a_page_read_backwards(viewer_client, rows):
    html = viewer_client.get(f"/admin/todo/?page_size={SIZE}&page=5").get_data(as_text=True)
    assert "Page 6 of 7" in html
    assert link(html, "next") and link(html, "prev")
    last = viewer_client.get(f"/admin/todo/?page_size={SIZE}&page=6").get_data(as_text=True)
    assert len(row_ids(last)) == ROWS - 6 * SIZE
    assert link(last, "next") is None and link(last, "prev")
    past = viewer_client.get(f"/admin/todo/?page_size={SIZE}&page=7").get_data(as_text=True)
    assert row_ids(past) == [] and link(past, "next") is None


def test_from_the_end():
    assert paging.from_the_end(0, 20, 130) is None
    assert paging.from_the_end(60, 20, 130) is None  # 60 of 130: nearer the front
    assert paging.from_the_end(80, 20, 130) == (30, 20)  # rows 80..99 = reversed 30..49
    assert paging.from_the_end(120, 20, 130) == (0, 10)  # the short last page
    assert paging.from_the_end(140, 20, 130) == (0, 0)  # past the end
    assert paging.from_the_end(19_999 * 50, 50, 1_000_000) == (0, 50)
    assert paging.from_the_end(20, 20, 0) == (0, 0)  # an empty table: nothing to walk
    assert paging.from_the_end(0, 20, 0) is None


# -- the counts the database keeps (PostgreSQL) -------------------------------------------------


def kept(table: str = "todo") -> int | None:
    return paging.exact_table_count(_db.session, table)


def counted(table: str = "todo") -> int:
    return _db.session.scalar(sa.text(f"SELECT count(*) FROM {table}"))


def delta_rows(table: str = "todo") -> int:
    return _db.session.scalar(
        sa.text("SELECT count(*) FROM console.row_count_delta WHERE table_name = :t"), {"t": table}
    )


def test_postgresql_keeps_the_count_and_sqlite_counts_rows(db, rows):
    postgres = db.engine.dialect.name == "postgresql"
    assert kept() == (ROWS if postgres else None)
    assert paging.count_rows(
        db.session, sa.select(Todo), Todo.id, table_name="todo", filtered=False
    ) == paging.RowCount(ROWS)


@pytest.mark.postgres_only
def test_every_counted_table_starts_exact_and_follows_inserts_and_deletes(db, sample):
    for table in COUNTED_TABLES:
        assert kept(table) == counted(table)
    db.session.add(Todo(description="one more", list_id=sample["groceries"]))
    db.session.commit()
    db.session.execute(
        sa.insert(Todo),
        [{"description": f"n{i}", "list_id": sample["groceries"]} for i in range(5)]
    )
    db.session.commit()
    assert kept() == counted() == 8
    db.session.execute(sa.delete(Todo).where(Todo.description.in_(["n1", "n2"])))
    db.session.execute(sa.delete(Todo).where(Todo.description == "nothing matches"))
    db.session.commit()
    assert kept() == counted() == 6
    assert paging.count_rows(
        db.session, sa.select(Todo), Todo.id, table_name="todo", filtered=False
    ) == paging.RowCount(6)


@pytest.mark.postgres_only
def test_deleting_a_list_counts_its_cascaded_todos(db, sample):
    before = kept()
    db.session.execute(sa.delete(TodoList).where(TodoList.id == sample["groceries"]))
    db.session.commit()
    assert kept() == counted() == before - 2
    assert kept("todo_list") == counted("todo_list") == 0


@pytest.mark.postgres_only
def test_a_bulk_import_in_replica_mode_is_counted(db, sample):
    result = run_import("todo", todo_csv(300))
    assert result.committed and result.set_based_references
    assert kept() == counted() == 302


@pytest.mark.postgres_only
def test_replica_mode_still_counts(db, sample):
    db.session.execute(sa.text("SET LOCAL session_replication_role = replica"))
    db.session.execute(sa.text("DELETE FROM todo"))
    db.session.commit()
    assert kept() == counted() == 0


@pytest.mark.postgres_only
def test_truncate_resets_the_count_to_one_row_of_zero(db, sample):
    db.session.execute(sa.text("TRUNCATE todo"))
    db.session.commit()
    assert kept() == counted() == 0
    assert delta_rows() == 1
    db.session.add(Todo(description="after", list_id=sample["groceries"]))
    db.session.commit()
    assert kept() == counted() == 1
    # TRUNCATE ... CASCADE truncates the children too, each reset by its own trigger.
    db.session.execute(sa.text("TRUNCATE person CASCADE"))
    db.session.commit()
    assert [kept(t) for t in COUNTED_TABLES] == [0, 0, 0]


@pytest.mark.postgres_only
def test_truncate_refuses_repeatable_read(db, sample):
    db.session.rollback()  # the fixture's reads hold a lock that TRUNCATE would wait for
    engine = sa.create_engine(db.engine.url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            conn.exec_driver_sql("SET lock_timeout = '5s'")
            with pytest.raises(sa.exc.DBAPIError, match="needs READ COMMITTED"):
                conn.exec_driver_sql("TRUNCATE todo")
            conn.rollback()
    finally:
        engine.dispose()
    assert kept() == counted() == 2


@pytest.mark.postgres_only
def test_a_rolled_back_transaction_is_not_counted(db, sample):
    db.session.execute(
        sa.insert(Todo),
        [{"description": f"r{i}", "list_id": sample["groceries"]} for i in range(4)]
    )
    db.session.execute(sa.delete(Todo).where(Todo.id == sample["milk"]))
    assert kept() == counted() == 5  # the transaction sees its own changes
    db.session.rollback()
    assert kept() == counted() == 2


@pytest.mark.postgres_only
def test_compaction_folds_the_deltas_into_one_row(db, sample):
    for i in range(6):
        db.session.add(Todo(description=f"c{i}", list_id=sample["groceries"]))
        db.session.commit()
    db.session.execute(sa.delete(Todo).where(Todo.description == "c0"))
    db.session.commit()
    assert delta_rows() > 1
    folded = paging.compact_row_counts(db.session, "todo")
    db.session.commit()
    assert folded > 1
    assert delta_rows() == 1
    assert kept() == counted() == 7
    assert kept("person") == counted("person")  # other tables' deltas are untouched


@pytest.mark.postgres_only
def test_the_triggers_compact_now_and_then(db, sample):
    """1,500 single-row statements each way: about one in a hundred folds the deltas.

    (The chance that none of 1,500 folds is 0.99 ** 1500, about 3 in 10 million.)
    """
    db.session.execute(
        sa.text(
            "DO $$ BEGIN FOR i IN 1..1500 LOOP "
            "INSERT INTO todo (description, list_id) "
            f"VALUES ('loop ' || i, {sample['groceries']}); END LOOP; END $$"
        )
    )
    db.session.commit()
    assert kept() == counted() == 1502
    assert delta_rows() < 1500
    db.session.execute(
        sa.text(
            "DO $$ DECLARE t bigint; BEGIN FOR t IN SELECT id FROM todo WHERE description "
            "LIKE 'loop %' LOOP DELETE FROM todo WHERE id = t; END LOOP; END $$"
        )
    )
    db.session.commit()
    assert kept() == counted() == 2
    assert delta_rows() < 1500


TODO_SUM = "SELECT sum(delta) FROM console.row_count_delta WHERE table_name = 'todo'"


@pytest.mark.postgres_only
def test_two_transactions_see_only_committed_counts_and_never_wait(db, sample):
    engine = sa.create_engine(db.engine.url, poolclass=sa.pool.NullPool)
    insert = "INSERT INTO todo (description, list_id) VALUES ('w', :l)"
    try:
        with engine.connect() as writer, engine.connect() as other:
            for conn in (writer, other):
                # Waiting on a lock would be an error here, not a slow test.
                conn.exec_driver_sql("SET lock_timeout = '2s'")
                conn.commit()
            for _ in range(3):
                writer.execute(sa.text(insert), {"l": sample["groceries"]})
            # The writer's uncommitted inserts are not counted by the other transaction.
            assert other.scalar(sa.text(TODO_SUM)) == 2
            other.execute(sa.text(insert), {"l": sample["groceries"]})
            other.commit()
            assert other.scalar(sa.text(TODO_SUM)) == 3
            assert writer.scalar(sa.text(TODO_SUM)) == 6  # its own three and the committed one
            # The writer folds every delta it sees (locking them until it commits)...
            assert writer.scalar(sa.text("SELECT console.row_count_compact('todo')")) >= 2
            # ...and a compaction meanwhile skips those rows instead of waiting.
            assert other.scalar(sa.text("SELECT console.row_count_compact('todo')")) == 0
            other.commit()
            assert other.scalar(sa.text(TODO_SUM)) == 3
            writer.commit()
            assert other.scalar(sa.text(TODO_SUM)) == 6
            other.commit()
    finally:
        engine.dispose()
    assert kept() == counted() == 6
    assert delta_rows() == 1


@pytest.mark.postgres_only
def test_a_count_trigger_that_does_not_fire_always_means_no_kept_count(db, sample):
    db.session.execute(sa.text("ALTER TABLE todo ENABLE TRIGGER row_count_delete"))  # origin only
    assert kept() is None
    assert kept("person") == 2
    db.session.rollback()
    assert kept() == 2


def test_paging_looks_for_the_triggers_counts_installs():
    assert paging.ROW_COUNT_TRIGGERS == counts.TRIGGER_NAMES


@pytest.fixture
def uncounted_database(tmp_path):
    """A PostgreSQL database migrated to head whose demo tables keep no counts, with rows."""
    require_pg()
    url = create_pg_database("console_counts")
    assert schema.initialise(url, [schema.console_history(), schema.demo_history()]).ok
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        assert counts.remove_row_counts(conn, *COUNTED_TABLES) == list(COUNTED_TABLES)
        conn.exec_driver_sql("INSERT INTO person (name, email) VALUES ('P', 'p@example.com')")
        conn.exec_driver_sql("INSERT INTO todo_list (name, owner_id) VALUES ('L', 1)")
        conn.exec_driver_sql(
            "INSERT INTO todo (description, list_id) "
            "SELECT 'x' || g, 1 FROM generate_series(1, 57) g"
        )
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "x",
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path / "instance"),
        }
    )
    yield app, url, engine
    engine.dispose()
    drop_pg_database(url)


def _invoke(app, *args):
    with app.app_context():
        try:
            return app.test_cli_runner().invoke(main, list(args))
        finally:
            _db.engine.dispose()


def test_a_table_without_kept_counts_counts_as_before_then_is_seeded_exactly(
    uncounted_database,
):
    app, _url, engine = uncounted_database
    with Session(engine) as session:
        assert paging.exact_table_count(session, "todo") is None
        assert paging.count_rows(
            session, sa.select(Todo), Todo.id, table_name="todo", filtered=False
        ) == paging.RowCount(57)
    status = _invoke(app, "row-counts", "status")
    assert "todo: not kept" in status.output
    result = _invoke(app, "row-counts", "install", "person", "todo_list", "to-dos")
    assert result.exit_code == 0, result.output
    assert "Row counts installed for: person, todo_list, todo." in result.output
    with Session(engine) as session:
        assert [paging.exact_table_count(session, t) for t in COUNTED_TABLES] == [1, 1, 57]
    status = _invoke(app, "row-counts", "status")
    assert "todo: kept by the database (57 rows)" in status.output
    again = _invoke(app, "row-counts", "install", "--managed")
    assert again.exit_code == 0 and "Already kept: person, todo_list, todo." in again.output


def test_counts_for_any_table_of_any_application(uncounted_database):
    _app, _url, engine = uncounted_database
    with engine.begin() as conn:
        conn.exec_driver_sql('CREATE TABLE "Shop Order" (id serial PRIMARY KEY, ref text)')
        conn.exec_driver_sql(
            "INSERT INTO \"Shop Order\" (ref) SELECT 'r' || g FROM generate_series(1, 9) g"
        )
        assert counts.install_row_counts(conn, "Shop Order") == ["Shop Order"]
        assert counts.install_row_counts(conn, "Shop Order") == []  # already kept
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM \"Shop Order\" WHERE id <= 3")
        conn.exec_driver_sql("INSERT INTO \"Shop Order\" (ref) VALUES ('late')")
        state = counts.table_counts(conn, "Shop Order")
        assert (state.state, state.rows) == (counts.KEPT, 7)
        assert counts.counted_tables(conn) == ["Shop Order"]
        conn.exec_driver_sql('TRUNCATE "Shop Order"')
        assert counts.table_counts(conn, "Shop Order").rows == 0
        assert counts.remove_row_counts(conn, "Shop Order") == ["Shop Order"]
        assert counts.table_counts(conn, "Shop Order").state == counts.NOT_KEPT
        assert conn.scalar(
            sa.text("SELECT count(*) FROM console.row_count_delta WHERE table_name = 'Shop Order'")
        ) == 0


def test_an_incomplete_count_is_reinstalled_and_reseeded(uncounted_database):
    _app, _url, engine = uncounted_database
    with engine.begin() as conn:
        counts.install_row_counts(conn, "todo")
        # A trigger that stopped firing misses writes: the count is wrong from then on.
        conn.exec_driver_sql("ALTER TABLE todo DISABLE TRIGGER row_count_insert")
        conn.exec_driver_sql("INSERT INTO todo (description, list_id) VALUES ('missed', 1)")
        state = counts.table_counts(conn, "todo")
        assert state.state == counts.INCOMPLETE and state.missing == ("row_count_insert",)
        assert "reinstalls them" in state.describe()
        assert counts.install_row_counts(conn, "todo") == ["todo"]
        assert counts.table_counts(conn, "todo").rows == 58 == conn.scalar(
            sa.text("SELECT count(*) FROM todo")
        )


def test_install_refuses_what_it_cannot_count(uncounted_database):
    app, _url, engine = uncounted_database
    with engine.begin() as conn:
        with pytest.raises(counts.CountsError, match="cannot count itself"):
            counts.install_row_counts(conn, "row_count_delta")
        with pytest.raises(counts.CountsError, match="no table 'nope'"):
            counts.install_row_counts(conn, "nope")
    result = _invoke(app, "row-counts", "install", "nope")
    assert result.exit_code == 2 and "no table or model 'nope'" in result.output


def test_install_without_the_console_tables_says_to_run_init(tmp_path):
    require_pg()
    url = create_pg_database("console_counts")
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (id int)")
            with pytest.raises(counts.CountsError, match="run `console init`"):
                counts.install_row_counts(conn, "t")
    finally:
        engine.dispose()
        drop_pg_database(url)


def test_the_seed_waits_for_writers_so_the_count_is_exact(uncounted_database):
    _app, _url, engine = uncounted_database
    done: queue.Queue = queue.Queue()
    with engine.connect() as writer, engine.connect() as watcher:
        writer.exec_driver_sql(
            "INSERT INTO todo (description, list_id) SELECT 'w' || g, 1 "
            "FROM generate_series(1, 5) g"
        )  # uncommitted: holds ROW EXCLUSIVE on todo

        def install() -> None:
            with engine.begin() as conn:
                conn.exec_driver_sql("SET LOCAL lock_timeout = '30s'")
                done.put(counts.install_row_counts(conn, "todo"))

        thread = threading.Thread(target=install)
        thread.start()
        for _ in range(600):
            waiting = watcher.scalar(
                sa.text(
                    "SELECT count(*) FROM pg_locks WHERE NOT granted "
                    "AND relation = to_regclass('todo')"
                )
            )
            watcher.rollback()
            if waiting:
                break
            threading.Event().wait(0.05)
        else:
            pytest.fail("the install never waited for the writer")
        assert done.empty()
        writer.commit()
        thread.join(timeout=60)
    assert done.get(timeout=1) == ["todo"]
    with Session(engine) as session:
        assert paging.exact_table_count(session, "todo") == 62


def test_counts_do_nothing_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'counts.sqlite3'}"
    assert schema.initialise(url, [schema.console_history(), schema.demo_history()]).ok
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        assert counts.install_row_counts(conn, "todo") == []
        assert counts.table_counts(conn, "todo").state == counts.NOT_POSTGRESQL
        assert counts.counted_tables(conn) == []
        assert conn.exec_driver_sql("SELECT count(*) FROM row_count_delta").scalar() == 0
    engine.dispose()
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "x", "TESTING": True,
         "INSTANCE_PATH": str(tmp_path / "instance")}
    )
    result = _invoke(app, "row-counts", "install", "todo")
    assert result.exit_code == 0 and "Row counts are kept on PostgreSQL only" in result.output
