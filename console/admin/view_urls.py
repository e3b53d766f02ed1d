"""URLs of the console's own pages, as ``url_for`` builds them, for less per page.

A list page asks for about thirty URLs of its own view (each heading's sort link, the
pager, the page sizes, the exports, the create and grid links), nearly all of them
the same path with another query string. ``url_for`` matches the endpoint's rule and
builds the path each time. ``fast_url`` builds each endpoint's path (with its path
arguments) once per app, script root and host, and encodes the query string as
Werkzeug does (``werkzeug.urls._urlencode``: ``None`` dropped, lists repeated, the
same characters left unquoted). Anything it does not know to be the same (an
external URL, an anchor, a method, URL defaults, an endpoint with several rules,
an argument that is not hashable) goes to ``url_for``; tests compare the two.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import current_app, request, url_for
from werkzeug.datastructures import iter_multi_items

# The characters Werkzeug leaves unquoted in query values (werkzeug.urls._urlencode).
URL_SAFE = "!$'()*,/:;?@"
_CACHE = "console_view_urls"


def query_string(values: dict[str, Any]) -> str:
    """``values`` as Werkzeug's ``url_for`` encodes the arguments its rule does not use."""
    items = [(k, v) for k, v in iter_multi_items(values) if v is not None]
    return urlencode(items, safe=URL_SAFE)


def _rule_arguments(endpoint: str) -> frozenset[str] | None:
    """The path arguments of ``endpoint``'s one rule, or None when ``url_for`` must decide."""
    app = current_app
    cache: dict[str, frozenset[str] | None] = app.extensions.setdefault(_CACHE + "_rules", {})
    if endpoint in cache:
        return cache[endpoint]
    try:
        rules = list(app.url_map.iter_rules(endpoint))
    except KeyError:  # no such endpoint: url_for says so
        rules = []
    found: frozenset[str] | None = None
    if len(rules) == 1 and not rules[0].defaults and not rules[0].build_only:
        found = frozenset(rules[0].arguments)
    cache[endpoint] = found
    return found


def fast_url(endpoint: str, **values: Any) -> str:
    """``url_for(endpoint, **values)``, with the path built once (see the module's doc)."""
    app = current_app
    if endpoint.startswith("."):
        blueprint = request.blueprint
        endpoint = f"{blueprint}{endpoint}" if blueprint else endpoint[1:]
    if app.url_default_functions or any(k.startswith("_") for k in values):
        return url_for(endpoint, **values)
    arguments = _rule_arguments(endpoint)
    if arguments is None:
        return url_for(endpoint, **values)
    path_values = {k: v for k, v in values.items() if k in arguments and v is not None}
    try:
        key = (request.script_root, request.host, endpoint, tuple(sorted(path_values.items())))
        hash(key)
    except TypeError:
        return url_for(endpoint, **values)
    paths: dict[Any, str] = app.extensions.setdefault(_CACHE, {})
    path = paths.get(key)
    if path is None:
        path = url_for(endpoint, **path_values)
        if "?" in path:  # not a plain path: leave it to url_for every time
            return url_for(endpoint, **values)
        paths[key] = path
    query = query_string({k: v for k, v in values.items() if k not in arguments})
    return f"{path}?{query}" if query else path


__all__ = ["URL_SAFE", "fast_url", "query_string"]
