"""Two-factor sign-in: TOTP codes (RFC 6238) and one-time recovery codes. No Flask.

A code from the authenticator app is accepted once: the account keeps the last time
step it accepted, and a code of that step or an earlier one is refused (also when two
requests bring it at the same moment: the step moves forward in one UPDATE). Recovery
codes are shown once, stored as SHA-256 and spent in one UPDATE each.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime

import pyotp
import segno
from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from console.extensions import rowcount
from console.models import Account, RecoveryCode
from console.models.base import utcnow

RECOVERY_CODE_COUNT = 10
# Crockford's base32: no I, L, O or U to misread. 16 characters are 80 random bits.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RECOVERY_LENGTH = 16
_TOTP_CODE = re.compile(r"^\d{6}$")
# Codes of the step before and after the current one are accepted too (clock drift).
VALID_WINDOW = 1


def new_secret() -> str:
    """A new random TOTP secret (base32, 160 bits)."""
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str, issuer: str) -> str:
    """The ``otpauth://`` address an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """``uri`` as a QR code in inline SVG markup (drawn here: no network, no script)."""
    return segno.make(uri, error="m").svg_inline(
        scale=5, border=4, dark="#000", light="#fff", title="QR code for your authenticator app"
    )


def format_secret(secret: str) -> str:
    """The secret in groups of four, for typing it into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def clean_code(code: str | None) -> str:
    """A code as typed, without spaces and dashes, upper-case."""
    return re.sub(r"[\s-]", "", code or "").upper()


def is_totp_code(code: str) -> bool:
    """True when ``code`` (cleaned) looks like an authenticator code rather than a recovery code."""
    return bool(_TOTP_CODE.match(code))


def matching_step(secret: str, code: str, now: datetime | None = None) -> int | None:
    """The time step whose code ``code`` is (within the drift window), else None."""
    if not is_totp_code(code):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now or utcnow())
    found = None
    # Every step is compared, so the time taken does not say which one matched.
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step
    return found


def verify_new(secret: str, code: str, now: datetime | None = None) -> int | None:
    """Check a code against a secret being enrolled; the step it matched, or None."""
    return matching_step(secret, clean_code(code), now)


def enable(session: Session, account: Account, secret: str, step: int) -> list[str]:
    """Turn two-factor sign-in on with ``secret`` (its code at ``step`` was just checked).

    Returns new recovery codes, to be shown once. The caller commits.
    """
    account.totp_secret = secret
    account.totp_last_step = step
    return new_recovery_codes(session, account)


def disable(session: Session, account: Account) -> None:
    """Turn two-factor sign-in off and drop the recovery codes; the caller commits."""
    account.totp_secret = None
    account.totp_last_step = None
    session.execute(delete(RecoveryCode).where(RecoveryCode.account_id == account.id))


def accept_code(
    session: Session, account: Account, code: str, now: datetime | None = None
) -> str | None:
    """Spend ``code`` (authenticator or recovery) for ``account``; what it was, or None.

    The caller commits. Returns "authenticator app" or "recovery code".
    """
    code = clean_code(code)
    if account.totp_secret is None or not code:
        return None
    if is_totp_code(code):
        step = matching_step(account.totp_secret, code, now)
        if step is None:
            return None
        moved = session.execute(
            update(Account)
            .where(
                Account.id == account.id,
                or_(Account.totp_last_step.is_(None), Account.totp_last_step < step),
            )
            .values(totp_last_step=step)
            .execution_options(synchronize_session=False)
        )
        if rowcount(moved) != 1:
            return None  # this code (or a later one) was used already
        session.expire(account, ["totp_last_step"])
        return "authenticator app"
    spent = session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.account_id == account.id,
            RecoveryCode.code_hash == _hash(code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    return "recovery code" if rowcount(spent) == 1 else None


def new_recovery_codes(session: Session, account: Account) -> list[str]:
    """Replace the account's recovery codes with new ones; returns them (shown once)."""
    codes = [
        "".join(secrets.choice(_ALPHABET) for _ in range(_RECOVERY_LENGTH))
        for _ in range(RECOVERY_CODE_COUNT)
    ]
    session.execute(delete(RecoveryCode).where(RecoveryCode.account_id == account.id))
    session.execute(
        insert(RecoveryCode),
        [{"account_id": account.id, "code_hash": _hash(code)} for code in codes],
    )
    return [format_recovery_code(code) for code in codes]


def format_recovery_code(code: str) -> str:
    """A recovery code as shown: four groups of four."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def recovery_codes_left(session: Session, account: Account) -> int:
    """How many unused recovery codes the account has."""
    return session.scalar(
        select(func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.account_id == account.id, RecoveryCode.used_at.is_(None))
    ) or 0


def _hash(code: str) -> str:
    # Crockford's reading: O is 0, I and L are 1.
    canonical = code.translate(str.maketrans("OIL", "011"))
    return hashlib.sha256(canonical.encode()).hexdigest()
