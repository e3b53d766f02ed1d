"""What a model's import and export files look like, derived from its description.

One ``Field`` per file column (``ModelDescription.file_columns``): its header name,
the kind that reads and writes its cells (``console.kinds``; for a reference, the
kind of the parent's natural key), and what a blank cell means, from the column's
nullability and default. The import (both the Python and the PostgreSQL path) and
the export read these, so each model's file format is defined once, by its metadata.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Table

from console import rules
from console.catalogue import ColumnInfo, ModelDescription
from console.kinds import ChoiceKind, Kind, ReferenceKind


class Blank(enum.Enum):
    """What a blank cell means for a column."""

    NULL = "empty"  # the column allows NULL
    DEFAULT = "default"  # the column's own (constant) default
    INSERT_DEFAULT = "insert default"  # the default on insert; refused on update
    REQUIRED = "required"
    GENERATED = "generated"  # a primary key the database numbers
    UNCHECKED = "unchecked"  # a version: nothing to compare


@dataclass(frozen=True)
class Parent:
    """The model a reference column points to, and how files name its rows."""

    description: ModelDescription
    key: ColumnInfo  # the parent's natural key, as files write it
    target: Column[Any]  # the parent column the foreign key holds

    @property
    def table(self) -> Table:
        """The parent's table."""
        return self.description.table

    @property
    def noun(self) -> str:
        """"to-do list with name": what the message for a missing parent says."""
        return f"{self.description.singular} with {self.key.label.lower()}"


@dataclass(frozen=True, eq=False)
class Field:
    """One file column: how its cells are read and written, and where the value goes."""

    name: str
    info: ColumnInfo
    kind: Kind
    role: str  # "value", "pk" or "version"
    blank: Blank
    default: Any = None  # the stored value a blank cell stands for (Blank.DEFAULT)
    parent: Parent | None = None

    @property
    def label(self) -> str:
        """The column's label, as messages name it."""
        return self.info.label

    @property
    def column(self) -> Column[Any]:
        """The table column."""
        return self.info.column

    @property
    def header_required(self) -> bool:
        """True when a file without this column cannot be imported.

        A value that cannot be empty and has no default; a primary key the database
        does not number itself.
        """
        if self.role == "pk":
            return self.blank is Blank.REQUIRED
        return self.info.required and self.role == "value"

    def read(self, cell: str) -> Any:
        """The value of one (un-neutralised) cell by the shared rules, or RuleError.

        A reference gives its parent's key here (the import resolves it); a blank
        cell gives what ``blank`` says (None for the database's own default).
        """
        if rules.is_blank(cell):
            if self.blank is Blank.REQUIRED:
                raise rules.RuleError(f"{self.label} is required.")
            return self.default if self.blank is Blank.DEFAULT else None
        if self.parent is not None:
            return self.kind.lookup_key(cell, label=self.label)
        return self.kind.parse(cell, label=self.label)

    def shown(self, value: Any) -> str:
        """A key as messages quote it: ``'Nowhere'`` for text, ``5`` for numbers."""
        return repr(value) if isinstance(value, str) else str(value)


@dataclass(frozen=True)
class FileFormat:
    """The file format of one model."""

    description: ModelDescription
    fields: tuple[Field, ...]

    @property
    def name(self) -> str:
        """The model's name (as the command line and URLs have it)."""
        return self.description.name

    @property
    def table(self) -> Table:
        """The model's table."""
        return self.description.table

    @property
    def columns(self) -> list[str]:
        """Every column name, in export order."""
        return [f.name for f in self.fields]

    @property
    def required(self) -> list[str]:
        """Columns the header must have."""
        return [f.name for f in self.fields if f.header_required]

    def field(self, name: str) -> Field:
        """The field called ``name`` (KeyError when there is none)."""
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    def find(self, name: str) -> Field | None:
        """The field called ``name``, or None."""
        return next((f for f in self.fields if f.name == name), None)

    @property
    def key_field(self) -> Field | None:
        """The field of the natural key (rows are matched by it), if files carry it."""
        key = self.description.natural_key
        return next((f for f in self.fields if f.info is key), None)

    @property
    def key(self) -> str:
        """The header name of the natural key."""
        field = self.key_field
        return field.name if field else self.description.natural_key.key

    @property
    def key_is_pk(self) -> bool:
        """True when rows are matched by their primary key (to-dos, tasks)."""
        return self.description.natural_key is self.description.pk

    @property
    def pk_field(self) -> Field | None:
        """The primary key's field, if files carry it."""
        return next((f for f in self.fields if f.role == "pk"), None)

    @property
    def pk_written(self) -> bool:
        """True when a file's primary key values are stored (not ignored).

        They are when rows are matched by them, or when the database cannot number
        new rows itself; a person's id is ignored (people are matched by email).
        """
        pk = self.pk_field
        return pk is not None and (self.key_is_pk or pk.blank is not Blank.GENERATED)

    @property
    def version_field(self) -> Field | None:
        """The version's field: present only for a model with a version column."""
        return next((f for f in self.fields if f.role == "version"), None)

    @property
    def versioned(self) -> bool:
        """True when the model has a version column (an upsert detects stale rows)."""
        return self.description.version is not None


def file_format(description: ModelDescription) -> FileFormat:
    """The file format of a described model."""
    fields = tuple(_field(description, info) for info in description.file_columns)
    return FileFormat(description, fields)


def _field(description: ModelDescription, info: ColumnInfo) -> Field:
    name = info.file_name or info.key
    if info.primary_key:
        generated = description.table.autoincrement_column is info.column
        return Field(name, info, info.kind, "pk", Blank.GENERATED if generated else Blank.REQUIRED)
    if description.version is info:
        return Field(name, info, info.kind, "version", Blank.UNCHECKED)
    blank, default = _blank(info)
    if info.reference is not None:
        parent = description.parent_of(info)
        assert isinstance(info.kind, ReferenceKind)
        kind = info.kind.key_kind
        if blank is Blank.DEFAULT:
            # A default parent is an id, not a key to look up: the insert gives it.
            blank, default = Blank.INSERT_DEFAULT, None
        if kind.sql_lookup_key("t") is None:
            raise ValueError(
                f"{description.model_name}.{info.key}: files cannot refer to a "
                f"{parent.singular} by its {parent.natural_key.label.lower()} ({kind.name})"
            )
        target = Parent(parent, parent.natural_key, info.reference.target)
        return Field(name, info, kind, "value", blank, default, target)
    return Field(name, info, info.kind, "value", blank, default)


def _blank(info: ColumnInfo) -> tuple[Blank, Any]:
    """What a blank cell of ``info`` means, and the value it stands for."""
    column = info.column
    default = column.default
    if default is not None and default.is_scalar:
        value = default.arg  # type: ignore[attr-defined]
        if isinstance(info.kind, ChoiceKind):
            value = info.kind.stored(value)
        return Blank.DEFAULT, value
    if info.nullable:
        return Blank.NULL, None
    if default is not None or column.server_default is not None:
        return Blank.INSERT_DEFAULT, None
    return Blank.REQUIRED, None


__all__ = ["Blank", "Field", "FileFormat", "Parent", "file_format"]
