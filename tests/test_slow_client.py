"""A slow client downloads a whole export from gunicorn as docker compose runs it.

gunicorn with sync workers cut such a download after its 30 s timeout (9.97 MB of a
bigger file, after the 200 had been sent). Here gunicorn runs with gunicorn.conf.py
as a real process on a loopback port, over PostgreSQL with an export of more than
10 MB, and the client reads it at 256 KiB/s for about a minute: twice the timeout.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import (
    PASSWORD,
    create_pg_database,
    drop_pg_database,
    migrate_database,
    require_pg,
)

ROOT = Path(__file__).resolve().parent.parent
RATE = 256 * 1024  # bytes per second
CHUNK = 16 * 1024
TODOS = 40_000  # about 15 MB of CSV: a minute at RATE
EDITOR = "slow-reader@example.com"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def big_database() -> Iterator[str]:
    """A migrated PostgreSQL database of its own with TODOS long to-dos and a viewer."""
    require_pg()
    url = create_pg_database("console_slow")
    try:
        migrate_database(url)
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO person (name, email) SELECT 'Person ' || i, "
                "'person' || i || '@example.com' FROM generate_series(1, 100) i")
            conn.exec_driver_sql(
                "INSERT INTO todo_list (name, owner_id) SELECT 'List ' || i, i "
                "FROM generate_series(1, 20) i")
            conn.exec_driver_sql(
                "INSERT INTO todo (description, completed, priority, list_id, assignee_id) "
                "SELECT 'Task ' || i || ' ' || repeat('lorem ipsum ', 30), mod(i, 3) = 0, "
                f"'normal', 1 + mod(i, 20), 1 + mod(i, 100) FROM generate_series(1, {TODOS}) i")
        engine.dispose()
        _add_viewer(url)
        yield url
    finally:
        drop_pg_database(url)


def _add_viewer(url: str) -> None:
    from console import create_app
    from console.extensions import db
    from console.models import Account, Role

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "slow-client"})
    with app.app_context():
        account = Account(email=EDITOR, role=Role.viewer, active=True)
        account.set_password(PASSWORD)
        db.session.add(account)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def _session_cookie(port: int) -> str:
    """Log in through the login form; the session cookie it sets."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/login")
    page = conn.getresponse()
    body = page.read().decode()
    cookie = _cookies(page)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', body)
    assert match, body[:500]
    form = f"email={EDITOR}&password={PASSWORD}&csrf_token={match.group(1)}"
    conn.request("POST", "/login", body=form, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
    answer = conn.getresponse()
    answer.read()
    conn.close()
    assert answer.status == 302, answer.status
    return _cookies(answer)


def _cookies(response: http.client.HTTPResponse) -> str:
    """The cookies ``response`` sets, as a Cookie header sends them back."""
    jar = SimpleCookie()
    for header in response.headers.get_all("Set-Cookie") or []:
        jar.load(header)
    return "; ".join(f"{name}={morsel.value}" for name, morsel in jar.items())


def _read_slowly(port: int, cookie: str, log: Path) -> tuple[bytes, float]:
    """The export read at RATE through a small receive buffer; the body and the seconds."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.connect()
    assert conn.sock is not None
    # A small window: the server's writes block on this client instead of filling a
    # loopback buffer of megabytes at once.
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    conn.request("GET", "/admin/todo/export/csv/", headers={"Cookie": cookie})
    response = conn.getresponse()
    assert response.status == 200, log.read_text()[-2000:]
    parts = []
    start = time.monotonic()
    received = 0
    while True:
        chunk = response.read(CHUNK)
        if not chunk:
            break
        parts.append(chunk)
        received += len(chunk)
        elapsed = time.monotonic() - start
        assert elapsed < 150, f"still reading after {elapsed:.0f} s ({received:,} bytes)"
        ahead = received / RATE - elapsed
        if ahead > 0:
            time.sleep(ahead)
    conn.close()
    return b"".join(parts), time.monotonic() - start


def _cli_export(url: str, tmp_path: Path, env: dict[str, str]) -> bytes:
    """What `console export todo` writes for the same database."""
    target = tmp_path / "cli.csv"
    subprocess.run([sys.executable, "-m", "console", "export", "todo", "-o", str(target)],
                   env=env, cwd=tmp_path, check=True, capture_output=True, timeout=120)
    return target.read_bytes()


@pytest.mark.postgres_only
@pytest.mark.parametrize("database", ["postgresql"])
def test_an_export_read_at_256_kib_per_second_arrives_whole(
    database: str, big_database: str, tmp_path: Path
) -> None:
    port = _free_port()
    local = sa.engine.make_url(big_database)
    env = {
        **os.environ,
        "DATABASE_URL": f"postgresql://{local.host}:{local.port}/{local.database}",
        "SECRET_KEY": "slow-client", "CONSOLE_INSTANCE_PATH": str(tmp_path / "instance"),
        "CONSOLE_BIND": f"127.0.0.1:{port}", "CONSOLE_WORKERS": "1", "CONSOLE_THREADS": "4",
        "PYTHONPATH": str(ROOT), "FLASK_APP": "",
    }
    expected = _cli_export(big_database, tmp_path, env)
    assert len(expected) > 10_000_000
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", str(ROOT / "gunicorn.conf.py")],
            env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        cookie = _login_when_up(server, port, log)
        body, seconds = _read_slowly(port, cookie, log)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
    text = log.read_text()
    assert "WORKER TIMEOUT" not in text and "Traceback" not in text, text[-3000:]
    # Longer than the worker timeout (30 s), at the rate asked for.
    assert seconds > 45, seconds
    assert len(body) == len(expected), (len(body), len(expected))
    assert body.rsplit(b"\n", 2)[-2] == expected.rsplit(b"\n", 2)[-2]  # the last row
    assert hashlib.sha256(body).digest() == hashlib.sha256(expected).digest()


def _login_when_up(server: Any, port: int, log: Path) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and server.poll() is None:
        try:
            return _session_cookie(port)
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"gunicorn never answered:\n{log.read_text()[-3000:]}")
