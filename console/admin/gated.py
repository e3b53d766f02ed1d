"""One role check for the console's own pages (those that are not model views)."""

from __future__ import annotations

from typing import Any

from console.admin import adapter
from console.auth.roles import current_role_includes, deny
from console.rules import Role


class RoleGatedView(adapter.PageViewBase):
    """A console page: every endpoint, and the menu entry, need ``view_role``.

    Anonymous visitors go to the login page; a logged-in account without the role
    gets 403. Endpoints that need more mark themselves with ``@requires``.
    """

    view_role: Role = Role.viewer

    def is_accessible(self) -> bool:
        return current_role_includes(self.view_role)

    def is_visible(self) -> bool:
        return current_role_includes(self.view_role)

    def check_access(self, endpoint: str) -> Any:
        if not current_role_includes(self.view_role):
            return deny()
        return None


__all__ = ["RoleGatedView"]
