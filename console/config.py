"""Settings read from the environment, with safe defaults for development."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

DEMO_MODELS = "console.demo.models"


def normalise_database_url(url: str) -> str:
    """Point every PostgreSQL URL spelling at psycopg2, the driver we install.

    SQLAlchemy 2.1 maps a bare ``postgresql://`` to psycopg 3, and Heroku-style
    ``postgres://`` is not recognised at all.
    """
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix) :]
    return url


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise RuntimeError(f"{name} must be an integer, got {raw!r}") from exc


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _optional_bool(name: str) -> bool | None:
    """True or False when ``name`` is set, None (decide per request) when it is not."""
    raw = os.environ.get(name)
    if raw in (None, "") or raw.strip().lower() == "auto":
        return None
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _positive(name: str, default: int) -> int:
    value = _int(name, default)
    if value < 1:
        raise RuntimeError(f"{name} must be at least 1, got {value}")
    return value


def _rate(name: str, default: str) -> str:
    """A rate such as ``30/minute``, checked at start-up."""
    from console.auth.throttle import parse_rate

    raw = (os.environ.get(name) or "").strip() or default
    try:
        parse_rate(raw)
    except ValueError as exc:
        raise RuntimeError(f"{name}: {exc}") from exc
    return raw


def _schema_name() -> str:
    from console import own_schema

    try:
        return own_schema.configured()
    except ValueError as exc:
        raise RuntimeError(str(exc)) from exc


def _choice(name: str, choices: tuple[str, ...]) -> str:
    """One of ``choices`` (the first is the default), checked at start-up."""
    raw = (os.environ.get(name) or "").strip().lower() or choices[0]
    if raw not in choices:
        raise RuntimeError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return raw


def _page_size() -> int:
    size = _int("CONSOLE_PAGE_SIZE", 50)
    if not 1 <= size <= 500:
        raise RuntimeError(f"CONSOLE_PAGE_SIZE must be between 1 and 500, got {size}")
    return size


def load_secret_key(instance_path: str) -> str:
    """Return SECRET_KEY from the environment, else one generated once into the instance folder."""
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    path = Path(instance_path) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    # Create with owner-only permissions before the key is written.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def job_mode(value: str | None, database_url: str) -> str:
    """``CONSOLE_JOBS`` checked against the database: "worker" or "embedded"."""
    postgres = database_url.startswith("postgresql")
    mode = value or ("worker" if postgres else "embedded")
    if mode not in ("worker", "embedded"):
        raise RuntimeError(f"CONSOLE_JOBS must be worker or embedded, got {value!r}")
    if mode == "worker" and not postgres:
        raise RuntimeError(
            "CONSOLE_JOBS=worker needs PostgreSQL (the job queue lives there); on SQLite "
            "the serving process runs the jobs itself (CONSOLE_JOBS=embedded, the default)."
        )
    return mode


def from_environment(instance_path: str) -> dict[str, Any]:
    """Build the settings mapping the factory applies before any override."""
    default_db = "sqlite:///" + str(Path(instance_path) / "console.sqlite3")
    return {
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(
            os.environ.get("DATABASE_URL", default_db)
        ),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # Unset: the Secure flag follows the request (HTTPS, or X-Forwarded-Proto: https
        # from a trusted proxy); 1 or 0 force it (console.security.cookies_secure).
        "CONSOLE_SECURE_COOKIES": _optional_bool("CONSOLE_SECURE_COOKIES"),
        "SESSION_COOKIE_SECURE": _optional_bool("CONSOLE_SECURE_COOKIES") is True,
        "REMEMBER_COOKIE_SECURE": _optional_bool("CONSOLE_SECURE_COOKIES") is True,
        # How many reverse proxies in front set X-Forwarded-*; 0: trust none of them.
        "CONSOLE_TRUST_PROXY": _int("CONSOLE_TRUST_PROXY", 0),
        "CONSOLE_CSP": _bool("CONSOLE_CSP", True),
        "CONSOLE_SESSION_IDLE_MINUTES": _positive("CONSOLE_SESSION_IDLE_MINUTES", 480),
        "CONSOLE_REQUIRE_2FA": _bool("CONSOLE_REQUIRE_2FA", False),
        # Special-use email domains (example.test, localhost...): refused unless set.
        "CONSOLE_EMAIL_TEST_DOMAINS": _bool("CONSOLE_EMAIL_TEST_DOMAINS", False),
        # The name authenticator apps show next to the account's codes.
        "CONSOLE_TOTP_ISSUER": os.environ.get("CONSOLE_TOTP_ISSUER", "").strip() or "Console",
        "CONSOLE_AUDIT_RETENTION_DAYS": _positive("CONSOLE_AUDIT_RETENTION_DAYS", 365),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": _int("CONSOLE_CSRF_TIME_LIMIT", 8 * 3600),
        "CONSOLE_ADMIN_EMAIL": os.environ.get("CONSOLE_ADMIN_EMAIL", "admin@example.com"),
        "CONSOLE_ADMIN_PASSWORD": os.environ.get("CONSOLE_ADMIN_PASSWORD"),
        # Sign-in throttling (console/auth/service.py): failures allowed per window for one
        # account from one address, from one address in all, and for one account from
        # browsers that never signed in to it; the window, which is also the first lock.
        "CONSOLE_LOGIN_MAX_FAILURES": _positive("CONSOLE_LOGIN_MAX_FAILURES", 5),
        "CONSOLE_LOGIN_ADDRESS_MAX_FAILURES": _positive("CONSOLE_LOGIN_ADDRESS_MAX_FAILURES", 20),
        "CONSOLE_LOGIN_ACCOUNT_MAX_FAILURES": _positive("CONSOLE_LOGIN_ACCOUNT_MAX_FAILURES", 50),
        "CONSOLE_LOGIN_LOCK_SECONDS": _positive("CONSOLE_LOGIN_LOCK_SECONDS", 900),
        # Sign-in requests (password and code steps) per client address.
        "CONSOLE_LOGIN_RATE_LIMIT": _rate("CONSOLE_LOGIN_RATE_LIMIT", "30/minute"),
        "CONSOLE_PAGE_SIZE": _page_size(),
        # What a model's list URL shows a browser running JavaScript: the grid, or the
        # classic list (which is what it always shows without JavaScript).
        "CONSOLE_LIST_PAGE": _choice("CONSOLE_LIST_PAGE", ("grid", "classic")),
        # How long a web request waits for a row lock (PostgreSQL) before answering 409.
        "CONSOLE_LOCK_TIMEOUT_SECONDS": _positive("CONSOLE_LOCK_TIMEOUT_SECONDS", 5),
        # Rows one bulk edit or delete may name; a bigger selection is refused with a message.
        "CONSOLE_MAX_SELECTION": _int("CONSOLE_MAX_SELECTION", 1_000),
        # Rows one "Select all matching" action (a filter, not ids) may reach; more is refused.
        "CONSOLE_MAX_MATCHING": _int("CONSOLE_MAX_MATCHING", 100_000),
        # The modules whose mapped classes the console manages (default: the to-do demo).
        "CONSOLE_MODELS": os.environ.get("CONSOLE_MODELS", "").strip() or DEMO_MODELS,
        # The settings file of CONSOLE_MODELS=reflect (TOML, one table per database table).
        "CONSOLE_SETTINGS": os.environ.get("CONSOLE_SETTINGS", "").strip() or None,
        # The PostgreSQL schema of the console's own tables (console.own_schema).
        "CONSOLE_SCHEMA": _schema_name(),
        # SQLite: the file of the console's own tables, attached beside the database
        # (console.own_file). Default for CONSOLE_MODELS=reflect: <stem>.console.sqlite3
        # next to it; unset otherwise (the demo keeps one file).
        "CONSOLE_SQLITE_CONSOLE_FILE": os.environ.get("CONSOLE_SQLITE_CONSOLE_FILE", "").strip()
        or None,
        "MAX_CONTENT_LENGTH": _int("CONSOLE_MAX_UPLOAD_MB", 200) * 1024 * 1024,
        # Who runs imports (console.jobs): "worker" (the queue, `console worker`; the
        # default on PostgreSQL) or "embedded" (a thread of the web process; SQLite's).
        "CONSOLE_JOBS": os.environ.get("CONSOLE_JOBS", "").strip().lower() or None,
        # Jobs one `console worker` process runs at once.
        "CONSOLE_WORKER_CONCURRENCY": _positive("CONSOLE_WORKER_CONCURRENCY", 2),
    }
