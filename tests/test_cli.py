"""The `console` command: init, create-account, seed."""

from __future__ import annotations

from sqlalchemy import select

from console.cli import main
from console.demo.models import Person, Todo, TodoList
from console.models import Account, Role
from tests.conftest import count


def test_console_is_a_flask_group_with_our_commands(app):
    from click.testing import CliRunner
    from flask.cli import FlaskGroup

    assert isinstance(main, FlaskGroup)
    help_text = CliRunner().invoke(main, ["--help"]).output
    for name in ("init", "create-account", "seed", "db", "run"):
        assert name in help_text


def test_init_creates_the_first_admin_once_and_prints_the_password_once(app, runner, db):
    app.config["CONSOLE_ADMIN_EMAIL"] = "boss@example.com"
    app.config["CONSOLE_ADMIN_PASSWORD"] = None
    result = runner.invoke(args=["init"])
    assert result.exit_code == 0, result.output
    assert "boss@example.com" in result.output and "password:" in result.output
    password = result.output.split("password:")[1].split()[0]
    admin = db.session.scalar(select(Account).where(Account.email == "boss@example.com"))
    assert admin.role == Role.admin and admin.check_password(password)

    again = runner.invoke(args=["init"])
    assert again.exit_code == 0
    assert "password:" not in again.output
    assert count(Account) == 1


def test_init_takes_the_admin_password_from_the_environment(app, runner, db):
    app.config["CONSOLE_ADMIN_EMAIL"] = "boss@example.com"
    app.config["CONSOLE_ADMIN_PASSWORD"] = "chosen-password"
    result = runner.invoke(args=["init", "--demo"])
    assert result.exit_code == 0, result.output
    assert "password:" not in result.output
    admin = db.session.scalar(select(Account))
    assert admin.check_password("chosen-password")
    assert count(Todo) == 200 and count(TodoList) == 10 and count(Person) == 20


def test_create_account_with_password_from_environment(app, runner, db, monkeypatch):
    monkeypatch.setenv("CONSOLE_PASSWORD", "s3cret-enough")
    result = runner.invoke(args=["create-account", "Ed@Example.com", "--role", "editor"])
    assert result.exit_code == 0, result.output
    account = db.session.scalar(select(Account).where(Account.email == "ed@example.com"))
    assert account.role == Role.editor and account.check_password("s3cret-enough")
    assert "s3cret-enough" not in result.output

    dup = runner.invoke(args=["create-account", "ed@example.com"])
    assert dup.exit_code != 0 and "already exists" in dup.output


def test_create_account_prompts_for_the_password(app, runner, db, monkeypatch):
    monkeypatch.delenv("CONSOLE_PASSWORD", raising=False)
    result = runner.invoke(
        args=["create-account", "vi@example.com"], input="long-enough-pw\nlong-enough-pw\n"
    )
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(Account.role).where(Account.email == "vi@example.com")) == (
        Role.viewer
    )


def test_create_account_rejects_bad_input(app, runner, monkeypatch):
    monkeypatch.setenv("CONSOLE_PASSWORD", "short")
    assert "at least 8" in runner.invoke(args=["create-account", "a@example.com"]).output
    monkeypatch.setenv("CONSOLE_PASSWORD", "long-enough-pw")
    bad = runner.invoke(args=["create-account", "not-an-email"])
    assert bad.exit_code != 0 and "valid email" in bad.output
    assert count(Account) == 0


def test_seed_inserts_what_it_says(app, runner):
    result = runner.invoke(args=["seed", "--people", "7", "--lists", "3", "--todos", "2500"])
    assert result.exit_code == 0, result.output
    assert "2,500 to-dos" in result.output
    assert (count(Person), count(TodoList), count(Todo)) == (7, 3, 2500)
    # Seeding again adds more instead of colliding on unique names.
    assert (
        runner.invoke(args=["seed", "--people", "1", "--lists", "1", "--todos", "1"]).exit_code == 0
    )
    assert count(TodoList) == 4


def test_seed_refuses_todos_without_lists(app, runner):
    result = runner.invoke(args=["seed", "--people", "0", "--lists", "0", "--todos", "5"])
    assert result.exit_code != 0 and "need a list" in result.output
    assert count(Todo) == 0
