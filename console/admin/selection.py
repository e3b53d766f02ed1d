"""How many rows one request may name: a bigger selection would hold a worker for long."""

from __future__ import annotations

from flask import current_app

DEFAULT_MAX_SELECTION = 1_000


def max_selection() -> int:
    """How many rows one bulk edit or delete may name (CONSOLE_MAX_SELECTION)."""
    return int(current_app.config.get("CONSOLE_MAX_SELECTION", DEFAULT_MAX_SELECTION))


__all__ = ["max_selection"]
