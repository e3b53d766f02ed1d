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
from console.models import Person, Todo, TodoList


@dataclass(frozen=True)
class Ref:
    """A parent referenced by its natural key (a list by name, a person by email)."""

    table: Table
    key: str
    kind: str  # "name" (compared stripped) or "email" (compared stripped, lower-case)
    noun: str


@dataclass(frozen=True)
class Field:
    """One CSV column: how its text is checked and where its value goes."""

    name: str
    kind: str  # text, email, bool, date, priority, ref, id, version
    column: str | None
    required: bool = False
    label: str = ""
    max_length: int = 0
    ref: Ref | None = None

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
    return text


CHECKS: dict[str, Callable[[Field, str | None], Any]] = {
    "text": _text,
    "email": lambda _f, raw: rules.check_email(raw),
    "bool": lambda _f, raw: rules.parse_bool(raw),
    "date": lambda _f, raw: rules.parse_date(raw),
    "priority": lambda _f, raw: rules.check_priority(raw).value,
    "ref": _ref,
    "id": lambda f, raw: rules.parse_whole_number(raw, label=f.label),
    "version": lambda f, raw: rules.parse_whole_number(raw, label=f.label),
}

_person = Person.__table__
_list = TodoList.__table__
_ID = Field("id", "id", "id", label="ID")
_VERSION = Field("version", "version", None, label="Version")

SPECS: dict[str, ModelSpec] = {
    "person": ModelSpec(
        name="person",
        model=Person,
        fields=(
            _ID,
            Field("name", "text", "name", True, "Name", rules.NAME_MAX),
            Field("email", "email", "email", True, "Email", rules.EMAIL_MAX),
            _VERSION,
        ),
        key="email",
        key_column="email",
    ),
    "todolist": ModelSpec(
        name="todolist",
        model=TodoList,
        fields=(
            _ID,
            Field("name", "text", "name", True, "Name", rules.NAME_MAX),
            Field("owner", "ref", "owner_id", True, "Owner",
                  ref=Ref(_person, "email", "email", "person with email")),
            _VERSION,
        ),
        key="name",
        key_column="name",
    ),
    "todo": ModelSpec(
        name="todo",
        model=Todo,
        fields=(
            _ID,
            Field("description", "text", "description", True, "Description",
                  rules.DESCRIPTION_MAX),
            Field("completed", "bool", "completed", label="Completed"),
            Field("due_date", "date", "due_date", label="Due date"),
            Field("priority", "priority", "priority", label="Priority"),
            Field("list", "ref", "list_id", True, "List",
                  ref=Ref(_list, "name", "name", "to-do list named")),
            Field("assignee", "ref", "assignee_id", label="Assignee",
                  ref=Ref(_person, "email", "email", "person with email")),
            _VERSION,
        ),
        key="id",
        key_column="id",
    ),
}

# Names people type on the command line, mapped to the spec names.
ALIASES = {
    "person": "person", "people": "person", "persons": "person",
    "todolist": "todolist", "todo_list": "todolist", "list": "todolist", "lists": "todolist",
    "todo": "todo", "todos": "todo",
}


def spec_for(name: str) -> ModelSpec:
    """The spec for a model name (``person``, ``todolist``, ``todo`` or a plural)."""
    try:
        return SPECS[ALIASES[name.strip().lower().replace("-", "")]]
    except KeyError:
        raise KeyError(f"Unknown model {name!r}: choose person, todolist or todo.") from None


def spec_for_model(model: type) -> ModelSpec | None:
    """The spec of a mapped class, or None when the model cannot be imported."""
    return next((s for s in SPECS.values() if s.model is model), None)
