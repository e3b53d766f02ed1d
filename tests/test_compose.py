"""docker-compose.yml without Docker: its console command runs against the local PostgreSQL."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from tests.conftest import create_pg_database, drop_pg_database, require_pg

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error} forms."""

    def replace(match: re.Match) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3) or ""
        if env.get(name):
            return env[name]
        if op == ":?":
            raise AssertionError(f"compose needs {name}: {arg}")
        return arg if op == ":-" else ""

    return re.sub(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", replace, value)


def test_services_are_declared_as_documented():
    db, console = COMPOSE["services"]["db"], COMPOSE["services"]["console"]
    assert db["image"] == "postgres:16"
    volume = db["volumes"][0].split(":")[0]
    assert volume in COMPOSE["volumes"]
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert console["build"] == "."
    assert console["depends_on"]["db"]["condition"] == "service_healthy"
    command = console["command"]
    assert command.index("console db upgrade") < command.index("gunicorn")
    assert "0.0.0.0:8000" in command
    assert (ROOT / "Dockerfile").exists()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def compose_database():
    """A fresh PostgreSQL database standing in for the compose `db` service."""
    require_pg()
    url = create_pg_database("console_compose")
    yield url
    drop_pg_database(url)


def test_console_service_command_serves_against_postgresql(compose_database, tmp_path):
    service = COMPOSE["services"]["console"]
    port = _free_port()
    local = sa.engine.make_url(compose_database)
    given = {"SECRET_KEY": "compose-test-secret", "CONSOLE_ADMIN_PASSWORD": "compose-admin-pw"}
    env = {k: _interpolate(str(v), given) for k, v in service["environment"].items()}
    # The `db` host only exists inside compose: point the same URL form at the local server.
    compose_url = sa.engine.make_url(env["DATABASE_URL"])
    assert compose_url.host == "db" and compose_url.drivername == "postgresql"
    env["DATABASE_URL"] = f"postgresql://{local.host}:{local.port}/{local.database}"

    python = sys.executable
    command = (
        service["command"]
        .replace("console ", f"{python} -m console ")
        .replace("exec gunicorn", f"exec {python} -m gunicorn")
        .replace("0.0.0.0:8000", f"127.0.0.1:{port}")
    )
    assert command.startswith("sh -c ")
    shell_script = command[len("sh -c ") :].strip().strip('"')
    log = (tmp_path / "console.log").open("wb")
    process = subprocess.Popen(
        ["sh", "-c", shell_script],
        cwd=tmp_path,
        env={**os.environ, **env, "PYTHONPATH": str(ROOT), "FLASK_APP": ""},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        body = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2) as resp:
                    body = resp.read().decode()
                    break
            except OSError:
                time.sleep(0.3)
        assert body is not None, (
            process.stdout.read().decode() if process.poll() is not None else ""
        )
        assert "Log in" in body
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
        log.close()
    engine = sa.create_engine(
        env["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg2://")
    )
    with engine.connect() as conn:
        assert conn.execute(sa.text("select version_num from alembic_version")).scalar()
        admin = conn.execute(sa.text("select email, role from account")).one()
    engine.dispose()
    assert tuple(admin) == ("admin@example.com", "admin")
