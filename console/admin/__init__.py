"""The Flask-Admin side of the console."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, request, url_for
from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme

from console.admin.home import HomeView
from console.admin.lists import assets
from console.admin.migrations import MigrationsView
from console.admin.registry import build_views
from console.admin.relationships import RelationshipsView


def init_admin(app: Flask) -> Admin:
    """Build this app's own Admin (never a module-level one) and register every view."""
    admin = Admin(
        app,
        name="Console",
        url="/admin",
        index_view=HomeView(name="Home", url="/admin"),
        theme=Bootstrap4Theme(base_template="admin/console_master.html", fluid=True),
    )
    app.register_blueprint(assets)
    app.jinja_env.globals["console_static_url"] = static_url
    for view in build_views():
        if hasattr(view, "page_size"):
            view.page_size = app.config["CONSOLE_PAGE_SIZE"]
        admin.add_view(view)
    admin.add_view(RelationshipsView(name="Relationships", endpoint="relationships"))
    admin.add_view(
        MigrationsView(name="Migrations", endpoint="migrations", category="Administration")
    )
    return admin


def static_url(endpoint: str, **kwargs: Any) -> str:
    """``url_for`` for a static file, remembered per app, script root, endpoint and arguments.

    Flask-Admin's templates ask for the same two dozen script and style URLs on every
    page; they depend on nothing else (no ``_external``, no URL defaults for them).
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
