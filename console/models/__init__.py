"""The console's own tables. Importing this package maps them."""

from console.models.accounts import Account
from console.models.audit import AuditEntry
from console.models.base import Base, utcnow
from console.models.row_counts import RowCountDelta
from console.models.security import LoginThrottle, RecoveryCode
from console.rules import Role

__all__ = [
    "Account",
    "AuditEntry",
    "Base",
    "LoginThrottle",
    "RecoveryCode",
    "Role",
    "RowCountDelta",
    "utcnow",
]
