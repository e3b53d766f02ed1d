"""The domain models. Importing this package maps every model."""

from console.models.accounts import Account
from console.models.audit import AuditEntry
from console.models.base import LINKS, Base, Link, OnDelete
from console.models.people import Person
from console.models.row_counts import RowCountDelta
from console.models.todos import Todo, TodoList
from console.rules import Priority, Role

__all__ = [
    "LINKS",
    "Account",
    "AuditEntry",
    "Base",
    "Link",
    "OnDelete",
    "Person",
    "Priority",
    "Role",
    "RowCountDelta",
    "Todo",
    "TodoList",
]
