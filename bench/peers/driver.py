"""The loop every peer script runs: JSON commands on stdin, one JSON answer per line on stdout.

Standard library only: each peer script imports it from its own virtual environment.
A peer script gives ``serve`` a ``get(url) -> (status, body)`` that requests a page
in-process (Flask's, Django's or Starlette's test client), ``urls``, which maps an
abstract page (``{"kind": "search", "term": "invoice"}``) to that peer's URL, a
regular expression that finds the to-do ids a page shows, and a clock of the time
spent in the database. Commands:

- ``{"op": "get", "page": {...}, "n": 1}``: request the page ``n`` times; answers
  ``{"url", "status", "ms": [...], "sql_ms": [...], "ids": [...], "bytes"}``.
- ``{"op": "quit"}``.

The loop is bounded: at most ``MAX_COMMANDS`` commands, ``MAX_REPEAT`` requests per
command and ``MAX_SECONDS`` of life; it also ends when stdin closes.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Callable
from typing import Any

MAX_COMMANDS = 20_000
MAX_REPEAT = 50
MAX_SECONDS = 4 * 3600


class SqlClock:
    """Milliseconds spent in the database since the last ``reset``."""

    def __init__(self) -> None:
        self.ms = 0.0

    def reset(self) -> None:
        self.ms = 0.0

    def add(self, ms: float) -> None:
        self.ms += ms


def protocol_stream() -> Any:
    """The real stdout for answers; anything a library prints goes to stderr instead."""
    answers = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return answers


def ids_in(pattern: re.Pattern[str], body: str) -> list[int]:
    """The ids ``pattern`` finds, in order of first appearance, each once."""
    seen: dict[int, None] = {}
    for match in pattern.finditer(body):
        seen.setdefault(int(match.group(1)), None)
    return list(seen)


def serve(
    get: Callable[[str], tuple[int, str]],
    urls: Callable[[dict[str, Any]], str],
    ids_pattern: re.Pattern[str],
    clock: SqlClock,
) -> int:
    """Answer commands until ``quit``, end of input or a bound is reached."""
    answers = protocol_stream()
    started = time.monotonic()
    answers.write(json.dumps({"ready": True}) + "\n")
    for _ in range(MAX_COMMANDS):
        if time.monotonic() - started > MAX_SECONDS:
            break
        line = sys.stdin.readline()
        if not line:
            break
        command = json.loads(line)
        if command.get("op") == "quit":
            break
        try:
            answer = _get(get, urls, ids_pattern, clock, command)
        except Exception as exc:  # the orchestrator reports it; the peer goes on
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        answers.write(json.dumps(answer) + "\n")
    return 0


def _get(
    get: Callable[[str], tuple[int, str]],
    urls: Callable[[dict[str, Any]], str],
    ids_pattern: re.Pattern[str],
    clock: SqlClock,
    command: dict[str, Any],
) -> dict[str, Any]:
    url = urls(command["page"])
    ms, sql_ms = [], []
    status, body = 0, ""
    for _ in range(min(int(command.get("n", 1)), MAX_REPEAT)):
        clock.reset()
        start = time.perf_counter()
        status, body = get(url)
        ms.append((time.perf_counter() - start) * 1000)
        sql_ms.append(clock.ms)
    return {
        "url": url,
        "status": status,
        "ms": ms,
        "sql_ms": sql_ms,
        "ids": ids_in(ids_pattern, body),
        "bytes": len(body),
    }


def sqlalchemy_clock(clock: SqlClock) -> None:
    """Add every SQLAlchemy statement's time to ``clock``."""
    import sqlalchemy as sa

    @sa.event.listens_for(sa.engine.Engine, "before_cursor_execute")
    def _start(conn: Any, *_args: Any) -> None:
        conn.info["peer_clock"] = time.perf_counter()

    @sa.event.listens_for(sa.engine.Engine, "after_cursor_execute")
    def _end(conn: Any, *_args: Any) -> None:
        clock.add((time.perf_counter() - conn.info.pop("peer_clock")) * 1000)
