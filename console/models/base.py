"""The declarative base of the console's own tables (accounts, audit log, row counts).

The tables of the models the console manages belong to their application, with a
base and metadata of their own (``console.demo.models`` for the demo).
"""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from console.declare import TimestampMixin, naming_metadata, utcnow


class Base(DeclarativeBase):
    """Base class of the console's own tables; plain SQLAlchemy, so engines need no Flask."""

    metadata = naming_metadata()


__all__ = ["Base", "TimestampMixin", "utcnow"]
