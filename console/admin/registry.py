"""Which models get a generated view: every model of the catalogue, plus the console's own."""

from __future__ import annotations

from typing import Any

from console.admin.accounts import AccountView
from console.admin.audit_log import AuditLogView
from console.admin.base import ConsoleModelView
from console.catalogue import Catalogue
from console.models import Account


def build_views(catalogue: Catalogue) -> list[Any]:
    """A fresh set of view instances (each app gets its own)."""
    views: list[Any] = [ConsoleModelView(description) for description in catalogue.models]
    views.append(
        AccountView(catalogue.describe(Account), name="Accounts", endpoint="account",
                    category="Administration")
    )
    views.append(
        AuditLogView(name="Audit log", endpoint="auditlog", url="audit", category="Administration")
    )
    return views
