"""The command palette's search (Ctrl+K on every page): places, actions and records.

One JSON endpoint, ``/admin/palette/?q=``, answers what the palette lists as the
user types: every model's list, grid, "new", import and export, the console's own pages,
and records of every model whose label or searchable columns match (each model's own
list search, so the indexes that serve the list serve this too). Only what the
account's role may open is offered; the pages themselves check again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import jsonify, request, url_for
from flask_admin import expose
from sqlalchemy import or_

from console import rules
from console.admin.gated import RoleGatedView
from console.auth.roles import current_role_includes
from console.extensions import db
from console.rules import Role

if TYPE_CHECKING:
    from console.admin.model_view import ConsoleModelView
    from console.admin.registry import Registry

RECORDS_PER_MODEL = 5
MAX_ITEMS = 40


class PaletteView(RoleGatedView):
    """The palette's JSON (no page of its own, no menu entry)."""

    def __init__(self, registry: Registry, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.registry = registry

    def is_visible(self) -> bool:
        return False

    @expose("/")
    def index(self) -> Any:
        """``{"items": [{"kind", "label", "detail", "url"}]}`` matching ``q``."""
        text = request.args.get("q", "")
        if "\x00" in text or len(text) > 200:
            return jsonify(error="The search text cannot be searched for."), 400
        words = rules.search_text(text).lower().split()
        items = [item for item in self._places() if _matches(item, words)]
        if words:
            # The closest first: what starts with the text, then the shortest.
            typed = " ".join(words)
            items.sort(key=lambda i: (not i["label"].lower().startswith(typed), len(i["label"])))
            items += self._records(typed)
        return jsonify(items=items[:MAX_ITEMS])

    def _places(self) -> list[dict[str, str]]:
        """Every page and action the account may open, models first."""
        found: list[dict[str, str]] = []
        for view in self.registry.views():
            if not view.is_accessible():
                continue
            title = view.description.title
            found.append(_item("page", title, "list", _url(view, "index_view")))
            found.append(_item("page", f"{title} in the grid", "grid", _url(view, "grid_view")))
            if view.can_create:
                found.append(_item("action", f"New {view.description.singular}", "create",
                                   _url(view, "create_view")))
            if view.can_import:
                found.append(_item("action", f"Import {view.description.plural}", "import",
                                   _url(view, "import_view")))
            if view.description.file_columns:
                found.append(_item("action", f"Export {view.description.plural} (CSV)", "export",
                                   _url(view, "export", export_type="csv")))
        found.append(_item("page", "Home (dashboard)", "console", url_for("admin.index")))
        found.append(_item("page", "Relationships", "console", url_for("relationships.index")))
        if current_role_includes(Role.viewer):
            found.append(_item("page", "Audit log", "console", url_for("auditlog.index")))
        if current_role_includes(Role.admin):
            found.append(_item("page", "Migrations", "administration",
                               url_for("migrations.index")))
        found.append(_item("page", "Your account", "account", url_for("auth.account")))
        return found

    def _records(self, term: str) -> list[dict[str, str]]:
        """Up to RECORDS_PER_MODEL records of each model the list search finds."""
        found: list[dict[str, str]] = []
        for view in self.registry.views():
            description = view.description
            if not view.is_accessible() or not (description.searchable or description.label):
                continue
            stmt = _searched(view, term).limit(RECORDS_PER_MODEL)
            for row in db.session.scalars(stmt):
                key = getattr(row, description.pk.key)
                label = getattr(row, description.label.key, None)
                page = "edit_view" if view.can_edit else "details_view"
                found.append(_item("record", str(label if label is not None else key),
                                   f"{description.singular} {key}",
                                   _url(view, page, id=key)))
        return found


def _searched(view: ConsoleModelView, term: str) -> Any:
    """The list's own search; a model with no searchable column is matched on its label."""
    description = view.description
    stmt = view.list_query()
    if description.searchable:
        stmt = view.search_query(stmt, term)
    else:
        label = description.label.column
        stmt = stmt.where(or_(*[label.cast(db.String).icontains(w, autoescape=True)
                                for w in term.split()]))
    return stmt.order_by(description.pk.column)


def _url(view: ConsoleModelView, name: str, **values: Any) -> str:
    """A page of ``view``'s, whatever blueprint this request is in."""
    return url_for(f"{view.endpoint}.{name}", **values)


def _item(kind: str, label: str, detail: str, url: str) -> dict[str, str]:
    return {"kind": kind, "label": label, "detail": detail, "url": url}


def _matches(item: dict[str, str], words: list[str]) -> bool:
    haystack = f"{item['label']} {item['detail']}".lower()
    return all(word in haystack for word in words)


__all__ = ["PaletteView"]
