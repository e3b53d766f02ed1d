"""What an application's models may import from the console to describe themselves.

Nothing here is required: the console reads any SQLAlchemy ``DeclarativeBase``. These
are conveniences for what metadata alone cannot say (``Options``, set as a model's
``__console__``) and for models that want the console's conventions (row versions,
timestamps, trigram search indexes, delete policies declared once).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DDL, DateTime, ForeignKey, Index, Integer, MetaData, event, func
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

# Explicit, predictable constraint and index names: migrations can name what they
# alter, and an IntegrityError can be traced back to the field it concerns.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def naming_metadata(schema: str | None = None) -> MetaData:
    """A MetaData with the console's naming convention (for a model's own base)."""
    return MetaData(naming_convention=NAMING_CONVENTION, schema=schema)


@dataclass(frozen=True)
class Options:
    """What metadata cannot say about one model: set it as the class's ``__console__``.

    Every option is optional; a plain ``dict`` with the same keys works too. The
    console checks each one at start-up and refuses a wrong one, naming the model
    and the option.
    """

    # The word in URLs (/admin/<name>/) and on the command line; default: class name, lower.
    name: str | None = None
    # What one row and several rows are called ("to-do list", "to-do lists").
    singular: str | None = None
    plural: str | None = None
    # The column that names a row to people (default: the natural key, else the first
    # short text column, else the primary key).
    label: str | None = None
    # The unique column by which files refer to a row of this model (a list by its
    # name, a person by email) and by which an import matches rows (default: the only
    # single-column unique text column, else the primary key).
    natural_key: str | None = None
    # Columns never shown, exported or edited (password hashes, tokens). Columns whose
    # ``info`` says ``{"secret": True}`` are hidden too.
    hidden: tuple[str, ...] = ()
    # Columns shown but never edited (set by the application itself).
    uneditable: tuple[str, ...] = ()
    # Boolean columns the list toggles in place.
    toggles: tuple[str, ...] = ()
    # Columns bulk edits may set; None: every boolean, choice, date, number and reference.
    bulk_edit: tuple[str, ...] | None = None
    # Columns the list sorts by; None: every column an index serves. Each must be indexed.
    sortable: tuple[str, ...] | None = None
    # Text columns the search box looks in; None: every text column.
    searchable: tuple[str, ...] | None = None
    # Email columns (checked and normalised as addresses); None: text columns named
    # ``email`` or ending in ``_email``.
    emails: tuple[str, ...] | None = None
    # One-to-many relationships edited inline (paged) in the parent's form; None: those
    # whose foreign key cannot be empty (the children belong to the parent).
    inline: tuple[str, ...] | None = None
    # A Date column whose passed dates make a row overdue on the dashboard.
    due: str | None = None
    # Nothing may be created, edited or deleted (views of the database, say).
    read_only: bool = False

    @classmethod
    def of(cls, raw: Any, model_name: str, where: str | None = None) -> Options:
        """``raw`` (an Options, a dict or None) as Options; unknown keys raise ValueError.

        ``where`` names the declaration in messages (default ``Model.__console__``; a
        settings file's table, for reflected models).
        """
        where = where or f"{model_name}.__console__"
        if raw is None:
            return cls()
        if isinstance(raw, cls):
            return raw
        if not isinstance(raw, dict):
            raise ValueError(
                f"{where} must be console.declare.Options or a dict, "
                f"not {type(raw).__name__}"
            )
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(
                f"{where}: unknown option(s) {', '.join(unknown)} "
                f"(known: {', '.join(sorted(known))})"
            )
        values: dict[str, Any] = {}
        for key, value in raw.items():
            if isinstance(value, list | set):
                value = tuple(value)
            values[key] = value
        return cls(**values)


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
        return {"version_id_col": cls.__table__.c.version}  # type: ignore[attr-defined]


class OnDelete(enum.Enum):
    """What happens to child rows when their parent row is deleted."""

    CASCADE = "CASCADE"
    RESTRICT = "RESTRICT"
    SET_NULL = "SET NULL"

    @property
    def label(self) -> str:
        """Human wording used on the Relationships page."""
        return self.value

    @classmethod
    def of_rule(cls, rule: str | None) -> OnDelete | None:
        """The policy an ON DELETE rule amounts to (NO ACTION refuses like RESTRICT)."""
        text = (rule or "NO ACTION").upper()
        if text in ("RESTRICT", "NO ACTION"):
            return cls.RESTRICT
        return next((p for p in cls if p.value == text), None)


# The ORM options that agree with each ON DELETE rule. The database does the work
# (passive_deletes), so deleting a parent never loads its children one by one.
RELATIONSHIP_OPTIONS: dict[OnDelete, dict[str, Any]] = {
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
    database and the ORM cannot disagree by accident. The console itself reads the
    resulting metadata, not this object.
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
    extra: dict[str, Any] = field(default_factory=dict)

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
        options = dict(RELATIONSHIP_OPTIONS[self.policy])
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


def trigram_index(name: str, column: str) -> Index:
    """A pg_trgm GIN index for ``ILIKE '%term%'`` search on PostgreSQL.

    Other databases get a plain index of the same name, so the metadata and every
    migrated database agree. ``metadata.create_all`` creates the extension first
    (``needs_trigrams``).
    """
    return Index(
        name,
        column,
        postgresql_using="gin",
        postgresql_ops={column: "gin_trgm_ops"},
        info={"trigram": True},
    )


def needs_trigrams(metadata: MetaData) -> None:
    """Create the pg_trgm extension before ``metadata.create_all`` on PostgreSQL.

    Migrations create it themselves; this serves schemas built straight from the
    metadata (tests, scripts).
    """
    event.listen(
        metadata,
        "before_create",
        DDL("CREATE EXTENSION IF NOT EXISTS pg_trgm").execute_if(dialect="postgresql"),
    )
