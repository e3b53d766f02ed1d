"""SQL text shared by the kinds and the PostgreSQL import: quoting, and Python mirrored.

The PostgreSQL import runs each kind's rule as set-based SQL (``console.kinds``);
the pieces here make that SQL say what Python says: its ``str.strip()`` (every
character ``isspace()`` is true for) and its ``repr()`` of a string, which the
rules' messages quote (``(got 'maybe')``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# Python's str.strip() removes every character for which isspace() is true, not only
# ASCII blanks; the SQL trims the same set (a test checks that it is the whole set).
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
# Characters repr() writes as an escape: the ASCII controls, and the whitespace above
# that is not printable (all of it but the space). repr() escapes other unprintable
# characters too (unassigned code points, format characters): messages quoting those
# may differ between the two import paths; nothing else does.
# (PostgreSQL text cannot hold NUL at all.)
_REPR_ESCAPED = sorted({chr(c) for c in (*range(1, 32), 127)} | (set(WHITESPACE) - {" "}))


def q(name: str) -> str:
    """Quote an identifier (names come from the catalogue, never from a file)."""
    return '"' + name.replace('"', '""') + '"'


def lit(text: str) -> str:
    """A SQL string literal for a constant of our own code."""
    return "'" + text.replace("'", "''") + "'"


def words(values: Iterable[str]) -> str:
    """A SQL list of string literals."""
    return ", ".join(lit(v) for v in sorted(values))


def ascii_lower(t: str) -> str:
    """``lower()`` of ASCII letters only: enough to match words of ASCII letters.

    The only character outside ASCII that Python's lower() turns into ASCII is the
    Kelvin sign (to "k"; a test checks), so for words without a "k" the verdict is
    Python's, without the locale-aware lower() of the database.
    """
    return f'lower({t} COLLATE "C")'


def matches_like_python_lower(words_: Iterable[str]) -> bool:
    """True when ``ascii_lower`` matches ``words_`` exactly as Python's ``lower()`` would."""
    return all(w.isascii() and "k" not in w.lower() for w in words_)


def case(subject: str, cases: list[tuple[str, str]]) -> str:
    """``CASE subject WHEN ... END``: the subject is computed once, whatever the cases."""
    whens = " ".join(f"WHEN {lit(word)} THEN {value}" for word, value in cases)
    return f"CASE {subject} {whens} END"


@dataclass(frozen=True)
class Encoding:
    """What the database's encoding lets a literal hold (SQL_ASCII, LATIN1... or UTF8)."""

    unicode: bool = True

    @classmethod
    def of(cls, server_encoding: str) -> Encoding:
        """The encoding PostgreSQL reports (``server_encoding``)."""
        return cls(unicode=server_encoding == "UTF8")

    def chars(self, chars: Iterable[str]) -> list[str]:
        """``chars`` a literal may name here (the ASCII ones, where the database is not UTF-8)."""
        return [c for c in chars if self.unicode or c < "\x80"]

    @property
    def whitespace(self) -> str:
        """The SQL literal of WHITESPACE (its ASCII part where the database is not UTF-8).

        A database in another encoding cannot hold most of those characters, and a
        literal naming them would make every statement that uses it fail.
        """
        return "E'" + "".join(f"\\u{ord(c):04x}" for c in self.chars(WHITESPACE)) + "'"

    def repr(self, text: str) -> str:
        """SQL for Python's ``repr()`` of the string ``text`` (an SQL expression).

        repr() picks double quotes when the text holds a single quote and no double
        one, and escapes backslashes, its quote and unprintable characters.
        """
        escaped = f"replace({text}, E'\\\\', E'\\\\\\\\')"
        for char in self.chars(_REPR_ESCAPED):
            escaped = f"replace({escaped}, E'\\u{ord(char):04x}', {lit(_escape(char))})"
        double = f"strpos({text}, '''') > 0 AND strpos({text}, '\"') = 0"
        return (
            f"CASE WHEN {double} THEN '\"' || {escaped} || '\"' "
            f"ELSE '''' || replace({escaped}, '''', E'\\\\''') || '''' END"
        )

    def got(self, raw: str) -> str:
        """SQL for the rules' `` (got {value!r}).`` of the cell ``raw``."""
        return f"' (got ' || {self.repr(raw)} || ').'"


def _escape(char: str) -> str:
    """How repr() writes an unprintable character."""
    return repr(char)[1:-1]


__all__ = [
    "WHITESPACE",
    "Encoding",
    "ascii_lower",
    "case",
    "lit",
    "matches_like_python_lower",
    "q",
    "words",
]
