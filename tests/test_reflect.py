"""``CONSOLE_MODELS=reflect``: a database made by SQL alone gets the whole console.

The fixture database is written in plain SQL (no models of ours): ``customer``
(unique email, a password hash), ``"order"`` (a reserved word; RESTRICT to the
customer), ``order_line`` (CASCADE from the order, a Numeric, a composite unique),
``product`` (a self-referencing parent, SET NULL), ``event_log`` (no primary key:
skipped) and a view (read-only). The console's own tables are migrated into it the
way ``console init`` does. Every feature is used through HTTP, on SQLite and
PostgreSQL, and the user's tables' definitions must come out as they went in.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from flask import Flask

from console import catalogue_of_app, create_app, own_file, schema
from console.catalogue import CatalogueError
from console.extensions import db as _db
from console.migration_env import include_object
from console.models import Base as ConsoleBase
from console.models import Role
from console.reflect import settings_text
from tests.bulk_helpers import action, confirm_bulk
from tests.conftest import (
    IsolatedClient,
    create_pg_database,
    delete_through_console,
    drop_pg_database,
    post_form,
    require_pg,
)
from tests.history_helpers import form_fields, login_client
from tests.schema_helpers import all_tables, queue_tables
from tests.test_contract import counted, import_through_the_pages

USER_TABLES = ("customer", "order", "order_line", "product", "event_log")

SCHEMA_SQL = """
CREATE TABLE customer (
    id {id},
    name VARCHAR(100) NOT NULL,
    email VARCHAR(200) NOT NULL UNIQUE,
    password_hash VARCHAR(200),
    note TEXT
);
CREATE TABLE "order" (
    id {id},
    code VARCHAR(20) NOT NULL UNIQUE,
    customer_id INTEGER NOT NULL REFERENCES customer (id) ON DELETE RESTRICT,
    placed_on DATE
);
CREATE INDEX ix_order_customer ON "order" (customer_id);
CREATE TABLE order_line (
    id {id},
    order_id INTEGER NOT NULL REFERENCES "order" (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    item VARCHAR(100) NOT NULL,
    price NUMERIC(10, 2) NOT NULL,
    CONSTRAINT uq_order_line_position UNIQUE (order_id, position)
);
CREATE TABLE product (
    id {id},
    sku VARCHAR(30) NOT NULL UNIQUE,
    title VARCHAR(100) NOT NULL,
    parent_id INTEGER REFERENCES product (id) ON DELETE SET NULL
);
CREATE TABLE event_log (at VARCHAR(40), message TEXT);
CREATE VIEW customer_orders AS
    SELECT c.id AS id, c.name AS name, COUNT(o.id) AS orders
    FROM customer c LEFT JOIN "order" o ON o.customer_id = c.id
    GROUP BY c.id, c.name
"""

ROWS_SQL = """
INSERT INTO customer (name, email, password_hash) VALUES ('Ann Lee', 'ann@example.com', 'x1');
INSERT INTO customer (name, email) VALUES ('Bob Park', 'bob@example.com');
INSERT INTO "order" (code, customer_id) VALUES ('A-1', 1);
INSERT INTO order_line (order_id, position, item, price) VALUES (1, 1, 'Tea', 3.50);
INSERT INTO order_line (order_id, position, item, price) VALUES (1, 2, 'Cake', 4.25);
INSERT INTO product (sku, title) VALUES ('TOOLS', 'Tools');
INSERT INTO product (sku, title, parent_id) VALUES ('HAMMER', 'Hammer', 1);
INSERT INTO event_log (at, message) VALUES ('now', 'hello')
"""


def run_sql(url: str, script: str) -> None:
    """Run ``script`` (statements separated by ";") on ``url``."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    key = "SERIAL PRIMARY KEY" if engine.dialect.name == "postgresql" else "INTEGER PRIMARY KEY"
    try:
        with engine.begin() as conn:
            for statement in script.format(id=key).split(";"):
                if statement.strip():
                    conn.exec_driver_sql(statement)
    finally:
        engine.dispose()


def definitions(url: str) -> dict[str, Any]:
    """The user's tables as the database defines them: columns, keys, constraints, indexes."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        inspector = sa.inspect(engine)
        found: dict[str, Any] = {}
        for table in USER_TABLES:
            found[table] = {
                "columns": [(c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                            for c in inspector.get_columns(table)],
                "pk": inspector.get_pk_constraint(table),
                "fks": inspector.get_foreign_keys(table),
                "unique": inspector.get_unique_constraints(table),
                "indexes": inspector.get_indexes(table),
            }
        found["views"] = sorted(inspector.get_view_names())
        if engine.dialect.name == "sqlite":
            with engine.connect() as conn:
                # Every definition in the user's file: the console adds none of its own.
                found["sql"] = sorted(conn.exec_driver_sql(
                    "SELECT type, name, tbl_name, sql FROM sqlite_master").all())
        elif shutil.which("pg_dump"):
            found["pg_dump"] = pg_dump(url)
        return found
    finally:
        engine.dispose()


def pg_dump(url: str, tables: tuple[str, ...] = ()) -> str:
    """``pg_dump --schema-only`` of the user's tables and view (without comments, SETs and
    the random ``\\restrict`` key of newer pg_dumps)."""
    parsed = sa.engine.make_url(url)
    args = ["pg_dump", "--schema-only", "--no-owner", "-h", parsed.host or "127.0.0.1",
            "-p", str(parsed.port or 5432), "-U", parsed.username or "postgres"]
    for table in tables or (*USER_TABLES, "customer_orders"):
        args += ["-t", f'"{table}"']
    done = subprocess.run([*args, parsed.database or ""], capture_output=True, text=True,
                          check=True)
    return "\n".join(line for line in done.stdout.splitlines()
                     if line.strip()
                     and not line.startswith(("--", "SET ", "SELECT ", "\\restrict",
                                              "\\unrestrict")))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def template(request: pytest.FixtureRequest,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Any]]:
    """The user's database (SQL only) with the console's tables migrated as `console init`
    does; and the user's tables' definitions from before the console touched it."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("reflect") / "users.sqlite3"
        url = f"sqlite:///{path}"
    else:
        require_pg()
        url = create_pg_database("console_reflect")
    run_sql(url, SCHEMA_SQL)
    before = definitions(url)
    # On the app's engine, as `console init` does (on SQLite the console's tables go to
    # users.console.sqlite3 beside the user's file: console.own_file).
    app = make_app(url, tmp_path_factory.mktemp("reflect_app"))
    with app.app_context():
        outcome = schema.initialise(_db.engine, [schema.console_history()])
        _db.engine.dispose()
    assert outcome.ok, [run.describe() for run in outcome.runs]
    yield request.param, url, before
    if request.param == "postgresql":
        drop_pg_database(url)


@pytest.fixture
def user_db(template: tuple[str, str, Any], tmp_path: Path) -> Iterator[str]:
    """A copy of the template database for one test, with a few rows."""
    kind, url, _before = template
    if kind == "sqlite":
        path = tmp_path / "users.sqlite3"
        source = Path(sa.engine.make_url(url).database or "")
        shutil.copyfile(source, path)
        shutil.copyfile(own_file.default_for(source), own_file.default_for(path))
        copy = f"sqlite:///{path}"
    else:
        name = sa.engine.make_url(url).database
        copy = create_pg_database("console_reflect_t", options=f'TEMPLATE "{name}"')
    run_sql(copy, ROWS_SQL)
    yield copy
    if kind == "postgresql":
        drop_pg_database(copy)


def make_app(url: str, tmp_path: Path, **extra: Any) -> Flask:
    """The console over ``url`` with CONSOLE_MODELS=reflect."""
    app = create_app({
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": url,
        "WTF_CSRF_ENABLED": True,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "CONSOLE_MODELS": "reflect",
        **extra,
    })
    app.test_client_class = IsolatedClient
    return app


@pytest.fixture
def app(user_db: str, tmp_path: Path) -> Iterator[Flask]:
    """The console over the user's database, inside an app context."""
    app = make_app(user_db, tmp_path)
    with app.app_context():
        yield app
        _db.session.remove()
        _db.engine.dispose()


@pytest.fixture
def editor(app: Flask) -> Any:
    """An editor's client."""
    return login_client(app, "editor@example.com", Role.editor)


@pytest.fixture
def other_editor(app: Flask) -> Any:
    """Another editor, in a browser of their own."""
    return login_client(app, "other@example.com", Role.editor)


def text(response: Any) -> str:
    """The body of a response, as text."""
    return str(response.get_data(as_text=True))


def cls_of(app: Flask, name: str) -> Any:
    """The reflected class of model ``name``."""
    return catalogue_of_app(app).by_name(name).cls


def one(app: Flask, name: str, **where: Any) -> Any:
    """The row of ``name`` matching ``where``, as the database has it now."""
    _db.session.expire_all()
    cls = cls_of(app, name)
    return _db.session.scalars(sa.select(cls).filter_by(**where)).one()


# -- the catalogue ------------------------------------------------------------------------------


def test_every_table_with_a_key_is_a_model_and_the_others_are_listed(app, editor):
    catalogue = catalogue_of_app(app)
    assert sorted(d.name for d in catalogue.models) == [
        "customer", "customer_orders", "order", "order_line", "product"]
    assert catalogue.skipped == [("event_log", "no primary key")]
    assert not any(d.table.name in {"account", "audit_entry"} for d in catalogue.models)
    for endpoint in ("customer", "order", "order_line", "product", "customer_orders"):
        listing = editor.get(f"/admin/{endpoint}/")
        assert listing.status_code == 200, (endpoint, text(listing)[-2000:])
    # The view is read-only; the tables are not.
    assert catalogue.by_name("customer_orders").read_only
    assert editor.get("/admin/customer_orders/new/").status_code != 200
    assert editor.get("/admin/order/new/").status_code == 200
    assert "Ann Lee" in text(editor.get("/admin/customer_orders/"))


def test_what_is_inferred(app):
    catalogue = catalogue_of_app(app)
    customer = catalogue.by_name("customer")
    assert (customer.natural_key.key, customer.label.key) == ("email", "name")
    assert [c.key for c in customer.columns if c.hidden] == ["password_hash"]
    assert customer.version is None  # checked by the values loaded
    order = catalogue.by_name("order")
    assert (order.natural_key.key, order.label.key, order.plural) == ("code", "code", "orders")
    line = catalogue.by_name("order_line")
    assert (line.natural_key.key, line.label.key) == ("id", "item")
    managed = {d.cls for d in catalogue.models}
    assert [(e.name, e.policy.value, e.collection, e.reference) for e in catalogue.edges
            if e.child in managed] == [
        ("Order.customer_id", "RESTRICT", "orders", "customer"),
        ("OrderLine.order_id", "CASCADE", "order_lines", "order"),
        ("Product.parent_id", "SET NULL", "children", "parent"),
    ]
    rels = {r.key: r.passive_deletes for r in sa.inspect(customer.cls).relationships}
    assert rels == {"orders": "all"}
    assert sa.inspect(order.cls).relationships["order_lines"].passive_deletes is True


def test_a_column_clashing_with_a_relationship_name_is_resolved(user_db, tmp_path):
    run_sql(user_db, "CREATE TABLE shipment (id {id}, \"order\" INTEGER REFERENCES \"order\" "
                     "(id), orders TEXT)")
    app = make_app(user_db, tmp_path)
    try:
        catalogue = catalogue_of_app(app)
        edge = next(e for e in catalogue.edges if e.child is catalogue.by_name("shipment").cls)
        assert (edge.reference, edge.collection) == ("order_rel", "shipments")
    finally:
        with app.app_context():
            _db.engine.dispose()


# -- pages --------------------------------------------------------------------------------------


def test_search_create_and_edit(app, editor):
    found = text(editor.get("/admin/customer/?search=ann"))
    assert "Ann Lee" in found and "Bob Park" not in found
    assert "x1" not in text(editor.get("/admin/customer/"))  # the hash is hidden

    bob = one(app, "customer", email="bob@example.com").id
    response = post_form(editor, "/admin/order/new/", {"code": "B-1", "customer": str(bob)})
    assert response.status_code == 302, text(response)[-3000:]
    assert one(app, "order", code="B-1").customer_id == bob

    order = one(app, "order", code="B-1").id
    url = "/admin/order_line/new/"
    response = post_form(editor, url, {"order": str(order), "position": "1", "item": "Jam",
                                       "price": "2.40"})
    assert response.status_code == 302, text(response)[-3000:]
    assert str(one(app, "order_line", item="Jam").price) == "2.40"


def test_an_edit_of_a_versionless_table_is_checked_by_the_values_loaded(app, editor,
                                                                        other_editor):
    ann = one(app, "customer", email="ann@example.com").id
    url = f"/admin/customer/edit/?id={ann}"
    mine = form_fields(text(editor.get(url)))
    theirs = form_fields(text(other_editor.get(url)))
    assert mine["version"].startswith("values:")
    assert "password_hash" not in mine
    theirs["name"] = "Ann Lee-Smith"
    assert other_editor.post(url, data=theirs).status_code == 302
    mine["name"] = "Annie Lee"
    response = editor.post(url, data=mine)
    assert response.status_code == 409
    assert 'id="version-conflict"' in text(response) and "other@example.com" in text(response)
    assert one(app, "customer", id=ann).name == "Ann Lee-Smith"
    assert one(app, "customer", id=ann).password_hash == "x1"  # hidden, kept


def test_history_of_a_reflected_row(app, editor):
    ann = one(app, "customer", email="ann@example.com").id
    url = f"/admin/customer/edit/?id={ann}"
    fields = form_fields(text(editor.get(url)))
    fields["name"] = "Changed"
    assert editor.post(url, data=fields).status_code == 302
    history = text(editor.get(f"/admin/customer/history/?id={ann}"))
    assert "Ann Lee" in history and "Changed" in history


def test_delete_previews_follow_the_databases_rules(app, editor):
    order = one(app, "order", code="A-1").id
    ann = one(app, "customer", email="ann@example.com").id
    page, done = delete_through_console(editor, "customer", ann)
    assert done is None
    assert "Cannot delete:" in text(page)

    page, done = delete_through_console(editor, "order", order)
    assert "Deleting order &#39;A-1&#39; also deletes 2 order lines." in text(page), text(page)
    assert done is not None and done.status_code == 302
    _db.session.expire_all()
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(
        cls_of(app, "order_line"))) == 0

    tools = one(app, "product", sku="TOOLS").id
    page, done = delete_through_console(editor, "product", tools)
    assert "Kept, without parent: 1 product" in text(page), text(page)
    assert done is not None and done.status_code == 302
    assert one(app, "product", sku="HAMMER").parent_id is None


# -- files and bulk edits ------------------------------------------------------------------------


def test_order_lines_are_imported_by_the_orders_key(app, editor):
    data = b"order,position,item,price\nA-1,3,Scones,5.10\n"
    page = import_through_the_pages(editor, "order_line", data, name="lines.csv", mode="insert")
    assert counted(page, "inserted") == 1 and counted(page, "errors") == 0
    line = one(app, "order_line", item="Scones")
    assert (line.order_id, str(line.price)) == (one(app, "order", code="A-1").id, "5.10")


@pytest.mark.parametrize("endpoint", ["customer", "order", "order_line", "product"])
def test_export_and_import_back_unchanged(app, editor, endpoint):
    before = editor.get(f"/admin/{endpoint}/export/csv/")
    assert before.status_code == 200, text(before)
    assert b"password_hash" not in before.data and b"x1" not in before.data
    lines = before.data.count(b"\n") - 1
    page = import_through_the_pages(editor, endpoint, before.data, name=f"{endpoint}.csv")
    assert (counted(page, "inserted"), counted(page, "updated"), counted(page, "errors"),
            counted(page, "unchanged")) == (0, 0, 0, lines)
    assert editor.get(f"/admin/{endpoint}/export/csv/").data == before.data


def test_a_bulk_edit(app, editor):
    cls = cls_of(app, "order_line")
    ids = sorted(_db.session.scalars(sa.select(cls.id)).all())
    page = text(action(editor, "set:price", ids, model="order_line"))
    response = confirm_bulk(editor, "order_line", "price", page, "9.99")
    assert response.status_code == 302, text(response)
    _db.session.expire_all()
    assert {str(p) for p in _db.session.scalars(sa.select(cls.price))} == {"9.99"}
    assert "9.99" in text(editor.get(f"/admin/order_line/history/?id={ids[0]}"))


# -- the settings file ----------------------------------------------------------------------------


def test_describe_prints_a_settings_file_that_round_trips(app, user_db, tmp_path):
    result = app.test_cli_runner().invoke(args=["describe"])
    assert result.exit_code == 0, result.output
    parsed = tomllib.loads(result.output)
    assert set(parsed) == {"customer", "customer_orders", "order", "order_line", "product"}
    assert parsed["customer"]["hidden"] == ["password_hash"]
    assert parsed["customer_orders"]["read_only"] is True
    assert "# event_log: no primary key" in result.output

    settings = tmp_path / "console.toml"
    settings.write_text(result.output)
    again = make_app(user_db, tmp_path, CONSOLE_SETTINGS=str(settings))
    try:
        assert settings_text(catalogue_of_app(again)) == result.output
        first, second = catalogue_of_app(app), catalogue_of_app(again)
        for a, b in zip(first.models, second.models, strict=True):
            assert [(c.key, c.label, c.hidden, c.file_name, c.sortable, c.searchable, c.bulk)
                    for c in a.columns] == [
                (c.key, c.label, c.hidden, c.file_name, c.sortable, c.searchable, c.bulk)
                for c in b.columns]
    finally:
        with again.app_context():
            _db.engine.dispose()


def test_a_settings_file_overrides_the_label_and_hides_a_column(user_db, tmp_path):
    settings = tmp_path / "console.toml"
    settings.write_text('[customer]\nlabel = "email"\nhidden = ["password_hash", "note"]\n'
                        '[order]\nplural = "purchase orders"\n')
    app = make_app(user_db, tmp_path, CONSOLE_SETTINGS=str(settings))
    with app.app_context():
        client = login_client(app, "editor@example.com", Role.editor)
        customer = catalogue_of_app(app).by_name("customer")
        assert customer.label.key == "email"
        assert {c.key for c in customer.columns if c.hidden} == {"password_hash", "note"}
        orders = text(client.get("/admin/order/"))
        assert "ann@example.com" in orders  # the customer is shown by its label
        assert ">Purchase orders<" in text(client.get("/admin/"))
        assert "Note" not in text(client.get("/admin/customer/"))
        _db.session.remove()
        _db.engine.dispose()


@pytest.mark.parametrize(("settings", "words"), [
    ('[order]\ncolour = "red"\n', ["[order]", "colour"]),
    ('[order]\nlabel = "nope"\n', ["[order] label", "nope"]),
    ('[order_line]\nnatural_key = "position"\n', ["[order_line] natural_key", "position"]),
    ('[nosuch]\nlabel = "x"\n', ["[nosuch]", "no such table"]),
    ('[event_log]\nlabel = "at"\n', ["[event_log]", "no primary key"]),
])
def test_a_wrong_setting_is_refused_at_start_up(user_db, tmp_path, settings, words):
    path = tmp_path / "console.toml"
    path.write_text(settings)
    with pytest.raises(CatalogueError) as refused:
        make_app(user_db, tmp_path, CONSOLE_SETTINGS=str(path))
    message = str(refused.value)
    assert str(path) in message
    for word in words:
        assert word in message, message


# -- the schema is the user's ------------------------------------------------------------------


def test_schema_status_is_clean_and_migrate_proposes_nothing(app, editor):
    result = app.test_cli_runner().invoke(args=["schema-status"])
    assert result.exit_code == 0, result.output
    assert "order_line" in result.output  # listed as the application's, not as drift
    own = schema.console_history()
    with _db.engine.connect() as app_conn, schema.history_connection(app_conn, own) as conn, \
            schema.scope(conn, own):
        context = MigrationContext.configure(
            conn, opts={"include_object": include_object(own.metadata), "compare_type": True})
        assert compare_metadata(context, own.metadata) == []


def test_init_and_edits_leave_the_users_tables_as_they_were(template, app, editor, user_db):
    _kind, _url, before = template
    result = app.test_cli_runner().invoke(args=["init"])
    assert result.exit_code == 0, result.output
    assert "Database ready" in result.output
    ann = one(app, "customer", email="ann@example.com").id
    url = f"/admin/customer/edit/?id={ann}"
    fields = form_fields(text(editor.get(url)))
    fields["name"] = "Edited"
    assert editor.post(url, data=fields).status_code == 302
    delete_through_console(editor, "order", one(app, "order", code="A-1").id)
    _db.session.remove()
    _db.engine.dispose()
    assert definitions(user_db) == before


# -- the schema changes under the console ---------------------------------------------------


def test_a_new_column_and_table_appear_after_a_restart(user_db, tmp_path):
    run_sql(user_db, "ALTER TABLE customer ADD COLUMN city VARCHAR(60);"
                     "CREATE TABLE warehouse (id {id}, code VARCHAR(10) NOT NULL UNIQUE)")
    app = make_app(user_db, tmp_path)
    with app.app_context():
        client = login_client(app, "editor@example.com", Role.editor)
        assert catalogue_of_app(app).by_name("customer").find("city") is not None
        assert "City" in text(client.get("/admin/customer/"))
        response = post_form(client, "/admin/warehouse/new/", {"code": "W1"})
        assert response.status_code == 302, text(response)[-2000:]
        assert "W1" in text(client.get("/admin/warehouse/"))
        _db.session.remove()
        _db.engine.dispose()


def test_a_dropped_column_does_not_break_pages_after_a_restart(user_db, tmp_path):
    app = make_app(user_db, tmp_path)
    with app.app_context():
        client = login_client(app, "editor@example.com", Role.editor)
        ann = one(app, "customer", email="ann@example.com").id
        url = f"/admin/customer/edit/?id={ann}"
        fields = form_fields(text(client.get(url)))
        fields["note"] = "remember me"
        assert client.post(url, data=fields).status_code == 302
        _db.session.remove()
        _db.engine.dispose()
    run_sql(user_db, "ALTER TABLE customer DROP COLUMN note")
    again = make_app(user_db, tmp_path)
    with again.app_context():
        client = login_client(again, "other@example.com", Role.editor)
        assert catalogue_of_app(again).by_name("customer").find("note") is None
        for page in ("/admin/customer/", url, f"/admin/customer/details/?id={ann}",
                     f"/admin/customer/history/?id={ann}", "/admin/customer/export/csv/"):
            response = client.get(page)
            assert response.status_code == 200, (page, text(response)[-2000:])
        assert re.search("remember me", text(client.get(f"/admin/customer/history/?id={ann}")))
        _db.session.remove()
        _db.engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def users_only(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database holding the user's tables only: the console has never run on it."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    else:
        require_pg()
        url = create_pg_database("console_reflect_fresh")
    run_sql(url, SCHEMA_SQL)
    yield url
    if request.param == "postgresql":
        drop_pg_database(url)


def test_console_init_creates_only_the_consoles_tables(users_only, tmp_path):
    before = definitions(users_only)
    engine = sa.create_engine(users_only, poolclass=sa.pool.NullPool)
    tables_before = all_tables(engine)
    app = make_app(users_only, tmp_path, CONSOLE_ADMIN_PASSWORD="a-long-admin-password")
    with app.app_context():
        runner = app.test_cli_runner()
        result = runner.invoke(args=["init"])
        assert result.exit_code == 0, result.output
        status = runner.invoke(args=["schema-status"])
        assert status.exit_code == 0, status.output
        _db.engine.dispose()
    created = all_tables(engine) - tables_before
    engine.dispose()
    own = {table.name for table in ConsoleBase.metadata.tables.values()}
    if engine.dialect.name == "sqlite":
        # In a file of their own beside the user's, which gains nothing.
        assert created == set()
        apart = own_file.default_for(Path(engine.url.database or ""))
        with sa.create_engine(f"sqlite:///{apart}", poolclass=sa.pool.NullPool).connect() as c:
            assert set(sa.inspect(c).get_table_names()) == own | {schema.CONSOLE_VERSION_TABLE}
    else:
        assert created == own | {schema.CONSOLE_VERSION_TABLE} | queue_tables(users_only)
    assert definitions(users_only) == before


# -- a second PostgreSQL schema ------------------------------------------------------------------


TWO_SCHEMAS_SQL = """
CREATE SCHEMA sales;
CREATE TABLE sales.region (id SERIAL PRIMARY KEY, name VARCHAR(60) NOT NULL UNIQUE);
CREATE TABLE shop (
    id SERIAL PRIMARY KEY,
    name VARCHAR(80) NOT NULL UNIQUE,
    region_id INTEGER NOT NULL REFERENCES sales.region (id) ON DELETE RESTRICT
);
INSERT INTO sales.region (name) VALUES ('North'), ('South');
INSERT INTO shop (name, region_id) VALUES ('Corner shop', 1)
"""


@pytest.fixture
def two_schemas(tmp_path: Path) -> Iterator[str]:
    """A PostgreSQL database whose tables live in public and in a schema "sales"."""
    require_pg()
    url = create_pg_database("console_reflect_schemas")
    try:
        run_sql(url, TWO_SCHEMAS_SQL)
        outcome = schema.initialise(url, [schema.console_history()])
        assert outcome.ok, [run.describe() for run in outcome.runs]
        yield url
    finally:
        drop_pg_database(url)


def test_tables_of_a_second_schema_are_managed_with_their_links(two_schemas, tmp_path):
    app = make_app(two_schemas, tmp_path, CONSOLE_MODELS="reflect:public,sales")
    with app.app_context():
        names = {d.name for d in catalogue_of_app(app).models}
        # A table outside the default schema is named with its schema: no clash between two.
        assert {"shop", "sales_region"} <= names, names
        editor = login_client(app, "editor@example.com", Role.editor)
        regions = text(editor.get("/admin/sales_region/"))
        assert "North" in regions and "South" in regions
        shops = text(editor.get("/admin/shop/"))
        assert "Corner shop" in shops and "North" in shops  # the parent by its label
        north = _db.session.execute(sa.text("SELECT id FROM sales.region WHERE name = 'North'"))
        page, done = delete_through_console(editor, "sales_region", north.scalar_one())
        assert done is None and "Cannot delete:" in text(page)
        south = _db.session.execute(sa.text("SELECT id FROM sales.region WHERE name = 'South'"))
        page, done = delete_through_console(editor, "sales_region", south.scalar_one())
        assert done is not None and done.status_code == 302
        _db.session.remove()
        _db.engine.dispose()


# -- tables named like the console's own ---------------------------------------------------------


CLASHING_SQL = """
CREATE TABLE account (id SERIAL PRIMARY KEY, holder VARCHAR(80) NOT NULL UNIQUE);
CREATE TABLE audit_entry (id SERIAL PRIMARY KEY, note TEXT NOT NULL,
    account_id INTEGER REFERENCES account (id) ON DELETE CASCADE);
CREATE TABLE person (id SERIAL PRIMARY KEY, name VARCHAR(80) NOT NULL);
INSERT INTO account (holder) VALUES ('Øystein Ødegård'), ('Chloé Dubois');
INSERT INTO audit_entry (note, account_id) VALUES ('opened', 1), ('closed', 1)
"""


@pytest.mark.postgres_only
def test_tables_named_like_the_consoles_own_are_the_users_on_postgresql(tmp_path):
    """The console's tables are in schema console: the user's account, audit_entry and
    person are managed like any others, and init leaves their definitions alone."""
    require_pg()
    url = create_pg_database("console_reflect_clash")
    try:
        run_sql(url, CLASHING_SQL)
        mine = ("account", "audit_entry", "person")
        before = pg_dump(url, mine)
        app = make_app(url, tmp_path, CONSOLE_ADMIN_PASSWORD="a-long-admin-password")
        with app.app_context():
            result = app.test_cli_runner().invoke(args=["init"])
            assert result.exit_code == 0, result.output
            status = app.test_cli_runner().invoke(args=["schema-status"])
            assert status.exit_code == 0, status.output
            names = {d.name for d in catalogue_of_app(app).models}
            # account is a console page's name (/admin/account/), audit_entry is not.
            assert {"account_table", "audit_entry", "person"} <= names, names
            editor = login_client(app, "editor@example.com", Role.editor)
            accounts = text(editor.get("/admin/account_table/"))
            assert "Øystein Ødegård" in accounts and "Chloé Dubois" in accounts
            assert "opened" in text(editor.get("/admin/audit_entry/"))
            holder = _db.session.execute(
                sa.text("SELECT id FROM public.account WHERE holder = 'Chloé Dubois'"))
            _page, done = delete_through_console(editor, "account_table", holder.scalar_one())
            assert done is not None and done.status_code == 302
            _db.session.remove()
            _db.engine.dispose()
        assert [row[0] for row in _rows(url, "SELECT holder FROM public.account")] == [
            "Øystein Ødegård"]
        # The console's own accounts are elsewhere: the editor who signed in.
        assert ("editor@example.com",) in _rows(url, "SELECT email FROM console.account")
        assert pg_dump(url, mine) == before
    finally:
        drop_pg_database(url)


def _rows(url: str, query: str) -> list[tuple[Any, ...]]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.exec_driver_sql(query)]
    finally:
        engine.dispose()
