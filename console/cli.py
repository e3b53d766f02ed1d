"""The ``console`` command: Flask's CLI over the factory, plus the console's own commands."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

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


class ConsoleGroup(FlaskGroup):
    """Flask's CLI group, with the console's ``db`` commands over Flask-Migrate's."""

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name == "db":
            # Flask-Migrate's `db` is a plugin command, which would win over the app's.
            return db_commands()
        return super().get_command(ctx, name)


@click.group(cls=ConsoleGroup, create_app=_create_app)
def main() -> None:
    """Console: a web admin console for people, to-do lists and to-dos."""


def register(app: Flask) -> None:
    """Add the console's commands to ``app.cli``."""
    for command in commands.commands.values():
        app.cli.add_command(command)


def _lock_wait() -> float:
    return float(current_app.config.get("CONSOLE_MIGRATION_LOCK_WAIT", 600))


@commands.command("init")
@click.option("--demo", is_flag=True, help="Also add a small set of demo data.")
@with_appcontext
def init_command(demo: bool) -> None:
    """Migrate the console's tables (and the demo's) to head; make sure an admin exists.

    Any other application's tables are that application's: they are checked, never created.
    """
    from console import histories_of_app, managed_tables, schema

    models = current_app.config["CONSOLE_MODELS"]
    if demo and not schema.is_demo(models):
        raise click.UsageError(
            f"--demo adds data to the built-in demo, but CONSOLE_MODELS is {models!r}."
        )
    histories = histories_of_app(current_app)
    tables = managed_tables(current_app)
    # Every instance runs this at start-up: queue behind another one's migration (advisory
    # lock on PostgreSQL) instead of running the same revisions twice.
    outcome = schema.initialise(
        db.engine,
        histories,
        required_tables=tables,
        counted_tables=tables,
        wait_seconds=_lock_wait(),
    )
    titles = {history.name: history.title for history in histories}
    for run in outcome.runs:
        title = titles.get(run.history, "Migrations")
        if not (run.ok or run.nothing_to_do):
            raise click.ClickException(f"{title}: {run.describe()}")
        if run.ok:
            click.echo(f"{title}: {run.describe()}")
    if outcome.missing_tables:
        raise click.ClickException(_missing_tables_message(outcome.missing_tables))
    email = current_app.config["CONSOLE_ADMIN_EMAIL"]
    password = current_app.config["CONSOLE_ADMIN_PASSWORD"]
    from sqlalchemy import func, select
    from sqlalchemy.exc import IntegrityError

    from console.models import Account

    try:
        generated = ensure_first_admin(db.session(), email, password)
        db.session.commit()
    except IntegrityError:
        # Instances start together: another one created the first admin in between.
        db.session.rollback()
        if not db.session.scalar(select(func.count()).select_from(Account)):
            raise
        generated = None
    if generated:
        click.echo("")
        click.echo("  First admin account created. This password is shown only once:")
        click.echo(f"    email:    {email}")
        click.echo(f"    password: {generated}")
        click.echo("  (set CONSOLE_ADMIN_EMAIL and CONSOLE_ADMIN_PASSWORD to choose them)")
        click.echo("")
    if outcome.uncounted_tables:
        names = " ".join(outcome.uncounted_tables)
        click.echo(
            f"Row counts are not kept for: {', '.join(outcome.uncounted_tables)} (their lists "
            "count rows, or estimate on big tables). To keep exact counts in the database:"
        )
        click.echo(f"    console row-counts install {names}")
    if demo:
        from console.demo.seed import seed_if_empty

        with db.engine.begin() as conn:
            if seed_if_empty(conn):
                click.echo("Demo data added: 20 people, 10 lists, 200 to-dos.")
    click.echo(f"Database ready: {db.engine.url.render_as_string(hide_password=True)}")
    _say_where_own_tables_are()


def _say_where_own_tables_are() -> None:
    """Where the console's own tables are, when that is a file beside the database."""
    from console import own_file

    apart = current_app.config.get("CONSOLE_SQLITE_CONSOLE_FILE")
    if not apart:
        return
    click.echo(
        f"The console's tables are in {apart}, a file beside the database (back both up "
        "together). The database itself holds only its own tables."
    )
    user = own_file.user_file(db.engine.url)
    if user is not None and own_file.in_wal_mode(user):
        click.echo("Warning: " + own_file.wal_warning(user))


def _missing_tables_message(missing: list[str]) -> str:
    catalogue = current_app.extensions["console_catalogue"]
    models = {d.table.name: d.model_name for d in catalogue.models}
    named = ", ".join(f"{table} ({models[table]})" if table in models else table
                      for table in missing)
    return (
        f"The tables of these managed models are missing: {named}. The console creates only "
        "its own tables (and the built-in demo's); create these with your application's "
        "migrations (e.g. `alembic upgrade head` in the application) or with its "
        "`metadata.create_all(engine)`, then run `console init` again."
    )


# -- `console db`: Flask-Migrate's commands, with upgrade and downgrade under the lock --------


def _history_of(directory: str | None) -> Any:
    from flask import g

    from console import histories_of_app, schema

    directory = directory or g.get("directory")
    if directory is None:
        return histories_of_app(current_app)[0]
    if Path(directory).resolve() == schema.DEMO_SCRIPTS.resolve():
        return schema.demo_history(directory)
    return schema.console_history(directory)


_DIRECTORY = click.option(
    "-d",
    "--directory",
    default=None,
    help="Migration scripts directory (default: the console's own, migrations/).",
)


@click.command("upgrade")
@_DIRECTORY
@click.argument("revision", default="head")
@with_appcontext
def db_upgrade_command(directory: str | None, revision: str) -> None:
    """Upgrade the console's own tables to REVISION (default: head), under the migration lock."""
    from console import schema

    target = "heads" if revision in ("head", "heads") else revision
    result = schema.upgrade(db.engine, _history_of(directory), target, wait_seconds=_lock_wait())
    _report_run(result)


@click.command("downgrade")
@_DIRECTORY
@click.argument("revision", default="-1")
@with_appcontext
def db_downgrade_command(directory: str | None, revision: str) -> None:
    """Downgrade the console's own tables to REVISION (default: one step), under the lock."""
    from console import schema

    result = schema.downgrade(
        db.engine, _history_of(directory), revision, wait_seconds=_lock_wait()
    )
    _report_run(result)


def _report_run(result: Any) -> None:
    if result.nothing_to_do:
        click.echo(result.error)
        return
    if not result.ok:
        raise click.ClickException(result.describe())
    click.echo(result.describe())


def db_commands() -> click.Group:
    """``console db``: Flask-Migrate's commands, its upgrade and downgrade replaced by ours.

    Ours run under the migration lock (two instances starting together queue instead of
    running the same revisions twice), adopt a database of the old single history, and
    are audited like the migrations page's runs.
    """
    from flask_migrate.cli import db as flask_migrate_db

    group = click.Group(
        "db",
        help="Migrations of the console's own tables (Flask-Migrate's commands; -d for others).",
        commands=dict(flask_migrate_db.commands),
        # Flask-Migrate's own group options (-d, -x), which its commands read from `g`.
        params=list(flask_migrate_db.params),
        callback=flask_migrate_db.callback,
    )
    group.add_command(db_upgrade_command)
    group.add_command(db_downgrade_command)
    return group


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
        create_account(db.session(), email, password, Role(role))
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
    "--format", "fmt", type=click.Choice(["csv", "jsonl", "xlsx"]), default=None,
    help="The file's format (default: told by its first bytes, or an .xlsx name).",
)
@with_appcontext
def import_command(model: str, file: str, dry_run: bool, upsert: bool, fmt: str | None) -> None:
    """Import a CSV, JSON Lines or XLSX FILE of MODEL (e.g. person, todo): all rows or none."""
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
            db.session(),
            description,
            source,
            fmt=fmt,
            upsert=upsert,
            dry_run=dry_run,
            file_name=os.path.basename(file),
            progress=bar.update,
        )
    where = "row" if result.format == "xlsx" else "line"  # a sheet's rows, a text file's lines
    for error in result.errors:
        column = f" [{error.column}]" if error.column else ""
        click.echo(f"{where} {error.line}{column}: {error.message}", err=True)
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
    if result.change_counts:
        _echo_changes(result, Path(file))
    if not result.ok:
        click.echo("Nothing was written.", err=True)
        raise SystemExit(1)
    if dry_run:
        click.echo("Dry run: nothing was written.")


CHANGES_SHOWN = 20


def _echo_changes(result: Any, source: Path) -> None:
    """The first changed fields, their counts per column, and where all of them are."""
    from console.bulk.jobs import write_changes

    total = sum(result.change_counts.values())
    per_column = ", ".join(f"{c}: {n:,}" for c, n in sorted(result.change_counts.items()))
    click.echo(f"{total:,} changes in {result.updated:,} rows ({per_column}):")
    where = "row" if result.format == "xlsx" else "line"
    for change in result.changes[:CHANGES_SHOWN]:
        click.echo(f"  {where} {change.line} ({change.key}) {change.column}: "
                   f"{change.old!r} -> {change.new!r}")
    if total > CHANGES_SHOWN:
        click.echo(f"  ... and {total - CHANGES_SHOWN:,} more.")
    listed = source.with_name(source.name + ".changes.csv")
    try:
        write_changes(listed, result.changes)
    except OSError as exc:
        click.echo(f"The full list could not be written to {listed}: {exc.strerror}", err=True)
        return
    kept = "" if len(result.changes) == total else f" (the first {len(result.changes):,})"
    click.echo(f"All changes{kept}: {listed}")


@commands.command("export")
@click.argument("model")
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "jsonl", "xlsx"]), default="csv",
    show_default=True,
)
@click.option(
    "--bom/--no-bom", default=True, show_default=True,
    help="Start a CSV file with a UTF-8 byte order mark (spreadsheets then read it as UTF-8).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    help="Write to this file instead of standard output.",
)
@with_appcontext
def export_command(model: str, fmt: str, bom: bool, output: str | None) -> None:
    """Export every row of MODEL in the import's format (streamed; memory stays flat).

    XLSX is written to a temporary file first, then copied out; it goes to standard
    output only when that is not a terminal.
    """
    from sqlalchemy import func, select

    from console.bulk.exporter import export_chunks

    try:
        description = current_app.extensions["console_catalogue"].by_name(model)
    except KeyError as exc:
        raise click.BadParameter(str(exc.args[0]), param_hint="MODEL") from None
    if fmt == "xlsx" and not output and sys.stdout.isatty():
        raise click.UsageError("An XLSX workbook is binary: give -o FILE or redirect the output.")
    total = db.session.scalar(select(func.count()).select_from(description.table)) or 0
    target = open(output, "wb") if output else sys.stdout.buffer  # noqa: SIM115
    try:
        # PostgreSQL writes the file itself (COPY, handed over in chunks); elsewhere Python.
        with click.progressbar(length=total, label="Exporting", file=sys.stderr) as bar:
            for chunk in export_chunks(db.session(), description, fmt, bom=bom):
                target.write(chunk)
                if fmt == "xlsx":
                    bar.update(total - bar.pos)  # rows are all written before the first chunk
                    continue
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


@commands.command("worker")
@click.option("--concurrency", type=int, default=None,
              help="Jobs run at once (default: CONSOLE_WORKER_CONCURRENCY, 2).")
@with_appcontext
def worker_command(concurrency: int | None) -> None:
    """Run import jobs from the job queue until stopped (SIGINT or SIGTERM).

    PostgreSQL only: on SQLite the serving process runs the jobs itself. Run as many
    workers as you like, on any machine that reaches the database.
    """
    import logging
    import threading

    from console import jobs, queue
    from console.bulk.jobs import JobStore

    app = current_app
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if db.engine.dialect.name != "postgresql":
        raise click.ClickException(
            "console worker needs PostgreSQL (the job queue lives there). On SQLite the "
            "serving process runs imports itself: python3 dev.py serve is all it takes."
        )
    from console import histories_of_app, schema

    if not all(schema.status(db.engine, h).up_to_date for h in histories_of_app(app)):
        raise click.ClickException(
            "The database is not migrated to head: run `console db upgrade` (or "
            "`console init`) first."
        )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    engine = db.engine
    store = JobStore(engine)
    catalogue = app.extensions["console_catalogue"]
    from console.admin.transfer import export_planner

    planner = export_planner(app)
    queue.set_runner(lambda job_id: jobs.run_job(engine, catalogue, store, job_id, planner))
    stop = threading.Event()

    def sweeping() -> None:
        while not stop.wait(SWEEP_SECONDS):
            try:
                jobs.sweep(engine, store)
            except Exception:
                logging.getLogger(__name__).warning("Job sweep failed", exc_info=True)

    threading.Thread(target=sweeping, daemon=True, name="job-sweep").start()
    count = concurrency or int(app.config["CONSOLE_WORKER_CONCURRENCY"])
    click.echo(f"console worker: running up to {count} job(s) at once; Ctrl+C stops.")
    try:
        queue.run_worker(queue.make_app(url, app.config.get("CONSOLE_SCHEMA"),
                                        max_size=count + 2), concurrency=count)
    finally:
        stop.set()


SWEEP_SECONDS = 10


@commands.command("schema-status")
@click.option(
    "--strict",
    is_flag=True,
    help="Count tables not managed by the console as drift too (exit 1 when there are any).",
)
@with_appcontext
def schema_status_command(strict: bool) -> None:
    """Show where the database stands against the migrations; exit 1 if pending or drifting.

    Tables that are neither the console's nor its histories' nor a managed model's are
    listed as not managed by the console, and make it fail only with ``--strict``.
    """
    from console import histories_of_app, managed_tables, schema

    report = schema.report(
        db.engine, histories_of_app(current_app), managed_tables=managed_tables(current_app)
    )
    for line in schema.report_lines(report):
        click.echo(line)
    unmanaged = strict and bool(report.unmanaged)
    if unmanaged:
        click.echo(
            "--strict: tables not managed by the console count as drift "
            f"({', '.join(report.unmanaged)})."
        )
    if not report.ok or unmanaged:
        raise click.exceptions.Exit(1)


@commands.command("describe")
@with_appcontext
def describe_command() -> None:
    """Print what the console uses for every managed table, as a settings file.

    With CONSOLE_MODELS=reflect, save it as the CONSOLE_SETTINGS file and edit it: fed
    back unchanged it gives the same catalogue. Tables the console skipped are listed
    at the end as comments, with the reason.
    """
    from console import catalogue_of_app, reflect

    click.echo(reflect.settings_text(catalogue_of_app(current_app)), nl=False)


# -- `console row-counts` ---------------------------------------------------------------------

row_counts = AppGroup(
    "row-counts", help="Exact row counts kept by the database (PostgreSQL; console.counts)."
)
commands.add_command(row_counts)


def _count_tables(words: tuple[str, ...], managed: bool) -> list[str]:
    """Table names for TABLE arguments: a table's name, or a managed model's name."""
    import sqlalchemy as sa

    from console import managed_tables

    present = set(sa.inspect(db.engine).get_table_names())
    catalogue = current_app.extensions["console_catalogue"]
    tables = list(managed_tables(current_app)) if managed else []
    for word in words:
        if word in present:
            tables.append(word)
            continue
        try:
            tables.append(catalogue.by_name(word).table.name)
        except KeyError:
            raise click.BadParameter(f"no table or model {word!r}", param_hint="TABLE") from None
    if not tables:
        raise click.UsageError("Name at least one TABLE (or --managed).")
    return list(dict.fromkeys(tables))


def _not_postgresql() -> bool:
    if db.engine.dialect.name == "postgresql":
        return False
    click.echo(
        f"Row counts are kept on PostgreSQL only; this database ({db.engine.dialect.name}) "
        "counts rows with count(*): nothing to do."
    )
    return True


@row_counts.command("install")
@click.argument("tables", nargs=-1, metavar="TABLE...")
@click.option("--managed", is_flag=True, help="Every table of the managed models.")
def row_counts_install_command(tables: tuple[str, ...], managed: bool) -> None:
    """Keep the exact row count of each TABLE in the database (seeded under a lock)."""
    from console import counts, schema

    chosen = _count_tables(tables, managed)
    if _not_postgresql():
        return
    try:
        with db.engine.connect() as conn, schema.migration_lock(conn, _lock_wait()):
            with conn.begin():
                installed = counts.install_row_counts(conn, *chosen)
            states = [counts.table_counts(conn, table) for table in chosen]
    except (counts.CountsError, schema.SchemaError) as exc:
        raise click.ClickException(str(exc)) from None
    if installed:
        click.echo(f"Row counts installed for: {', '.join(installed)}.")
    already = [table for table in chosen if table not in installed]
    if already:
        click.echo(f"Already kept: {', '.join(already)}.")
    for state in states:
        click.echo(f"  {state.describe()}")


@row_counts.command("remove")
@click.argument("tables", nargs=-1, required=True, metavar="TABLE...")
def row_counts_remove_command(tables: tuple[str, ...]) -> None:
    """Stop keeping the row count of each TABLE (drop its triggers and counts)."""
    from console import counts, schema

    chosen = _count_tables(tables, managed=False)
    if _not_postgresql():
        return
    try:
        with (
            db.engine.connect() as conn,
            schema.migration_lock(conn, _lock_wait()),
            conn.begin(),
        ):
            removed = counts.remove_row_counts(conn, *chosen)
    except schema.SchemaError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Row counts removed for: {', '.join(removed) or 'none (none were kept)'}.")


@row_counts.command("status")
def row_counts_status_command() -> None:
    """Which tables have their exact row count kept by the database."""
    from console import counts, managed_tables

    tables = managed_tables(current_app)
    if _not_postgresql():
        return
    with db.engine.connect() as conn:
        others = [table for table in counts.counted_tables(conn) if table not in tables]
        for table in [*tables, *others]:
            click.echo(counts.table_counts(conn, table).describe())
