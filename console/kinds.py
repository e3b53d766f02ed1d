"""The kinds of column the console knows, each defined once.

A kind says how a value is read from text (a file cell, a bulk edit, a grid cell) by
the shared rule in ``console.rules``, how it is written back as text and JSON, and what
a form field of that kind checks. Every path (forms, both import paths, export, bulk
edits, lookups) goes through these; a new kind is added here, and ``kind_of`` picks it
from a column's SQLAlchemy type.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Enum,
    Float,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
)

from console import rules

INT_RANGES = {
    "small": (-(2**15), 2**15 - 1),
    "int": (-(2**31), 2**31 - 1),
    "big": (-(2**63), 2**63 - 1),
}
# Spreadsheets run a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Kind:
    """How values of one kind of column are read from text and written back."""

    name: ClassVar[str] = "other"
    # Whether bulk edits may set it, the list filters by it, the search box reads it.
    bulk: ClassVar[bool] = False
    filters: ClassVar[bool] = False
    text_search: ClassVar[bool] = False

    def parse(self, raw: str | None, *, label: str) -> Any:
        """The value ``raw`` stands for, or RuleError; blank text means None."""
        raise rules.RuleError(f"{label} cannot be set from text.")

    def to_text(self, value: Any) -> str:
        """The value as a file cell (what ``parse`` reads back)."""
        if value is None:
            return ""
        if isinstance(value, enum.Enum):
            return str(value.value)
        return str(value)

    def to_json(self, value: Any) -> Any:
        """The value in JSON (JSON Lines export, audit entries)."""
        if value is None or isinstance(value, bool | int | float | str):
            return value
        if isinstance(value, enum.Enum):
            return value.value
        if isinstance(value, datetime | date):
            return value.isoformat()
        return str(value)

    def from_json(self, value: Any) -> Any:
        """The inverse of ``to_json``: the value as the ORM and the database take it."""
        return value

    def describe(self) -> str:
        """What a user should type, for help texts and errors."""
        return "text"


@dataclass(frozen=True)
class TextKind(Kind):
    """Text of at most ``max_length`` characters (None: no limit), trimmed."""

    max_length: int | None = None
    name: ClassVar[str] = "text"
    text_search: ClassVar[bool] = True

    def parse(self, raw: str | None, *, label: str) -> Any:
        text = rules.check_text(raw, label=label, max_length=self.max_length, required=False)
        return text or None

    def describe(self) -> str:
        return f"text of at most {self.max_length} characters" if self.max_length else "text"


@dataclass(frozen=True)
class EmailKind(TextKind):
    """An email address, checked and stored in its normalised form."""

    name: ClassVar[str] = "email"

    def parse(self, raw: str | None, *, label: str) -> Any:
        if not (raw or "").strip():
            return None
        return rules.check_email(raw)

    def describe(self) -> str:
        return "an email address"


@dataclass(frozen=True)
class IntegerKind(Kind):
    """A whole number in the range of the column's integer type."""

    size: str = "int"
    name: ClassVar[str] = "integer"
    bulk: ClassVar[bool] = True

    @property
    def bounds(self) -> tuple[int, int]:
        """The smallest and largest value the column holds."""
        return INT_RANGES[self.size]

    def parse(self, raw: str | None, *, label: str) -> Any:
        low, high = self.bounds
        return rules.parse_integer(raw, label=label, minimum=low, maximum=high)

    def describe(self) -> str:
        return "a whole number"


@dataclass(frozen=True)
class IdKind(IntegerKind):
    """A row's id or version: a whole number from 0 to the column type's largest."""

    name: ClassVar[str] = "id"
    bulk: ClassVar[bool] = False

    def parse(self, raw: str | None, *, label: str) -> Any:
        return rules.parse_whole_number(raw, label=label, maximum=self.bounds[1])


@dataclass(frozen=True)
class NumberKind(Kind):
    """A decimal number with the column's precision and scale."""

    precision: int | None = None
    scale: int | None = None
    name: ClassVar[str] = "number"
    bulk: ClassVar[bool] = True

    def parse(self, raw: str | None, *, label: str) -> Any:
        return rules.parse_decimal(raw, label=label, precision=self.precision, scale=self.scale)

    def to_text(self, value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, Decimal):
            return format(value, "f")
        return str(value)

    def to_json(self, value: Any) -> Any:
        # As text: a JSON number would lose a Decimal's exact digits in most readers.
        return None if value is None else self.to_text(value)

    def from_json(self, value: Any) -> Any:
        return None if value is None else Decimal(str(value))

    def describe(self) -> str:
        return "a number such as 12.50"


@dataclass(frozen=True)
class FloatKind(Kind):
    """A floating-point number."""

    name: ClassVar[str] = "float"
    bulk: ClassVar[bool] = True

    def parse(self, raw: str | None, *, label: str) -> Any:
        return rules.parse_float(raw, label=label)

    def to_text(self, value: Any) -> str:
        return "" if value is None else repr(float(value))

    def from_json(self, value: Any) -> Any:
        return None if value is None else float(value)

    def describe(self) -> str:
        return "a number"


@dataclass(frozen=True)
class BooleanKind(Kind):
    """true/false, yes/no, 1/0 (blank: false)."""

    name: ClassVar[str] = "boolean"
    bulk: ClassVar[bool] = True
    filters: ClassVar[bool] = True

    def parse(self, raw: str | None, *, label: str) -> Any:
        return rules.parse_bool(raw)

    def to_text(self, value: Any) -> str:
        if value is None:
            return ""
        return "true" if value else "false"

    def describe(self) -> str:
        return "true/false, yes/no or 1/0"


@dataclass(frozen=True)
class DateKind(Kind):
    """A date as YYYY-MM-DD."""

    name: ClassVar[str] = "date"
    bulk: ClassVar[bool] = True
    filters: ClassVar[bool] = True

    def parse(self, raw: str | None, *, label: str) -> Any:
        return rules.parse_date(raw)

    def to_text(self, value: Any) -> str:
        return "" if value is None else value.isoformat()

    def from_json(self, value: Any) -> Any:
        return None if value is None else date.fromisoformat(value)

    def describe(self) -> str:
        return "a date as YYYY-MM-DD"


@dataclass(frozen=True)
class DateTimeKind(Kind):
    """A date and time (ISO 8601); ``aware`` columns keep UTC times."""

    aware: bool = False
    name: ClassVar[str] = "datetime"
    bulk: ClassVar[bool] = True
    filters: ClassVar[bool] = True

    def parse(self, raw: str | None, *, label: str) -> Any:
        return rules.parse_datetime(raw, label=label, aware=self.aware)

    def to_text(self, value: Any) -> str:
        return "" if value is None else value.isoformat()

    def from_json(self, value: Any) -> Any:
        if value is None:
            return None
        moment = datetime.fromisoformat(value)
        # SQLite hands back naive times even for timezone-aware columns.
        return moment.replace(tzinfo=UTC) if self.aware and moment.tzinfo is None else moment

    def describe(self) -> str:
        return "a date and time as YYYY-MM-DD HH:MM"


@dataclass(frozen=True)
class ChoiceKind(Kind):
    """One of a fixed set of values (an Enum column), matched without regard to case.

    ``choices`` are what the database stores (an Enum's member names, or its values
    when the column says ``values_callable``); ``members`` the enum members they stand
    for, in the same order.
    """

    choices: tuple[str, ...] = ()
    members: tuple[Any, ...] = ()
    name: ClassVar[str] = "choice"
    bulk: ClassVar[bool] = True
    filters: ClassVar[bool] = True

    def parse(self, raw: str | None, *, label: str) -> Any:
        return rules.check_choice(raw, label=label, choices=self.choices)

    def python(self, value: str | None) -> Any:
        """The stored value as the ORM wants it (the enum member, when there is a class)."""
        if value is None or not self.members:
            return value
        return self.members[self.choices.index(value)]

    def stored(self, value: Any) -> Any:
        """What the database stores for ``value`` (an enum member or a stored string)."""
        if isinstance(value, enum.Enum) and value in self.members:
            return self.choices[self.members.index(value)]
        return value

    def to_text(self, value: Any) -> str:
        return "" if value is None else str(self.stored(value))

    def to_json(self, value: Any) -> Any:
        return None if value is None else self.stored(value)

    def from_json(self, value: Any) -> Any:
        return self.python(value)

    def describe(self) -> str:
        return "one of " + ", ".join(self.choices)


@dataclass(frozen=True)
class ReferenceKind(Kind):
    """A parent row, written in files as its natural key (a list's name, a person's email).

    ``key_kind`` reads that key; the importer resolves it to the parent's id.
    """

    key_kind: Kind = TextKind()
    name: ClassVar[str] = "reference"
    bulk: ClassVar[bool] = True
    filters: ClassVar[bool] = True

    def parse(self, raw: str | None, *, label: str) -> Any:
        return self.key_kind.parse(raw, label=label)

    def describe(self) -> str:
        return "the parent's " + self.key_kind.describe()


def enum_choices(column_type: Enum) -> tuple[str, ...]:
    """The values an Enum column stores, in declaration order."""
    return tuple(str(v) for v in column_type.enums)


def kind_of(column: Column[Any], *, email: bool = False) -> Kind:
    """The kind of a table column, from its SQLAlchemy type."""
    column_type = column.type
    if isinstance(column_type, Enum):
        members = tuple(column_type.enum_class) if column_type.enum_class is not None else ()
        return ChoiceKind(choices=enum_choices(column_type), members=members)
    if isinstance(column_type, Boolean):
        return BooleanKind()
    if isinstance(column_type, DateTime):
        return DateTimeKind(aware=bool(column_type.timezone))
    if isinstance(column_type, Date):
        return DateKind()
    if isinstance(column_type, SmallInteger):
        return IntegerKind(size="small")
    if isinstance(column_type, BigInteger):
        return IntegerKind(size="big")
    if isinstance(column_type, Integer):
        return IntegerKind(size="int")
    if isinstance(column_type, Float):
        return FloatKind()
    if isinstance(column_type, Numeric):
        return NumberKind(precision=column_type.precision, scale=column_type.scale)
    if isinstance(column_type, String | Text):
        length = getattr(column_type, "length", None)
        return EmailKind(max_length=length) if email else TextKind(max_length=length)
    return Kind()


def neutralise(text: str) -> str:
    """Prefix a quote to a cell a spreadsheet would run as a formula (or that starts with one)."""
    return "'" + text if text.startswith((*FORMULA_STARTS, "'")) else text


def unneutralise(text: str) -> str:
    """Undo ``neutralise``: strip the quote put before a formula character (or a quote)."""
    if len(text) > 1 and text[0] == "'" and text[1] in "=+-@\t\r'":
        return text[1:]
    return text


__all__ = [
    "BooleanKind",
    "ChoiceKind",
    "DateKind",
    "DateTimeKind",
    "EmailKind",
    "FloatKind",
    "IdKind",
    "IntegerKind",
    "Kind",
    "NumberKind",
    "ReferenceKind",
    "TextKind",
    "kind_of",
]
