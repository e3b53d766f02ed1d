"""The console's home page."""

from __future__ import annotations

from typing import Any

from flask_admin import AdminIndexView, expose
from sqlalchemy import func, select

from console.auth.roles import current_role_includes, deny
from console.extensions import db
from console.models import Person, Todo, TodoList
from console.rules import Role


class HomeView(AdminIndexView):
    """Counts per model, for every logged-in role."""

    def _handle_view(self, name: str, **kwargs: Any) -> Any:
        if not current_role_includes(Role.viewer):
            return deny()
        return None

    @expose("/")
    def index(self) -> Any:
        counts = {
            label: db.session.scalar(select(func.count()).select_from(model)) or 0
            for label, model in (("People", Person), ("To-do lists", TodoList), ("To-dos", Todo))
        }
        return self.render("admin/home.html", counts=counts)
