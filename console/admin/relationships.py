"""The Relationships page: each delete rule as the models, the ORM and the database have it."""

from __future__ import annotations

from typing import Any

from flask_admin import BaseView, expose

from console.auth.roles import current_role_includes, deny
from console.cascade import relationship_report
from console.extensions import db
from console.rules import Role


class RelationshipsView(BaseView):
    """Read-only, for every role: what a delete follows, and whether the database agrees."""

    def is_accessible(self) -> bool:
        return current_role_includes(Role.viewer)

    def is_visible(self) -> bool:
        return current_role_includes(Role.viewer)

    def _handle_view(self, name: str, **kwargs: Any) -> Any:
        if not current_role_includes(Role.viewer):
            return deny()
        return None

    @expose("/")
    def index(self) -> Any:
        """Every relationship, with disagreements between models and database flagged."""
        rows = relationship_report(db.session.connection())
        db.session.rollback()
        return self.render("admin/relationships.html", rows=rows)
