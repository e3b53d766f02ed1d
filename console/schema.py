"""Where the database stands against the migration scripts, and safe ways to move it.

Plain Python over SQLAlchemy and Alembic's own APIs (``ScriptDirectory``,
``MigrationContext``, ``compare_metadata``, ``command``), with no Flask imports:
the migrations page and ``console schema-status`` are thin callers. Every function
takes an Engine (or URL) and the scripts directory, so tests can point them at a
database and a copy of the scripts of their own.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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

from console.audit import record
from console.models import Account, AuditEntry, Base


def _combined_metadata() -> sa.MetaData:
    """The console's tables and the demo's, as one history of migrations creates them.

    Transitional: the console's migrations still create the demo's tables.
    """
    from console.demo.models import DemoBase

    combined = sa.MetaData(naming_convention=dict(Base.metadata.naming_convention))
    for metadata in (Base.metadata, DemoBase.metadata):
        for table in metadata.tables.values():
            table.to_metadata(combined)
    return combined


SCHEMA_METADATA = _combined_metadata()

log = logging.getLogger(__name__)

# pg_try_advisory_lock key shared by every instance: "cons" as a 32-bit number.
LOCK_KEY = 0x636F6E73
VERSION_TABLE = "alembic_version"

EMPTY = "empty"
UNVERSIONED = "unversioned"
UNKNOWN_REVISION = "unknown revision"
PENDING = "pending"
UP_TO_DATE = "up to date"


class SchemaError(Exception):
    """An action that cannot run as asked; the message says why, for an administrator."""


class MigrationRunning(SchemaError):
    """Another session holds the migration lock."""


class NothingToDo(SchemaError):
    """The database is already at the requested revisions."""


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
    """Everything known about a database against the scripts."""

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
        return self.state in (EMPTY, PENDING)

    @property
    def can_downgrade(self) -> bool:
        """One step down is well defined: exactly one known current revision."""
        return len(self.current) == 1 and self.state in (PENDING, UP_TO_DATE)


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

    def describe(self) -> str:
        """A sentence for the administrator."""
        before = _revs_text(self.before)
        after = _revs_text(self.after)
        if self.refused:
            return f"{self.operation.capitalize()} not run: {self.error}"
        if self.ok:
            if self.before == self.after:
                return f"Nothing to do: the database is already at {after}."
            return f"{self.operation.capitalize()} done: {before} -> {after}."
        return (
            f"{self.operation.capitalize()} failed: {self.error} "
            f"The database is at {after} (it was at {before})."
        )


def _revs_text(revs: tuple[str, ...]) -> str:
    return ", ".join(revs) if revs else "base (no revision)"


# --- reading -----------------------------------------------------------------------------


Bind = Engine | Connection | URL | str


@contextmanager
def _engine(bind: Engine | URL | str) -> Iterator[Engine]:
    if isinstance(bind, Engine):
        yield bind
        return
    engine = sa.create_engine(bind, poolclass=sa.pool.NullPool)
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def _connect(bind: Bind) -> Iterator[Connection]:
    if isinstance(bind, Connection):
        yield bind
        return
    with _engine(bind) as engine, engine.connect() as conn:
        yield conn


def masked_url(engine: Engine) -> str:
    """The database URL with any password replaced by ``***``."""
    return engine.url.render_as_string(hide_password=True)


def scripts(directory: str | Path) -> ScriptDirectory:
    """The migration scripts in ``directory``."""
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


def status(
    bind: Bind,
    directory: str | Path,
    metadata: sa.MetaData = SCHEMA_METADATA,
) -> SchemaStatus:
    """Read where the database stands: revisions, pending scripts, history and drift."""
    script_dir = scripts(directory)
    heads = tuple(script_dir.get_heads())
    with _connect(bind) as conn:
        context = MigrationContext.configure(conn)
        tables = set(sa.inspect(conn).get_table_names())
        current = tuple(context.get_current_heads()) if VERSION_TABLE in tables else ()
        user_tables = tables - {VERSION_TABLE}
        warnings: list[str] = []
        pending: list[Script] = []
        known = True
        for rev in current:
            try:
                script_dir.get_revision(rev)
            except CommandError:
                known = False
        if not known:
            state = UNKNOWN_REVISION
            explanation = (
                f"The database is at revision {_revs_text(current)}, which is not among the "
                "migration scripts of this version of the console. The database was migrated by "
                "a newer (or different) version: deploy that version, or downgrade with it, "
                "before using this one."
            )
        elif not current and user_tables:
            state = UNVERSIONED
            explanation = (
                "The database has tables but no Alembic version, so nobody can tell which "
                "revision it is at. Do not upgrade: the first revision would try to create "
                "tables that already exist. If the drift section below says there is no drift, "
                "the tables already match the newest revision: record that with "
                "`console db stamp head`. Otherwise back the database up and bring it in line "
                "(or start from an empty database) first."
            )
        else:
            pending = _pending(script_dir, current, "heads")
            if not current:
                state = EMPTY
                explanation = (
                    "The database is empty: no tables and no Alembic version. Upgrade to head "
                    "(here, or `console init`) to create every table, then create an admin "
                    "account."
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
                "migrations were written in parallel. Merge them with `console db merge heads` "
                "before deploying, so there is one order to run them in."
            )
        if len(current) > 1:
            warnings.append(
                f"The database is at several revisions at once ({', '.join(current)})."
            )
        current_set = set(current)
        pending_ids = {script.revision for script in pending}
        history = [
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
        if user_tables:
            drift = describe_drift(conn, metadata)
            if state == PENDING:
                drift_note = (
                    "Revisions are pending, so differences are expected until they have run."
                )
        else:
            drift_note = "No tables yet: nothing to compare."
        return SchemaStatus(
            dialect=conn.dialect.name,
            server_version=_server_version(conn),
            url=masked_url(conn.engine),
            current=current,
            heads=heads,
            state=state,
            explanation=explanation,
            pending=[_info(script, is_pending=True) for script in pending],
            history=history,
            warnings=warnings,
            drift=drift,
            drift_note=drift_note,
        )


def status_lines(status: SchemaStatus) -> list[str]:
    """The status as plain text lines (the CLI's output)."""
    lines = [
        f"Database:        {status.url}",
        f"Dialect:         {status.dialect} ({status.server_version})",
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


# --- drift -------------------------------------------------------------------------------


def compare(conn: Connection, metadata: sa.MetaData = SCHEMA_METADATA) -> list[Any]:
    """Autogenerate's raw differences between ``metadata`` and the live schema."""
    context = MigrationContext.configure(
        conn, opts={"compare_type": True, "target_metadata": metadata}
    )
    return compare_metadata(context, metadata)


def describe_drift(conn: Connection, metadata: sa.MetaData = SCHEMA_METADATA) -> list[DriftItem]:
    """The differences between the models and the live schema, in plain words."""
    items: list[DriftItem] = []
    for diff in compare(conn, metadata):
        if isinstance(diff, list):
            items.extend(_describe_modify(change) for change in diff)
        else:
            items.append(_describe(diff))
    return items


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


# --- actions -----------------------------------------------------------------------------


def plan_upgrade(
    bind: Bind, directory: str | Path, target: str = "heads"
) -> list[RevisionInfo]:
    """The revisions an upgrade to ``target`` would run, in order; SchemaError if it cannot."""
    return upgrade_plan(status(bind, directory), directory, target)


def upgrade_plan(current: SchemaStatus, directory: str | Path, target: str) -> list[RevisionInfo]:
    """The revisions an upgrade from ``current`` to ``target`` runs; SchemaError if it cannot."""
    if current.up_to_date:
        raise NothingToDo("The database is already up to date.")
    if not current.can_upgrade:
        raise SchemaError(current.explanation or "The database cannot be upgraded.")
    if target != "heads" and target not in {rev.id for rev in current.pending}:
        raise SchemaError(f"Revision {target} is not pending: choose one from the pending list.")
    return [
        _info(script, is_pending=True)
        for script in _pending(scripts(directory), current.current, target)
    ]


def plan_downgrade(bind: Bind, directory: str | Path) -> RevisionInfo:
    """The one revision a downgrade step would undo; SchemaError if there is none."""
    current = status(bind, directory)
    _check_downgradable(current)
    return _info(scripts(directory).get_revision(current.current[0]), is_current=True)


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


def _alembic_config(directory: str | Path, conn: Connection) -> Config:
    ini = Path(directory) / "alembic.ini"
    config = Config(str(ini) if ini.exists() else None)
    config.set_main_option("script_location", str(directory))
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
        got = conn.execute(sa.select(sa.func.pg_try_advisory_lock(LOCK_KEY))).scalar()
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


def _current(conn: Connection) -> tuple[str, ...]:
    conn.rollback()
    if not sa.inspect(conn).has_table(VERSION_TABLE):
        return ()
    heads = tuple(MigrationContext.configure(conn).get_current_heads())
    conn.commit()
    return heads


def upgrade(
    bind: Engine | URL | str,
    directory: str | Path,
    target: str = "heads",
    *,
    expected_current: tuple[str, ...] | None = None,
    expected_plan: list[str] | None = None,
    account: Any = None,
    wait_seconds: float = 0,
) -> RunResult:
    """Upgrade to ``target`` (a pending revision or ``heads``), one transaction per revision.

    With ``expected_current``/``expected_plan`` (what the administrator confirmed) the run is
    refused unless the database and the revisions to run are still exactly those.
    """
    return _run(
        "upgrade", bind, directory, target, expected_current, account, expected_plan, wait_seconds
    )


def downgrade_one(
    bind: Engine | URL | str,
    directory: str | Path,
    expected_current: str,
    *,
    account: Any = None,
) -> RunResult:
    """Undo the current revision ``expected_current`` (and only if it still is current)."""
    return _run("downgrade", bind, directory, "-1", (expected_current,), account)


def _run(
    operation: str,
    bind: Engine | URL | str,
    directory: str | Path,
    target: str,
    expected_current: tuple[str, ...] | None,
    account: Any,
    expected_plan: list[str] | None = None,
    wait_seconds: float = 0,
) -> RunResult:
    with _engine(bind) as engine:
        result = RunResult(operation, target, (), (), [], ok=False)
        try:
            with engine.connect() as conn:
                result.before = result.after = _current(conn)
                try:
                    with migration_lock(conn, wait_seconds):
                        # Again under the lock: another run may have finished meanwhile.
                        result.before = _current(conn)
                        _check_and_plan(result, conn, directory, expected_current, expected_plan)
                        conn.commit()
                        try:
                            config = _alembic_config(directory, conn)
                            if operation == "upgrade":
                                command.upgrade(config, target)
                            else:
                                command.downgrade(config, target)
                            result.ok = True
                        except Exception as exc:
                            log.exception("Migration %s to %s failed", operation, target)
                            result.error = _error_text(exc)
                        finally:
                            result.after = _current(conn)
                except SchemaError as exc:
                    result.refused = True
                    result.nothing_to_do = isinstance(exc, NothingToDo)
                    result.error = str(exc)
                    result.after = result.before
        except sa.exc.SQLAlchemyError as exc:
            result.error = _error_text(exc)
        # Start-up runs of `console init` find nothing to do on every restart: not worth a row.
        if not result.nothing_to_do:
            result.audited = _audit(engine, result, account)
    return result


def _check_and_plan(
    result: RunResult,
    conn: Connection,
    directory: str | Path,
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
    now = status(conn, directory)
    conn.rollback()
    if result.operation == "upgrade":
        result.planned = [rev.id for rev in upgrade_plan(now, directory, result.target)]
        if expected_plan is not None and result.planned != expected_plan:
            raise SchemaError(
                f"the revisions to run are now {', '.join(result.planned)}, not "
                f"{', '.join(expected_plan) or 'none'} as when you confirmed. Review them again."
            )
    else:
        _check_downgradable(now)
        result.planned = list(now.current)


def _error_text(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    # Driver messages carry the SQL and a background link on further lines.
    return text.splitlines()[0] if text else type(exc).__name__


def _audit(engine: Engine, result: RunResult, account: Any) -> bool:
    """Record the run in its own transaction, after the outcome, so a failure is kept too."""
    who = getattr(account, "email", None)
    summary = {
        "who": who,
        "operation": result.operation,
        "target": result.target,
        "from": list(result.before),
        "to": list(result.after),
        "revisions": result.planned,
        "result": "refused" if result.refused else "ok" if result.ok else "failed",
    }
    if result.error:
        summary["error"] = result.error
    try:
        with Session(engine) as session, session.begin():
            inspector = sa.inspect(session.connection())
            if not inspector.has_table(AuditEntry.__tablename__):
                log.warning("Migration not audited: no audit table at %s", result.after)
                return False
            # A downgrade may have dropped and recreated the accounts: keep the email only.
            account_id = getattr(account, "id", None)
            if account_id is not None and session.get(Account, account_id) is None:
                account = SimpleNamespace(id=None, email=who)
            record(session, "migration", account=account, model=VERSION_TABLE,
                   changes={"summary": summary})
        return True
    except sa.exc.SQLAlchemyError:
        log.exception("Could not audit a migration run: %s", summary)
        return False

