"""The Flask-Admin side of the console: one view per model of the catalogue, and its pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, g, has_request_context
from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme

from console.admin.fragments import fragment
from console.admin.home import HomeView
from console.admin.migrations import MigrationsView
from console.admin.palette import PaletteView
from console.admin.registry import Registry, build_views
from console.admin.relationships import RelationshipsView
from console.catalogue import catalogue_of
from console.history import Actor, set_actor_provider
from console.security import csp_nonce

# The console's own front-end files (keyboard shortcuts, in-place edits, dense tables).
assets = Blueprint(
    "console_assets",
    __name__,
    static_folder=str(Path(__file__).resolve().parent.parent / "static"),
    static_url_path="/console-static",
)


def _current_account() -> Any:
    # Flask-Login caches the loaded user on g; reading it never queries mid-flush.
    if not has_request_context():
        return None
    user = g.get("_login_user")
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return Actor(user.id, user.email)


set_actor_provider(_current_account)


def singular_name(model: Any) -> str:
    """A managed model's singular name, as its catalogue description gives it ("to-do")."""
    catalogue = catalogue_of(model)
    return catalogue.describe(model).singular if catalogue is not None else str(model.__name__)


def init_admin(app: Flask) -> Admin:
    """Build this app's own Admin (never a module-level one) and register every view."""
    registry, views = build_views(app.extensions["console_catalogue"])
    app.extensions["console_registry"] = registry
    admin = Admin(
        app,
        name="Console",
        url="/admin",
        index_view=HomeView(registry, name="Home", url="/admin"),
        theme=Bootstrap4Theme(base_template="admin/console_master.html", fluid=True),
        # Flask-Admin's own inline scripts carry this nonce; the CSP allows no others.
        csp_nonce_generator=csp_nonce,
    )
    app.register_blueprint(assets)
    app.jinja_env.filters["singular_name"] = singular_name
    app.jinja_env.globals["fragment"] = fragment
    for view in views:
        if hasattr(view, "page_size"):
            view.page_size = app.config["CONSOLE_PAGE_SIZE"]
        admin.add_view(view)
    admin.add_view(RelationshipsView(name="Relationships", endpoint="relationships"))
    admin.add_view(PaletteView(registry, name="Palette", endpoint="palette", url="palette"))
    admin.add_view(
        MigrationsView(name="Migrations", endpoint="migrations", category="Administration")
    )
    return admin


def registry_of(app: Flask) -> Registry:
    """The model -> view registry ``init_admin`` built for ``app``."""
    registry: Registry = app.extensions["console_registry"]
    return registry


__all__ = ["assets", "init_admin", "registry_of"]
