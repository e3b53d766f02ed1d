"""The Relationships page, on the migrated schema and on a database whose foreign key drifted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from console import create_app
from console.demo.models import DemoBase, Person, Todo, TodoList
from console.extensions import db as _db
from console.models import Role, create_own_tables
from tests.conftest import (
    Auth,
    create_pg_database,
    csrf_token,
    drop_pg_database,
    make_account,
    require_pg,
)


def test_every_role_reads_the_declared_and_actual_rules(viewer_client):
    response = viewer_client.get("/admin/relationships/")
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Models, ORM and database agree on every relationship." in text
    assert "relationship-problem" not in text
    # Each relationship with its FK, declared and reflected rule and ORM options.
    assert "<code>todo.list_id</code>" in text
    assert "<code>TodoList.todos</code>" in text
    assert "passive_deletes: all" in text
    assert "back_populates: assignee" in text
    assert "plain foreign key (no Link)" in text  # audit_entry.account_id
    assert text.count("<strong>RESTRICT</strong>") == 1
    assert text.count("<strong>SET NULL</strong>") == 2


def test_anonymous_is_sent_to_login(client):
    response = client.get("/admin/relationships/")
    assert response.status_code == 302
    assert "/login" in response.location


def _drifted_metadata() -> sa.MetaData:
    """The demo's schema, except that todo.list_id is RESTRICT in the database."""
    metadata = sa.MetaData(naming_convention=DemoBase.metadata.naming_convention)
    for table in DemoBase.metadata.sorted_tables:
        table.to_metadata(metadata)
    fk = next(iter(metadata.tables["todo"].c.list_id.foreign_keys))
    fk.ondelete = "RESTRICT"
    fk.constraint.ondelete = "RESTRICT"
    return metadata


@pytest.fixture(params=["sqlite", "postgresql"])
def drifted_client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FlaskClient]:
    """An editor's client on a database of the test's own whose todo.list_id FK differs."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'drift.sqlite3'}"
    else:
        require_pg()
        url = create_pg_database("console_drift")
    engine = sa.create_engine(url)
    if engine.dialect.name == "postgresql":
        # The trigram indexes need it; the models' own metadata creates it by itself.
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    create_own_tables(engine)
    _drifted_metadata().create_all(engine)
    engine.dispose()
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "SQLALCHEMY_DATABASE_URI": url,
            "WTF_CSRF_ENABLED": True,
            "INSTANCE_PATH": str(tmp_path / "drift-instance"),
        }
    )
    with app.app_context():
        make_account(Role.editor)
        ann = Person(name="Ann", email="ann@example.com")
        groceries = TodoList(name="Groceries", owner=ann)
        _db.session.add_all([ann, groceries, Todo(description="Milk", todo_list=groceries)])
        _db.session.commit()
        client = app.test_client()
        assert Auth(client).login("editor@example.com").status_code == 302
        yield client
        _db.session.remove()
        _db.engine.dispose()
    if request.param == "postgresql":
        drop_pg_database(url)


CHANGE = (
    "Change the ON DELETE rule of todo (list_id) -&gt; todo_list from RESTRICT to CASCADE, "
    "and only that."
)
PG_SQL = (
    "ALTER TABLE todo DROP CONSTRAINT fk_todo_list_id_todo_list, ADD CONSTRAINT "
    "fk_todo_list_id_todo_list FOREIGN KEY(list_id) REFERENCES todo_list (id) ON DELETE CASCADE;"
)


def test_page_flags_a_foreign_key_the_database_has_otherwise(drifted_client):
    text = drifted_client.get("/admin/relationships/").get_data(as_text=True)
    assert "1 relationship disagrees with the models" in text
    assert "The models declare ON DELETE CASCADE but the database has ON DELETE RESTRICT" in text
    assert 'class="table-danger"' in text


def test_advice_names_the_rule_and_the_safe_way_to_change_it(drifted_client):
    """Never "generate a migration and apply it": the one change, and how to make only it."""
    text = drifted_client.get("/admin/relationships/").get_data(as_text=True)
    assert CHANGE in text
    assert "generate one" not in text and "flask db migrate" not in text
    if _db.engine.dialect.name == "postgresql":
        assert f'<pre class="small relationship-sql"><code>{PG_SQL}</code></pre>' in text
        assert "A DBA can run this one statement" in text
    else:
        assert "relationship-sql" not in text
        assert "SQLite cannot alter a foreign key: table todo must be rebuilt" in text
        assert "`console db migrate -d console/demo/migrations`" in text
        assert "review its output before applying it: keep only the change of this foreign " \
            "key" in text


@pytest.mark.postgres_only
def test_the_postgresql_statement_fixes_the_rule(drifted_client):
    """The statement shown runs as it is, and afterwards the page finds nothing to fix."""
    with _db.engine.begin() as conn:
        conn.exec_driver_sql(PG_SQL)
    text = drifted_client.get("/admin/relationships/").get_data(as_text=True)
    assert "Models, ORM and database agree on every relationship." in text


def test_advice_names_a_pending_migration_that_fixes_the_rule(
    drifted_client, tmp_path, monkeypatch
):
    """A pending revision setting the rule is the fix to run, instead of hand-made SQL."""
    from console import schema
    from tests.schema_helpers import HEAD, copy_scripts, revision_source

    scripts = copy_scripts(
        tmp_path,
        schema.DEMO_SCRIPTS,
        d0002_todo_cascade=revision_source(
            "d0002_todo_cascade", "d0001_demo_tables", "Deleting a list deletes its to-dos",
            """\
            with op.batch_alter_table("todo") as batch:
                batch.drop_constraint("fk_todo_list_id_todo_list", type_="foreignkey")
                batch.create_foreign_key(
                    "fk_todo_list_id_todo_list", "todo_list", ["list_id"], ["id"],
                    ondelete="CASCADE",
                )
            """,
        ),
    )
    with _db.engine.begin() as conn:
        for history in (schema.console_history(), schema.demo_history()):
            conn.exec_driver_sql(
                f"CREATE TABLE {history.version_table} (version_num VARCHAR(32) PRIMARY KEY)"
            )
        conn.exec_driver_sql(
            f"INSERT INTO {schema.CONSOLE_VERSION_TABLE} VALUES ('{HEAD}')"
        )
        conn.exec_driver_sql("INSERT INTO alembic_version VALUES ('d0001_demo_tables')")
    monkeypatch.setattr(schema, "DEMO_SCRIPTS", scripts)
    text = drifted_client.get("/admin/relationships/").get_data(as_text=True)
    assert CHANGE in text
    assert "The pending revision d0002_todo_cascade (Deleting a list deletes its to-dos)" in text
    assert f"console db upgrade -d {scripts}" in text
    assert "relationship-sql" not in text and "SQLite cannot alter" not in text


def test_delete_touching_a_drifted_relationship_is_refused(drifted_client):
    list_id = _db.session.scalar(sa.select(TodoList.id))
    response = drifted_client.get(f"/admin/todolist/delete/?id={list_id}")
    text: Any = response.get_data(as_text=True)
    assert "differ from the models" in text
    assert 'name="fingerprint"' not in text
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(TodoList)) == 1
    token = csrf_token(drifted_client, "/admin/todolist/")
    response = drifted_client.post(
        "/admin/todolist/delete/", data={"id": list_id, "fingerprint": "x", "csrf_token": token}
    )
    assert response.status_code == 409
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(Todo)) == 1


@pytest.mark.postgres_only
def test_the_statement_for_a_console_table_names_the_schema_it_lives_in(database_url):
    """The console's own tables carry a stand-in schema; the advice names the real one."""
    from console import own_schema
    from console.cascade import rule_advice

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "x",
                      "CONSOLE_SCHEMA": "ops_console"})
    catalogue = app.extensions["console_catalogue"]
    [edge] = [e for e in catalogue.edges if e.fk.table.name == "audit_entry"]
    engine = own_schema.on_engine(sa.create_engine(database_url, poolclass=sa.pool.NullPool))
    with app.app_context(), engine.connect() as conn:
        conn = conn.execution_options(schema_translate_map={own_schema.OWN: "ops_console"})
        _advice, sql = rule_advice(conn, edge, {"name": "fk_audit_entry_account_id_account"},
                                   "RESTRICT")
    engine.dispose()
    assert sql is not None
    assert sql.startswith("ALTER TABLE ops_console.audit_entry DROP CONSTRAINT "), sql
    assert "REFERENCES ops_console.account (id)" in sql and "console." not in sql.replace(
        "ops_console.", "")
    # Asking for the statement leaves the models' metadata as it was: a later create_all
    # still makes the foreign key (AddConstraint marks a constraint as made apart).
    table = edge.fk.table
    assert "FOREIGN KEY(account_id)" in str(sa.schema.CreateTable(table).compile(
        dialect=engine.dialect))
