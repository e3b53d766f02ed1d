"""docker-compose.yml without Docker: its console command runs against the local PostgreSQL.

No Docker engine exists here, so each test takes the console service's command and
environment from the file and runs them as compose would, with only the `db` host and
the paths inside the image translated to this machine.
"""

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
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from gunicorn.config import Config

from tests.conftest import create_pg_database, drop_pg_database, require_pg

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
GIVEN = {"SECRET_KEY": "compose-test-secret", "CONSOLE_ADMIN_PASSWORD": "compose-admin-pw"}


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
    assert command.index("console init") < command.index("gunicorn")
    assert "gunicorn --config /app/gunicorn.conf.py" in command
    # Nothing that matters on a container's disk: no volume shared between replicas.
    assert "volumes" not in console and list(COMPOSE["volumes"]) == ["pgdata"]
    worker = COMPOSE["services"]["worker"]
    assert worker["build"] == "." and worker["depends_on"] == console["depends_on"]
    assert worker["command"].index("console init") < worker["command"].index("console worker")
    assert worker["environment"]["CONSOLE_JOBS"] == console["environment"]["CONSOLE_JOBS"]
    assert console["environment"]["CONSOLE_JOBS"] == "worker"
    assert "ports" not in worker and "volumes" not in worker
    # One host port per replica: a range with --scale console=2.
    [ports] = console["ports"]
    assert _interpolate(ports, {}) == "8000:8000"
    assert _interpolate(ports, {"CONSOLE_PORTS": "8000-8001"}) == "8000-8001:8000"
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "gunicorn.conf.py" in dockerfile.split("COPY pyproject.toml", 1)[1].splitlines()[0]
    assert 'CMD ["gunicorn", "--config", "/app/gunicorn.conf.py"]' in dockerfile
    assert "CONSOLE_INSTANCE_PATH=/app/instance" in dockerfile


def _gunicorn_settings(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """gunicorn's own reading of gunicorn.conf.py under ``env``."""
    for name in ("CONSOLE_BIND", "CONSOLE_WORKERS", "CONSOLE_THREADS", "CONSOLE_WORKER_TIMEOUT",
                 "CONSOLE_GRACEFUL_TIMEOUT", "CONSOLE_KEEPALIVE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    namespace: dict[str, Any] = {"__file__": str(ROOT / "gunicorn.conf.py")}
    source = (ROOT / "gunicorn.conf.py").read_text()
    exec(compile(source, "gunicorn.conf.py", "exec"), namespace)  # noqa: S102 - as gunicorn does
    config = Config()
    for key, value in namespace.items():
        if key in config.settings:
            config.set(key, value)
    return config


def test_the_gunicorn_config_keeps_long_responses_alive(monkeypatch):
    config = _gunicorn_settings({}, monkeypatch)
    # Threads: the worker's heartbeat is its loop, not the request (a sync worker's is).
    assert config.worker_class_str == "gthread" and config.threads == 8
    assert config.workers >= 2
    assert config.timeout == 30 and config.graceful_timeout == 120 and config.keepalive == 5
    assert config.bind == ["0.0.0.0:8000"] and config.wsgi_app == "console:create_app()"
    # compose waits longer than gunicorn's grace before it kills a stopping container.
    grace = COMPOSE["services"]["console"]["stop_grace_period"]
    assert int(grace.removesuffix("s")) > config.graceful_timeout


def test_the_gunicorn_config_reads_its_numbers_from_the_environment(monkeypatch):
    config = _gunicorn_settings(
        {"CONSOLE_BIND": "127.0.0.1:9000", "CONSOLE_WORKERS": "4", "CONSOLE_THREADS": "16",
         "CONSOLE_WORKER_TIMEOUT": "60", "CONSOLE_GRACEFUL_TIMEOUT": "300",
         "CONSOLE_KEEPALIVE": "75"},
        monkeypatch,
    )
    assert (config.bind, config.workers, config.threads) == (["127.0.0.1:9000"], 4, 16)
    assert (config.timeout, config.graceful_timeout, config.keepalive) == (60, 300, 75)
    with pytest.raises(SystemExit, match="CONSOLE_THREADS must be a whole number, not 'many'"):
        _gunicorn_settings({"CONSOLE_THREADS": "many"}, monkeypatch)


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


def _service_env(database: str, service_name: str = "console", **extra: str) -> dict[str, str]:
    """A service's environment as compose makes it, its `db` host made local."""
    service = COMPOSE["services"][service_name]
    env = {k: _interpolate(str(v), GIVEN) for k, v in service["environment"].items()}
    # The `db` host only exists inside compose: point the same URL form at the local server.
    compose_url = sa.engine.make_url(env["DATABASE_URL"])
    assert compose_url.host == "db" and compose_url.drivername == "postgresql"
    local = sa.engine.make_url(database)
    env["DATABASE_URL"] = f"postgresql://{local.host}:{local.port}/{local.database}"
    return {**env, **extra}


def _shell_script(service: str = "console") -> str:
    """The service's command, its programs and the image's paths made this machine's."""
    python = sys.executable
    command = (
        COMPOSE["services"][service]["command"]
        .replace("console ", f"{python} -m console ")
        .replace("exec gunicorn", f"exec {python} -m gunicorn")
        .replace("/app/gunicorn.conf.py", str(ROOT / "gunicorn.conf.py"))
    )
    assert command.startswith("sh -c ")
    return command[len("sh -c ") :].strip().strip('"')


def start_service(env: dict[str, str], folder: Path, service: str = "console") -> subprocess.Popen:
    """A service's command as one container runs it, its log in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / f"{service}.log").open("wb") as log:
        return subprocess.Popen(
            ["sh", "-c", _shell_script(service)],
            cwd=folder,
            env={**os.environ, **env, "PYTHONPATH": str(ROOT), "FLASK_APP": ""},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_for_page(process: subprocess.Popen, port: int, log: Path, seconds: float = 90) -> str:
    """The login page once the service answers on ``port`` (fails with the log if it died)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2) as resp:
                return resp.read().decode()
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"port {port} never answered; log:\n{log.read_text()[-3000:]}")


def stop_service(process: subprocess.Popen) -> None:
    """SIGTERM to the container's process group, as `docker compose stop` sends."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


def test_two_console_instances_start_together_and_migrate_once(compose_database, tmp_path):
    """`docker compose up --scale console=2`: both serve, one ran the migrations."""
    ports = [_free_port(), _free_port()]
    processes = [
        start_service(
            _service_env(compose_database, CONSOLE_BIND=f"127.0.0.1:{port}",
                         CONSOLE_WORKERS="1", CONSOLE_THREADS="2",
                         CONSOLE_INSTANCE_PATH=str(tmp_path / f"instance-{n}")),
            tmp_path / f"container-{n}",
        )
        for n, port in enumerate(ports)
    ]
    try:
        for n, (process, port) in enumerate(zip(processes, ports, strict=True)):
            log = tmp_path / f"container-{n}" / "console.log"
            body = wait_for_page(process, port, log)
            assert "Log in" in body
            text = log.read_text()
            assert "Traceback" not in text and "UniqueViolation" not in text, text
            assert "gthread" in text  # gunicorn.conf.py's worker class is the one in use
    finally:
        for process in processes:
            stop_service(process)
    engine = sa.create_engine(compose_database, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        assert conn.execute(sa.text("select version_num from alembic_version")).scalar()
        admins = conn.execute(sa.text("select email, role from console.account")).all()
        runs = conn.execute(sa.text(
            "select count(*) from console.audit_entry where action = 'migration'")).scalar()
    engine.dispose()
    assert [tuple(a) for a in admins] == [("admin@example.com", "admin")]
    # The console's history and the demo's, each run once, by whichever instance came first.
    assert runs == 2


def test_two_db_upgrades_at_once_both_succeed_and_run_once(compose_database, tmp_path):
    """Two containers running `console db upgrade` together: one migrates, one waits."""
    env = {**os.environ, **_service_env(compose_database), "PYTHONPATH": str(ROOT),
           "FLASK_APP": "", "CONSOLE_INSTANCE_PATH": str(tmp_path / "instance")}
    processes = [
        subprocess.Popen([sys.executable, "-m", "console", "db", "upgrade"], cwd=tmp_path,
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120)[0].decode() for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    assert sorted(o.strip().splitlines()[-1].split(":")[0] for o in outputs) == [
        "The database is already up to date.", "Upgrade done"]
    engine = sa.create_engine(compose_database, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        results = conn.execute(sa.text(
            "select changes from console.audit_entry where action = 'migration'")).scalars().all()
    engine.dispose()
    assert [r["summary"]["result"] for r in results] == ["ok"]
