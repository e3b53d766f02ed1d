"""gunicorn's settings for the console: the one file docker compose and the Dockerfile use.

    gunicorn --config gunicorn.conf.py            (serves console:create_app())

Threaded workers (gthread), because a sync worker is one request at a time and its
heartbeat *is* the request: a streamed export read by a slow client, or a request
waiting on a lock, outlived the 30 s timeout and the worker was killed mid-response.
A gthread worker's main loop accepts connections and tells the arbiter it is alive
about once a second while its threads serve requests, so ``timeout`` only kills a
process whose loop is stuck, never one whose thread is still streaming.

Every number can be changed from the environment (see README.md, "Running in production"):

    CONSOLE_BIND              address to listen on (default 0.0.0.0:8000)
    CONSOLE_WORKERS           worker processes (default: the CPUs, at least 2)
    CONSOLE_THREADS           threads per worker: concurrent requests each (default 8)
    CONSOLE_WORKER_TIMEOUT    seconds a worker's main loop may be silent (default 30)
    CONSOLE_GRACEFUL_TIMEOUT  seconds a stopping worker has to finish its requests (120)
    CONSOLE_KEEPALIVE         seconds an idle kept-alive connection stays open (default 5)
"""

from __future__ import annotations

import os


def _number(name: str, default: int) -> int:
    """A whole number from the environment, refused with its name when it is not one."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be a whole number, not {raw!r}") from None
    if value < 0:
        raise SystemExit(f"{name} must not be negative, not {raw!r}")
    return value


wsgi_app = "console:create_app()"
# All addresses: inside a container, the port compose publishes.
bind = [os.environ.get("CONSOLE_BIND", "").strip() or "0.0.0.0:8000"]

worker_class = "gthread"
workers = max(1, _number("CONSOLE_WORKERS", max(2, os.cpu_count() or 1)))
# Each thread may hold one database connection at a time (SQLAlchemy's pool holds 5 and
# overflows to 15 per process): workers x threads x instances stays under PostgreSQL's
# max_connections (100 by default).
threads = max(1, _number("CONSOLE_THREADS", 8))
# The heartbeat of the worker's loop, not a limit on a request (see above). 0 would
# disable it, and with it the restart of a worker that really hangs.
timeout = _number("CONSOLE_WORKER_TIMEOUT", 30)
# On a restart or `docker compose stop`, requests in flight (an export being
# downloaded) get this long to finish; compose's stop_grace_period is set above it.
graceful_timeout = _number("CONSOLE_GRACEFUL_TIMEOUT", 120)
# Above a load balancer's idle timeout would be better still; 5 s suits a direct client.
keepalive = _number("CONSOLE_KEEPALIVE", 5)

# gunicorn 25.1+ opens a control socket at one path per user ($HOME/.gunicorn): two
# servers on one host (instances, tests, the benchmark) would share it. Older versions
# ignore the name.
control_socket_disable = True

accesslog = "-"
errorlog = "-"
# The app is loaded in each worker after the fork: no database connection is shared
# between processes.
preload_app = False
