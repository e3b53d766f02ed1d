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
        "SESSION_COOKIE_SECURE": _bool("CONSOLE_SECURE_COOKIES", False),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": _int("CONSOLE_CSRF_TIME_LIMIT", 8 * 3600),
        "CONSOLE_ADMIN_EMAIL": os.environ.get("CONSOLE_ADMIN_EMAIL", "admin@example.com"),
        "CONSOLE_ADMIN_PASSWORD": os.environ.get("CONSOLE_ADMIN_PASSWORD"),
        "CONSOLE_LOGIN_MAX_FAILURES": _int("CONSOLE_LOGIN_MAX_FAILURES", 5),
        "CONSOLE_LOGIN_LOCK_SECONDS": _int("CONSOLE_LOGIN_LOCK_SECONDS", 900),
        "CONSOLE_PAGE_SIZE": _page_size(),
        # The modules whose mapped classes the console manages (default: the to-do demo).
        "CONSOLE_MODELS": os.environ.get("CONSOLE_MODELS", "").strip() or DEMO_MODELS,
        "MAX_CONTENT_LENGTH": _int("CONSOLE_MAX_UPLOAD_MB", 200) * 1024 * 1024,
    }
