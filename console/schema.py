"""Where the database stands against the migration scripts, and safe ways to move it.

Two Alembic histories can live in one database: the console's own (``migrations/``:
accounts, audit log, row counts; version table ``console_alembic_version``) and,
when the console shows its built-in demo, the demo application's
(``console/demo/migrations``: people, lists, to-dos; version table
``alembic_version``, as any application's). Any other application's tables belong
to that application and its own migrations: the console reports them and never
alters them.

Plain Python over SQLAlchemy and Alembic's own APIs (``ScriptDirectory``,
``MigrationContext``, ``compare_metadata``, ``command``), with no Flask imports:
the migrations page and the ``console`` commands are thin callers. Every function
takes an Engine (or URL) and a ``History`` (or the directory of a copy of the
console's scripts), so tests can point them at databases and scripts of their own.

A database migrated by the console's old single history (``0001_initial`` ...
``0004_row_counts`` in ``alembic_version``, the console's and the demo's tables
together) is adopted at 0004: stamped as at the first revision of each new history,
whose schema is exactly 0004's, without any DDL.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.orm import Session

from console import counts, own_file, own_schema
from console.audit import record
from console.config import DEMO_MODELS
from console.migration_env import include_object
from console.models import Account, AuditEntry, Base

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
CONSOLE_SCRIPTS = ROOT / "migrations"
DEMO_SCRIPTS = Path(__file__).resolve().parent / "demo" / "migrations"

# pg_try_advisory_lock key shared by every instance: "cons" as a 32-bit number.
LOCK_KEY = 0x636F6E73
# The console's own version table: an application's `alembic_version` never collides with it.
CONSOLE_VERSION_TABLE = "console_alembic_version"
DEMO_VERSION_TABLE = "alembic_version"

EMPTY = "empty"
UNVERSIONED = "unversioned"
UNKNOWN_REVISION = "unknown revision"
LEGACY = "legacy"
MOVING = "outside its schema"
PENDING = "pending"
UP_TO_DATE = "up to date"

# The console's old single history, in `alembic_version`, and the tables its last revision left.
LEGACY_REVISIONS = (
    "0001_initial",
    "0002_list_indexes",
    "0003_drop_redundant_indexes",
    "0004_row_counts",
)
LEGACY_HEAD = LEGACY_REVISIONS[-1]
LEGACY_VERSION_TABLE = "alembic_version"
LEGACY_TABLES = ("account", "audit_entry", "row_count_delta", "person", "todo_list", "todo")
# The revision of each new history whose schema is exactly LEGACY_HEAD's. Fixed, not
# "head": later revisions of either history still run after the adoption.
ADOPTED_AS = {"console": "c0001_console_tables", "demo": "d0001_demo_tables"}


class SchemaError(Exception):
    """An action that cannot run as asked; the message says why, for an administrator."""


class MigrationRunning(SchemaError):
    """Another session holds the migration lock."""


class NothingToDo(SchemaError):
    """The database is already at the requested revisions."""


@dataclass(frozen=True)
class History:
    """One Alembic history: its scripts, its version table and the metadata of its tables."""

    name: str
    title: str
    directory: Path
    version_table: str
    metadata: sa.MetaData
    # The console's own history: its tables live in the console's schema (own_schema).
    own_schema: bool = False

    def db_command(self, words: str) -> str:
        """The ``console db`` command line that runs ``words`` on this history."""
        sub, _, rest = words.partition(" ")
        where = "" if self.name == "console" else f" -d {self.directory}"
        return f"console db {sub}{where}{' ' + rest if rest else ''}"

    @property
    def tables(self) -> set[str]:
        """The names of this history's tables."""
        return {table.name for table in self.metadata.tables.values()}


def console_history(directory: str | Path | None = None) -> History:
    """The console's own history (``directory``: a copy of its scripts, for tests)."""
    return History(
        "console",
        "The console's own tables",
        Path(directory or CONSOLE_SCRIPTS),
        CONSOLE_VERSION_TABLE,
        _own_metadata(),
        own_schema=True,
    )


@functools.cache
def _own_metadata() -> sa.MetaData:
    """The console's tables unqualified, as its migrations see them (in ``scope``)."""
    return own_schema.unqualified(Base.metadata)


def scope(conn: Connection, history: History, create: bool = False) -> Any:
    """Work on ``history``'s tables unqualified: the console's schema first for its own."""
    return own_schema.scope(conn, create) if history.own_schema else nullcontext()


def demo_history(directory: str | Path | None = None) -> History:
    """The demo application's history (``directory``: a copy of its scripts, for tests)."""
    from console.demo.models import DemoBase

    return History(
        "demo",
        "The demo's tables (people, to-do lists, to-dos)",
        Path(directory or DEMO_SCRIPTS),
        DEMO_VERSION_TABLE,
        DemoBase.metadata,
    )


def as_history(history: History | str | Path) -> History:
    """``history`` itself, or the console's history in the scripts directory it names."""
    return history if isinstance(history, History) else console_history(history)


def is_demo(models: Any) -> bool:
    """True when CONSOLE_MODELS ``models`` is the built-in demo."""
    return isinstance(models, str) and models.strip() == DEMO_MODELS


def histories_for(models: Any, console_directory: str | Path | None = None) -> list[History]:
    """The histories the console runs for CONSOLE_MODELS ``models``: its own, then the demo's.

    Only the built-in demo's tables are migrated by the console; any other
    application's come from that application's own migrations.
    """
    own = console_history(console_directory)
    return [own, demo_history()] if is_demo(models) else [own]


@dataclass(frozen=True)
class Actor:
    """Who runs a migration, captured before it runs (the account row may not survive it)."""

    id: int | None
    email: str | None


@dataclass(frozen=True)
class RevisionInfo:
    """One migration script, as the page and the CLI show it."""

    id: str
    message: str
    date: str | None
    parents: tuple[str, ...]
    is_current: bool = False
    is_head: bool = False
    is_pending: bool = False

    @property
    def parent(self) -> str:
        """The parent revision(s) as text, ``base`` for the first."""
        return ", ".join(self.parents) or "base"


@dataclass(frozen=True)
class DriftItem:
    """One difference between the models and the live schema."""

    kind: str
    text: str


@dataclass
class SchemaStatus:
    """Everything known about a database against one history's scripts."""

    dialect: str
    server_version: str
    url: str
    current: tuple[str, ...]
    heads: tuple[str, ...]
    state: str
    explanation: str | None
    pending: list[RevisionInfo]
    history: list[RevisionInfo]
    warnings: list[str]
    drift: list[DriftItem] | None
    drift_note: str | None = None
    name: str = "console"
    title: str = ""
    version_table: str = CONSOLE_VERSION_TABLE
    directory: str = ""
    adoptable: bool = False

    @property
    def up_to_date(self) -> bool:
        """True when the database is at every head of the scripts."""
        return self.state == UP_TO_DATE

    @property
    def ok(self) -> bool:
        """True when nothing needs doing: at head and no drift."""
        return self.up_to_date and not self.drift

    @property
    def can_upgrade(self) -> bool:
        """Upgrading is safe to offer (an unversioned database would collide with itself)."""
        return self.state in (EMPTY, PENDING, MOVING) or (
            self.state == LEGACY and self.adoptable
        )

    @property
    def can_downgrade(self) -> bool:
        """One step down is well defined: exactly one known current revision."""
        return len(self.current) == 1 and self.state in (PENDING, UP_TO_DATE)


@dataclass
class SchemaReport:
    """The database against every history the console runs, and the tables of neither."""

    dialect: str
    server_version: str
    url: str
    histories: list[SchemaStatus]
    # Tables of the application the console manages but does not migrate: present, missing.
    managed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    # Tables of no history and no managed model: not the console's business.
    unmanaged: list[str] = field(default_factory=list)
    # Where the console's own tables are, in words (a schema, the main one, or a file).
    own_place: str = ""

    @property
    def ok(self) -> bool:
        """True when every history is at head without drift and no managed table is missing."""
        return all(status.ok for status in self.histories) and not self.missing

    @property
    def own(self) -> SchemaStatus:
        """The status of the console's own history."""
        return self.histories[0]


@dataclass
class RunResult:
    """The outcome of one upgrade or downgrade."""

    operation: str
    target: str
    before: tuple[str, ...]
    after: tuple[str, ...]
    planned: list[str]
    ok: bool
    error: str | None = None
    audited: bool = False
    refused: bool = False
    nothing_to_do: bool = False
    history: str = "console"
    # The revisions a legacy database was stamped with (no DDL), when this run adopted it.
    adopted: tuple[str, ...] = ()
    # The console's tables this run moved into its schema (from before it had one).
    moved: tuple[str, ...] = ()

    def describe(self) -> str:
        """A sentence for the administrator."""
        before = _revs_text(self.before)
        after = _revs_text(self.after)
        if self.refused:
            return f"{self.operation.capitalize()} not run: {self.error}"
        adopted = ""
        if self.adopted:
            adopted = (
                f"Adopted a database of the console's old migration history at {LEGACY_HEAD}: "
                f"recorded as {', '.join(self.adopted)}, no table changed. "
            )
        if self.moved:
            adopted += (
                f"Moved the console's tables ({', '.join(self.moved)}) into its own schema, "
                "no row changed. "
            )
        if self.ok:
            if self.before == self.after:
                if self.moved:
                    return f"{adopted}The database is at {after}."
                return f"Nothing to do: the database is already at {after}."
            return f"{adopted}{self.operation.capitalize()} done: {before} -> {after}."
        return (
            f"{adopted}{self.operation.capitalize()} failed: {self.error} "
            f"The database is at {after} (it was at {before})."
        )


@dataclass
class InitResult:
    """What ``initialise`` did: one run per history, and the managed tables' state."""

    runs: list[RunResult]
    missing_tables: list[str] = field(default_factory=list)
    uncounted_tables: list[str] = field(default_factory=list)

    @property
    def migrated(self) -> bool:
        """True when every history ran (or had nothing to do)."""
        return all(run.ok or run.nothing_to_do for run in self.runs)

    @property
    def ok(self) -> bool:
        """True when every history is at head and every managed table exists."""
        return self.migrated and not self.missing_tables


def _revs_text(revs: tuple[str, ...]) -> str:
    return ", ".join(revs) if revs else "base (no revision)"


# --- reading -----------------------------------------------------------------------------


Bind = Engine | Connection | URL | str
HistoryLike = History | str | Path


@contextmanager
def _engine(bind: Engine | URL | str) -> Iterator[Engine]:
    if isinstance(bind, Engine):
        yield own_schema.on_engine(bind)
        return
    url = sa.make_url(bind)
    engine = sa.create_engine(
        url, poolclass=sa.pool.NullPool,
        execution_options={
            "schema_translate_map": own_schema.translate_map(
                url.get_backend_name(), own_schema.configured()
            )
        },
    )
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def _connect(bind: Bind) -> Iterator[Connection]:
    if isinstance(bind, Connection):
        yield own_schema.with_map(bind)
        return
    with _engine(bind) as engine, engine.connect() as conn:
        yield conn


@contextmanager
def history_connection(conn: Connection, history: History) -> Iterator[Connection]:
    """``conn``, or for the console's own history with its tables in a file of their own
    (SQLite, console.own_file), a connection to that file alone, where they are unqualified."""
    path = own_file.path_of(conn) if history.own_schema else None
    if path is None:
        yield conn
        return
    engine = own_file.direct(path)
    try:
        with engine.connect() as direct:
            yield direct
    finally:
        engine.dispose()


def masked_url(engine: Engine) -> str:
    """The database URL with any password replaced by ``***``."""
    return engine.url.render_as_string(hide_password=True)


def scripts(directory: str | Path | History) -> ScriptDirectory:
    """The migration scripts of a history (or in ``directory``)."""
    if isinstance(directory, History):
        directory = directory.directory
    return ScriptDirectory(str(directory))


_DATE_RE = re.compile(r"^Create Date:\s*(.+?)\s*$", re.MULTILINE)


def _info(script: Script, **flags: bool) -> RevisionInfo:
    match = _DATE_RE.search(script.module.__doc__ or "")
    down = script.down_revision
    parents = () if down is None else (down,) if isinstance(down, str) else tuple(down)
    return RevisionInfo(
        id=script.revision,
        message=(script.doc or "").strip() or "(no message)",
        date=match.group(1) if match else None,
        parents=parents,
        **flags,
    )


def _server_version(conn: Connection) -> str:
    if conn.dialect.name == "sqlite":
        return "SQLite " + str(conn.exec_driver_sql("select sqlite_version()").scalar())
    if conn.dialect.name == "postgresql":
        return "PostgreSQL " + str(conn.exec_driver_sql("show server_version").scalar())
    info = conn.dialect.server_version_info or ()
    return f"{conn.dialect.name} " + ".".join(str(part) for part in info)


def _pending(script_dir: ScriptDirectory, current: tuple[str, ...], target: str) -> list[Script]:
    """Scripts an upgrade from ``current`` to ``target`` runs, in the order it runs them."""
    lower: Any = current or "base"
    return list(reversed(list(script_dir.iterate_revisions(target, lower))))


def legacy_revision(conn: Connection) -> str | None:
    """The revision of the console's old single history this database is at, or None.

    Only a database without the console's own version table, whose ``alembic_version``
    holds one of that history's revisions and which has the accounts table, is one:
    an application's own ``alembic_version`` never is.
    """
    inspector = sa.inspect(conn)
    tables = set(inspector.get_table_names())
    if CONSOLE_VERSION_TABLE in tables or LEGACY_VERSION_TABLE not in tables:
        return None
    if "account" not in tables:
        return None
    if inspector.has_table(CONSOLE_VERSION_TABLE, schema=own_schema.of(conn)):
        return None
    revisions = list(
        conn.scalars(sa.text(f"SELECT version_num FROM {LEGACY_VERSION_TABLE}"))  # noqa: S608
    )
    if len(revisions) == 1 and revisions[0] in LEGACY_REVISIONS:
        return str(revisions[0])
    return None


def _legacy_problem(conn: Connection, revision: str) -> str | None:
    """Why a legacy database cannot be adopted as it is, or None when it can."""
    if revision != LEGACY_HEAD:
        return (
            "This database was migrated by the console's old single migration history "
            f"(the console's and the demo's tables together, in {LEGACY_VERSION_TABLE}) and "
            f"is at its revision {revision}. This version of the console adopts such a "
            f"database only at that history's last revision, {LEGACY_HEAD}: upgrade it there "
            "first with the console release that migrated it (`console db upgrade`), then "
            "start this version (`console init`), which adopts it without changing any table."
        )
    tables = set(sa.inspect(conn).get_table_names())
    missing = [table for table in LEGACY_TABLES if table not in tables]
    if missing:
        return (
            f"This database is recorded at {LEGACY_HEAD} of the console's old migration "
            f"history but lacks table(s) {', '.join(missing)}, so it cannot be adopted as it "
            "is. Restore them (from a backup, or by hand), then run `console init` again."
        )
    return None


def _legacy_explanation(revision: str, problem: str | None) -> str:
    if problem:
        return problem
    console, demo = ADOPTED_AS["console"], ADOPTED_AS["demo"]
    return (
        "This database was migrated by the console's old single migration history (the "
        f"console's and the demo's tables together, in {LEGACY_VERSION_TABLE}) and is at its "
        f"last revision, {revision}. Upgrading (here, `console init` or `console db upgrade`) "
        f"adopts it without changing any table: the console's tables are recorded as at "
        f"{console} (in {CONSOLE_VERSION_TABLE}) and the demo's as at {demo} (in "
        f"{DEMO_VERSION_TABLE}); revisions after those then run as usual."
    )


def _heads_in(
    conn: Connection, history: History, tables: set[str], schema: str | None = None
) -> tuple[str, ...]:
    if history.version_table not in tables:
        return ()
    context = MigrationContext.configure(conn, opts={
        "version_table": history.version_table, "version_table_schema": schema,
    })
    return tuple(context.get_current_heads())


def status(bind: Bind, history: HistoryLike) -> SchemaStatus:
    """Read where the database stands against one history: revisions, pending, history, drift."""
    history = as_history(history)
    script_dir = scripts(history)
    heads = tuple(script_dir.get_heads())
    with _connect(bind) as app_conn, history_connection(app_conn, history) as conn:
        legacy = legacy_revision(conn)
        problem = _legacy_problem(conn, legacy) if legacy else None
        moving = public_layout(conn) if history.own_schema and not legacy else []
        with scope(conn, history):
            return _status(conn, history, script_dir, heads, legacy, problem, moving)


def _status(
    conn: Connection,
    history: History,
    script_dir: ScriptDirectory,
    heads: tuple[str, ...],
    legacy: str | None,
    problem: str | None,
    moving: list[str],
) -> SchemaStatus:
    tables = set(sa.inspect(conn).get_table_names())
    own_tables = tables & history.tables
    if moving:
        current = _heads_in(conn, history, set(moving), schema=_default_schema(conn))
    else:
        current = (legacy,) if legacy else _heads_in(conn, history, tables)
    warnings: list[str] = []
    pending: list[Script] = []
    adoptable = False
    known = True
    for rev in current if not legacy else ():
        try:
            script_dir.get_revision(rev)
        except CommandError:
            known = False
    if legacy:
        state = LEGACY
        explanation = _legacy_explanation(legacy, problem)
        adoptable = problem is None and history.name in ADOPTED_AS
        if adoptable:
            pending = _pending(script_dir, (ADOPTED_AS[history.name],), "heads")
    elif moving and known:
        state = MOVING
        explanation = (
            f"The console's tables ({', '.join(sorted(moving))}) are in schema "
            f"{_default_schema(conn)}, where the console kept them before it had a schema of "
            f"its own. Upgrading (here, `console init` or `console db upgrade`) moves them, "
            f"rows, indexes and functions, to schema {own_schema.of(conn)} without changing "
            "them, then runs any pending revision."
        )
        pending = _pending(script_dir, current, "heads")
    elif not known:
        state = UNKNOWN_REVISION
        explanation = (
            f"The database is at revision {_revs_text(current)} in {history.version_table}, "
            "which is not among the migration scripts of this version of the console. The "
            "database was migrated by a newer (or different) version: deploy that version, "
            "or downgrade with it, before using this one."
        )
    elif not current and own_tables:
        state = UNVERSIONED
        explanation = (
            f"The database has tables of this history ({', '.join(sorted(own_tables))}) "
            f"but no Alembic version (in {history.version_table}), so nobody can tell which "
            "revision it is at. Do not upgrade: the first revision would try to create "
            "tables that already exist. If the drift section below says there is no drift, "
            "the tables already match the newest revision: record that with "
            f"`{history.db_command('stamp head')}`. Otherwise back the database up and "
            "bring it in line (or start from an empty database) first."
        )
    else:
        pending = _pending(script_dir, current, "heads")
        if not current:
            state = EMPTY
            explanation = (
                "The database is empty for this history: none of its tables exist and "
                f"{history.version_table} holds no version. Upgrade to head (here, or "
                "`console init`) to create them."
            )
        elif pending:
            state = PENDING
            explanation = (
                f"{len(pending)} revision(s) have not run yet. Upgrade to head to apply them."
            )
        else:
            state = UP_TO_DATE
            explanation = None
    if len(heads) > 1:
        warnings.append(
            f"The scripts have {len(heads)} heads ({', '.join(heads)}): two branches of "
            "migrations were written in parallel. Merge them with "
            f"`{history.db_command('merge heads')}` before deploying, so there is one order "
            "to run them in."
        )
    if len(current) > 1:
        warnings.append(
            f"The database is at several revisions at once ({', '.join(current)})."
        )
    current_set = set(current)
    pending_ids = {script.revision for script in pending}
    history_infos = [
        _info(
            script,
            is_current=script.revision in current_set,
            is_head=script.revision in heads,
            is_pending=script.revision in pending_ids,
        )
        for script in script_dir.walk_revisions()
    ]
    for script in script_dir.walk_revisions():
        if script.is_branch_point:
            warnings.append(
                f"Revision {script.revision} is a branch point: more than one revision "
                "follows it."
            )
    drift, drift_note = None, None
    if own_tables:
        drift = describe_drift(conn, history.metadata)
        if state == PENDING:
            drift_note = (
                "Revisions are pending, so differences are expected until they have run."
            )
    else:
        drift_note = "None of this history's tables exist yet: nothing to compare."
    return SchemaStatus(
        dialect=conn.dialect.name,
        server_version=_server_version(conn),
        url=masked_url(conn.engine),
        current=current,
        heads=heads,
        state=state,
        explanation=explanation,
        pending=[_info(script, is_pending=True) for script in pending],
        history=history_infos,
        warnings=warnings,
        drift=drift,
        drift_note=drift_note,
        name=history.name,
        title=history.title,
        version_table=history.version_table,
        directory=str(history.directory),
        adoptable=adoptable,
    )


def report(
    bind: Bind, histories: Iterable[HistoryLike], managed_tables: Iterable[str] = ()
) -> SchemaReport:
    """Every history's status, the managed tables outside them, and the tables of none.

    ``managed_tables`` are the tables of the models the console shows (the catalogue's);
    those of a history are reported with it, the others are the application's own.
    """
    chosen = [as_history(history) for history in histories]
    with _connect(bind) as conn:
        statuses = [status(conn, history) for history in chosen]
        tables = set(sa.inspect(conn).get_table_names())
        # The console's own tables are not among these where they have a schema of their
        # own (PostgreSQL): a table of the same name there is the application's.
        apart = own_schema.of(conn) not in (None, _default_schema_or_none(conn))
        ours = set().union(*(
            h.tables | {h.version_table} for h in chosen if not (h.own_schema and apart)
        ))
        application = sorted(set(managed_tables) - ours)
        inspector = sa.inspect(conn)
        return SchemaReport(
            dialect=conn.dialect.name,
            server_version=_server_version(conn),
            url=masked_url(conn.engine),
            histories=statuses,
            managed=[table for table in application if _exists(inspector, table)],
            missing=[table for table in application if not _exists(inspector, table)],
            unmanaged=sorted(tables - ours - set(application)),
            own_place=_own_place(conn),
        )


def _own_place(conn: Connection) -> str:
    """Where the console's tables are, in words (status pages and the CLI)."""
    path = own_file.path_of(conn)
    if path is not None:
        return f"file {path} (attached beside the database as schema {own_file.ATTACHED})"
    schema = own_schema.of(conn)
    return f'schema "{schema}"' if schema else "the database itself"


def _exists(inspector: Any, key: str) -> bool:
    """Whether table ``key`` (``name`` or ``schema.name``) exists."""
    schema_name, _, name = key.rpartition(".")
    return bool(inspector.has_table(name, schema=schema_name or None))


def status_lines(status: SchemaStatus, *, database: bool = True) -> list[str]:
    """The status of one history as plain text lines (the CLI's output)."""
    lines = []
    if database:
        lines += [
            f"Database:        {status.url}",
            f"Dialect:         {status.dialect} ({status.server_version})",
        ]
    lines += [
        f"Scripts:         {status.directory}",
        f"Version table:   {status.version_table}",
        f"Current:         {_revs_text(status.current)}",
        f"Head:            {_revs_text(status.heads)}",
        f"State:           {status.state}",
    ]
    if status.explanation:
        lines.append(f"  {status.explanation}")
    lines.extend(f"Warning: {warning}" for warning in status.warnings)
    if status.pending:
        lines.append("Pending revisions, in the order they run:")
        lines.extend(
            f"  {rev.id}  {rev.message}  (date {rev.date or '?'}, parent {rev.parent})"
            for rev in status.pending
        )
    else:
        lines.append("Pending revisions: none")
    if status.drift:
        lines.append(f"Drift: {len(status.drift)} difference(s) between models and database:")
        lines.extend(f"  - {item.text}" for item in status.drift)
    elif status.drift is not None:
        lines.append("Drift: none")
    if status.drift_note:
        lines.append(f"  ({status.drift_note})")
    lines.append("History (newest first):")
    for rev in status.history:
        marks = [m for m, on in (("current", rev.is_current), ("head", rev.is_head),
                                 ("pending", rev.is_pending)) if on]
        mark = f"  [{', '.join(marks)}]" if marks else ""
        lines.append(f"  {rev.id}  {rev.message}{mark}")
    return lines


def report_lines(report: SchemaReport) -> list[str]:
    """The whole report as plain text lines (``console schema-status``)."""
    lines = [
        f"Database:        {report.url}",
        f"Dialect:         {report.dialect} ({report.server_version})",
    ]
    if report.own_place:
        lines.append(f"Console tables:  {report.own_place}")
    for status in report.histories:
        lines += ["", f"== {status.title} =="]
        lines += status_lines(status, database=False)
    lines.append("")
    if report.managed or report.missing:
        lines.append(
            "Tables of the application (the console edits their rows; their schema is the "
            f"application's): {', '.join(report.managed) or 'none present'}"
        )
    if report.missing:
        lines.append(
            f"Missing tables of the application: {', '.join(report.missing)}. Create them with "
            "the application's own migrations (or its metadata.create_all())."
        )
    lines.append(f"Not managed by the console: {', '.join(report.unmanaged) or 'none'}")
    return lines


# --- drift -------------------------------------------------------------------------------


def compare(conn: Connection, metadata: sa.MetaData) -> list[Any]:
    """Autogenerate's raw differences between ``metadata``'s tables and the live schema.

    Tables not in ``metadata`` are another history's or application's: not compared.
    """
    context = MigrationContext.configure(
        conn,
        opts={
            "compare_type": True,
            "target_metadata": metadata,
            "include_object": include_object(metadata),
        },
    )
    return compare_metadata(context, metadata)


def describe_drift(conn: Connection, metadata: sa.MetaData) -> list[DriftItem]:
    """The differences between the models and the live schema, in plain words.

    Autogenerate reports a foreign key whose ON DELETE (or ON UPDATE) rule changed as
    an extra foreign key plus a missing one, and an index that differs only by name as
    an extra index plus a missing one: each such pair is one line naming what differs.
    """
    items: list[DriftItem] = []
    for diff in _paired(compare(conn, metadata)):
        if isinstance(diff, list):
            items.extend(_describe_modify(change) for change in diff)
        else:
            items.append(_describe(diff))
    return items


def _fk_key(fk: Any) -> tuple[Any, ...]:
    """What makes two foreign keys the same one, their rules and name aside."""
    return (
        fk.table.schema,
        fk.table.name,
        tuple(column.name for column in fk.columns),
        tuple(element.target_fullname for element in fk.elements),
    )


def _index_key(index: Any) -> tuple[Any, ...] | None:
    """What makes two indexes the same but for their names; None for expression indexes."""
    columns = tuple(column.name for column in index.columns)
    if not columns or len(columns) != len(index.expressions):
        return None
    using = (index.dialect_kwargs.get("postgresql_using") or "btree").lower()
    return (index.table.schema, index.table.name, columns, bool(index.unique), using)


def _paired(diffs: list[Any]) -> list[Any]:
    """``diffs`` with each remove+add of one foreign key or one renamed index made one item.

    The pair becomes ``("change_fk_rules", in_database, in_models)`` or
    ``("rename_index", in_database, in_models)``, in the place of the removal.
    """
    added: dict[tuple[Any, ...], int] = {}
    for i, diff in enumerate(diffs):
        if _op(diff) == "add_fk":
            added[("fk", *_fk_key(diff[1]))] = i
        elif _op(diff) == "add_index" and (key := _index_key(diff[1])) is not None:
            added[("index", *key)] = i
    pairs: dict[int, Any] = {}
    taken: set[int] = set()
    for i, diff in enumerate(diffs):
        op = _op(diff)
        if op == "remove_fk":
            j = added.get(("fk", *_fk_key(diff[1])))
            if j is not None and j not in taken and _rules_differ(diff[1], diffs[j][1]):
                pairs[i] = ("change_fk_rules", diff[1], diffs[j][1])
                taken.add(j)
        elif op == "remove_index" and (key := _index_key(diff[1])) is not None:
            j = added.get(("index", *key))
            if j is not None and j not in taken and diffs[j][1].name != diff[1].name:
                pairs[i] = ("rename_index", diff[1], diffs[j][1])
                taken.add(j)
    return [pairs.get(i, diff) for i, diff in enumerate(diffs) if i not in taken]


def _op(diff: Any) -> str | None:
    return None if isinstance(diff, list) else str(diff[0])


def rule(value: str | None) -> str:
    """An ON DELETE / ON UPDATE rule as SQL says it (none given is NO ACTION)."""
    return (value or "NO ACTION").upper()


def _rules_differ(in_database: Any, in_models: Any) -> bool:
    return any(
        rule(getattr(in_database, name)) != rule(getattr(in_models, name))
        for name in ("ondelete", "onupdate")
    )


def _fk_columns(fk: Any) -> str:
    names = [column.name for column in fk.columns]
    inner = names[0] if len(names) == 1 else f"({', '.join(names)})"
    return f"{fk.table.name}.{inner}"


_IN_MODELS = "is in the models but not in the database"
_IN_DATABASE = "is in the database but not in the models"


def _cols(obj: Any) -> str:
    return ", ".join(column.name for column in getattr(obj, "columns", ()))


def _describe(diff: tuple[Any, ...]) -> DriftItem:
    op = diff[0]
    if op in ("add_table", "remove_table"):
        table = diff[1]
        where = _IN_MODELS if op == "add_table" else _IN_DATABASE
        kind = "table missing" if op == "add_table" else "extra table"
        return DriftItem(kind, f"Table {table.name} {where}.")
    if op in ("add_column", "remove_column"):
        _, _schema, table, column = diff
        where = _IN_MODELS if op == "add_column" else _IN_DATABASE
        kind = "column missing" if op == "add_column" else "extra column"
        return DriftItem(kind, f"Column {table}.{column.name} {where}.")
    if op in ("add_index", "remove_index"):
        index = diff[1]
        where = _IN_MODELS if op == "add_index" else _IN_DATABASE
        kind = "index missing" if op == "add_index" else "extra index"
        unique = "Unique index" if index.unique else "Index"
        return DriftItem(
            kind, f"{unique} {index.name} on {index.table.name} ({_cols(index)}) {where}."
        )
    if op == "change_fk_rules":
        in_database, in_models = diff[1], diff[2]
        changes = [
            f"{label} is {rule(getattr(in_database, name))} in the database, "
            f"{rule(getattr(in_models, name))} in the models"
            for name, label in (("ondelete", "ON DELETE"), ("onupdate", "ON UPDATE"))
            if rule(getattr(in_database, name)) != rule(getattr(in_models, name))
        ]
        kind = "ON DELETE changed" if changes[0].startswith("ON DELETE") else "ON UPDATE changed"
        return DriftItem(kind, f"{_fk_columns(in_models)}: {'; '.join(changes)}.")
    if op == "rename_index":
        in_database, in_models = diff[1], diff[2]
        unique = "Unique index" if in_models.unique else "Index"
        return DriftItem(
            "index renamed",
            f"{unique} {in_database.name} on {in_models.table.name} ({_cols(in_models)}) in "
            f"the database is {in_models.name} in the models.",
        )
    if op in ("add_fk", "remove_fk"):
        fk = diff[1]
        where = _IN_MODELS if op == "add_fk" else _IN_DATABASE
        kind = "foreign key missing" if op == "add_fk" else "extra foreign key"
        target = fk.elements[0].target_fullname.split(".")[0] if fk.elements else "?"
        name = f" {fk.name}" if fk.name else ""
        return DriftItem(
            kind,
            f"Foreign key{name} on {fk.table.name} ({_cols(fk)}) -> {target} {where}.",
        )
    if op in ("add_constraint", "remove_constraint"):
        constraint = diff[1]
        where = _IN_MODELS if op == "add_constraint" else _IN_DATABASE
        kind = "constraint missing" if op == "add_constraint" else "extra constraint"
        label = type(constraint).__name__.replace("Constraint", " constraint").strip()
        return DriftItem(
            kind,
            f"{label.capitalize()} {constraint.name or ''} on {constraint.table.name} "
            f"({_cols(constraint)}) {where}.".replace("  ", " "),
        )
    if op in ("add_table_comment", "remove_table_comment"):
        return DriftItem("comment changed", f"The comment on table {diff[1].name} differs.")
    return DriftItem("other", f"Difference autogenerate reports as {op}: {diff[1:]!r}.")


def _describe_modify(change: tuple[Any, ...]) -> DriftItem:
    op, _schema, table, column = change[:4]
    old, new = change[5], change[6]
    what = {
        "modify_type": "type",
        "modify_nullable": "nullable",
        "modify_default": "server default",
        "modify_comment": "comment",
    }.get(op, op)
    if op == "modify_nullable":
        old = "NULL allowed" if old else "NOT NULL"
        new = "NULL allowed" if new else "NOT NULL"
    return DriftItem(
        "column changed",
        f"Column {table}.{column}: {what} is {_plain(old)} in the database, "
        f"{_plain(new)} in the models.",
    )


def _plain(value: Any) -> str:
    if value is None:
        return "none"
    text = getattr(value, "arg", value)
    return str(getattr(text, "text", text))


def pending_rule_fix(
    bind: Bind, histories: Iterable[HistoryLike], table: str, columns: Iterable[str], rule: str
) -> tuple[History, RevisionInfo] | None:
    """The first pending revision that gives ``table``'s foreign key on ``columns`` ON DELETE
    ``rule``, with its history; None when no pending revision does.

    Read from the scripts' source: a revision that names the table, each column and
    ``ondelete`` with that rule (as ``op.create_foreign_key(..., ondelete="CASCADE")`` or
    ``sa.ForeignKeyConstraint(..., ondelete="CASCADE")`` do).
    """
    wanted = [table, *columns]
    with _connect(bind) as conn:
        for history in map(as_history, histories):
            if table not in history.tables:
                continue
            current = status(conn, history)
            if not current.can_upgrade:
                continue
            script_dir = scripts(history)
            for rev in current.pending:
                path = script_dir.get_revision(rev.id).path
                if _sets_rule(Path(path).read_text(encoding="utf-8"), wanted, rule):
                    return history, rev
    return None


def _sets_rule(source: str, names: list[str], rule: str) -> bool:
    def quoted(word: str) -> bool:
        return f"'{word}'" in source or f'"{word}"' in source

    text = source.lower()
    rule_words = (f"ondelete='{rule.lower()}'", f'ondelete="{rule.lower()}"')
    return all(quoted(name) for name in names) and any(
        word in text.replace(" ", "") for word in rule_words
    )


# --- actions -----------------------------------------------------------------------------


def plan_upgrade(bind: Bind, history: HistoryLike, target: str = "heads") -> list[RevisionInfo]:
    """The revisions an upgrade to ``target`` would run, in order; SchemaError if it cannot."""
    return upgrade_plan(status(bind, history), history, target)


def upgrade_plan(current: SchemaStatus, history: HistoryLike, target: str) -> list[RevisionInfo]:
    """The revisions an upgrade from ``current`` to ``target`` runs; SchemaError if it cannot."""
    history = as_history(history)
    if current.up_to_date:
        raise NothingToDo("The database is already up to date.")
    if not current.can_upgrade:
        raise SchemaError(current.explanation or "The database cannot be upgraded.")
    if target != "heads" and target not in {rev.id for rev in current.pending}:
        raise SchemaError(f"Revision {target} is not pending: choose one from the pending list.")
    start = (ADOPTED_AS[history.name],) if current.state == LEGACY else current.current
    return [_info(script, is_pending=True) for script in _pending(scripts(history), start, target)]


def plan_downgrade(bind: Bind, history: HistoryLike) -> RevisionInfo:
    """The one revision a downgrade step would undo; SchemaError if there is none."""
    current = status(bind, history)
    _check_downgradable(current)
    return _info(scripts(as_history(history)).get_revision(current.current[0]), is_current=True)


def _check_downgradable(current: SchemaStatus) -> None:
    if current.can_downgrade:
        return
    if not current.current:
        raise SchemaError("The database has no revision to downgrade from.")
    if len(current.current) > 1:
        raise SchemaError(
            "The database is at several revisions at once: downgrade one branch with "
            "`console db downgrade <revision>` on the server."
        )
    raise SchemaError(current.explanation or "The database cannot be downgraded.")


def _alembic_config(history: History, conn: Connection) -> Config:
    ini = history.directory / "alembic.ini"
    config = Config(str(ini) if ini.exists() else None)
    config.set_main_option("script_location", str(history.directory))
    config.attributes["connection"] = conn
    # env.py would otherwise reconfigure logging of the whole process (the web app's too).
    config.attributes["skip_logging_config"] = True
    config.attributes["transaction_per_migration"] = True
    return config


@contextmanager
def migration_lock(conn: Connection, wait_seconds: float = 0) -> Iterator[None]:
    """Hold the cluster-wide migration lock on PostgreSQL, or raise MigrationRunning.

    Without ``wait_seconds`` a held lock refuses at once (the page); with it the caller
    queues behind the running migration for at most that long (``console init`` at start-up).
    The lock is session-level: it survives the per-revision commits and is released
    here (or by PostgreSQL when the connection dies).
    """
    if conn.dialect.name != "postgresql":
        # SQLite is single-host development use; it serialises writers itself.
        yield
        return
    if wait_seconds > 0:
        got = _wait_for_lock(conn, wait_seconds)
    else:
        got = bool(conn.execute(sa.select(sa.func.pg_try_advisory_lock(LOCK_KEY))).scalar())
    conn.commit()
    if not got:
        raise MigrationRunning(
            "a migration is already running (another administrator or instance holds the "
            "lock). Wait for it to finish, then look at the status again."
        )
    try:
        yield
    finally:
        conn.rollback()
        conn.execute(sa.select(sa.func.pg_advisory_unlock(LOCK_KEY)))
        conn.commit()


def _wait_for_lock(conn: Connection, wait_seconds: float) -> bool:
    # lock_timeout bounds the wait for advisory locks too; SET LOCAL ends with the transaction.
    conn.exec_driver_sql(f"SET LOCAL lock_timeout = {int(wait_seconds * 1000)}")
    try:
        conn.execute(sa.select(sa.func.pg_advisory_lock(LOCK_KEY)))
    except sa.exc.OperationalError as exc:
        if getattr(exc.orig, "pgcode", None) != "55P03":  # lock_not_available
            raise
        conn.rollback()
        return False
    return True


def _current(conn: Connection, history: History) -> tuple[str, ...]:
    conn.rollback()
    legacy = legacy_revision(conn)
    moving = public_layout(conn) if history.own_schema and not legacy else []
    if legacy:
        heads: tuple[str, ...] = (legacy,)
    elif moving:
        heads = _heads_in(conn, history, set(moving), schema=_default_schema(conn))
    else:
        with scope(conn, history):
            heads = _heads_in(conn, history, set(sa.inspect(conn).get_table_names()))
    conn.commit()
    return heads


def _default_schema(conn: Connection) -> str:
    """The schema unqualified names are created in, outside ``scope`` (usually public)."""
    return str(conn.exec_driver_sql("SELECT current_schema()").scalar() or "public")


def _default_schema_or_none(conn: Connection) -> str | None:
    return _default_schema(conn) if conn.dialect.name == "postgresql" else None


def public_layout(conn: Connection) -> list[str]:
    """The console's tables still in the default schema, from before it had its own; else [].

    Only where the console's version table is there and not in the console's schema:
    an application's own ``account`` table never makes a database one.
    """
    schema = own_schema.of(conn)
    if conn.dialect.name != "postgresql" or schema is None:
        return []
    default = _default_schema(conn)
    if default == schema:
        return []
    inspector = sa.inspect(conn)
    if not inspector.has_table(CONSOLE_VERSION_TABLE, schema=default) or inspector.has_table(
        CONSOLE_VERSION_TABLE, schema=schema
    ):
        return []
    present = set(inspector.get_table_names(schema=default))
    history = console_history()
    return sorted((history.tables | {CONSOLE_VERSION_TABLE}) & present)


def move_to_own_schema(conn: Connection) -> tuple[str, ...]:
    """Move the console's tables and row-count functions into its schema; no row changes.

    ``ALTER ... SET SCHEMA`` keeps rows, indexes, constraints, sequences and the triggers
    that call the functions; the functions' bodies are written again naming the tables
    in their new schema. One transaction; call it under the migration lock.
    """
    conn.rollback()
    moving = public_layout(conn)
    if not moving:
        conn.commit()
        return ()
    schema = own_schema.of(conn)
    default = _default_schema(conn)
    quote = conn.dialect.identifier_preparer.quote
    # One transaction: every table moves, or none.
    conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {quote(str(schema))}")
    for table in moving:
        conn.exec_driver_sql(
            f"ALTER TABLE {quote(default)}.{quote(table)} SET SCHEMA {quote(str(schema))}"
        )
    functions = [signature for signature, _body in counts.FUNCTIONS if conn.scalar(
        sa.text("SELECT to_regprocedure(:f) IS NOT NULL"),
        {"f": f"{quote(default)}.{signature.split('(')[0]}"
              f"({_argument_types(signature)})"},
    )]
    for signature in functions:
        name = signature.split("(")[0]
        conn.exec_driver_sql(
            f"ALTER FUNCTION {quote(default)}.{name}({_argument_types(signature)}) "
            f"SET SCHEMA {quote(str(schema))}"
        )
    if functions:
        counts.install_functions(conn, replace=True)
    for kind, name in _queue_objects(conn, default):
        conn.exec_driver_sql(f"ALTER {kind} {name} SET SCHEMA {quote(str(schema))}")
    conn.commit()
    log.info("Moved the console's tables %s from schema %s to %s", moving, default, schema)
    return tuple(moving)


def _queue_objects(conn: Connection, schema: str) -> list[tuple[str, str]]:
    """The job queue's (procrastinate's) tables, types and functions in ``schema``, as
    (kind, qualified name) to move: their bodies name each other unqualified, and the
    queue's connections search the console's schema first."""
    # Functions first, types last: each name is resolved as it was when it was read.
    rows = conn.execute(sa.text(
        "SELECT 'FUNCTION', p.oid::regprocedure::text FROM pg_proc p "
        "WHERE p.pronamespace = to_regnamespace(:s) AND p.proname LIKE 'procrastinate\\_%' "
        "UNION ALL SELECT 'TABLE', c.oid::regclass::text FROM pg_class c "
        "WHERE c.relnamespace = to_regnamespace(:s) AND c.relkind = 'r' "
        "AND c.relname LIKE 'procrastinate\\_%' "
        "UNION ALL SELECT 'TYPE', t.oid::regtype::text FROM pg_type t "
        "WHERE t.typnamespace = to_regnamespace(:s) AND t.typname LIKE 'procrastinate\\_%' "
        "AND (t.typtype = 'e' OR (t.typtype = 'c' AND (SELECT relkind FROM pg_class "
        "WHERE oid = t.typrelid) = 'c'))"
    ), {"s": schema}).all()
    return [(str(kind), str(name)) for kind, name in rows]


def _argument_types(signature: str) -> str:
    """``text`` for ``f(target text)``: the argument types that name a function."""
    inner = signature.split("(", 1)[1].rstrip(")")
    return ", ".join(part.split()[-1] for part in inner.split(",") if part.strip())


def adopt_legacy(conn: Connection, histories: Iterable[History] = ()) -> tuple[str, ...]:
    """Stamp a database of the old single history at 0004 as at ADOPTED_AS; no DDL.

    Both histories are stamped, whatever the console shows now: the tables that
    history left are the console's and the demo's. ``histories`` gives the script
    directories to use (copies, in tests); the shipped ones otherwise. Returns the
    revisions stamped, () when the database is no legacy one; SchemaError when it is
    one that cannot be adopted. Call it under the migration lock.
    """
    conn.rollback()
    legacy = legacy_revision(conn)
    if legacy is None:
        conn.commit()
        return ()
    problem = _legacy_problem(conn, legacy)
    if problem:
        raise SchemaError(problem)
    given = {history.name: history for history in histories}
    console = given.get("console") or console_history()
    conn.rollback()
    with conn.begin():
        MigrationContext.configure(conn, opts={"version_table": console.version_table}).stamp(
            scripts(console), ADOPTED_AS["console"]
        )
        # The demo's version table is the old history's: its one row moves to the demo's revision.
        conn.execute(
            sa.text(
                f"UPDATE {LEGACY_VERSION_TABLE} SET version_num = :new "  # noqa: S608
                "WHERE version_num = :old"
            ),
            {"new": ADOPTED_AS["demo"], "old": legacy},
        )
    log.info("Adopted a database of the old single history at %s", legacy)
    return (ADOPTED_AS["console"], ADOPTED_AS["demo"])


def upgrade(
    bind: Engine | URL | str,
    history: HistoryLike,
    target: str = "heads",
    *,
    expected_current: tuple[str, ...] | None = None,
    expected_plan: list[str] | None = None,
    account: Any = None,
    wait_seconds: float = 0,
) -> RunResult:
    """Upgrade to ``target`` (a pending revision or ``heads``), one transaction per revision.

    With ``expected_current``/``expected_plan`` (what the administrator confirmed) the run is
    refused unless the database and the revisions to run are still exactly those. A
    legacy database at 0004 is adopted first (``adopt_legacy``).
    """
    return _run(
        "upgrade", bind, as_history(history), target, expected_current, account, expected_plan,
        wait_seconds,
    )


def downgrade(
    bind: Engine | URL | str,
    history: HistoryLike,
    target: str = "-1",
    *,
    account: Any = None,
    wait_seconds: float = 0,
) -> RunResult:
    """Downgrade to ``target`` (a revision, ``-N`` steps or ``base``) under the lock."""
    return _run(
        "downgrade", bind, as_history(history), target, None, account, None, wait_seconds
    )


def downgrade_one(
    bind: Engine | URL | str,
    history: HistoryLike,
    expected_current: str,
    *,
    account: Any = None,
) -> RunResult:
    """Undo the current revision ``expected_current`` (and only if it still is current)."""
    return _run("downgrade", bind, as_history(history), "-1", (expected_current,), account)


def _run(
    operation: str,
    bind: Engine | URL | str,
    history: History,
    target: str,
    expected_current: tuple[str, ...] | None,
    account: Any,
    expected_plan: list[str] | None = None,
    wait_seconds: float = 0,
) -> RunResult:
    with _engine(bind) as engine:
        result = RunResult(operation, target, (), (), [], ok=False, history=history.name)
        try:
            with engine.connect() as app_conn, history_connection(app_conn, history) as conn:
                result.before = result.after = _current(conn, history)
                try:
                    with migration_lock(conn, wait_seconds):
                        _migrate(conn, history, result, expected_current, expected_plan)
                except SchemaError as exc:
                    _refused(result, exc)
        except sa.exc.SQLAlchemyError as exc:
            result.error = _error_text(exc)
        _audit_run(engine, result, history, account)
    return result


def _refused(result: RunResult, exc: SchemaError) -> None:
    result.refused = True
    result.nothing_to_do = isinstance(exc, NothingToDo)
    result.error = str(exc)
    result.after = result.before


def _migrate(
    conn: Connection,
    history: History,
    result: RunResult,
    expected_current: tuple[str, ...] | None,
    expected_plan: list[str] | None,
    histories: Iterable[History] = (),
) -> None:
    """Under the lock: check, adopt a legacy database, then run Alembic's command."""
    # Again under the lock: another run may have finished meanwhile.
    result.before = _current(conn, history)
    _check_and_plan(result, conn, history, expected_current, expected_plan)
    conn.commit()
    try:
        if result.operation == "upgrade":
            result.adopted = adopt_legacy(conn, [history, *histories])
            if history.own_schema:
                result.moved = move_to_own_schema(conn)
        config = _alembic_config(history, conn)
        if result.operation == "upgrade":
            command.upgrade(config, result.target)
        else:
            command.downgrade(config, result.target)
        result.ok = True
    except Exception as exc:
        log.exception("Migration %s to %s failed", result.operation, result.target)
        result.error = _error_text(exc)
    finally:
        result.after = _current(conn, history)


def _audit_run(engine: Engine, result: RunResult, history: History, account: Any) -> None:
    # Start-up runs of `console init` find nothing to do on every restart: not worth a row.
    if not result.nothing_to_do:
        result.audited = _audit(engine, result, history, account)


def initialise(
    bind: Engine | URL | str,
    histories: Iterable[HistoryLike],
    *,
    required_tables: Iterable[str] = (),
    counted_tables: Iterable[str] = (),
    wait_seconds: float = 0,
    account: Any = None,
) -> InitResult:
    """Upgrade each history to head in order, then check the tables the console needs.

    All under one hold of the migration lock (``console init``: every instance runs it at
    start-up, and they queue instead of migrating twice). A legacy database is adopted
    first. A history that fails stops the ones after it (the demo's needs the console's).
    Then: which of ``required_tables`` (the managed models' tables) are missing, and on
    PostgreSQL which of ``counted_tables`` have no kept row count.
    """
    chosen = [as_history(history) for history in histories]
    outcome = InitResult(runs=[])
    with _engine(bind) as engine:
        try:
            with engine.connect() as conn:
                try:
                    with migration_lock(conn, wait_seconds):
                        for history in chosen:
                            result = RunResult(
                                "upgrade", "heads", (), (), [], ok=False, history=history.name
                            )
                            outcome.runs.append(result)
                            try:
                                with history_connection(conn, history) as target:
                                    _migrate(target, history, result, None, None, chosen)
                            except SchemaError as exc:
                                _refused(result, exc)
                            _audit_run(engine, result, history, account)
                            if not (result.ok or result.nothing_to_do):
                                return outcome
                        _check_tables(conn, outcome, required_tables, counted_tables)
                except MigrationRunning as exc:
                    result = RunResult("upgrade", "heads", (), (), [], ok=False)
                    _refused(result, exc)
                    outcome.runs.append(result)
        except sa.exc.SQLAlchemyError as exc:
            result = RunResult("upgrade", "heads", (), (), [], ok=False, error=_error_text(exc))
            outcome.runs.append(result)
    return outcome


def _check_tables(
    conn: Connection,
    outcome: InitResult,
    required_tables: Iterable[str],
    counted_tables: Iterable[str],
) -> None:
    conn.rollback()
    inspector = sa.inspect(conn)
    outcome.missing_tables = [
        table for table in dict.fromkeys(required_tables) if not _exists(inspector, table)
    ]
    if conn.dialect.name == "postgresql":
        present = set(inspector.get_table_names())
        # Counts are kept for tables of the search path only (see console.counts).
        outcome.uncounted_tables = [
            table
            for table in dict.fromkeys(counted_tables)
            if table in present and not counts.table_counts(conn, table).kept
        ]
    conn.rollback()


def _check_and_plan(
    result: RunResult,
    conn: Connection,
    history: History,
    expected_current: tuple[str, ...] | None,
    expected_plan: list[str] | None,
) -> None:
    """Under the lock: refuse when the database moved since the admin confirmed."""
    if expected_current is not None and tuple(sorted(expected_current)) != tuple(
        sorted(result.before)
    ):
        raise SchemaError(
            f"the database is now at {_revs_text(result.before)}, not at "
            f"{_revs_text(expected_current)} as when you confirmed. Review the status again."
        )
    now = status(conn, history)
    conn.rollback()
    if result.operation == "upgrade":
        result.planned = [rev.id for rev in upgrade_plan(now, history, result.target)]
        if expected_plan is not None and result.planned != expected_plan:
            raise SchemaError(
                f"the revisions to run are now {', '.join(result.planned)}, not "
                f"{', '.join(expected_plan) or 'none'} as when you confirmed. Review them again."
            )
    elif result.target == "-1":
        _check_downgradable(now)
        result.planned = list(now.current)
    else:
        if not now.current:
            raise NothingToDo("The database has no revision to downgrade from.")
        if now.state not in (PENDING, UP_TO_DATE):
            raise SchemaError(now.explanation or "The database cannot be downgraded.")
        try:
            result.planned = [
                script.revision
                for script in scripts(history).iterate_revisions(now.current, result.target)
                if script.revision != result.target
            ]
        except CommandError:
            result.planned = []  # a relative target: Alembic resolves it when it runs


def _error_text(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    # Driver messages carry the SQL and a background link on further lines.
    return text.splitlines()[0] if text else type(exc).__name__


def _audit(engine: Engine, result: RunResult, history: History, account: Any) -> bool:
    """Record the run in its own transaction, after the outcome, so a failure is kept too."""
    who = getattr(account, "email", None)
    summary: dict[str, Any] = {
        "who": who,
        "history": history.name,
        "operation": result.operation,
        "target": result.target,
        "from": list(result.before),
        "to": list(result.after),
        "revisions": result.planned,
        "result": "refused" if result.refused else "ok" if result.ok else "failed",
    }
    if result.adopted:
        summary["adopted"] = list(result.adopted)
    if result.error:
        summary["error"] = result.error
    try:
        with Session(engine) as session, session.begin():
            connection = session.connection()
            if not sa.inspect(connection).has_table(
                AuditEntry.__tablename__, schema=own_schema.of(connection)
            ):
                log.warning("Migration not audited: no audit table at %s", result.after)
                return False
            # A downgrade may have dropped and recreated the accounts: keep the email only.
            account_id = getattr(account, "id", None)
            if account_id is not None and session.get(Account, account_id) is None:
                account = SimpleNamespace(id=None, email=who)
            record(session, "migration", account=account, model=history.version_table,
                   changes={"summary": summary})
        return True
    except sa.exc.SQLAlchemyError:
        log.exception("Could not audit a migration run: %s", summary)
        return False
