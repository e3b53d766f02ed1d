"""console/schema.py and `console schema-status` on databases of the tests' own."""

from __future__ import annotations

import json
import logging
import queue
import re
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from console import schema
from console.cli import main
from console.models import Base
from tests.schema_helpers import (
    GATE_KEY,
    HEAD,
    REVISIONS,
    broken,
    console_app,
    copy_scripts,
    empty_database,
    execute,
    gated,
    marker,
    noop,
    revision_source,
    version,
)

SCRIPTS = Path(__file__).resolve().parent.parent / "migrations"


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path):
    """An empty database of this test's own, on each dialect."""
    with empty_database(request.param, tmp_path) as url:
        yield url


def inspect(url: str, read):
    """Apply ``read`` to an inspector of ``url`` on a short-lived engine."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        return read(sa.inspect(engine))
    finally:
        engine.dispose()


def audit_summaries(url: str) -> list[dict]:
    """The summaries of the migration audit entries, oldest first."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT changes FROM audit_entry WHERE action = 'migration' ORDER BY id")
        ).scalars().all()
    engine.dispose()
    return [(row if isinstance(row, dict) else json.loads(row))["summary"] for row in rows]


def test_empty_database_has_every_revision_pending_then_upgrade_makes_it_current(empty_url):
    status = schema.status(empty_url, SCRIPTS)
    assert status.state == schema.EMPTY
    assert "empty" in status.explanation and "Upgrade to head" in status.explanation
    assert [rev.id for rev in status.pending] == REVISIONS
    assert status.current == () and status.heads == (HEAD,)
    assert not status.ok and status.can_upgrade and not status.can_downgrade
    assert [(rev.id, rev.is_pending) for rev in status.history] == [
        (rev, True) for rev in reversed(REVISIONS)
    ]

    result = schema.upgrade(empty_url, SCRIPTS, account=schema.Actor(None, "ops@example.com"))

    assert result.ok, result.error
    assert result.describe() == f"Upgrade done: base (no revision) -> {HEAD}."
    status = schema.status(empty_url, SCRIPTS)
    assert status.state == schema.UP_TO_DATE and status.up_to_date
    assert status.pending == [] and status.drift == [] and status.ok
    # Newest first; only the head is current, and nothing is pending any more.
    assert [(rev.id, rev.is_current, rev.is_head, rev.is_pending) for rev in status.history] == [
        (rev, rev == HEAD, rev == HEAD, False) for rev in reversed(REVISIONS)
    ]
    [summary] = audit_summaries(empty_url)
    assert summary["who"] == "ops@example.com"
    assert summary["revisions"] == REVISIONS
    assert (summary["from"], summary["to"], summary["result"]) == ([], [HEAD], "ok")


def test_status_describes_the_database(empty_url):
    status = schema.status(empty_url, SCRIPTS)
    expected = "SQLite" if empty_url.startswith("sqlite") else "PostgreSQL"
    assert status.server_version.startswith(expected)
    assert status.dialect == ("sqlite" if expected == "SQLite" else "postgresql")
    # Newest first, each revision naming the one before it as its parent.
    assert [rev.id for rev in status.history] == REVISIONS[::-1]
    assert [rev.parent for rev in status.history] == ["base", *REVISIONS[:-1]][::-1]
    first = status.history[-1]
    assert (first.id, first.date, first.parent) == (REVISIONS[0], "2026-11-26", "base")


def test_masked_url_hides_the_password():
    engine = sa.create_engine("postgresql+psycopg2://ops:s3cret@db.example:5432/console")
    assert schema.masked_url(engine) == "postgresql+psycopg2://ops:***@db.example:5432/console"
    engine.dispose()


def test_drift_is_named_in_plain_words(empty_url):
    assert schema.upgrade(empty_url, SCRIPTS).ok
    execute(
        empty_url,
        "ALTER TABLE person ADD COLUMN nickname VARCHAR(20)",
        "DROP INDEX ix_todo_list_owner_id",
    )
    status = schema.status(empty_url, SCRIPTS)
    texts = sorted(item.text for item in status.drift)
    assert texts == [
        "Column person.nickname is in the database but not in the models.",
        "Index ix_todo_list_owner_id on todo_list (owner_id) is in the models but not in the "
        "database.",
    ]
    assert status.up_to_date and not status.ok


def test_tables_without_alembic_version_are_explained_and_not_upgraded(empty_url):
    engine = sa.create_engine(empty_url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # The models' trigram indexes need the extension, which the migrations create.
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        Base.metadata.create_all(conn)
    engine.dispose()

    status = schema.status(empty_url, SCRIPTS)

    assert status.state == schema.UNVERSIONED
    assert "no Alembic version" in status.explanation
    assert "console db stamp head" in status.explanation
    assert status.drift == [] and not status.can_upgrade
    result = schema.upgrade(empty_url, SCRIPTS)
    assert result.refused and not result.ok
    assert "tables that already exist" in result.error


def test_unknown_revision_in_the_database_is_explained(empty_url):
    assert schema.upgrade(empty_url, SCRIPTS).ok
    execute(empty_url, "UPDATE alembic_version SET version_num = 'from_the_future'")
    status = schema.status(empty_url, SCRIPTS)
    assert status.state == schema.UNKNOWN_REVISION
    assert "from_the_future" in status.explanation and "newer" in status.explanation
    assert not status.can_upgrade and not status.can_downgrade


def test_upgrade_to_a_chosen_revision_runs_only_up_to_it(empty_url, tmp_path):
    scripts = copy_scripts(
        tmp_path, **{"0002_a": noop("0002_a", HEAD), "0003_b": noop("0003_b", "0002_a")}
    )
    assert [rev.id for rev in schema.plan_upgrade(empty_url, scripts, HEAD)] == REVISIONS
    assert schema.upgrade(empty_url, scripts, HEAD).ok

    assert [r.id for r in schema.plan_upgrade(empty_url, scripts, "0002_a")] == ["0002_a"]
    assert [r.id for r in schema.plan_upgrade(empty_url, scripts)] == ["0002_a", "0003_b"]
    with pytest.raises(schema.SchemaError, match="not pending"):
        schema.plan_upgrade(empty_url, scripts, HEAD)
    assert schema.upgrade(empty_url, scripts, "0002_a").ok
    assert version(empty_url) == ["0002_a"]
    assert [rev.id for rev in schema.status(empty_url, scripts).pending] == ["0003_b"]


def test_a_stale_confirmation_is_refused(empty_url, tmp_path):
    scripts = copy_scripts(tmp_path, **{"0002_a": noop("0002_a", HEAD)})
    assert schema.upgrade(empty_url, scripts, HEAD).ok

    result = schema.upgrade(empty_url, scripts, expected_current=())

    assert result.refused and "not at base" in result.error
    assert version(empty_url) == [HEAD]
    assert schema.downgrade_one(empty_url, scripts, "0002_a").refused
    result = schema.upgrade(empty_url, scripts, expected_current=(HEAD,), expected_plan=["x"])
    assert result.refused and "now 0002_a, not x" in result.error
    assert version(empty_url) == [HEAD]


def test_downgrade_one_step_and_back(empty_url, tmp_path):
    scripts = copy_scripts(tmp_path, **{"0002_marker": marker("0002_marker", HEAD)})
    assert schema.upgrade(empty_url, scripts).ok
    assert schema.plan_downgrade(empty_url, scripts).id == "0002_marker"

    result = schema.downgrade_one(empty_url, scripts, "0002_marker")

    assert result.ok and result.describe() == f"Downgrade done: 0002_marker -> {HEAD}."
    assert version(empty_url) == [HEAD]
    assert "marker" not in inspect(empty_url, lambda i: i.get_table_names())
    assert [s["result"] for s in audit_summaries(empty_url)] == ["ok", "ok"]


def test_several_heads_are_warned_about(empty_url, tmp_path):
    scripts = copy_scripts(
        tmp_path, **{"0002_a": noop("0002_a", HEAD), "0002_b": noop("0002_b", HEAD)}
    )
    status = schema.status(empty_url, scripts)
    assert sorted(status.heads) == ["0002_a", "0002_b"]
    assert any("2 heads" in warning and "merge" in warning for warning in status.warnings)
    assert any(f"{HEAD} is a branch point" in warning for warning in status.warnings)

    assert schema.upgrade(empty_url, scripts).ok
    status = schema.status(empty_url, scripts)
    assert sorted(status.current) == ["0002_a", "0002_b"] and status.up_to_date
    assert any("several revisions at once" in warning for warning in status.warnings)
    with pytest.raises(schema.SchemaError, match="several revisions at once"):
        schema.plan_downgrade(empty_url, scripts)


def test_running_alembic_in_process_keeps_the_logging_setup(empty_url):
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    app_logger = logging.getLogger("console")
    assert schema.upgrade(empty_url, SCRIPTS).ok
    assert root.handlers == handlers and root.level == level
    assert not app_logger.disabled


def _revision_lines(output: str) -> tuple[list[str], list[str]]:
    """The pending revision ids, in run order, and the history lines of schema-status."""
    lines = output.splitlines()
    history = lines.index("History (newest first):")
    pending = [
        match.group(1)
        for line in lines[:history]
        if (match := re.fullmatch(r"  (\S+)  .*  \(date .*, parent .*\)", line))
    ]
    return pending, lines[history + 1:]


@pytest.mark.parametrize("drift", [False, True])
def test_cli_schema_status(empty_url, tmp_path, drift):
    with console_app(empty_url, SCRIPTS, tmp_path) as app:
        runner = app.test_cli_runner()
        result = runner.invoke(main, ["schema-status"])
        assert result.exit_code == 1
        assert "State:           empty" in result.output
        pending, history = _revision_lines(result.output)
        assert pending == REVISIONS
        assert [line.split()[0] for line in history] == REVISIONS[::-1]
        assert history[-1].startswith(f"  {REVISIONS[0]}  Initial schema")
        assert history[0].endswith("[head, pending]")

        assert schema.upgrade(empty_url, SCRIPTS).ok
        if drift:
            execute(
                empty_url,
                "ALTER TABLE person ADD COLUMN nickname VARCHAR(20)",
                "DROP INDEX ix_todo_list_owner_id",
            )
        result = runner.invoke(main, ["schema-status"])

    assert "State:           up to date" in result.output
    assert "Pending revisions: none" in result.output
    _pending, history = _revision_lines(result.output)
    assert history[0].startswith(f"  {HEAD}  ") and history[0].endswith("[current, head]")
    assert not any(line.endswith("]") for line in history[1:])
    if drift:
        assert result.exit_code == 1
        assert "Column person.nickname is in the database but not in the models." in result.output
        assert (
            "Index ix_todo_list_owner_id on todo_list (owner_id) is in the models" in result.output
        )
    else:
        assert result.exit_code == 0, result.output
        assert "Drift: none" in result.output


# --- PostgreSQL: transactional DDL and the advisory lock ---------------------------------


@pytest.fixture
def own_pg_url(tmp_path: Path):
    """An empty PostgreSQL database of this test's own."""
    with empty_database("postgresql", tmp_path) as url:
        yield url


def test_a_failing_revision_leaves_the_last_good_one(own_pg_url, tmp_path):
    scripts = copy_scripts(
        tmp_path,
        **{"0002_marker": marker("0002_marker", HEAD), "0003_broken": broken("0003_broken",
                                                                            "0002_marker")},
    )

    result = schema.upgrade(own_pg_url, scripts, account=schema.Actor(None, "ops@example.com"))

    assert not result.ok and not result.refused
    assert "no_such_table" in result.error
    assert result.after == ("0002_marker",)
    assert "database is at 0002_marker" in result.describe()
    assert version(own_pg_url) == ["0002_marker"]
    columns = inspect(own_pg_url, lambda i: {c["name"] for c in i.get_columns("person")})
    assert "half_done" not in columns
    [summary] = audit_summaries(own_pg_url)
    assert summary["result"] == "failed" and "no_such_table" in summary["error"]
    assert summary["revisions"] == [*REVISIONS, "0002_marker", "0003_broken"]
    assert summary["to"] == ["0002_marker"]


def test_a_held_lock_refuses_the_run(own_pg_url):
    engine = sa.create_engine(own_pg_url, poolclass=sa.pool.NullPool)
    with engine.connect() as holder:
        holder.execute(sa.select(sa.func.pg_advisory_lock(schema.LOCK_KEY)))
        result = schema.upgrade(own_pg_url, SCRIPTS)
    engine.dispose()
    assert result.refused and "a migration is already running" in result.error
    assert schema.status(own_pg_url, SCRIPTS).state == schema.EMPTY


def test_two_upgrades_at_once_run_once(own_pg_url, tmp_path):
    scripts = copy_scripts(
        tmp_path,
        **{"0002_marker": marker("0002_marker", HEAD), "0003_gated": gated("0003_gated",
                                                                          "0002_marker")},
    )
    assert schema.upgrade(own_pg_url, scripts, HEAD).ok
    gate_engine = sa.create_engine(own_pg_url, poolclass=sa.pool.NullPool)
    results: queue.Queue = queue.Queue()
    start = threading.Barrier(2, timeout=30)

    def run(name: str) -> None:
        start.wait()
        results.put(schema.upgrade(own_pg_url, scripts, account=schema.Actor(None, name)))

    with gate_engine.connect() as gate:
        # The run that wins the lock waits inside 0003 until the other has been turned away.
        gate.execute(sa.select(sa.func.pg_advisory_lock(GATE_KEY)))
        threads = [threading.Thread(target=run, args=(n,)) for n in ("a@x.org", "b@x.org")]
        for thread in threads:
            thread.start()
        first = results.get(timeout=60)
        gate.execute(sa.select(sa.func.pg_advisory_unlock(GATE_KEY)))
        second = results.get(timeout=60)
    for thread in threads:
        thread.join(timeout=60)
    gate_engine.dispose()

    assert first.refused and "a migration is already running" in first.error
    assert second.ok, second.error
    assert version(own_pg_url) == ["0003_gated"]
    assert execute(own_pg_url, "SELECT count(*) FROM marker") == [(1,)]
    assert sorted(s["result"] for s in audit_summaries(own_pg_url)[1:]) == ["ok", "refused"]


BATCH_RECREATE = """
with op.batch_alter_table("todo_list", recreate="always") as batch:
    batch.add_column(sa.Column("colour", sa.String(10)))
"""


def test_sqlite_batch_migration_through_the_app_engine_keeps_child_rows(tmp_path):
    # Foreign keys are ON on the app's connections; a table copy must not cascade to to-dos.
    scripts = copy_scripts(
        tmp_path, **{"0002_batch": revision_source("0002_batch", HEAD, "Recreate todo_list",
                                             BATCH_RECREATE)}
    )
    url = f"sqlite:///{tmp_path / 'batch.sqlite3'}"
    assert schema.upgrade(url, scripts, HEAD).ok
    execute(
        url,
        "INSERT INTO person (name, email) VALUES ('Ann', 'ann@example.com')",
        "INSERT INTO todo_list (name, owner_id) VALUES ('Groceries', 1)",
        "INSERT INTO todo (description, list_id) VALUES ('Buy milk', 1)",
    )
    with console_app(url, scripts, tmp_path) as app:
        engine = app.extensions["sqlalchemy"].engine
        result = schema.upgrade(engine, scripts)
        assert result.ok, result.error
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("SELECT description FROM todo").all() == [("Buy milk",)]


def test_console_init_migrates_once_and_then_finds_nothing_to_do(empty_url, tmp_path):
    with console_app(empty_url, SCRIPTS, tmp_path) as app:
        runner = app.test_cli_runner()
        first = runner.invoke(main, ["init"])
        assert first.exit_code == 0, first.output
        assert f"Upgrade done: base (no revision) -> {HEAD}." in first.output
        second = runner.invoke(main, ["init"])
        assert second.exit_code == 0, second.output
        assert "Upgrade done" not in second.output
        assert runner.invoke(main, ["schema-status"]).exit_code == 0
    assert [s["result"] for s in audit_summaries(empty_url)] == ["ok"]


def test_console_init_refuses_a_database_it_cannot_place(empty_url, tmp_path):
    engine = sa.create_engine(empty_url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE person (id INTEGER PRIMARY KEY)")
    engine.dispose()
    with console_app(empty_url, SCRIPTS, tmp_path) as app:
        result = app.test_cli_runner().invoke(main, ["init"])
    assert result.exit_code == 1
    assert "no Alembic version" in result.output


def _waiting_for_migration_lock(conn) -> bool:
    return bool(conn.exec_driver_sql(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
        f"AND objid = {schema.LOCK_KEY}"
    ).scalar())


def test_a_waiting_upgrade_queues_behind_the_lock(own_pg_url):
    engine = sa.create_engine(own_pg_url, poolclass=sa.pool.NullPool)
    results: queue.Queue = queue.Queue()
    with engine.connect() as holder, engine.connect() as watcher:
        holder.execute(sa.select(sa.func.pg_advisory_lock(schema.LOCK_KEY)))
        holder.commit()
        timed_out = schema.upgrade(own_pg_url, SCRIPTS, wait_seconds=0.2)
        assert timed_out.refused and "a migration is already running" in timed_out.error

        waiter = threading.Thread(
            target=lambda: results.put(schema.upgrade(own_pg_url, SCRIPTS, wait_seconds=60))
        )
        waiter.start()
        for _ in range(600):  # up to ~30 s for the waiter to queue on the lock
            if _waiting_for_migration_lock(watcher):
                break
            watcher.rollback()
            threading.Event().wait(0.05)
        else:
            pytest.fail("the upgrade never waited for the lock")
        assert results.empty()
        holder.execute(sa.select(sa.func.pg_advisory_unlock(schema.LOCK_KEY)))
        holder.commit()
        result = results.get(timeout=60)
        waiter.join(timeout=60)
    engine.dispose()
    assert result.ok, result.error
    assert version(own_pg_url) == [HEAD]
