"""Search-as-you-type lookups of parents (the forms', bulk edits' and grid's reference fields).

Flask-Admin's loaders do the search; this checks the request's arguments first: an
offset or limit that is not a small whole number, or text no database can search for
(a NUL), is a 400 with a message, never a database error.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from flask import Response, abort, jsonify, request

from console import rules
from console.admin import adapter

if TYPE_CHECKING:
    from console.admin.model_view import ConsoleModelView

MAX_OFFSET = 1_000_000
MAX_LIMIT = 100


def _bounded(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9 or not low <= int(raw) <= high:
        abort(Response(json.dumps({"error": f"{name} must be a whole number from {low} to "
                                             f"{high}."}), 400, mimetype="application/json"))
    return int(raw)


def lookup_view(view: ConsoleModelView) -> Any:
    """``[[id, label], ...]`` of the parents whose text matches ``query``."""
    loader = adapter.lookup_loader(view, request.args.get("name", ""))
    if loader is None:
        abort(404)
    query = request.args.get("query") or ""
    if "\x00" in query or len(query) > 500:
        return jsonify(error="The search text cannot be searched for."), 400
    query = rules.search_text(query)
    offset = _bounded("offset", 0, 0, MAX_OFFSET)
    limit = _bounded("limit", 10, 1, MAX_LIMIT)
    return jsonify([loader.format(row) for row in loader.get_list(query, offset, limit)])


__all__ = ["lookup_view"]
