"""Declarative base, mixins, and the one declaration of each relationship's delete policy."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Integer, MetaData, func
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column, relationship

# Explicit, predictable constraint and index names: migrations can name what they
# alter, and an IntegrityError can be traced back to the field it concerns.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base class of every model; plain SQLAlchemy, so engines need no Flask."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class TimestampMixin:
    """created_at and updated_at, set by the database and refreshed on every ORM update."""

    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), default=utcnow, nullable=False
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True),
        server_default=func.now(),
        default=utcnow,
        onupdate=utcnow,
        nullable=False,
    )


class VersionedMixin:
    """A row version the ORM checks and bumps on every UPDATE (optimistic locking)."""

    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1, server_default="1")

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.__table__.c.version}


class OnDelete(enum.Enum):
    """What happens to child rows when their parent row is deleted."""

    CASCADE = "CASCADE"
    RESTRICT = "RESTRICT"
    SET_NULL = "SET NULL"

    @property
    def label(self) -> str:
        """Human wording used on the Relationships page."""
        return self.value


# The ORM options that agree with each ON DELETE rule. The database does the work
# (passive_deletes), so deleting a parent never loads its children one by one.
_RELATIONSHIP_OPTIONS: dict[OnDelete, dict[str, Any]] = {
    OnDelete.CASCADE: {"cascade": "all, delete-orphan", "passive_deletes": True},
    # "all": the ORM must not null out children itself; the database refuses the delete.
    OnDelete.RESTRICT: {"cascade": "save-update, merge", "passive_deletes": "all"},
    OnDelete.SET_NULL: {"cascade": "save-update, merge", "passive_deletes": True},
}


@dataclass
class Link:
    """One parent -> children relationship and its delete policy, declared once.

    The child's foreign key column (with its ``ON DELETE`` rule), the parent's
    collection and the child's reference are all built from this object, so the
    database and the ORM cannot disagree by accident.
    """

    parent: str
    child: str
    fk_column: str
    parent_table: str
    policy: OnDelete
    collection: str
    reference: str
    nullable: bool
    description: str = ""

    def column(self, *, index: bool = True) -> Any:
        """The child's foreign key column, with the policy's ON DELETE rule.

        Indexed, unless ``index=False`` says a composite index of the child's table
        leads with it (an index the ON DELETE rule and the joins can use as well).
        """
        return mapped_column(
            ForeignKey(f"{self.parent_table}.id", ondelete=self.policy.value),
            index=index,
            nullable=self.nullable,
        )

    def parent_side(self, **extra: Any) -> Any:
        """The parent's collection of children, with ORM options matching the policy."""
        clash = sorted({"cascade", "passive_deletes"} & extra.keys())
        if clash:
            # The policy decides these; overriding them would split the one declaration.
            raise TypeError(f"{self.parent}.{self.collection}: {clash} come from the policy")
        options = dict(_RELATIONSHIP_OPTIONS[self.policy])
        options.update(extra)
        return relationship(
            self.child,
            back_populates=self.reference,
            foreign_keys=f"{self.child}.{self.fk_column}",
            lazy="select",
            **options,
        )

    def child_side(self, **extra: Any) -> Any:
        """The child's reference to its parent."""
        return relationship(
            self.parent,
            back_populates=self.collection,
            foreign_keys=f"{self.child}.{self.fk_column}",
            **extra,
        )

    @property
    def relationship_options(self) -> dict[str, Any]:
        """The ORM options the policy calls for (what the Relationships page expects)."""
        return dict(_RELATIONSHIP_OPTIONS[self.policy])


LINKS: list[Link] = []


def link(**kwargs: Any) -> Link:
    """Declare a relationship's delete policy and remember it for the planner and docs."""
    declared = Link(**kwargs)
    LINKS.append(declared)
    return declared
