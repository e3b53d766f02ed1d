"""List filters: Flask-Admin's, with choice filters that read what their own menu offers.

Flask-Admin's enum filters offer the column's stored values in their menu but look
the submitted text up by member *name*, so an Enum whose values differ from its names
(``todo = "to do"``) fails with a server error, and so does any unknown value in the
URL. These take a value or a name, in any case, and refuse anything else as an
invalid filter value (a message, not an error).
"""

from __future__ import annotations

from typing import Any

from flask_admin.contrib.sqla import filters as sqla_filters


def choice_of(column: Any, text: Any) -> Any:
    """The stored value ``text`` names (a value or a member name, any case); ValueError if none.

    The stored value, not the enum member: SQLAlchemy's Enum type takes either, and a
    plain string also survives code that hands parameters to the driver unprocessed
    (the planner's row estimate).
    """
    if not isinstance(text, str) or "\x00" in text:
        raise ValueError(text)
    wanted = text.strip().lower()
    enum_class = getattr(column.type, "enum_class", None)
    if enum_class is not None:
        for member in enum_class:
            if wanted in (str(member.value).lower(), member.name.lower()):
                return str(member.value)
        raise ValueError(text)
    for value in column.type.enums:
        if str(value).lower() == wanted:
            return value
    raise ValueError(text)


class ChoiceEqual(sqla_filters.FilterEqual):
    """Equals one of the choices."""

    def clean(self, value: Any) -> Any:
        return choice_of(self.column, value)


class ChoiceNotEqual(sqla_filters.FilterNotEqual):
    """Is not one of the choices (rows without a value included)."""

    def clean(self, value: Any) -> Any:
        return choice_of(self.column, value)


class ChoiceInList(sqla_filters.FilterInList):
    """Is any of several choices (comma-separated)."""

    def clean(self, value: Any) -> Any:
        return [choice_of(self.column, v) for v in super().clean(value)]


class ChoiceNotInList(sqla_filters.FilterNotInList):
    """Is none of several choices."""

    def clean(self, value: Any) -> Any:
        return [choice_of(self.column, v) for v in super().clean(value)]


class ConsoleFilterConverter(sqla_filters.FilterConverter):
    """Flask-Admin's filter converter with the choice filters above."""

    enum = (ChoiceEqual, ChoiceNotEqual, sqla_filters.FilterEmpty, ChoiceInList, ChoiceNotInList)


__all__ = ["ConsoleFilterConverter", "choice_of"]
