"""The kinds of column the console knows, each defined once.

A kind says everything about its values in one class: how a value is read from text
(a file cell, a bulk edit, a grid cell) by the shared rule in ``console.rules``; how
the PostgreSQL import reads it with set-based SQL that says the same, value by value
(``sql_value``, ``sql_errors``); how it is written back as a file cell and as JSON,
by Python (``to_cell``, ``to_json``) and by the database for COPY (``sql_text``,
``sql_json``); and what a user should type. Every path (forms, both import paths,
export, bulk edits, lookups) goes through these.

A new kind is one new class here (and a line in ``kind_of``, which picks a kind from
a column's SQLAlchemy type). Its ``parse`` alone is enough for both import paths: a
kind without ``sql_value`` has the distinct values of each file column checked by
``parse`` itself while the file streams through the database (emails, date-times,
floating-point numbers and choices that SQL cannot match as Python does are checked
that way); ``sql_value`` and ``sql_errors`` are the set-based shortcut.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ColumnElement,
    Date,
    DateTime,
    Enum,
    Float,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    case,
    cast,
    func,
    literal,
)

from console import rules
from console.sqltext import Encoding, ascii_lower, lit, matches_like_python_lower, words
from console.sqltext import case as sql_case

INT_RANGES = {
    "small": (-(2**15), 2**15 - 1),
    "int": (-(2**31), 2**31 - 1),
    "big": (-(2**63), 2**63 - 1),
}
# Spreadsheets run a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A formula character after these still starts a formula in some spreadsheets ("  =1+1").
LEADING_BLANKS = " \t\r\n"
# What the database is told (SET LOCAL) before it writes cells with sql_text and sql_json.
EXPORT_SETTINGS = ("SET LOCAL DateStyle = 'ISO, YMD'",)
# The import's SQL of a whole number reads at most this many digits as bigint at once;
# longer text is compared as numeric first (bigint holds any 18 digits, not any 19).
_BIGINT_SAFE_DIGITS = 18


@dataclass(frozen=True)
class SqlCell:
    """One file column's cell in the PostgreSQL import's SQL, for a kind's checks.

    ``t``: the trimmed text ('' when blank); ``v``: the cleaned value (NULL where the
    rule refuses the text); ``raw``: the text as given, for messages; ``encoding``:
    what literals may hold in this database.
    """

    t: str
    v: str
    raw: str
    encoding: Encoding = field(default_factory=Encoding)

    @property
    def got(self) -> str:
        """SQL for the rules' `` (got {value!r}).``."""
        return self.encoding.got(self.raw)


@dataclass(frozen=True)
class Kind:
    """How values of one kind of column are read from text and written back."""

    name: ClassVar[str] = "other"
    # Whether bulk edits may set it, the list filters by it, the search box reads it.
    bulk: ClassVar[bool] = False
    filters: ClassVar[bool] = False
    text_search: ClassVar[bool] = False
    # Values are strings (messages quote them as Python's repr does).
    textual: ClassVar[bool] = False
    @property
    def sql_type(self) -> str:
        """The PostgreSQL type that ``sql_literal`` text is cast to."""
        return "text"

    def parse(self, raw: str | None, *, label: str) -> Any:
        """The value ``raw`` stands for, or RuleError; blank text means None."""
        raise rules.RuleError(f"{label} cannot be set from text.")

    def lookup_key(self, raw: str | None, *, label: str) -> Any:
        """What a reference to a row by a key of this kind looks the row up by."""
        return self.parse(raw, label=label)

    def to_text(self, value: Any) -> str:
        """The value as text (what ``parse`` reads back)."""
        if value is None:
            return ""
        if isinstance(value, enum.Enum):
            return str(value.value)
        return str(value)

    def neutralised(self) -> bool:
        """True when a file cell of this kind may start like a spreadsheet formula."""
        return False

    def to_cell(self, value: Any) -> str:
        """The value as a CSV cell: ``to_text``, with the formula quote where it needs one."""
        text = self.to_text(value)
        return neutralise(text) if self.neutralised() else text

    def to_json(self, value: Any) -> Any:
        """The value in JSON (JSON Lines export, audit entries, row tokens)."""
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

    def same(self, stored: Any, value: Any) -> bool:
        """True when the database's ``stored`` value already is ``value`` (a parsed one)."""
        return bool(stored == value)

    def python(self, value: Any) -> Any:
        """A parsed value as the ORM holds it (an enum member for a choice)."""
        return value

    def describe(self) -> str:
        """What a user should type, for help texts and errors."""
        return "text"

    # -- the PostgreSQL import ---------------------------------------------------------

    def sql_value(self, t: str) -> str | None:
        """SQL for ``parse``'s value of the trimmed, non-blank text ``t``; NULL where it refuses.

        None: there is no exact SQL for the rule, and the import checks each distinct
        text with ``parse`` in Python instead.
        """
        return None

    def sql_errors(self, cell: SqlCell, *, label: str) -> list[tuple[str, str]]:
        """(condition, message SQL) pairs: ``parse``'s errors on a non-blank cell."""
        return []

    def sql_literal(self, value: Any) -> str:
        """Text that PostgreSQL casts to ``sql_type`` as exactly ``value``."""
        return self.to_text(value)

    def sql_lookup_key(self, t: str) -> str | None:
        """SQL for ``lookup_key`` of the trimmed text ``t``; None when there is none."""
        return self.sql_value(t)

    def sql_lookup_errors(self, cell: SqlCell, *, label: str) -> list[tuple[str, str]]:
        """(condition, message SQL) pairs: ``lookup_key``'s errors (``cell.v`` is the key)."""
        return self.sql_errors(cell, label=label)

    # -- the export by COPY --------------------------------------------------------------

    def sql_text(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        """The database's rendering of ``column`` as ``to_cell`` writes it."""
        return cast(column, Text)

    def sql_json(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        """What ``row_to_json`` turns into the JSON that ``to_json`` writes."""
        return column


@dataclass(frozen=True)
class TextKind(Kind):
    """Text of at most ``max_length`` characters (None: no limit), trimmed."""

    max_length: int | None = None
    name: ClassVar[str] = "text"
    text_search: ClassVar[bool] = True
    textual: ClassVar[bool] = True

    def parse(self, raw: str | None, *, label: str) -> Any:
        text = rules.check_text(raw, label=label, max_length=self.max_length, required=False)
        return None if rules.is_blank(text) else text

    def lookup_key(self, raw: str | None, *, label: str) -> Any:
        # Looked up as typed: a name too long for the column simply matches nothing.
        return (raw or "").strip() or None

    def neutralised(self) -> bool:
        return True

    def describe(self) -> str:
        return f"text of at most {self.max_length} characters" if self.max_length else "text"

    def sql_value(self, t: str) -> str | None:
        return t

    def sql_errors(self, cell: SqlCell, *, label: str) -> list[tuple[str, str]]:
        if self.max_length is None:
            return []
        n = self.max_length
        # octet_length is read from the header: length() counts only for long values.
        return [(
            f"octet_length({cell.t}) > {n} AND length({cell.t}) > {n}",
            f"{lit(f'{label} must be at most {n} characters (got ')} || length({cell.t}) || ').'",
        )]

    def sql_lookup_key(self, t: str) -> str | None:
        return t

    def sql_lookup_errors(self, cell: SqlCell, *, label: str) -> list[tuple[str, str]]:
        return []

    def sql_text(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        # The same neutralising as ``neutralise``, done by the database.
        return case(
            (column.regexp_match(NEUTRALISED_PATTERN), literal("'") + column), else_=column
        )


@dataclass(frozen=True)
class EmailKind(TextKind):
    """An email address, checked and stored in its normalised form.

    No SQL can say what email-validator says: the import checks each distinct
    address with ``rules.check_email`` itself.
    """

    name: ClassVar[str] = "email"

    def parse(self, raw: str | None, *, label: str) -> Any:
        if not (raw or "").strip():
            return None
        email = rules.check_email(raw)
        if self.max_length is not None and len(email) > self.max_length:
            raise rules.RuleError(
                f"{label} must be at most {self.max_length} characters (got {len(email)})."
            )
        return email

    def lookup_key(self, raw: str | None, *, label: str) -> Any:
        return rules.normalise_email(raw) or None

    def staged(self, text: str, *, reference: bool) -> str | None:
        """The cell the PostgreSQL import stages for the (un-neutralised) ``text``.

        Emails are put in their normal form in Python as the file streams into COPY
        (no SQL says what ``normalise_email`` says): the SQL then compares and stores
        the normalised text. None: the rule refuses it (it is staged as it is, for its
        message).
        """
        if reference:
            return rules.normalise_email(text)
        try:
            return rules.check_email(text)
        except rules.RuleError:
            return None

    def describe(self) -> str:
        return "an email address"

    def sql_value(self, t: str) -> str | None:
        return None

    def sql_errors(self, cell: SqlCell, *, label: str) -> list[tuple[str, str]]:
        return []

    def sql_lookup_key(self, t: str) -> str | None:
        # Already normalised in Python before COPY (``staged``): never lower() in SQL.
        return t


@dataclass(frozen=True)
class IntegerKind(Kind):
    """A whole number in the range of the column's integer type."""

    size: str = "int"
    name: ClassVar[str] = "integer"
    bulk: ClassVar[bool] = True

    @property
    def sql_type(self) -> str:
        return "bigint"

    @property
    def bounds(self) -> tuple[int, int]:
        """The smallest and largest value the column holds."""
        return INT_RANGES[self.size]

    def parse(self, raw: str | None, *, label: str) -> Any:
        low, high = self.bounds
        return rules.parse_integer(raw, label=label, minimum=low, maximum=high)

    def describe(self) -> str:
        return "a whole number"

    def sql_value(self, t: str) -> str | None:
        # parse_integer: an optional sign, then 1 to 19 ASCII digits, within the bounds.
        low, high = self.bounds
        digits = f"CASE WHEN left({t}, 1) IN ('+', '-') THEN substr({t}, 2) ELSE {t} END"
        return (
            f"CASE WHEN octet_length({digits}) BETWEEN 1 AND 19 "
            f"AND ltrim({digits}, '0123456789') = '' THEN "
            f"CASE WHEN {t}::numeric BETWEEN {low} AND {high} THEN {t}::bigint END END"
        )

    def sql_errors(self, cell: SqlCell, *, label: str) -> list[tuple[str, str]]:
        low, high = self.bounds
        message = lit(f"{label} must be a whole number from {low} to {high}")
        return [(f"{cell.v} IS NULL", f"{message} || {cell.got}")]


@dataclass(frozen=True)
class IdKind(IntegerKind):
    """A row's id or version: a whole number from 0 to the column type's largest."""

    name: ClassVar[str] = "id"
    bulk: ClassVar[bool] = False

    def parse(self, raw: str | None, *, label: str) -> Any:
        return rules.parse_whole_number(raw, label=label, maximum=self.bounds[1])

    def sql_value(self, t: str) -> str | None:
        # parse_whole_number: ASCII digits (few enough to read), at most the maximum.
        maximum = self.bounds[1]
        if maximum < 10**_BIGINT_SAFE_DIGITS:
            return (
                f"CASE WHEN octet_length({t}) BETWEEN 1 AND {_BIGINT_SAFE_DIGITS} "
                f"AND ltrim({t}, '0123456789') = '' THEN "
                f"CASE WHEN {t}::bigint <= {maximum} THEN {t}::bigint END END"
            )
        return (
            f"CASE WHEN octet_length({t}) BETWEEN 1 AND {rules.WHOLE_NUMBER_DIGITS + 1} "
            f"AND ltrim({t}, '0123456789') = '' THEN "
            f"CASE WHEN {t}::numeric <= {maximum} THEN {t}::bigint END END"
        )

    def sql_errors(self, cell: SqlCell, *, label: str) -> list[tuple[str, str]]:
        message = lit(f"{label} must be a whole number from 0 to {self.bounds[1]}")
        return [(f"{cell.v} IS NULL", f"{message} || {cell.got}")]


@dataclass(frozen=True)
class NumberKind(Kind):
    """A decimal number with the column's precision and scale."""

    precision: int | None = None
    scale: int | None = None
    name: ClassVar[str] = "number"
    bulk: ClassVar[bool] = True

    @property
    def sql_type(self) -> str:
        return "numeric"

    @property
    def places(self) -> int | None:
        """Digits allowed after the point (NUMERIC(p) keeps none; NUMERIC any)."""
        if self.scale is None and self.precision is not None:
            return 0
        return self.scale

    def parse(self, raw: str | None, *, label: str) -> Any:
        return rules.parse_decimal(raw, label=label, precision=self.precision, scale=self.places)

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

    def _parts(self, t: str) -> tuple[str, str, str]:
        """SQL of (the format is right, whole digits, decimal places) as parse_decimal counts."""
        unsigned = f"ltrim({t}, '+-')"
        return (
            f"{t} ~ '^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)$'",
            f"length(ltrim(split_part({unsigned}, '.', 1), '0'))",
            f"length(rtrim(split_part({unsigned}, '.', 2), '0'))",
        )

    def sql_value(self, t: str) -> str | None:
        ok, whole, places = self._parts(t)
        limits = []
        if self.places is not None:
            limits.append(f"{places} <= {self.places}")
        if self.precision is not None:
            limits.append(f"{whole} <= {self.precision - (self.places or 0)}")
        return f"CASE WHEN {' AND '.join([ok, *limits])} THEN {t}::numeric END"

    def sql_errors(self, cell: SqlCell, *, label: str) -> list[tuple[str, str]]:
        ok, whole, places = self._parts(cell.t)
        message = lit(f"{label} must be a number such as 12.50")
        checks = [(f"NOT ({ok})", f"{message} || {cell.got}")]
        place_ok = "true"
        if self.places is not None:
            message = lit(f"{label} takes at most {self.places} decimal place(s)")
            checks.append((f"{ok} AND {places} > {self.places}", f"{message} || {cell.got}"))
            place_ok = f"{places} <= {self.places}"
        if self.precision is not None:
            before = self.precision - (self.places or 0)
            message = lit(f"{label} must have at most {before} digit(s) before the point")
            checks.append(
                (f"{ok} AND {place_ok} AND {whole} > {before}", f"{message} || {cell.got}")
            )
        return checks

    def sql_json(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        return cast(column, Text)


@dataclass(frozen=True)
class FloatKind(Kind):
    """A floating-point number.

    Checked by ``rules.parse_float`` itself on both import paths: PostgreSQL's float
    input refuses what Python rounds to zero or infinity.
    """

    name: ClassVar[str] = "float"
    bulk: ClassVar[bool] = True

    @property
    def sql_type(self) -> str:
        return "double precision"

    def parse(self, raw: str | None, *, label: str) -> Any:
        return rules.parse_float(raw, label=label)

    def to_text(self, value: Any) -> str:
        return "" if value is None else float_text(float(value))

    def from_json(self, value: Any) -> Any:
        return None if value is None else float(value)

    def describe(self) -> str:
        return "a number"


def float_text(number: float) -> str:
    """``number`` as PostgreSQL writes a double precision (shortest exact digits).

    Both export paths then write the same cell: Python's repr() digits, in
    PostgreSQL's layout (an exponent below 1e-4 and from 1e15 on, none for whole numbers).
    """
    if number != number:
        return "NaN"
    if number in (float("inf"), float("-inf")):
        return "Infinity" if number > 0 else "-Infinity"
    sign, digits, exponent = Decimal(repr(number)).as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits)).rstrip("0") or "0"
    exponent += len(digits) - len(text)
    point = len(text) + exponent  # digits before the point
    magnitude = point - 1
    minus = "-" if sign else ""
    if text == "0":
        return minus + "0"
    if magnitude < -4 or magnitude >= 15:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{minus}{mantissa}e{'+' if magnitude >= 0 else '-'}{abs(magnitude):02d}"
    if point <= 0:
        return f"{minus}0.{'0' * -point}{text}"
    if point >= len(text):
        return minus + text + "0" * (point - len(text))
    return f"{minus}{text[:point]}.{text[point:]}"


@dataclass(frozen=True)
class BooleanKind(Kind):
    """true/false, yes/no, 1/0 (blank: false)."""

    name: ClassVar[str] = "boolean"
    bulk: ClassVar[bool] = True
    filters: ClassVar[bool] = True

    @property
    def sql_type(self) -> str:
        return "boolean"

    def parse(self, raw: str | None, *, label: str) -> Any:
        return rules.parse_bool(raw)

    def to_text(self, value: Any) -> str:
        if value is None:
            return ""
        return "true" if value else "false"

    def describe(self) -> str:
        return "true/false, yes/no or 1/0"

    def sql_value(self, t: str) -> str | None:
        cases = [(w, "true") for w in sorted(rules.TRUE_WORDS)]
        cases += [(w, "false") for w in sorted(rules.FALSE_WORDS)]
        return sql_case(ascii_lower(t), cases)

    def sql_errors(self, cell: SqlCell, *, label: str) -> list[tuple[str, str]]:
        return [(f"{cell.v} IS NULL", f"{lit('Expected true/false, yes/no or 1/0')} || {cell.got}")]

    def sql_text(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        # NULL stays NULL (an empty cell), as to_text writes it.
        return case((column, literal("true")), (~column, literal("false")))


# Every "-MM-DD" of a leap year: with four digits before it, what rules.DATE_PATTERN and
# date.fromisoformat accept (29 February only in a leap year, checked apart).
MONTH_DAYS = tuple(
    f"-{month:02d}-{day:02d}"
    for month in range(1, 13)
    for day in range(1, (29 if month == 2 else 30 if month in (4, 6, 9, 11) else 31) + 1)
)


@dataclass(frozen=True)
class DateKind(Kind):
    """A date as YYYY-MM-DD."""

    name: ClassVar[str] = "date"
    bulk: ClassVar[bool] = True
    filters: ClassVar[bool] = True

    @property
    def sql_type(self) -> str:
        return "date"

    def parse(self, raw: str | None, *, label: str) -> Any:
        return rules.parse_date(raw)

    def to_text(self, value: Any) -> str:
        return "" if value is None else value.isoformat()

    def from_json(self, value: Any) -> Any:
        return None if value is None else date.fromisoformat(value)

    def describe(self) -> str:
        return "a date as YYYY-MM-DD"

    def sql_value(self, t: str) -> str | None:
        year = f"left({t}, 4)::int"
        leap = f"({year} % 4 = 0 AND {year} % 100 <> 0) OR {year} % 400 = 0"
        # Four ASCII digits (not 0000) and a real "-MM-DD" decide the format; the
        # year is read as a number only for 29 February. (No regular expression: one
        # per cell costs about as much as a whole column's COPY.)
        return (
            f"CASE WHEN substr({t}, 5) IN ({words(MONTH_DAYS)}) "
            f"AND ltrim(left({t}, 4), '0123456789') = '' AND {t} NOT LIKE '0000%' THEN "
            f"CASE WHEN {t} NOT LIKE '%-02-29' OR {leap} THEN {t}::date END END"
        )

    def sql_errors(self, cell: SqlCell, *, label: str) -> list[tuple[str, str]]:
        return [(f"{cell.v} IS NULL", f"{lit('Expected a date as YYYY-MM-DD')} || {cell.got}")]

    def sql_text(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        # YYYY-MM-DD under EXPORT_SETTINGS' DateStyle; to_char would cost a tenth of the
        # export of a million dates.
        return cast(column, Text)

    # sql_json: the date itself, which JSON writes as YYYY-MM-DD whatever the DateStyle.


@dataclass(frozen=True)
class DateTimeKind(Kind):
    """A date and time (ISO 8601); ``aware`` columns keep UTC times.

    Files carry ``YYYY-MM-DDTHH:MM:SS`` (``.ffffff`` when there are microseconds),
    with ``+00:00`` for aware columns, whatever the database's time zone. Checked by
    ``rules.parse_datetime`` itself on both import paths (ISO 8601 has more spellings
    than any SQL mirror would be worth).
    """

    aware: bool = False
    name: ClassVar[str] = "datetime"
    bulk: ClassVar[bool] = True
    filters: ClassVar[bool] = True

    @property
    def sql_type(self) -> str:
        return "timestamptz" if self.aware else "timestamp"

    def parse(self, raw: str | None, *, label: str) -> Any:
        return rules.parse_datetime(raw, label=label, aware=self.aware)

    def _utc(self, value: datetime) -> datetime:
        # SQLite hands back naive times even for timezone-aware columns: they are UTC.
        if not self.aware:
            return value
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def to_text(self, value: Any) -> str:
        return "" if value is None else self._utc(value).isoformat()

    def to_json(self, value: Any) -> Any:
        return None if value is None else self.to_text(value)

    def from_json(self, value: Any) -> Any:
        if value is None:
            return None
        return self._utc(datetime.fromisoformat(value))

    def same(self, stored: Any, value: Any) -> bool:
        if stored is None or value is None:
            return stored is value
        return bool(self._utc(stored) == self._utc(value))

    def describe(self) -> str:
        return "a date and time as YYYY-MM-DD HH:MM"

    def sql_text(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        moment = column.op("AT TIME ZONE")(literal("UTC")) if self.aware else column
        text = func.to_char(moment, literal('YYYY-MM-DD"T"HH24:MI:SS')) + case(
            (func.date_trunc(literal("second"), moment) != moment,
             func.to_char(moment, literal(".US"))),
            else_=literal(""),
        )
        return text + literal("+00:00") if self.aware else text

    def sql_json(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        return self.sql_text(column)


@dataclass(frozen=True)
class ChoiceKind(Kind):
    """One of a fixed set of values (an Enum column), matched without regard to case.

    ``choices`` are what the database stores (an Enum's member names, or its values
    when the column says ``values_callable``); ``members`` the enum members they stand
    for, in the same order. ``native_type`` names the PostgreSQL enum type of a native
    enum (the import casts values to it).
    """

    choices: tuple[str, ...] = ()
    members: tuple[Any, ...] = ()
    native_type: str | None = None
    name: ClassVar[str] = "choice"
    bulk: ClassVar[bool] = True
    filters: ClassVar[bool] = True
    textual: ClassVar[bool] = True

    @property
    def sql_type(self) -> str:
        return self.native_type or "text"

    def parse(self, raw: str | None, *, label: str) -> Any:
        return rules.check_choice(raw, label=label, choices=self.choices)

    def stored(self, value: Any) -> Any:
        """What the database stores for ``value`` (an enum member or a stored string)."""
        if isinstance(value, enum.Enum) and value in self.members:
            return self.choices[self.members.index(value)]
        return value

    def python(self, value: Any) -> Any:
        """The stored value as the ORM wants it (the enum member, when there is a class)."""
        if value is None or not self.members:
            return value
        return self.members[self.choices.index(value)]

    def to_text(self, value: Any) -> str:
        return "" if value is None else str(self.stored(value))

    def to_json(self, value: Any) -> Any:
        return None if value is None else self.stored(value)

    def from_json(self, value: Any) -> Any:
        return self.python(value)

    def same(self, stored: Any, value: Any) -> bool:
        return bool(self.stored(stored) == self.stored(value))

    def neutralised(self) -> bool:
        return any(needs_quote(c) for c in self.choices)

    def describe(self) -> str:
        return "one of " + ", ".join(self.choices)

    def sql_value(self, t: str) -> str | None:
        if not matches_like_python_lower(self.choices):
            return None  # checked by check_choice itself: SQL's lower() is not Python's
        value = sql_case(ascii_lower(t), [(c.lower(), lit(c)) for c in self.choices])
        return f"({value})::{self.native_type}" if self.native_type else value

    def sql_errors(self, cell: SqlCell, *, label: str) -> list[tuple[str, str]]:
        message = lit(f"{label} must be one of {', '.join(self.choices)}")
        return [(f"{cell.v} IS NULL", f"{message} || {cell.got}")]

    def sql_text(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        text = cast(column, Text)
        return TextKind().sql_text(text) if self.neutralised() else text

    # sql_json: the column itself (JSON writes an enum as its label, a string).


@dataclass(frozen=True)
class ReferenceKind(Kind):
    """A parent row, written in files as its natural key (a list's name, a person's email).

    ``key_kind`` reads and writes that key; the import resolves it to the parent's
    row. The column's own value (what tokens and audit entries hold) is the
    foreign key as stored.
    """

    key_kind: Kind = TextKind()
    name: ClassVar[str] = "reference"
    bulk: ClassVar[bool] = True
    filters: ClassVar[bool] = True

    def parse(self, raw: str | None, *, label: str) -> Any:
        return self.key_kind.lookup_key(raw, label=label)

    def describe(self) -> str:
        return "the parent's " + self.key_kind.describe()


def enum_choices(column_type: Enum) -> tuple[str, ...]:
    """The values an Enum column stores, in declaration order."""
    return tuple(str(v) for v in column_type.enums)


def kind_of(column: Column[Any], *, email: bool = False) -> Kind:
    """The kind of a table column, from its SQLAlchemy type."""
    column_type = column.type
    if isinstance(column_type, Enum):
        native = None
        if column_type.native_enum and column_type.name:
            native = '"' + column_type.name.replace('"', '""') + '"'
            if column_type.schema:
                native = '"' + column_type.schema.replace('"', '""') + '".' + native
        members = tuple(column_type.enum_class) if column_type.enum_class is not None else ()
        return ChoiceKind(choices=enum_choices(column_type), members=members, native_type=native)
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


# ``needs_quote`` as a PostgreSQL regular expression (for the export by COPY).
NEUTRALISED_PATTERN = "^([\t\r']|[ \t\r\n]*[-=+@])"


def needs_quote(text: str) -> bool:
    """True when ``text`` gets the formula quote in files.

    It does when it starts with a tab, a CR or a quote, or when, after any leading
    blanks (spaces, tabs, CR, LF), it starts with = + - or @.
    """
    if not text:
        return False
    if text[0] in "\t\r'":
        return True
    return text.lstrip(LEADING_BLANKS)[:1] in ("=", "+", "-", "@")


def neutralise(text: str) -> str:
    """Prefix a quote to a cell a spreadsheet would run as a formula (or that starts with one)."""
    return "'" + text if needs_quote(text) else text


def unneutralise(text: str) -> str:
    """Undo ``neutralise``: strip the quote put before a text that ``needs_quote``."""
    if len(text) > 1 and text[0] == "'" and needs_quote(text[1:]):
        return text[1:]
    return text


__all__ = [
    "EXPORT_SETTINGS",
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
    "SqlCell",
    "TextKind",
    "float_text",
    "kind_of",
    "needs_quote",
    "neutralise",
    "unneutralise",
]
