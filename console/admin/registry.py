"""One registry from model to view: every page that links to a model asks it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from console.catalogue import Catalogue
from console.models import Account

if TYPE_CHECKING:
    from console.admin.model_view import ConsoleModelView


class Registry:
    """The model views of one app, by model class."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self._views: dict[type, ConsoleModelView] = {}

    def add(self, view: ConsoleModelView) -> ConsoleModelView:
        """Remember ``view`` as the view of its model."""
        self._views[view.description.cls] = view
        return view

    def view_of(self, cls: type) -> ConsoleModelView | None:
        """The view of ``cls``, or None when it has none."""
        return self._views.get(cls)

    def views(self) -> list[ConsoleModelView]:
        """Every model view, managed models first, in catalogue order."""
        return list(self._views.values())

    def endpoint_of(self, model_name: str) -> str | None:
        """The endpoint of the view of the model whose class is called ``model_name``."""
        for cls, view in self._views.items():
            if cls.__name__ == model_name:
                return str(view.endpoint)
        return None


def build_views(catalogue: Catalogue) -> tuple[Registry, list[Any]]:
    """A fresh registry and set of view instances (each app gets its own)."""
    from console.admin.accounts import AccountView
    from console.admin.audit_log import AuditLogView
    from console.admin.model_view import ConsoleModelView

    registry = Registry(catalogue)
    views: list[Any] = [registry.add(ConsoleModelView(d, registry)) for d in catalogue.models]
    views.append(
        registry.add(AccountView(catalogue.describe(Account), registry, name="Accounts",
                                 endpoint="account", category="Administration"))
    )
    views.append(
        AuditLogView(registry, name="Audit log", endpoint="auditlog", url="audit",
                     category="Administration")
    )
    return registry, views


__all__ = ["Registry", "build_views"]
