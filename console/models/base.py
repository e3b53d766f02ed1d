"""The declarative base of the console's own tables (accounts, audit log, row counts).

The tables of the models the console manages belong to their application, with a
base and metadata of their own (``console.demo.models`` for the demo).
"""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from console.declare import TimestampMixin, naming_metadata, utcnow
from console.own_schema import OWN


class Base(DeclarativeBase):
    """Base class of the console's own tables; plain SQLAlchemy, so engines need no Flask."""

    # The console's schema (console.own_schema): translated by every engine of the app.
    metadata = naming_metadata(schema=OWN)


__all__ = ["Base", "TimestampMixin", "utcnow"]
