"""The Relationships page: each delete rule as the models, the ORM and the database have it."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_admin import expose

from console.admin.gated import RoleGatedView
from console.cascade import relationship_report
from console.catalogue import Edge, table_of
from console.extensions import session as current_session


class RelationshipsView(RoleGatedView):
    """Read-only, for every role: what a delete follows, and whether the database agrees."""

    @expose("/")
    def index(self) -> Any:
        """Every relationship, with disagreements between models and database flagged."""
        connection = current_session().connection()
        rows = relationship_report(
            connection,
            current_app.extensions["console_catalogue"].edges,
            pending_fix=lambda edge, rule: _pending_fix(connection, edge, rule),
        )
        current_session().rollback()
        return self.render("admin/relationships.html", rows=rows)


def _pending_fix(connection: Any, edge: Edge, rule: str) -> str | None:
    """The sentence naming a pending migration that sets ``edge``'s rule, or None."""
    from console import histories_of_app, schema

    found = schema.pending_rule_fix(
        connection, histories_of_app(current_app), table_of(edge.child).name, [edge.fk.name],
        rule,
    )
    if found is None:
        return None
    history, revision = found
    return (
        f"The pending revision {revision.id} ({revision.message}) of {history.title.lower()} "
        f"does that: run it with `{history.db_command('upgrade')}` (or `console init`)."
    )
