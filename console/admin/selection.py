"""How many rows one request may name: a bigger selection would hold a worker for long."""

from __future__ import annotations

from flask import current_app

DEFAULT_MAX_SELECTION = 1_000
DEFAULT_MAX_MATCHING = 100_000


def max_selection() -> int:
    """How many rows one bulk edit or delete may name (CONSOLE_MAX_SELECTION)."""
    return int(current_app.config.get("CONSOLE_MAX_SELECTION", DEFAULT_MAX_SELECTION))


def max_matching() -> int:
    """How many rows "Select all matching" may reach (CONSOLE_MAX_MATCHING)."""
    return int(current_app.config.get("CONSOLE_MAX_MATCHING", DEFAULT_MAX_MATCHING))


TOO_MANY_HINT = (
    'Use "Select all matching" on the list to act on every row of a filter.'
)


__all__ = ["TOO_MANY_HINT", "max_matching", "max_selection"]
