"""The Flask-Admin side of the console."""

from __future__ import annotations

from flask import Flask
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
    for view in build_views(app.extensions["console_catalogue"]):
        if hasattr(view, "page_size"):
            view.page_size = app.config["CONSOLE_PAGE_SIZE"]
        admin.add_view(view)
    admin.add_view(RelationshipsView(name="Relationships", endpoint="relationships"))
    admin.add_view(
        MigrationsView(name="Migrations", endpoint="migrations", category="Administration")
    )
    return admin
