"""Alembic environment.

Runs three ways: under Flask-Migrate (``console db upgrade``), under plain Alembic
APIs with a connection handed in through ``config.attributes["connection"]``
(console/schema.py, the migrations page, tests), or with a URL in the config.
"""

import logging
from contextlib import contextmanager
from logging.config import fileConfig

from alembic import context
from sqlalchemy import engine_from_config, pool

from console.schema import SCHEMA_METADATA

config = context.config
if config.config_file_name is not None and not config.attributes.get("skip_logging_config"):
    # Keep the app's loggers: this also runs inside the web app (migrations page).
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

target_metadata = config.attributes.get("target_metadata", SCHEMA_METADATA)


def _configure(connection, **extra) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        **extra,
    )


@contextmanager
def _sqlite_foreign_keys_off(connection):
    """Batch mode recreates SQLite tables; with foreign keys ON (as the app sets them) the
    DROP of the old table fires ON DELETE CASCADE / SET NULL and empties the child tables."""
    if connection.dialect.name != "sqlite":
        yield
        return
    # The pragma is ignored inside a transaction: end any that autobegan.
    connection.commit()
    connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        connection.rollback()
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        connection.commit()


def _flask_engine():
    try:
        from flask import current_app

        return current_app.extensions["migrate"].db.engine
    except (ImportError, RuntimeError, KeyError):
        return None


def run_migrations_offline() -> None:
    engine = _flask_engine()
    url = engine.url if engine is not None else config.get_main_option("sqlalchemy.url")
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        # console/schema.py asks for a transaction per revision, so that a failing
        # revision leaves the database at the last one that succeeded.
        _configure(
            connection,
            transaction_per_migration=config.attributes.get("transaction_per_migration", False),
        )
        with _sqlite_foreign_keys_off(connection), context.begin_transaction():
            context.run_migrations()
        return

    engine = _flask_engine()
    if engine is None:
        engine = engine_from_config(
            config.get_section(config.config_ini_section, {}),
            prefix="sqlalchemy.",
            poolclass=pool.NullPool,
        )

    def skip_empty(context_, revision, directives):
        # `console db migrate` with no model change should not write an empty script.
        if getattr(config.cmd_opts, "autogenerate", False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info("No changes in schema detected.")

    with engine.connect() as connection:
        _configure(connection, process_revision_directives=skip_empty)
        with _sqlite_foreign_keys_off(connection), context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
