"""The ``console`` command: Flask's CLI over the factory, plus the console's own commands."""

from __future__ import annotations

import os
import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup, FlaskGroup, with_appcontext

from console.auth.service import create_account, ensure_first_admin
from console.extensions import db
from console.rules import Role, RuleError

# The console's own commands, added to every app by the factory, so that both
# `console ...` and `flask --app console ...` have them.
commands = AppGroup("console")


def _create_app() -> Flask:
    from console import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app)
def main() -> None:
    """Console: a web admin console for people, to-do lists and to-dos."""


def register(app: Flask) -> None:
    """Add the console's commands to ``app.cli``."""
    for command in commands.commands.values():
        app.cli.add_command(command)


@commands.command("init")
@click.option("--demo", is_flag=True, help="Also add a small set of demo data.")
@with_appcontext
def init_command(demo: bool) -> None:
    """Migrate the database to head and make sure an admin account exists."""
    from console import schema

    # Every instance runs this at start-up: queue behind another one's migration (advisory
    # lock on PostgreSQL) instead of running the same revisions twice.
    result = schema.upgrade(
        db.engine,
        current_app.extensions["migrate"].directory,
        wait_seconds=current_app.config.get("CONSOLE_MIGRATION_LOCK_WAIT", 600),
    )
    if not (result.ok or result.nothing_to_do):
        raise click.ClickException(result.describe())
    if result.ok:
        click.echo(result.describe())
    email = current_app.config["CONSOLE_ADMIN_EMAIL"]
    generated = ensure_first_admin(db.session, email, current_app.config["CONSOLE_ADMIN_PASSWORD"])
    db.session.commit()
    if generated:
        click.echo("")
        click.echo("  First admin account created. This password is shown only once:")
        click.echo(f"    email:    {email}")
        click.echo(f"    password: {generated}")
        click.echo("  (set CONSOLE_ADMIN_EMAIL and CONSOLE_ADMIN_PASSWORD to choose them)")
        click.echo("")
    if demo:
        from console.demo.models import Person
        from console.demo.seed import seed

        if db.session.query(Person.id).first() is None:
            with db.engine.begin() as conn:
                seed(conn, people=20, lists=10, todos=200)
            click.echo("Demo data added: 20 people, 10 lists, 200 to-dos.")
    click.echo(f"Database ready: {db.engine.url.render_as_string(hide_password=True)}")


@commands.command("create-account")
@click.argument("email")
@click.option(
    "--role",
    type=click.Choice([r.value for r in Role]),
    default=Role.viewer.value,
    show_default=True,
)
@with_appcontext
def create_account_command(email: str, role: str) -> None:
    """Create a console account. The password comes from CONSOLE_PASSWORD or a prompt."""
    password = os.environ.get("CONSOLE_PASSWORD")
    if not password:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        create_account(db.session, email, password, Role(role))
        db.session.commit()
    except RuleError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from None
    except Exception as exc:
        db.session.rollback()
        if "unique" in str(exc).lower():
            raise click.ClickException(f"An account for {email} already exists.") from None
        raise
    click.echo(f"Created {role} account {email.lower()}.")


@commands.command("seed")
@click.option("--people", default=100, show_default=True, type=click.IntRange(0))
@click.option("--lists", default=50, show_default=True, type=click.IntRange(0))
@click.option("--todos", default=1000, show_default=True, type=click.IntRange(0))
@click.option("--seed", "seed_value", default=1, show_default=True, help="Random seed.")
@with_appcontext
def seed_command(people: int, lists: int, todos: int, seed_value: int) -> None:
    """Add generated people, lists and to-dos (batched inserts, one transaction)."""
    from console.demo.seed import seed

    total = people + lists + todos
    try:
        with db.engine.begin() as conn, click.progressbar(length=total, label="Seeding") as bar:
            counts = seed(
                conn,
                people=people,
                lists=lists,
                todos=todos,
                seed_value=seed_value,
                progress=bar.update,
            )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"Added {counts['people']:,} people, {counts['lists']:,} lists, {counts['todos']:,} to-dos."
    )


@commands.command("import")
@click.argument("model")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check every row and report; write nothing.")
@click.option("--upsert", is_flag=True, help="Update rows whose key exists instead of refusing.")
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "jsonl"]), default=None,
    help="The file's format (default: told by its first character).",
)
@with_appcontext
def import_command(model: str, file: str, dry_run: bool, upsert: bool, fmt: str | None) -> None:
    """Import a CSV or JSON Lines FILE of MODEL (e.g. person, todo): all rows or none."""
    from console.bulk.importer import import_file

    try:
        description = current_app.extensions["console_catalogue"].by_name(model)
    except KeyError as exc:
        raise click.BadParameter(str(exc.args[0]), param_hint="MODEL") from None
    size = os.path.getsize(file)
    with (
        open(file, "rb") as source,
        click.progressbar(
            length=size, label="Checking" if dry_run else "Importing", file=sys.stderr
        ) as bar,
    ):
        result = import_file(
            db.session,
            description,
            source,
            fmt=fmt,
            upsert=upsert,
            dry_run=dry_run,
            file_name=os.path.basename(file),
            progress=bar.update,
        )
    for error in result.errors:
        column = f" [{error.column}]" if error.column else ""
        click.echo(f"line {error.line}{column}: {error.message}", err=True)
    if len(result.errors) < result.error_count:
        click.echo(f"... and {result.error_count - len(result.errors):,} more errors.", err=True)
    verb = "would be" if dry_run or not result.ok else "were"
    click.echo(
        f"{result.rows:,} rows read: {result.inserted:,} {verb} inserted, "
        f"{result.updated:,} {verb} updated, {result.unchanged:,} unchanged; "
        f"{result.error_count:,} error(s)."
    )
    for note in result.notes:
        click.echo(f"Note: {note}", err=True)
    if not result.ok:
        click.echo("Nothing was written.", err=True)
        raise SystemExit(1)
    if dry_run:
        click.echo("Dry run: nothing was written.")


@commands.command("export")
@click.argument("model")
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv", show_default=True
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    help="Write to this file instead of standard output.",
)
@with_appcontext
def export_command(model: str, fmt: str, output: str | None) -> None:
    """Export every row of MODEL in the import's format (streamed; memory stays flat)."""
    from sqlalchemy import func, select

    from console.bulk.exporter import export_chunks

    try:
        description = current_app.extensions["console_catalogue"].by_name(model)
    except KeyError as exc:
        raise click.BadParameter(str(exc.args[0]), param_hint="MODEL") from None
    total = db.session.scalar(select(func.count()).select_from(description.table)) or 0
    target = open(output, "wb") if output else sys.stdout.buffer  # noqa: SIM115
    try:
        # PostgreSQL writes the file itself (COPY, handed over in chunks); elsewhere Python.
        with click.progressbar(length=total, label="Exporting", file=sys.stderr) as bar:
            for chunk in export_chunks(db.session, description, fmt):
                target.write(chunk)
                # Lines, not rows (a header, cells holding line breaks): enough for a bar.
                bar.update(min(chunk.count(b"\n"), total - bar.pos))
    finally:
        if output:
            target.close()
        db.session.rollback()
    click.echo(
        f"Exported {total:,} {description.name} row(s)" + (f" to {output}." if output else "."),
        err=True,
    )


@commands.command("schema-status")
@with_appcontext
def schema_status_command() -> None:
    """Show where the database stands against the migrations; exit 1 if pending or drifting."""
    from console import schema

    status = schema.status(db.engine, current_app.extensions["migrate"].directory)
    for line in schema.status_lines(status):
        click.echo(line)
    if not status.ok:
        raise click.exceptions.Exit(1)
