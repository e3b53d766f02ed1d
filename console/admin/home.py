"""The console's home page: a dashboard of every managed model that stays fast on big tables."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import url_for
from flask_admin import expose

from console import dashboard
from console.admin import adapter
from console.admin.list_page import display, label_of
from console.admin.registry import Registry
from console.auth.roles import current_role_includes, deny
from console.extensions import session as current_session
from console.rules import Role

# Parent/child panels shown at most (a model with many relationships would fill the page).
BIGGEST_PANELS = 2


class HomeView(adapter.IndexViewBase):
    """Counts, activity, overdue rows, biggest parents, recent changes: each role its own."""

    def __init__(self, registry: Registry, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.registry = registry

    def is_accessible(self) -> bool:
        return current_role_includes(Role.viewer)

    def check_access(self, endpoint: str) -> Any:
        if not current_role_includes(Role.viewer):
            return deny()
        return None

    @expose("/")
    def index(self) -> Any:
        session = current_session()
        catalogue = self.registry.catalogue
        today = date.today()
        admin = current_role_includes(Role.admin)
        # The console's own tables (accounts, the audit log) are counted for admins only.
        shown = list(catalogue.models) + (list(catalogue.own) if admin else [])
        charted = dashboard.charted(catalogue)
        due = dashboard.with_due_dates(catalogue)
        pairs = dashboard.parent_pairs(catalogue)[:BIGGEST_PANELS]
        managed_names = [d.model_name for d in catalogue.models]
        return self.render(
            "admin/home.html",
            counts=dashboard.model_counts(session, shown),
            chart=dashboard.activity_chart(session, charted, today) if charted else None,
            overdue=dashboard.overdue(session, due, today) if due else None,
            biggest=[dashboard.biggest_parents(session, catalogue, edge) for edge in pairs],
            recent=dashboard.recent_changes(session, models=None if admin else managed_names),
            list_url=self._list_url,
            details_url=self._details_url,
            label_of=label_of,
            display=display,
            today=today,
        )

    def _list_url(self, description: Any) -> str | None:
        view = self.registry.view_of(description.cls)
        return url_for(f"{view.endpoint}.index_view") if view is not None else None

    def _details_url(self, obj: Any) -> str | None:
        view = self.registry.view_of(type(obj))
        if view is None:
            return None
        return url_for(f"{view.endpoint}.details_view", id=getattr(obj, view.description.pk.key))

    def entry_url(self, entry: Any) -> str | None:
        """The details page of the row an audit entry is about, while it exists."""
        endpoint = self.registry.endpoint_of(entry.model or "")
        if endpoint is None or not entry.object_id or entry.action == "delete":
            return None
        return url_for(f"{endpoint}.details_view", id=entry.object_id)


__all__ = ["HomeView"]
