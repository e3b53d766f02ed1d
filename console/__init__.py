"""Console: a desktop-style admin console for parent/child data, on Flask-Admin."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask, has_request_context, jsonify, render_template, request, url_for
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.exceptions import HTTPException

from console import catalogue
from console import config as settings
from console.catalogue import Catalogue, load_models
from console.extensions import csrf, db, login_manager, migrate

if TYPE_CHECKING:
    from console.schema import History

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger(__name__)


def build_catalogue(
    models: str | list[type],
    database_url: str | None = None,
    settings_file: str | None = None,
    own_apart: bool = False,
) -> Catalogue:
    """The catalogue of ``models`` (a CONSOLE_MODELS value or classes) and the console's own.

    ``reflect`` (``reflect:schema,...`` or ``reflect:table,...``) reflects the database at
    ``database_url`` instead, with the overrides of the settings file ``settings_file``;
    ``own_apart``: the console's tables are in a file of their own (SQLite).
    """
    from console import reflect
    from console.models import Account, AuditEntry

    if reflect.is_reflect(models):
        assert isinstance(models, str)
        if not database_url:
            raise catalogue.CatalogueError(f"CONSOLE_MODELS={models} needs the database URL")
        found = reflect.reflect(database_url, models, settings_file, own_apart)
        built = catalogue.build(found.classes, own=[Account, AuditEntry])
        built.skipped = found.skipped
        return built
    if settings_file:
        raise catalogue.CatalogueError(
            f"CONSOLE_SETTINGS={settings_file}: a settings file applies to CONSOLE_MODELS=reflect "
            f"only (CONSOLE_MODELS is {models!r}; declare your models' options in __console__)"
        )
    classes = load_models(models) if isinstance(models, str) else models
    return catalogue.build(classes, own=[Account, AuditEntry])


def catalogue_of_app(app: Flask) -> Catalogue:
    """The catalogue ``create_app`` built for ``app``."""
    found: Catalogue = app.extensions["console_catalogue"]
    return found


def histories_of_app(app: Flask) -> list[History]:
    """The migration histories the console runs on ``app``'s database (``console.schema``).

    Its own (in the scripts directory Flask-Migrate is given), and the demo's when the
    demo is the source of models; any other application migrates its own tables.
    """
    from console import schema

    return schema.histories_for(app.config["CONSOLE_MODELS"], app.extensions["migrate"].directory)


def managed_tables(app: Flask) -> list[str]:
    """The tables of the models the console manages on ``app`` (its own excluded).

    By name, qualified (``schema.table``) for a table outside the default schema.
    """
    return [description.table.key for description in catalogue_of_app(app).models]


def _instance_from_environment() -> str | None:
    """``CONSOLE_INSTANCE_PATH`` as an absolute path (Flask's default when unset)."""
    folder = os.environ.get("CONSOLE_INSTANCE_PATH", "").strip()
    return os.path.abspath(folder) if folder else None


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the console app: settings from the environment, then ``config`` on top."""
    app = Flask(
        __name__,
        instance_path=(config or {}).get("INSTANCE_PATH") or _instance_from_environment(),
        instance_relative_config=True,
        template_folder=str(ROOT / "templates"),
    )
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.update(settings.from_environment(app.instance_path))
    if config:
        app.config.update(config)
    if "SQLALCHEMY_DATABASE_URI" in (config or {}):
        app.config["SQLALCHEMY_DATABASE_URI"] = settings.normalise_database_url(
            app.config["SQLALCHEMY_DATABASE_URI"]
        )
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = settings.load_secret_key(app.instance_path)
    app.config["CONSOLE_JOBS"] = settings.job_mode(
        app.config.get("CONSOLE_JOBS"), app.config["SQLALCHEMY_DATABASE_URI"])
    _place_own_tables(app)

    app.extensions["console_catalogue"] = build_catalogue(
        app.config["CONSOLE_MODELS"],
        database_url=app.config["SQLALCHEMY_DATABASE_URI"],
        settings_file=app.config.get("CONSOLE_SETTINGS") or None,
        own_apart=bool(app.config.get("CONSOLE_SQLITE_CONSOLE_FILE")),
    )
    db.init_app(app)
    _open_sqlite_files(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), compare_type=True)
    csrf.init_app(app)
    login_manager.init_app(app)

    from console import security
    from console.auth import bp as auth_bp
    from console.auth import commands as auth_commands
    from console.auth import sessions

    security.init_app(app)
    sessions.init_app(app)
    app.register_blueprint(auth_bp)
    auth_commands.register(app)

    from console.admin import init_admin, locks

    init_admin(app)
    locks.init_app(app)
    _register_error_pages(app)

    from console import cli

    cli.register(app)

    @app.get("/")
    def root() -> Any:
        from flask import redirect, url_for

        return redirect(url_for("admin.index"))

    return app


def _place_own_tables(app: Flask) -> None:
    """Every connection of the app translates the console's schema to where its tables are."""
    from sqlalchemy.engine import make_url

    from console import own_file, own_schema

    try:
        schema = own_schema.checked(app.config.get("CONSOLE_SCHEMA"))
    except ValueError as exc:
        raise RuntimeError(str(exc)) from exc
    app.config["CONSOLE_SCHEMA"] = schema
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    try:
        apart = own_file.choose(
            url, str(app.config["CONSOLE_MODELS"]), app.config.get("CONSOLE_SQLITE_CONSOLE_FILE")
        )
    except own_file.OwnFileError as exc:
        raise RuntimeError(str(exc)) from exc
    app.config["CONSOLE_SQLITE_CONSOLE_FILE"] = str(apart) if apart else None
    dialect = make_url(url).get_backend_name()
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    execution = dict(options.get("execution_options") or {})
    placed = own_file.execution_options(apart) if apart else {
        "schema_translate_map": own_schema.translate_map(dialect, schema)
    }
    execution.update({k: v for k, v in placed.items() if k != "schema_translate_map"})
    execution["schema_translate_map"] = {
        **(execution.get("schema_translate_map") or {}),
        **placed["schema_translate_map"],
    }
    options["execution_options"] = execution
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    if apart:
        user = own_file.user_file(url)
        log.info("The console's own tables are in %s, beside the database %s", apart, user)
        if user is not None and own_file.in_wal_mode(user):
            log.warning(own_file.wal_warning(user))


def _open_sqlite_files(app: Flask) -> None:
    """How the app's SQLite connections open: the console's file attached, or WAL.

    With the console's tables in a file of their own, the user's file keeps its journal
    mode (console.own_file). A database the console has to itself runs in WAL mode:
    readers never wait for a writer (an import's commit).
    """
    from console import own_file

    with app.app_context():
        engine = db.engine
    if engine.dialect.name != "sqlite":
        return
    apart = app.config.get("CONSOLE_SQLITE_CONSOLE_FILE")
    if apart:
        own_file.install(engine, apart)
        return

    @event.listens_for(engine, "connect")
    def _wal(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()


@event.listens_for(Engine, "connect")
def _sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    """SQLite enforces foreign keys (and so ON DELETE rules) only when asked, per connection."""
    import sqlite3

    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        # A writer waits up to 10 s for another instead of failing with "database is
        # locked" at once. (The app's own engine adds WAL or the console's file:
        # _open_sqlite_files; other engines leave a file's journal mode as it is.)
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()


def _with_running_imports(outage: Any) -> Any:
    """A lock-wait refusal that names the imports running now, if there are any."""
    from dataclasses import replace

    from console.admin.locks import running_imports

    try:
        running = running_imports()
    except Exception:  # the refusal stands without the names
        log.debug("Could not list running imports", exc_info=True)
        return outage
    if not running:
        return outage
    return replace(outage, message=outage.message + " Running now: " + "; ".join(running) + ".")


def wants_json() -> bool:
    """True when the request is JSON or asks for JSON rather than a page."""
    if not has_request_context():
        return False
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return request.is_json or best == "application/json"


def _register_error_pages(app: Flask) -> None:
    messages = {
        400: ("Bad request", "The request could not be understood or its form had expired. "
              "Go back, reload the page and try again."),
        403: ("Forbidden", "Your account's role does not allow this."),
        404: ("Not found", "There is nothing at this address."),
        405: ("Method not allowed", "This address does not accept that kind of request."),
        413: ("Too large", "The upload is larger than this console accepts."),
        429: ("Too many requests", "Wait a minute, then try again."),
        500: ("Server error", "Something went wrong on our side. It has been logged; "
              "nothing you entered was saved."),
    }

    def render_error(code: int, detail: str | None = None) -> Any:
        title, message = messages.get(code, ("Error", "The request failed."))
        if wants_json():
            # JSON endpoints (in-place edits, toggles) answer JSON, errors included.
            return jsonify(ok=False, error=detail or message, status=code), code
        return render_template(
            "errors/error.html", code=code, title=title, message=message, detail=detail
        ), code

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        if exc.code is None or exc.code < 400:
            return exc
        # A 400 raised with its own description (CSRF, a NUL in the address) says why.
        own = exc.description != type(exc).description
        detail = exc.description if exc.code == 400 and own else None
        return render_error(exc.code, detail)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        from console.db_errors import outage_of

        outage = outage_of(exc)
        if outage is None:
            log.exception("Unhandled error")
        else:
            log.warning("Database fault: %s", exc)
        try:
            db.session.rollback()
        except Exception:  # the connection is gone: the session is dropped below
            log.debug("Rollback after the error failed too", exc_info=True)
        if outage is None:
            return render_error(500)
        db.session.remove()
        headers = {"Retry-After": str(outage.retry_after)} if outage.retry_after else {}
        if outage.status == 409:
            outage = _with_running_imports(outage)
        if wants_json():
            return jsonify(ok=False, error=outage.message, status=outage.status), \
                outage.status, headers
        # A page that needs no database, not even the signed-in account: rendered without
        # the context processors (Flask-Login's would load the account again).
        page = app.jinja_env.get_template("errors/unavailable.html").render(
            outage=outage, request=request, url_for=url_for
        )
        return page, outage.status, headers
