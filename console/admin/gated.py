"""One role check for the console's own pages (those that are not model views)."""

from __future__ import annotations

from typing import Any

from console.auth.roles import current_role_includes, deny
from console.rules import Role


class RoleGated:
    """Mixed into a Flask-Admin view: every endpoint, and the menu entry, need ``view_role``.

    Anonymous visitors go to the login page; a logged-in account without the role
    gets 403. Endpoints that need more mark themselves with ``@requires``.
    """

    view_role: Role = Role.viewer

    def is_accessible(self) -> bool:
        return current_role_includes(self.view_role)

    def is_visible(self) -> bool:
        return current_role_includes(self.view_role)

    def _handle_view(self, name: str, **kwargs: Any) -> Any:
        if not current_role_includes(self.view_role):
            return deny()
        return None
