"""No request waits long on a lock: web requests on PostgreSQL take a lock timeout.

An import (or a bulk edit) holds its rows' locks until it commits. A form save, an
in-place edit or a delete of those rows would wait for it, holding a web worker until
the server's own timeout killed it. Instead, each writing web request's transaction on
PostgreSQL sets ``lock_timeout`` (``CONSOLE_LOCK_TIMEOUT_SECONDS``, default 5): the
wait ends with PostgreSQL's lock_not_available, which the error pages answer with 409
and, where an import is running, who started it and when.
Background imports use sessions of their own, without the timeout.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, has_request_context, request
from sqlalchemy import event

from console.extensions import db

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _set_lock_timeout(_session: Any, _transaction: Any, connection: Any) -> None:
    # Only requests that write wait for row locks (a SELECT reads past them): page views
    # pay no extra round trip.
    if (connection.dialect.name != "postgresql" or not has_request_context()
            or request.method in SAFE_METHODS):
        return
    seconds = float(current_app.config.get("CONSOLE_LOCK_TIMEOUT_SECONDS") or 0)
    if seconds > 0:
        # SET LOCAL: for this transaction only; the pooled connection keeps no trace.
        connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{int(seconds * 1000)}ms'")


def init_app(app: Flask) -> None:
    """Install the lock timeout on the web's sessions (once per process)."""
    if not event.contains(db.session, "after_begin", _set_lock_timeout):
        event.listen(db.session, "after_begin", _set_lock_timeout)


def running_imports() -> list[str]:
    """"an import of to-dos started by ann@example.com at 14:02 UTC", per committing job."""
    from console.admin.transfer import confirmed_by, job_store

    found = []
    for status in job_store().running_commits():
        who, when = confirmed_by(status, or_uploader=True)
        found.append(f"an import of {status['model']} ({status['file_name']}) started by "
                     f"{who}{when}")
    return found


__all__ = ["init_app", "running_imports"]
