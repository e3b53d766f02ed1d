"""Static file URLs, built once per app instead of on every page."""

from __future__ import annotations

from typing import Any

from flask import current_app, request, url_for


def static_url(endpoint: str, **kwargs: Any) -> str:
    """``url_for`` for a static file, remembered per app, script root, endpoint and arguments.

    Flask-Admin's templates ask for the same two dozen script and style URLs on every
    page (through the view's ``get_url``); they depend on nothing else (no
    ``_external``, no URL defaults for them).
    """
    try:
        key = (request.script_root, endpoint, tuple(sorted(kwargs.items())))
        hash(key)
    except TypeError:
        return url_for(endpoint, **kwargs)
    cache = current_app.extensions.setdefault("console_static_urls", {})
    if key not in cache:
        cache[key] = url_for(endpoint, **kwargs)
    return cache[key]
