"""The console's own tables. Importing this package maps them."""

from typing import Any

from console import own_schema
from console.models.accounts import Account
from console.models.audit import AuditEntry
from console.models.base import Base, utcnow
from console.models.grid_views import GridView
from console.models.jobs import Job, JobFile
from console.models.row_counts import RowCountDelta
from console.models.security import LoginThrottle, RecoveryCode
from console.rules import Role


def create_own_tables(engine: Any, tables: Any = None) -> None:
    """Create the console's tables (outside migrations: tests, benchmarks), in its schema."""
    with own_schema.on_engine(engine).begin() as conn:
        own_schema.create_schema(conn)
        Base.metadata.create_all(conn, tables=tables)


def drop_own_tables(engine: Any) -> None:
    """Drop the tables ``create_own_tables`` made."""
    with own_schema.on_engine(engine).begin() as conn:
        Base.metadata.drop_all(conn)

__all__ = [
    "Account",
    "AuditEntry",
    "Base",
    "GridView",
    "Job",
    "JobFile",
    "LoginThrottle",
    "RecoveryCode",
    "Role",
    "RowCountDelta",
    "create_own_tables",
    "drop_own_tables",
    "utcnow",
]
