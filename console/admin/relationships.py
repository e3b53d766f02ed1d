"""The Relationships page: each delete rule as the models, the ORM and the database have it."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_admin import expose

from console.admin.gated import RoleGatedView
from console.cascade import relationship_report
from console.extensions import session as current_session


class RelationshipsView(RoleGatedView):
    """Read-only, for every role: what a delete follows, and whether the database agrees."""

    @expose("/")
    def index(self) -> Any:
        """Every relationship, with disagreements between models and database flagged."""
        rows = relationship_report(
            current_session().connection(), current_app.extensions["console_catalogue"].edges
        )
        current_session().rollback()
        return self.render("admin/relationships.html", rows=rows)
