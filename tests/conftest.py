"""Fixtures: the same suite runs on SQLite and on a real PostgreSQL.

PostgreSQL is reached at ``CONSOLE_TEST_PG`` (default: 127.0.0.1:5432, trust auth,
database ``test``). Each pytest run creates a database of its own there (so that
parallel runs cannot collide), migrates it once, empties its tables after each test
and drops it at the end. SQLite is migrated once per run into a template file that
each test gets a copy of. When PostgreSQL is down its tests are skipped with the
reason shown, unless ``CONSOLE_REQUIRE_PG=1`` (CI), where they fail instead.
"""

from __future__ import annotations

import contextvars
import html
import os
import re
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from console import create_app, schema
from console.demo.models import Person, Todo, TodoList
from console.extensions import db as _db
from console.models import Account, Role
from console.models import accounts as accounts_module

# Hashing is slow by design; the tests log in hundreds of times.
accounts_module.PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"

# Tests run imports in the process that serves them (and wait for its threads); the
# tests of the job queue start `console worker` processes with CONSOLE_JOBS=worker.
os.environ.setdefault("CONSOLE_JOBS", "embedded")
# A model's list URL is the classic list in tests unless a test asks for the grid
# (app.config["CONSOLE_LIST_PAGE"] = "grid"): most browser tests are of the classic list.
os.environ.setdefault("CONSOLE_LIST_PAGE", "classic")
PG_ADMIN_URL = os.environ.get("CONSOLE_TEST_PG", "postgresql+psycopg2://127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("CONSOLE_REQUIRE_PG") == "1"
PASSWORD = "correct-horse-battery"
# The histories `console init` runs for the default models (the demo).
HISTORIES = (schema.console_history(), schema.demo_history())
VERSION_TABLES = {history.version_table for history in HISTORIES}


def _pg_reason() -> str | None:
    try:
        engine = sa.create_engine(PG_ADMIN_URL, poolclass=sa.pool.NullPool)
        with engine.connect():
            pass
        engine.dispose()
    except Exception as exc:
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {str(exc).splitlines()[0]}"
    return None


PG_UNAVAILABLE = _pg_reason()


def pg_url(database: str) -> str:
    """The URL of ``database`` on the test PostgreSQL server."""
    return (
        sa.engine.make_url(PG_ADMIN_URL)
        .set(database=database)
        .render_as_string(hide_password=False)
    )


def create_pg_database(prefix: str = "console_test", options: str = "") -> str:
    """Create an empty database with a unique name (and CREATE DATABASE ``options``)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}" {options}')
    engine.dispose()
    return pg_url(name)


def drop_pg_database(url: str) -> None:
    """Drop a database made by ``create_pg_database`` (closing stray sessions first)."""
    name = sa.engine.make_url(url).database
    engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    engine.dispose()


def require_pg() -> None:
    """Skip (or, in CI, fail) when PostgreSQL is not reachable."""
    if PG_UNAVAILABLE:
        if REQUIRE_PG:
            pytest.fail(f"CONSOLE_REQUIRE_PG=1 but {PG_UNAVAILABLE}")
        pytest.skip(PG_UNAVAILABLE)


def data_tables(url: str) -> list[str]:
    """Every table of the database at ``url`` but the version tables, parents first."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        metadata = sa.MetaData()
        metadata.reflect(engine)
        # On PostgreSQL the console's own tables are in a schema of their own.
        if engine.dialect.name == "postgresql" and "console" in sa.inspect(
            engine
        ).get_schema_names():
            metadata.reflect(engine, schema="console")
    finally:
        engine.dispose()
    return [
        f"{t.schema}.{t.name}" if t.schema else t.name
        for t in metadata.sorted_tables
        if t.name not in VERSION_TABLES
    ]


def empty_tables(url: str, tables: list[str]) -> None:
    """Delete every row of ``tables`` (ids restart; on PostgreSQL the kept counts reset to 0)."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
            else:
                for table in reversed(tables):
                    conn.exec_driver_sql(f"DELETE FROM {table}")
    finally:
        engine.dispose()


def migrate_database(url: str) -> None:
    """Migrate ``url`` as `console init` does (both histories), leaving every table empty."""
    outcome = schema.initialise(url, HISTORIES)
    assert outcome.ok, [run.describe() for run in outcome.runs]
    # The runs' own audit entries: tests start from empty tables.
    empty_tables(url, data_tables(url))


@pytest.fixture(autouse=True)
def _fresh_table_sizes() -> Iterator[None]:
    """Each test's tables are new: no table size (or estimate) remembered from another test's."""
    from console import paging

    paging._SIZES.clear()
    paging._ESTIMATES.clear()
    yield
    paging._SIZES.clear()
    paging._ESTIMATES.clear()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[tuple[str, list[str]]]:
    """A PostgreSQL database for this test run, migrated to head once, and its tables."""
    require_pg()
    url = create_pg_database()
    migrate_database(url)
    yield url, data_tables(url)
    drop_pg_database(url)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per run; each test gets a copy."""
    path = tmp_path_factory.mktemp("sqlite_template") / "migrated.sqlite3"
    migrate_database(f"sqlite:///{path}")
    # The console opens SQLite in WAL mode; back to a rollback journal, so that the one
    # file holds everything (no -wal beside it) and a copy of it is the whole database.
    raw = sqlite3.connect(path)
    try:
        raw.execute("PRAGMA journal_mode=DELETE")
    finally:
        raw.close()
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database: a copy of the SQLite template, or the run's PostgreSQL one."""
    if request.param == "sqlite":
        path = tmp_path / "test.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    url, tables = request.getfixturevalue("pg_database")
    yield url
    empty_tables(url, tables)


class IsolatedClient(FlaskClient):
    """A test client whose requests each run in their own app context, as in production.

    The ``app`` fixture keeps an app context open for the test's own database access;
    without this, every request would share it: one ``g`` (CSRF token, logged-in user)
    and one SQLAlchemy session across all clients of a test.
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:
        # Buffered: a streamed body must be read inside the context that made it.
        kwargs.setdefault("buffered", True)
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """The console app on the parametrised database, with CSRF on as in production."""
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "SQLALCHEMY_DATABASE_URI": database_url,
            "WTF_CSRF_ENABLED": True,
            "CONSOLE_LOGIN_LOCK_SECONDS": 60,
            "INSTANCE_PATH": str(tmp_path / "instance"),
        }
    )
    app.test_client_class = IsolatedClient
    # No StrictUndefined here: Flask-Admin's own form macros read attributes that some
    # of its widgets lack (AjaxSelect2Widget.input_type) and rely on lenient Undefined.
    with app.app_context():
        yield app
        # A job this test started (an upload it did not wait for) ends before the next
        # test's database is made: its thread must not write into that one.
        from console.jobs import _threads

        for thread in list(_threads.values()):
            thread.join(60)
        _db.session.remove()
        _db.engine.dispose()


@pytest.fixture
def db(app: Flask) -> Any:
    """The Flask-SQLAlchemy extension, inside the app context."""
    return _db


@pytest.fixture
def runner(app: Flask) -> Any:
    """A CLI runner for the app's commands."""
    return app.test_cli_runner()


def make_account(role: Role, email: str | None = None) -> Account:
    """Create and commit an account with the test password."""
    account = Account(email=email or f"{role.value}@example.com", role=role, active=True)
    account.set_password(PASSWORD)
    _db.session.add(account)
    _db.session.commit()
    return account


CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(client: FlaskClient, url: str = "/login") -> str:
    """Fetch a page and return the CSRF token from its form."""
    response = client.get(url)
    match = CSRF_RE.search(response.get_data(as_text=True))
    assert match, f"no CSRF token on {url} (status {response.status_code})"
    return match.group(1)


class Auth:
    """Logs a test client in and out through the real login form."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def login(self, email: str, password: str = PASSWORD) -> Any:
        """Log in through the login form, CSRF token included."""
        token = csrf_token(self.client)
        return self.client.post(
            "/login", data={"email": email, "password": password, "csrf_token": token}
        )

    def logout(self) -> Any:
        """Log out with a POST carrying the CSRF token."""
        token = csrf_token(self.client, "/admin/")
        return self.client.post("/logout", data={"csrf_token": token})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """An anonymous test client."""
    return app.test_client()


@pytest.fixture
def auth(client: FlaskClient) -> Auth:
    """Login helper bound to ``client``."""
    return Auth(client)


def _logged_in(app: Flask, role: Role) -> FlaskClient:
    make_account(role)
    client = app.test_client()
    response = Auth(client).login(f"{role.value}@example.com")
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


@pytest.fixture
def viewer_client(app: Flask) -> FlaskClient:
    """A client logged in as a viewer."""
    return _logged_in(app, Role.viewer)


@pytest.fixture
def editor_client(app: Flask) -> FlaskClient:
    """A client logged in as an editor."""
    return _logged_in(app, Role.editor)


@pytest.fixture
def admin_client(app: Flask) -> FlaskClient:
    """A client logged in as an admin."""
    return _logged_in(app, Role.admin)


VERSION_RE = re.compile(r'<input[^>]*\bname="((?:[\w-]+-)?version)"[^>]*>')
VALUE_RE = re.compile(r'\bvalue="([^"]*)"')


def post_form(client: FlaskClient, url: str, data: dict[str, Any], **kwargs: Any) -> Any:
    """GET ``url``, then POST ``data`` with its CSRF token, as a browser submits the form.

    Like the browser, it sends the form's hidden ``version`` fields (what the page
    loaded, for the record and each inline row) unless ``data`` says otherwise.
    """
    page = client.get(url).get_data(as_text=True)
    match = CSRF_RE.search(page)
    assert match, f"no CSRF token on {url}"
    extra = {"csrf_token": match.group(1)}
    for tag in VERSION_RE.finditer(page):
        value = VALUE_RE.search(tag.group(0))
        if tag.group(1) not in data and value:
            extra[tag.group(1)] = html.unescape(value.group(1))
    return client.post(url, data={**data, **extra}, **kwargs)


@pytest.fixture
def sample(db: Any) -> dict[str, Any]:
    """Two people, a list owned by the first with two to-dos, one assigned to the second."""
    ann = Person(name="Ann", email="ann@example.com")
    bob = Person(name="Bob", email="bob@example.com")
    groceries = TodoList(name="Groceries", owner=ann)
    milk = Todo(description="Buy milk", todo_list=groceries, assignee=bob)
    eggs = Todo(description="Buy eggs", todo_list=groceries, completed=True)
    db.session.add_all([ann, bob, groceries, milk, eggs])
    db.session.commit()
    ids = {
        "ann": ann.id,
        "bob": bob.id,
        "groceries": groceries.id,
        "milk": milk.id,
        "eggs": eggs.id,
    }
    db.session.expire_all()
    return ids


def count(model: type, *where: Any) -> int:
    """Rows of ``model`` (matching ``where``) as the database has them now."""
    _db.session.expire_all()
    return _db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where)) or 0


FINGERPRINT_RE = re.compile(r'name="fingerprint" value="([0-9a-f]+)"')


def delete_through_console(client: FlaskClient, endpoint: str, *ids: int) -> tuple[Any, Any]:
    """Open the delete confirmation page for ``ids`` and, unless it is blocked, confirm it.

    Returns (confirmation page, confirm response or None when it could not be confirmed).
    """
    page = client.get(f"/admin/{endpoint}/delete/", query_string={"id": list(ids)})
    match = FINGERPRINT_RE.search(page.get_data(as_text=True))
    if not match:
        return page, None
    token = csrf_token(client, f"/admin/{endpoint}/")
    done = client.post(
        f"/admin/{endpoint}/delete/",
        data={"id": list(ids), "fingerprint": match.group(1), "csrf_token": token},
    )
    return page, done


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """PostgreSQL-only tests are not collected for SQLite at all (rather than shown as
    skipped), nor SQLite-only tests (its journal, its files) for PostgreSQL."""
    keep, drop = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        # The database a test runs on: its database_url, or a fixture of its own
        # parametrised the same way ("sqlite" / "postgresql").
        values = {v for v in callspec.params.values() if isinstance(v, str)} if callspec else set()
        on_sqlite, on_postgres = "sqlite" in values, "postgresql" in values
        wrong = (on_sqlite and item.get_closest_marker("postgres_only")) or (
            on_postgres and item.get_closest_marker("sqlite_only"))
        (drop if wrong else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
