"""Each kind's SQL says what its Python says, value by value (PostgreSQL).

The PostgreSQL import reads cells with ``Kind.sql_value``/``sql_errors`` and the COPY
export writes them with ``sql_text``/``sql_json``; the Python path uses ``parse``,
``to_cell`` and ``to_json``. These tests run both on the same values, edge cases
included, and compare what they give. (Kinds without exact SQL, such as emails and
date-times, are read by ``parse`` on both paths.)
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from console import kinds, rules
from console.bulk.pg_import import trimmed_sql
from console.kinds import Kind, SqlCell
from console.sqltext import Encoding, lit
from tests.conftest import require_pg


@pytest.fixture
def pg(request: pytest.FixtureRequest) -> Iterator[sa.Connection]:
    """A connection to the run's PostgreSQL database, rolled back at the end."""
    require_pg()
    url, _tables = request.getfixturevalue("pg_database")
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        transaction = conn.begin()
        yield conn
        transaction.rollback()
    engine.dispose()


NUMBERS = [
    "0", "7", "-7", "+7", "007", "1.", ".5", "+.5", "-.5", ".", "-", "+", "1.50", "12.345",
    "1e3", "1E3", "1_000", "NaN", "inf", "Infinity", "0x10", "1,5", "12 3",
    "\u0661\u0662", "\uff11\uff12",
    "99999", "100000", "123456.7", "0.000", "-0", "--1", "+-1", "1.2.3", "  42  ", "\u00a042",
    "9223372036854775807", "9223372036854775808", "-9223372036854775808",
    "-9223372036854775809", "32767", "32768", "-32768", "-32769", "2147483647", "2147483648",
    "99999999999999999999", "0000000000000000000001",
]
WORDS = [
    "true", "TRUE", "Yes", "y", "t", "on", "1", "false", "No", "n", "f", "off", "0", "maybe",
    "2", "tru", "\uff34\uff32\uff35\uff25", "\u212a", "low", "LOW", "High ", "normal", "urgent",
    "to do", "To Do", "doing", "it's", 'say "hi"', "back\\slash", "tab\tinside", "x" * 9,
]
DATES = [
    "2024-02-29", "2023-02-29", "1900-02-29", "2000-02-29", "0000-01-01", "0001-01-01",
    "9999-12-31", "2024-13-01", "2024-04-31", "2024-1-01", "20240101", "2024-01-01x",
    "+024-01-01", "\uff12\uff10\uff12\uff14-01-01", "2024-1 -01", "2024-W01-1", "24-01-01",
]


class Colour(enum.Enum):
    red = "Red"
    green = "green"


KINDS: list[tuple[str, Kind, list[str]]] = [
    ("small integer", kinds.IntegerKind(size="small"), NUMBERS),
    ("integer", kinds.IntegerKind(size="int"), NUMBERS),
    ("big integer", kinds.IntegerKind(size="big"), NUMBERS),
    ("id", kinds.IdKind(size="int"), NUMBERS),
    ("big id", kinds.IdKind(size="big"), NUMBERS),
    ("numeric(6, 1)", kinds.NumberKind(precision=6, scale=1), NUMBERS),
    ("numeric(12, 2)", kinds.NumberKind(precision=12, scale=2), NUMBERS),
    ("numeric(5)", kinds.NumberKind(precision=5), NUMBERS),
    ("numeric", kinds.NumberKind(), NUMBERS),
    ("numeric(2, 2)", kinds.NumberKind(precision=2, scale=2), [*NUMBERS, "0.99", "1.0"]),
    ("boolean", kinds.BooleanKind(), WORDS),
    ("choice", kinds.ChoiceKind(choices=("low", "normal", "high")), WORDS),
    ("choice with a space", kinds.ChoiceKind(choices=("to do", "doing", "done")), WORDS),
    ("date", kinds.DateKind(), DATES),
    ("text(8)", kinds.TextKind(max_length=8), [*WORDS, "\u00e9" * 8, "\u00e9" * 9, "🙂" * 9]),
]


def sql_verdicts(pg: sa.Connection, kind: Kind, cells: list[str]) -> list[tuple[Any, list[str]]]:
    """(value, messages) of each cell by the kind's SQL, trimmed as the import trims."""
    encoding = Encoding.of(pg.exec_driver_sql("SHOW server_encoding").scalar() or "UTF8")
    t, v, r = '"t"', '"v"', '"r"'
    value = kind.sql_value(t)
    assert value is not None
    checks = kind.sql_errors(SqlCell(t, v, f"coalesce({r}, {t})", encoding), label="Cell")
    messages = ", ".join(f"CASE WHEN {c} THEN {m} END" for c, m in checks) or "NULL"
    trimmed = trimmed_sql("raw", encoding.whitespace)
    # The cells as literals: the kinds' SQL holds % signs (LIKE), no place for parameters.
    given = "ARRAY[" + ", ".join(lit(c) for c in cells) + "]::text[]"
    sql = (
        f"SELECT {v}, array_remove(ARRAY[{messages}]::text[], NULL) FROM ("
        f"SELECT n, t, r, {value} AS v FROM (SELECT n, {trimmed} AS t, "
        f"NULLIF(raw, {trimmed}) AS r FROM unnest({given}) WITH ORDINALITY "
        "AS c(raw, n)) s) c ORDER BY n"
    )
    rows = pg.exec_driver_sql(sql.replace("%", "%%")).all()
    # A refused cell's value is never used (the row is not written).
    return [(None if row[1] else row[0], row[1]) for row in rows]


def python_verdicts(kind: Kind, cells: list[str]) -> list[tuple[Any, list[str]]]:
    out: list[tuple[Any, list[str]]] = []
    for cell in cells:
        try:
            out.append((kind.parse(cell, label="Cell"), []))
        except rules.RuleError as exc:
            out.append((None, [str(exc)]))
    return out


@pytest.mark.parametrize(("name", "kind", "cells"), KINDS, ids=[k[0] for k in KINDS])
def test_the_sql_reads_each_cell_as_the_rule_does(
    pg: sa.Connection, name: str, kind: Kind, cells: list[str]
) -> None:
    """The same value, or the same message, for every cell (blank cells are the format's)."""
    cells = [c for c in cells if c.strip()]
    got = sql_verdicts(pg, kind, cells)
    expected = python_verdicts(kind, cells)
    differ = [
        (cell, sql, python) for cell, sql, python in zip(cells, got, expected, strict=True)
        if sql != python
    ]
    assert differ == []
    assert any(messages for _value, messages in expected)  # the cases include refusals
    assert any(not messages for _value, messages in expected)  # and acceptances


def test_choices_sql_cannot_lower_as_python_does_are_checked_by_python() -> None:
    """Non-ASCII choices, or any with a "k" (the Kelvin sign lowers to it), have no SQL."""
    assert kinds.ChoiceKind(choices=("Café", "Thé")).sql_value("t") is None
    assert kinds.ChoiceKind(choices=("backlog",)).sql_value("t") is None
    assert kinds.ChoiceKind(choices=("backlog",)).parse("bac\u212alog", label="x") == "backlog"
    for kind in (kinds.EmailKind(), kinds.FloatKind(), kinds.DateTimeKind(aware=True)):
        assert kind.sql_value("t") is None


AWKWARD = [
    "plain", "it's", 'say "hi"', "both ' and \"", "back\\slash", "tab\there", "new\nline",
    "cr\rhere", "\x01\x7f", "\u00a0nbsp\u3000", "\u2028", "naïve café", "🙂", "",
]


def test_the_sql_quotes_values_as_pythons_repr(pg: sa.Connection) -> None:
    """Messages quote the cell given as Python's repr() does, in both paths."""
    encoding = Encoding()
    rows = pg.exec_driver_sql(
        f"SELECT {encoding.repr('x')} FROM unnest(%(values)s::text[]) WITH ORDINALITY "
        "AS v(x, n) ORDER BY n",
        {"values": AWKWARD},
    ).scalars().all()
    assert rows == [repr(text) for text in AWKWARD]


# -- writing: the COPY export's SQL against Python ------------------------------------------

WRITTEN: list[tuple[str, Any, Kind, list[Any]]] = [
    ("numeric(12, 2)", sa.Numeric(12, 2), kinds.NumberKind(precision=12, scale=2),
     [Decimal("0"), Decimal("-1.5"), Decimal("1234567890.12"), Decimal("0.05"), None]),
    ("numeric", sa.Numeric(), kinds.NumberKind(),
     [Decimal("1.500"), Decimal("123456789012345678901234567890.5"), Decimal("1E-10")]),
    ("double precision", sa.Float(), kinds.FloatKind(),
     [0.1, 2.0, -0.0, 1e15, 1e14, 123456789012345.0, 1234567890123456.0, 1e-4, 1e-5, 1.5e300,
      5e-324, 1 / 3, -2.5e-7, 100.0, 1e16, None]),
    ("integer", sa.Integer(), kinds.IntegerKind(), [0, -2147483648, 2147483647, None]),
    ("big integer", sa.BigInteger(), kinds.IntegerKind(size="big"), [-(2**63), 2**63 - 1]),
    ("boolean", sa.Boolean(), kinds.BooleanKind(), [True, False, None]),
    ("date", sa.Date(), kinds.DateKind(), [date(1, 1, 1), date(999, 12, 31), date(2024, 2, 29)]),
    ("aware", sa.DateTime(timezone=True), kinds.DateTimeKind(aware=True),
     [datetime(2026, 1, 31, 14, 30, tzinfo=UTC),
      datetime(2026, 1, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-5))),
      datetime(1, 1, 1, 0, 0, 0, 1, tzinfo=UTC), None]),
    ("naive", sa.DateTime(), kinds.DateTimeKind(aware=False),
     [datetime(2026, 1, 31, 14, 30), datetime(2026, 1, 31, 14, 30, 0, 120)]),
    ("text", sa.String(40), kinds.TextKind(max_length=40),
     ["=1+1", "+33", "-x", "@me", "\ttab", "'quoted", "plain", "", None,
      # A formula character after leading blanks is quoted too; blanks alone are not.
      "  =1+1", "\t=1+1", " -x", "\n\n@me", " \r+1", " plain", "  ", "'", "' =q"]),
    ("native enum", sa.Enum(Colour, name="bulk_test_colour"),
     kinds.kind_of(sa.Column("c", sa.Enum(Colour, name="bulk_test_colour"))),
     [Colour.red, Colour.green, None]),
    ("choice starting like a formula", sa.String(10), kinds.ChoiceKind(choices=("-", "=x", "ok")),
     ["-", "=x", "ok"]),
]


@pytest.mark.parametrize(("name", "sql_type", "kind", "values"), WRITTEN,
                         ids=[w[0] for w in WRITTEN])
def test_the_sql_writes_each_value_as_python_does(
    pg: sa.Connection, name: str, sql_type: Any, kind: Kind, values: list[Any]
) -> None:
    """CSV cells byte for byte, JSON values equal, for every value (NULL included)."""
    metadata = sa.MetaData()
    table = sa.Table("bulk_kind_values", metadata, sa.Column("n", sa.Integer, primary_key=True),
                     sa.Column("x", sql_type), prefixes=["TEMPORARY"])
    metadata.create_all(pg)
    pg.execute(table.insert(), [{"n": i, "x": v} for i, v in enumerate(values)])
    # The export sets these; another DateStyle must not leak into them.
    pg.exec_driver_sql("SET LOCAL DateStyle = 'SQL, DMY'")
    for setting in kinds.EXPORT_SETTINGS:
        pg.exec_driver_sql(setting)
    x = table.c.x
    rows = pg.execute(
        sa.select(x, kind.sql_text(x), sa.cast(sa.func.to_json(kind.sql_json(x)), sa.Text))
        .order_by(table.c.n)
    ).all()
    python_cells = [kind.to_cell(value) for value, _text, _json in rows]
    sql_cells = [text or "" for _value, text, _json in rows]
    assert sql_cells == python_cells
    python_json = [kind.to_json(value) for value, _text, _json in rows]
    sql_json = [None if j is None else json.loads(j) for _value, _text, j in rows]
    assert sql_json == python_json
    # And what is written reads back as the value (numbers: their exact digits).
    for value, text, _json in rows:
        if value is not None and not kind.textual:
            assert kind.same(value, kind.parse(text, label="x")), (value, text)


def test_blank_of_the_staged_text_is_what_python_strips() -> None:
    """The kinds' SQL sees the trimmed text: the same characters as str.strip()."""
    assert lit("it's") == "'it''s'"
    assert kinds.float_text(1e15) == "1e+15" and kinds.float_text(2.0) == "2"
