"""The grid's saved layouts and named views (JSON), each account's own.

``GET /admin/<model>/grid/layouts`` answers the account's current layout and named
views; ``POST .../grid/layout`` stores the current layout (``{"layout": null}``: back
to the default); ``POST .../grid/views`` stores a named view (``{"name", "layout",
"args"}``, replacing one of that name); ``POST .../grid/views/delete`` deletes one
(``{"name"}``). Every POST carries the CSRF token (``X-CSRFToken``, checked by the
app's CSRF protection before the view runs). A layout is the user's own preference,
not data: viewers keep theirs too. What is sent is checked by ``console.grid_views``:
refusals are 400 with ``{"ok": false, "error"}``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import jsonify, request, url_for
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from console import grid_views
from console.admin import list_page
from console.extensions import session as current_session
from console.models.grid_views import CURRENT, NAME_MAX

if TYPE_CHECKING:
    from console.admin.model_view import ConsoleModelView


def column_keys(view: ConsoleModelView) -> list[str]:
    """The keys of the grid's columns, in the model's order."""
    return [info.key for info in list_page.list_columns(view.description)]


def _account_id() -> int:
    return int(current_user._get_current_object().id)


def config(view: ConsoleModelView) -> dict[str, Any]:
    """What the grid page's script needs: the layout to open with, where to save, a token."""
    endpoint = view.endpoint
    return {
        "current": grid_views.current_layout(
            current_session(), _account_id(), endpoint, column_keys(view)),
        "listUrl": url_for(f"{endpoint}.grid_layouts"),
        "layoutUrl": url_for(f"{endpoint}.grid_layout_save"),
        "viewsUrl": url_for(f"{endpoint}.grid_view_save"),
        "deleteUrl": url_for(f"{endpoint}.grid_view_delete"),
        "gridUrl": url_for(f"{endpoint}.grid_view"),
        "csrf": generate_csrf(),
        "nameMax": NAME_MAX,
        "maxViews": grid_views.MAX_VIEWS,
    }


# A layout and its arguments are at most a few tens of kilobytes: a bigger body is not read.
MAX_BODY = 64 * 1024


def _refused(message: str) -> Any:
    return jsonify(ok=False, error=message), 400


def _too_big() -> Any | None:
    if (request.content_length or 0) > MAX_BODY:
        return jsonify(ok=False, error=f"At most {MAX_BODY // 1024} KB, please."), 413
    return None


def _body() -> dict[str, Any] | None:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else None


def _listing(view: ConsoleModelView) -> dict[str, Any]:
    session = current_session()
    keys = column_keys(view)
    account = _account_id()
    return {
        "ok": True,
        "current": grid_views.current_layout(session, account, view.endpoint, keys),
        "views": [v.as_json() for v in grid_views.views(session, account, view.endpoint, keys)],
    }


def layouts_view(view: ConsoleModelView) -> Any:
    """The account's current layout of this grid and its named views."""
    return jsonify(_listing(view))


def layout_save_view(view: ConsoleModelView) -> Any:
    """Store the layout this account's grid opens with; ``null`` resets it."""
    if (big := _too_big()) is not None:
        return big
    body = _body()
    if body is None or "layout" not in body:
        return _refused('Expected {"layout": {...}} (or null, for the default layout).')
    session = current_session()
    if body["layout"] is None:
        grid_views.delete(session, _account_id(), view.endpoint, CURRENT)
        return jsonify(_listing(view))
    try:
        layout = grid_views.check_layout(body["layout"], column_keys(view))
        grid_views.save(session, _account_id(), view.endpoint, CURRENT, layout)
    except grid_views.Refused as refusal:
        return _refused(str(refusal))
    return jsonify(_listing(view))


def view_save_view(view: ConsoleModelView) -> Any:
    """Store a named view: a layout with the list's search, filters and sort."""
    if (big := _too_big()) is not None:
        return big
    body = _body()
    if body is None:
        return _refused('Expected {"name": ..., "layout": {...}, "args": [[name, value], ...]}.')
    try:
        name = grid_views.check_name(body.get("name"))
        layout = grid_views.check_layout(body.get("layout"), column_keys(view))
        args = grid_views.check_args(body.get("args"))
        grid_views.save(current_session(), _account_id(), view.endpoint, name, layout, args)
    except grid_views.Refused as refusal:
        return _refused(str(refusal))
    return jsonify(_listing(view))


def view_delete_view(view: ConsoleModelView) -> Any:
    """Delete one of the account's named views (404 when it has none of that name)."""
    if (big := _too_big()) is not None:
        return big
    body = _body()
    try:
        name = grid_views.check_name(body.get("name") if body else None)
    except grid_views.Refused as refusal:
        return _refused(str(refusal))
    if not grid_views.delete(current_session(), _account_id(), view.endpoint, name):
        return jsonify(ok=False, error=f"You have no view named {name!r}."), 404
    return jsonify(_listing(view))


__all__ = ["config", "layout_save_view", "layouts_view", "view_delete_view", "view_save_view"]
