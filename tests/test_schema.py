"""console/schema.py, `console init`, `console db` and `console schema-status` on databases
of the tests' own.

Most tests run the console's own history (``migrations/``, or a copy with extra
revisions); its drift is about the console's tables only.
"""

from __future__ import annotations

import json
import logging
import queue
import re
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from console import create_app, schema
from console.cli import main
from console.extensions import db as _db
from console.models import create_own_tables
from tests.fixtures.shop_models import ShopBase
from tests.schema_helpers import (
    DEMO_HEAD,
    GATE_KEY,
    HEAD,
    REVISIONS,
    all_tables,
    broken,
    console_app,
    copy_scripts,
    empty_database,
    execute,
    gated,
    marker,
    noop,
    own,
    queue_tables,
    revision_source,
    version,
)

SCRIPTS = schema.CONSOLE_SCRIPTS
SHOP_MODELS = "tests.fixtures.shop_models"


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
            sa.text(f"SELECT changes FROM {own(url)}audit_entry WHERE action = 'migration' "
                    "ORDER BY id")
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
    assert (first.id, first.date, first.parent) == (REVISIONS[0], "2026-12-01", "base")


def test_masked_url_hides_the_password():
    engine = sa.create_engine("postgresql+psycopg2://ops:s3cret@db.example:5432/console")
    assert schema.masked_url(engine) == "postgresql+psycopg2://ops:***@db.example:5432/console"
    engine.dispose()


DRIFT = (
    "ALTER TABLE {console}account ADD COLUMN nickname VARCHAR(20)",
    "DROP INDEX {console}ix_audit_entry_model",
)
DRIFT_TEXTS = [
    "Column account.nickname is in the database but not in the models.",
    "Index ix_audit_entry_model on audit_entry (model) is in the models but not in the database.",
]


def test_drift_is_named_in_plain_words(empty_url):
    assert schema.upgrade(empty_url, SCRIPTS).ok
    execute(empty_url, *DRIFT)
    status = schema.status(empty_url, SCRIPTS)
    assert sorted(item.text for item in status.drift) == DRIFT_TEXTS
    assert status.up_to_date and not status.ok


def test_drift_is_only_about_the_histories_own_tables(empty_url):
    """Other tables, and other columns on them, are not the console's: no drift, no failure."""
    histories = [schema.console_history(), schema.demo_history()]
    assert schema.initialise(empty_url, histories).ok
    execute(
        empty_url,
        "CREATE TABLE their_table (id INTEGER PRIMARY KEY, note VARCHAR(20))",
        "CREATE INDEX ix_their_note ON their_table (note)",
    )
    console_only = schema.report(empty_url, histories[:1])
    assert console_only.own.drift == [] and console_only.ok
    # Without the demo as the source, its tables are someone else's too.
    assert console_only.unmanaged == ["alembic_version", "person", "their_table", "todo",
                                      "todo_list"]
    both = schema.report(empty_url, histories, managed_tables=["person", "todo_list", "todo"])
    assert [status.drift for status in both.histories] == [[], []]
    assert both.unmanaged == ["their_table"] and both.managed == [] and both.ok
    execute(empty_url, "ALTER TABLE todo ADD COLUMN colour VARCHAR(10)")
    both = schema.report(empty_url, histories)
    assert both.own.drift == []
    assert [item.text for item in both.histories[1].drift] == [
        "Column todo.colour is in the database but not in the models."
    ]
    assert not both.ok


def test_tables_without_alembic_version_are_explained_and_not_upgraded(empty_url):
    engine = sa.create_engine(empty_url, poolclass=sa.pool.NullPool)
    create_own_tables(engine)
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
    execute(empty_url,
            "UPDATE {console}console_alembic_version SET version_num = 'from_the_future'")
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
    assert "marker" not in all_tables(empty_url)
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


def _section(output: str, title: str) -> list[str]:
    """The lines of one history's section of schema-status (after its ``== title ==``)."""
    blocks = output.split("\n\n")
    [block] = [b for b in blocks if b.startswith(f"== {title}")]
    return block.splitlines()[1:]


def _revision_lines(lines: list[str]) -> tuple[list[str], list[str]]:
    """The pending revision ids, in run order, and the history lines of a section."""
    history = lines.index("History (newest first):")
    pending = [
        match.group(1)
        for line in lines[:history]
        if (match := re.fullmatch(r"  (\S+)  .*  \(date .*, parent .*\)", line))
    ]
    return pending, lines[history + 1:]


OWN = "The console's own tables"
DEMO = "The demo's tables"


@pytest.mark.parametrize("drift", [False, True])
def test_cli_schema_status(empty_url, tmp_path, drift):
    with console_app(empty_url, SCRIPTS, tmp_path) as app:
        runner = app.test_cli_runner()
        result = runner.invoke(main, ["schema-status"])
        assert result.exit_code == 1
        own = _section(result.output, OWN)
        assert "State:           empty" in own
        assert "Version table:   console_alembic_version" in own
        pending, history = _revision_lines(own)
        assert pending == REVISIONS
        assert [line.split()[0] for line in history] == REVISIONS[::-1]
        assert history[-1].startswith(f"  {REVISIONS[0]}  The console's own tables")
        assert history[0].endswith("[head, pending]")
        demo = _section(result.output, DEMO)
        assert "State:           empty" in demo and "Version table:   alembic_version" in demo

        assert schema.upgrade(empty_url, SCRIPTS).ok
        assert schema.upgrade(empty_url, schema.demo_history()).ok
        execute(empty_url, "CREATE TABLE their_table (id INTEGER PRIMARY KEY)")
        if drift:
            execute(empty_url, *DRIFT)
        result = runner.invoke(main, ["schema-status"])

    own = _section(result.output, OWN)
    assert "State:           up to date" in own
    assert "Pending revisions: none" in own
    _pending, history = _revision_lines(own)
    assert history[0].startswith(f"  {HEAD}  ") and history[0].endswith("[current, head]")
    assert not any(line.endswith("]") for line in history[1:])
    _pending, demo_history = _revision_lines(_section(result.output, DEMO))
    assert demo_history[0].startswith(f"  {DEMO_HEAD}  ")
    assert demo_history[0].endswith("[current, head]")
    # Someone else's table is named, and is no reason to fail.
    assert "Not managed by the console: their_table" in result.output
    if drift:
        assert result.exit_code == 1
        for text in DRIFT_TEXTS:
            assert text in result.output
    else:
        assert result.exit_code == 0, result.output
        assert "Drift: none" in own


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
    columns = inspect(own_pg_url,
                      lambda i: {c["name"] for c in i.get_columns("account", "console")})
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
    assert execute(own_pg_url, "SELECT count(*) FROM {console}marker") == [(1,)]
    assert sorted(s["result"] for s in audit_summaries(own_pg_url)[1:]) == ["ok", "refused"]


BATCH_RECREATE = """
with op.batch_alter_table("account", recreate="always") as batch:
    batch.add_column(sa.Column("colour", sa.String(10)))
"""


def test_sqlite_batch_migration_through_the_app_engine_keeps_child_rows(tmp_path):
    # Foreign keys are ON on the app's connections; a table copy must not SET NULL the
    # audit entries' accounts.
    scripts = copy_scripts(
        tmp_path, **{"0002_batch": revision_source("0002_batch", HEAD, "Recreate account",
                                             BATCH_RECREATE)}
    )
    url = f"sqlite:///{tmp_path / 'batch.sqlite3'}"
    assert schema.upgrade(url, scripts, HEAD).ok
    execute(
        url,
        "INSERT INTO account (email, password_hash, session_token) "
        "VALUES ('ann@example.com', 'x', 't')",
        "INSERT INTO audit_entry (at, account_id, action) VALUES (CURRENT_TIMESTAMP, 1, 'login')",
    )
    with console_app(url, scripts, tmp_path) as app:
        engine = app.extensions["sqlalchemy"].engine
        result = schema.upgrade(engine, scripts)
        assert result.ok, result.error
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql(
                "SELECT account_id FROM audit_entry WHERE action = 'login'"
            ).all() == [(1,)]


def test_console_init_migrates_once_and_then_finds_nothing_to_do(empty_url, tmp_path):
    with console_app(empty_url, SCRIPTS, tmp_path) as app:
        runner = app.test_cli_runner()
        first = runner.invoke(main, ["init"])
        assert first.exit_code == 0, first.output
        assert f"{OWN}: Upgrade done: base (no revision) -> {HEAD}." in first.output
        assert f"Upgrade done: base (no revision) -> {DEMO_HEAD}." in first.output
        assert "Row counts are not kept" not in first.output
        second = runner.invoke(main, ["init"])
        assert second.exit_code == 0, second.output
        assert "Upgrade done" not in second.output
        assert runner.invoke(main, ["schema-status"]).exit_code == 0
    assert [(s["history"], s["result"]) for s in audit_summaries(empty_url)] == [
        ("console", "ok"), ("demo", "ok")
    ]
    assert version(empty_url) == [HEAD]
    assert version(empty_url, "alembic_version") == [DEMO_HEAD]


@pytest.mark.parametrize(
    "table", ["person", pytest.param("account", marks=pytest.mark.sqlite_only)]
)
def test_console_init_refuses_a_database_it_cannot_place(empty_url, tmp_path, table):
    """A table of a history without its version: the console's own, or the demo's.

    On PostgreSQL the console's own tables are in its schema, so an ``account`` of the
    application's is no obstacle (``test_an_applications_own_account_table_...``).
    """
    execute(empty_url, f"CREATE TABLE {table} (id INTEGER PRIMARY KEY)")
    with console_app(empty_url, SCRIPTS, tmp_path) as app:
        result = app.test_cli_runner().invoke(main, ["init"])
    assert result.exit_code == 1
    assert "no Alembic version" in result.output
    assert f"tables of this history ({table})" in " ".join(result.output.split())


# --- `console init` with an application of someone else's -------------------------------


@pytest.mark.postgres_only
def test_an_applications_own_account_table_is_left_alone_on_postgresql(empty_url, tmp_path):
    """The console's tables are in schema ``console``: the application's ``account`` stays."""
    execute(
        empty_url,
        "CREATE TABLE account (id INTEGER PRIMARY KEY, holder TEXT NOT NULL)",
        "INSERT INTO account VALUES (1, 'Zoë Ångström')",
    )
    app = shop_app(empty_url, tmp_path)
    engine = sa.create_engine(empty_url, poolclass=sa.pool.NullPool)
    ShopBase.metadata.create_all(engine)
    engine.dispose()
    result = invoke(app, "init")
    assert result.exit_code == 0, result.output
    assert execute(empty_url, "SELECT * FROM public.account") == [(1, "Zoë Ångström")]
    assert execute(empty_url, "SELECT email FROM console.account") == [("admin@example.com",)]
    columns = execute(
        empty_url,
        "SELECT table_schema, column_name FROM information_schema.columns "
        "WHERE table_name = 'account' ORDER BY 1, ordinal_position",
    )
    assert [c for s, c in columns if s == "public"] == ["id", "holder"]
    assert ("console", "email") in columns
    status = invoke(app, "schema-status")
    assert status.exit_code == 0, status.output
    assert "Not managed by the console: account" in status.output


def shop_app(url: str, tmp_path: Path):
    """The console managing the shop's models (not the demo) on ``url``."""
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "SQLALCHEMY_DATABASE_URI": url,
            "CONSOLE_MODELS": SHOP_MODELS,
            "CONSOLE_ADMIN_PASSWORD": "shop-admin-password",
            "INSTANCE_PATH": str(tmp_path / "shop-instance"),
        }
    )


def invoke(app, *args: str):
    """Run a console command on ``app``, releasing its connections after."""
    with app.app_context():
        try:
            return app.test_cli_runner().invoke(main, list(args))
        finally:
            _db.session.remove()
            _db.engine.dispose()


def test_console_init_creates_none_of_an_applications_tables_and_names_the_missing(
    empty_url, tmp_path
):
    app = shop_app(empty_url, tmp_path)
    result = invoke(app, "init")
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert "The tables of these managed models are missing: customer (Customer), shop_order " \
        "(ShopOrder)" in text
    assert "your application's migrations" in text and "metadata.create_all" in text
    tables = all_tables(empty_url)
    # Its own tables only: nothing of the shop's, nothing of the demo's.
    assert tables == {"account", "audit_entry", "row_count_delta", "login_throttle",
                      "recovery_code", "grid_view", "job", "job_file",
                      "console_alembic_version", *queue_tables(empty_url)}

    engine = sa.create_engine(empty_url, poolclass=sa.pool.NullPool)
    ShopBase.metadata.create_all(engine, tables=[ShopBase.metadata.tables["customer"]])
    engine.dispose()
    result = invoke(app, "init")
    assert result.exit_code == 1
    assert "missing: shop_order (ShopOrder)" in " ".join(result.output.split())

    engine = sa.create_engine(empty_url, poolclass=sa.pool.NullPool)
    ShopBase.metadata.create_all(engine)
    engine.dispose()
    result = invoke(app, "init")
    assert result.exit_code == 0, result.output
    admins = execute(empty_url, "SELECT email, role FROM {console}account")
    assert admins == [("admin@example.com", "admin")]
    postgres = empty_url.startswith("postgresql")
    assert ("console row-counts install customer shop_order" in result.output) == postgres
    status = invoke(app, "schema-status")
    assert status.exit_code == 0, status.output
    assert "The demo's tables" not in status.output
    assert "Tables of the application (the console edits their rows; their schema is the " \
        "application's): customer, shop_order" in status.output


def test_schema_status_fails_when_a_managed_table_is_missing(empty_url, tmp_path):
    app = shop_app(empty_url, tmp_path)
    assert schema.upgrade(empty_url, SCRIPTS).ok
    result = invoke(app, "schema-status")
    assert result.exit_code == 1
    assert "Missing tables of the application: customer, shop_order." in result.output
    assert "Not managed by the console: none" in result.output


# --- `console db upgrade` / `downgrade`: the console's history, under the lock ------------


def test_console_db_upgrade_and_downgrade_act_on_the_console_history(empty_url, tmp_path):
    with console_app(empty_url, SCRIPTS, tmp_path) as app:
        runner = app.test_cli_runner()
        result = runner.invoke(main, ["db", "upgrade"])
        assert result.exit_code == 0, result.output
        assert f"Upgrade done: base (no revision) -> {HEAD}." in result.output
        assert version(empty_url) == [HEAD]
        tables = inspect(empty_url, lambda i: set(i.get_table_names()))
        assert "person" not in tables and "alembic_version" not in tables
        again = runner.invoke(main, ["db", "upgrade"])
        assert again.exit_code == 0 and "already up to date" in again.output
        # Flask-Migrate's other commands are still there, on the same history.
        assert runner.invoke(main, ["db", "stamp", "base"]).exit_code == 0
        assert version(empty_url) == []
        assert runner.invoke(main, ["db", "stamp", "head"]).exit_code == 0
        assert version(empty_url) == [HEAD]
        down = runner.invoke(main, ["db", "downgrade", "base"])
        assert down.exit_code == 0, down.output
        assert f"Downgrade done: {HEAD} -> base (no revision)." in down.output
        demo = runner.invoke(main, ["db", "upgrade", "-d", str(schema.DEMO_SCRIPTS)])
        # The demo's history needs the console's row-count functions first (on PostgreSQL).
        if empty_url.startswith("sqlite"):
            assert demo.exit_code == 0, demo.output
            assert version(empty_url, "alembic_version") == [DEMO_HEAD]
        else:
            assert demo.exit_code == 1 and "run `console init`" in demo.output
    assert version(empty_url) == []


def test_console_db_upgrade_queues_behind_the_migration_lock(own_pg_url, tmp_path):
    engine = sa.create_engine(own_pg_url, poolclass=sa.pool.NullPool)
    with console_app(own_pg_url, SCRIPTS, tmp_path) as app, engine.connect() as holder:
        app.config["CONSOLE_MIGRATION_LOCK_WAIT"] = 0.2
        runner = app.test_cli_runner()
        holder.execute(sa.select(sa.func.pg_advisory_lock(schema.LOCK_KEY)))
        holder.commit()
        for args in (["db", "upgrade"], ["db", "downgrade"], ["init"]):
            result = runner.invoke(main, args)
            assert result.exit_code == 1, args
            assert "a migration is already running" in result.output
        holder.execute(sa.select(sa.func.pg_advisory_unlock(schema.LOCK_KEY)))
        holder.commit()
        result = runner.invoke(main, ["db", "upgrade"])
        assert result.exit_code == 0, result.output
    engine.dispose()
    assert version(own_pg_url) == [HEAD]


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
