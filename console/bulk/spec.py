"""What each importable model's CSV looks like: its columns, their rules and natural keys.

The import (both the Python and the PostgreSQL path) and the export read these
declarations, so the file format is defined once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table

from console import rules
from console.catalogue import Catalogue, ColumnInfo, ModelDescription
from console.kinds import BooleanKind, ChoiceKind, DateKind, EmailKind, TextKind


@dataclass(frozen=True)
class Ref:
    """A parent referenced by its natural key (a list by name, a person by email)."""

    table: Table
    key: str
    kind: str  # "name" (compared stripped), "email" (stripped, lower-case) or "id"
    noun: str
    model: type | None = None


@dataclass(frozen=True)
class Field:
    """One CSV column: how its text is checked and where its value goes."""

    name: str
    kind: str  # text, email, bool, date, choice, ref, id, version
    column: str | None
    required: bool = False
    label: str = ""
    max_length: int = 0
    ref: Ref | None = None
    choices: tuple[str, ...] = ()
    default: str | None = None

    def check(self, raw: str | None) -> Any:
        """Clean ``raw`` with the shared rule for this kind of column (refs: the key only)."""
        return CHECKS[self.kind](self, raw)


@dataclass(frozen=True)
class ModelSpec:
    """The CSV format of one model."""

    name: str
    model: type
    fields: tuple[Field, ...]
    key: str  # the field that identifies a row for upsert and duplicate checks
    key_column: str
    description: ModelDescription | None = None

    @property
    def table(self) -> Table:
        """The model's table."""
        return self.model.__table__  # type: ignore[attr-defined,no-any-return]

    @property
    def columns(self) -> list[str]:
        """Every column name, in export order."""
        return [f.name for f in self.fields]

    @property
    def required(self) -> list[str]:
        """Columns the header must have."""
        return [f.name for f in self.fields if f.required]

    def field(self, name: str) -> Field:
        """The field called ``name``."""
        return next(f for f in self.fields if f.name == name)

    @property
    def key_is_id(self) -> bool:
        """True when rows are matched by their id (to-dos) rather than a natural key."""
        return self.key == "id"


def _text(field: Field, raw: str | None) -> str:
    return rules.check_text(
        raw, label=field.label, max_length=field.max_length, required=field.required
    )


def _ref(field: Field, raw: str | None) -> str | None:
    assert field.ref is not None
    text = rules.normalise_email(raw) if field.ref.kind == "email" else (raw or "").strip()
    if not text:
        if field.required:
            raise rules.RuleError(f"{field.label} is required.")
        return None
    if field.ref.kind == "id":
        return rules.parse_whole_number(text, label=field.label)
    return text


CHECKS: dict[str, Callable[[Field, str | None], Any]] = {
    "text": _text,
    "email": lambda _f, raw: rules.check_email(raw),
    "bool": lambda _f, raw: rules.parse_bool(raw),
    "date": lambda _f, raw: rules.parse_date(raw),
    "choice": lambda f, raw: rules.check_choice(
        raw, label=f.label, choices=f.choices, default=f.default
    ),
    "ref": _ref,
    "id": lambda f, raw: rules.parse_whole_number(raw, label=f.label),
    "version": lambda f, raw: rules.parse_whole_number(raw, label=f.label),
}

def _field(description: ModelDescription, info: ColumnInfo) -> Field:
    label = info.label
    column = info.column.key
    if info.reference is not None:
        parent = description.parent_of(info)
        key = parent.natural_key
        kind = "email" if isinstance(key.kind, EmailKind) else "id" if key.primary_key else "name"
        ref = Ref(parent.table, key.column.key, kind,
                  f"{parent.singular} with {key.label.lower()}", parent.cls)
        return Field(info.file_name or info.key, "ref", column, info.required, label, ref=ref)
    if description.version is info:
        return Field("version", "version", None, label=label)
    if info.primary_key:
        return Field(info.file_name or info.key, "id", column, label=label)
    kind_name = {
        EmailKind: "email", TextKind: "text", BooleanKind: "bool", DateKind: "date",
        ChoiceKind: "choice",
    }.get(type(info.kind))
    if kind_name is None:
        raise ValueError(f"{description.model_name}.{info.key}: no file format for this kind yet")
    choices: tuple[str, ...] = ()
    default = None
    if isinstance(info.kind, ChoiceKind):
        choices = info.kind.choices
        arg = getattr(info.column.default, "arg", None)
        default = None if arg is None or callable(arg) else str(getattr(arg, "value", arg))
    max_length = getattr(info.kind, "max_length", None) or 0
    return Field(info.file_name or info.key, kind_name, column, info.required, label,
                 max_length, choices=choices, default=default)


def spec_of(description: ModelDescription) -> ModelSpec:
    """The file format of a described model."""
    fields = tuple(_field(description, c) for c in description.file_columns)
    key = description.natural_key
    return ModelSpec(
        name=description.name,
        model=description.cls,
        fields=fields,
        key=key.file_name or key.key,
        key_column=key.column.key,
        description=description,
    )


def spec_singular(spec: ModelSpec) -> str:
    """What one row of the spec's model is called ("person", "to-do list")."""
    return spec.description.singular if spec.description else spec.model.__name__


def spec_for(catalogue: Catalogue, name: str) -> ModelSpec:
    """The spec of a managed model by the word a user types (name, table, singular, plural)."""
    return spec_of(catalogue.by_name(name))


def spec_for_model(catalogue: Catalogue, model: type) -> ModelSpec | None:
    """The spec of a mapped class, or None when it is not a managed model."""
    description = catalogue.get(model)
    if description is None or description.own:
        return None
    return spec_of(description)
