"""Domain rules, defined once and shared by the forms, the import engine and the CLI.

Each ``check_*`` function takes a raw value and returns the cleaned value or raises
``RuleError`` with a message fit to show next to the field.
"""

from __future__ import annotations

import enum
import re
from datetime import date

from email_validator import EmailNotValidError, validate_email

NAME_MAX = 120
# Strictly YYYY-MM-DD: ``date.fromisoformat`` alone also takes 20240131 and week dates,
# which the import's SQL fast path (and most people) would not read as dates.
DATE_PATTERN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
DESCRIPTION_MAX = 500
EMAIL_MAX = 254

TRUE_WORDS = frozenset({"true", "yes", "1", "y", "t", "on"})
FALSE_WORDS = frozenset({"false", "no", "0", "n", "f", "off", ""})


class RuleError(ValueError):
    """A value broke a domain rule; the message is for the user."""


class Priority(enum.StrEnum):
    """A to-do's priority."""

    low = "low"
    normal = "normal"
    high = "high"


class Role(enum.StrEnum):
    """A console account's role; each includes the rights of those before it."""

    viewer = "viewer"
    editor = "editor"
    admin = "admin"

    @property
    def rank(self) -> int:
        """Position in the viewer < editor < admin order."""
        return _ROLE_RANKS[self]

    def includes(self, other: Role) -> bool:
        """True when this role has every right of ``other``."""
        return self.rank >= other.rank


# Worked out once: pages check roles dozens of times per request.
_ROLE_RANKS = {role: index for index, role in enumerate(Role)}


def check_text(value: str | None, *, label: str, max_length: int, required: bool = True) -> str:
    """Strip surrounding blanks and enforce presence and length."""
    text = (value or "").strip()
    if required and not text:
        raise RuleError(f"{label} is required.")
    if len(text) > max_length:
        raise RuleError(f"{label} must be at most {max_length} characters (got {len(text)}).")
    return text


def check_name(value: str | None) -> str:
    """A person's or a list's name: required, 1-120 characters."""
    return check_text(value, label="Name", max_length=NAME_MAX)


def check_description(value: str | None) -> str:
    """A to-do's description: required, 1-500 characters."""
    return check_text(value, label="Description", max_length=DESCRIPTION_MAX)


def normalise_email(value: str | None) -> str:
    """Lower-case and strip an email address without validating it."""
    return (value or "").strip().lower()


def check_email(value: str | None) -> str:
    """A valid email address, stored lower-case."""
    email = normalise_email(value)
    if not email:
        raise RuleError("Email is required.")
    if len(email) > EMAIL_MAX:
        raise RuleError(f"Email must be at most {EMAIL_MAX} characters.")
    try:
        # No DNS lookups: the console must work on an air-gapped network.
        validate_email(email, check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise RuleError(f"Not a valid email address: {exc}") from None
    return email


def check_priority(value: str | None) -> Priority:
    """One of low, normal, high (blank means normal)."""
    text = (value or "").strip().lower()
    if not text:
        return Priority.normal
    try:
        return Priority(text)
    except ValueError:
        choices = ", ".join(p.value for p in Priority)
        raise RuleError(f"Priority must be one of {choices} (got {value!r}).") from None


def parse_bool(value: str | None) -> bool:
    """true/false, yes/no, 1/0 (any case); blank is false."""
    text = (value or "").strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise RuleError(f"Expected true/false, yes/no or 1/0 (got {value!r}).")


def parse_date(value: str | None) -> date | None:
    """An ISO date (YYYY-MM-DD); blank means none."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        if not DATE_PATTERN.fullmatch(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise RuleError(f"Expected a date as YYYY-MM-DD (got {value!r}).") from None


# Ids and row versions are 32-bit integer columns on every database.
WHOLE_NUMBER_MAX = 2**31 - 1
# Longer text is refused before it is read as a number (18 digits fit in 64 bits).
WHOLE_NUMBER_DIGITS = 18


def parse_whole_number(value: str | None, *, label: str) -> int | None:
    """A whole number from 0 to WHOLE_NUMBER_MAX (an id or a row version); blank means none."""
    text = (value or "").strip()
    if not text:
        return None
    number = (
        int(text)
        if text.isascii() and text.isdigit() and len(text) <= WHOLE_NUMBER_DIGITS
        else None
    )
    if number is None or number > WHOLE_NUMBER_MAX:
        raise RuleError(
            f"{label} must be a whole number from 0 to {WHOLE_NUMBER_MAX} (got {value!r})."
        )
    return number


def check_password(value: str | None) -> str:
    """An account password: at least 8 characters."""
    if not value or len(value) < 8:
        raise RuleError("Password must be at least 8 characters.")
    if len(value) > 1024:
        raise RuleError("Password must be at most 1024 characters.")
    return value
