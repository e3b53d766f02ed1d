"""Domain rules, defined once and shared by the forms, the import engine and the CLI.

Each ``check_*`` function takes a raw value and returns the cleaned value or raises
``RuleError`` with a message fit to show next to the field.
"""

from __future__ import annotations

import contextlib
import enum
import re
import unicodedata
from datetime import UTC, date, datetime
from decimal import Decimal

from email_validator import EmailNotValidError, validate_email

# Strictly YYYY-MM-DD: ``date.fromisoformat`` alone also takes 20240131 and week dates,
# which the import's SQL fast path (and most people) would not read as dates.
DATE_PATTERN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
EMAIL_MAX = 254

TRUE_WORDS = frozenset({"true", "yes", "1", "y", "t", "on"})
FALSE_WORDS = frozenset({"false", "no", "0", "n", "f", "off", ""})


class RuleError(ValueError):
    """A value broke a domain rule; the message is for the user."""


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


# Characters that show nothing: format characters (category Cf: zero-width spaces and
# joiners, U+FEFF, U+2060, the soft hyphen...) and the whitespace ``str.strip`` removes.
# Text made only of these is blank. The PostgreSQL import says the same in SQL
# (``console.sqltext.INVISIBLE``; a test checks that both are the whole set).
INVISIBLE_CATEGORIES = frozenset({"Cf"})


def is_blank(value: str | None) -> bool:
    """True when ``value`` holds nothing visible: only whitespace and format characters."""
    return all(c.isspace() or unicodedata.category(c) in INVISIBLE_CATEGORIES for c in value or "")


def check_text(
    value: str | None, *, label: str, max_length: int | None, required: bool = True
) -> str:
    """Strip surrounding blanks and enforce presence and length (None: no limit).

    Text of only invisible characters (``is_blank``) counts as missing.
    """
    text = (value or "").strip()
    if required and is_blank(text):
        raise RuleError(f"{label} is required.")
    if max_length is not None and len(text) > max_length:
        raise RuleError(f"{label} must be at most {max_length} characters (got {len(text)}).")
    return text


def test_domains_allowed() -> bool:
    """``CONSOLE_EMAIL_TEST_DOMAINS`` of the running app (False outside one)."""
    from flask import current_app, has_app_context

    return has_app_context() and bool(current_app.config.get("CONSOLE_EMAIL_TEST_DOMAINS"))


def _email_case(text: str) -> str:
    # One case rule, Python's lower() then NFC, applied by Python on every path (never
    # by SQL: PostgreSQL's lower() differs for the Greek final sigma, dotted I...).
    return unicodedata.normalize("NFC", text.lower())


def normalise_email(value: str | None) -> str:
    """The one normal form of an email address, without refusing anything.

    email-validator's normalised form (NFC, the domain in Unicode, IDNA decoded:
    ``xn--bcher-kva.de`` and ``bücher.de`` are the same), lower-cased by
    ``_email_case``. Text that is no valid address is only stripped, put in NFC and
    lower-cased (so a lookup by it finds nothing rather than failing).
    """
    text = (value or "").strip()
    if not text:
        return ""
    with contextlib.suppress(EmailNotValidError, ValueError, UnicodeError):
        text = validate_email(
            text, check_deliverability=False, test_environment=test_domains_allowed()
        ).normalized
    return _email_case(text)


def search_text(value: str) -> str:
    """Search text as typed into a lookup: NFC, and an email's case rule where it has an @.

    Stored emails are NFC and lower-cased by ``_email_case``: a query written the
    same way matches them by the same bytes on every database (no SQL lower()).
    """
    text = unicodedata.normalize("NFC", value)
    return normalise_email(text) if "@" in text else text


def check_email(value: str | None) -> str:
    """A valid email address, in its normal form (``normalise_email``).

    Special-use domains (``example.test``, ``localhost``) only where the app's
    ``CONSOLE_EMAIL_TEST_DOMAINS`` allows them.
    """
    text = (value or "").strip()
    if not text:
        raise RuleError("Email is required.")
    if len(text) > EMAIL_MAX:
        raise RuleError(f"Email must be at most {EMAIL_MAX} characters.")
    try:
        # No DNS lookups: the console must work on an air-gapped network.
        valid = validate_email(
            text, check_deliverability=False, test_environment=test_domains_allowed()
        )
    except EmailNotValidError as exc:
        raise RuleError(f"Not a valid email address: {exc}") from None
    email = _email_case(valid.normalized)
    if len(email) > EMAIL_MAX:
        raise RuleError(f"Email must be at most {EMAIL_MAX} characters.")
    return email


def check_choice(
    value: str | None, *, label: str, choices: tuple[str, ...], default: str | None = None
) -> str | None:
    """One of ``choices`` (any case); blank means ``default``."""
    text = (value or "").strip().lower()
    if not text:
        return default
    for choice in choices:
        if choice.lower() == text:
            return choice
    raise RuleError(f"{label} must be one of {', '.join(choices)} (got {value!r}).")


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


def parse_whole_number(
    value: str | None, *, label: str, maximum: int = WHOLE_NUMBER_MAX
) -> int | None:
    """A whole number from 0 to ``maximum`` (an id or a row version); blank means none."""
    text = (value or "").strip()
    if not text:
        return None
    number = (
        int(text)
        if text.isascii() and text.isdigit() and len(text) <= WHOLE_NUMBER_DIGITS + 1
        else None
    )
    if number is None or number > maximum:
        raise RuleError(f"{label} must be a whole number from 0 to {maximum} (got {value!r}).")
    return number


def parse_integer(
    value: str | None, *, label: str, minimum: int, maximum: int
) -> int | None:
    """A whole number (optionally signed) between ``minimum`` and ``maximum``; blank: none."""
    text = (value or "").strip()
    if not text:
        return None
    digits = text[1:] if text[:1] in "+-" else text
    number = int(text) if digits.isascii() and digits.isdigit() and len(digits) <= 19 else None
    if number is None or not minimum <= number <= maximum:
        raise RuleError(
            f"{label} must be a whole number from {minimum} to {maximum} (got {value!r})."
        )
    return number


# What parse_decimal reads: an optional sign, ASCII digits with at most one point (either
# side may be empty, not both), no exponent. The PostgreSQL import mirrors it exactly.
DECIMAL_PATTERN = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)")


def parse_decimal(
    value: str | None, *, label: str, precision: int | None, scale: int | None
) -> Decimal | None:
    """A decimal number with at most ``precision`` digits, ``scale`` of them after the point.

    Leading zeros and trailing zeros after the point do not count (``007.50`` fits in
    NUMERIC(3, 1)); blank means none.
    """
    text = (value or "").strip()
    if not text:
        return None
    if not DECIMAL_PATTERN.fullmatch(text):
        raise RuleError(f"{label} must be a number such as 12.50 (got {value!r}).")
    whole, _, fraction = text.lstrip("+-").partition(".")
    places = len(fraction.rstrip("0"))
    if scale is not None and places > scale:
        raise RuleError(f"{label} takes at most {scale} decimal place(s) (got {value!r}).")
    before = len(whole.lstrip("0"))
    if precision is not None and before > precision - (scale or 0):
        raise RuleError(
            f"{label} must have at most {precision - (scale or 0)} digit(s) before the point "
            f"(got {value!r})."
        )
    return Decimal(text)


def parse_float(value: str | None, *, label: str) -> float | None:
    """A number (decimal point, optional exponent); blank means none."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        number = float(text) if text.isascii() and "_" not in text else None
    except ValueError:
        number = None
    if number is None or number != number or number in (float("inf"), float("-inf")):
        raise RuleError(f"{label} must be a number (got {value!r}).")
    return number


def parse_datetime(value: str | None, *, label: str, aware: bool) -> datetime | None:
    """An ISO 8601 date and time (``2026-01-31 14:30``, seconds and offset optional).

    ``aware``: a time without an offset is taken as UTC; otherwise times are kept
    without one (an offset is converted to UTC first).
    """
    text = (value or "").strip()
    if not text:
        return None
    try:
        if not DATE_PATTERN.fullmatch(text[:10]) or len(text) < 16 or text[10] not in "T ":
            raise ValueError(text)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise RuleError(
            f"{label}: expected a date and time as YYYY-MM-DD HH:MM (got {value!r})."
        ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
        return moment if aware else moment.replace(tzinfo=None)
    return moment.replace(tzinfo=UTC) if aware else moment


def check_password(value: str | None) -> str:
    """An account password: at least 8 characters."""
    if not value or len(value) < 8:
        raise RuleError("Password must be at least 8 characters.")
    if len(value) > 1024:
        raise RuleError("Password must be at most 1024 characters.")
    return value
