"""The console's own tables. Importing this package maps them."""

from console.models.accounts import Account
from console.models.audit import AuditEntry
from console.models.base import Base, utcnow
from console.models.row_counts import RowCountDelta
from console.rules import Role

__all__ = ["Account", "AuditEntry", "Base", "Role", "RowCountDelta", "utcnow"]
