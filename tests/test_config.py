"""Settings from the environment."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import text

from console import create_app
from console.config import normalise_database_url


@pytest.mark.parametrize(
    "url",
    [
        "postgres://u:p@db:5432/console",
        "postgresql://u:p@db:5432/console",
        "postgresql+psycopg2://u:p@db:5432/console",
    ],
)
def test_postgres_urls_are_normalised_to_psycopg2(url):
    assert normalise_database_url(url) == "postgresql+psycopg2://u:p@db:5432/console"


def test_database_url_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "postgres://u@h/d")
    monkeypatch.setenv("SECRET_KEY", "from-env")
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg2://u@h/d"
    assert app.config["SECRET_KEY"] == "from-env"


def test_default_is_sqlite_in_the_instance_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'console.sqlite3'}"


def test_secret_key_is_generated_once_into_the_instance_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = create_app({"INSTANCE_PATH": str(tmp_path)}).config["SECRET_KEY"]
    second = create_app({"INSTANCE_PATH": str(tmp_path)}).config["SECRET_KEY"]
    other = create_app({"INSTANCE_PATH": str(tmp_path / "other")}).config["SECRET_KEY"]
    assert first == second != other
    assert len(first) >= 32
    key_file = tmp_path / "secret_key"
    assert key_file.read_text() == first
    assert key_file.stat().st_mode & 0o077 == 0


def test_sqlite_enforces_foreign_keys_on_every_connection(tmp_path):
    from console.extensions import db

    app = create_app(
        {
            "INSTANCE_PATH": str(tmp_path),
            "SECRET_KEY": "x",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'fk.sqlite3'}",
        }
    )
    with app.app_context():
        for _ in range(3):
            with db.engine.connect() as conn:
                assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        db.engine.dispose()
    # A plain sqlite3 connection (no console) has it off: the listener is what turns it on.
    raw = sqlite3.connect(":memory:")
    assert raw.execute("PRAGMA foreign_keys").fetchone()[0] == 0
    raw.close()


def test_default_page_size_comes_from_the_environment(monkeypatch, tmp_path):
    from console.extensions import db

    monkeypatch.setenv("CONSOLE_PAGE_SIZE", "20")
    app = create_app(
        {
            "INSTANCE_PATH": str(tmp_path),
            "SECRET_KEY": "x",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'p.sqlite3'}",
        }
    )
    views = [v for v in app.extensions["admin"][0]._views if getattr(v, "endpoint", "") == "todo"]
    assert views[0].page_size == 20
    with app.app_context():
        db.engine.dispose()
    monkeypatch.setenv("CONSOLE_PAGE_SIZE", "0")
    with pytest.raises(RuntimeError, match="CONSOLE_PAGE_SIZE"):
        create_app({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x"})
