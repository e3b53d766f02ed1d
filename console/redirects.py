"""Where a redirect may send the browser: the one check for every return address.

A return address (the login's ``next=``, an admin page's ``url=``) comes from the
request, so an attacker can write it. Only a path on this site is followed, judged
the way a browser will read it, not the way ``urlsplit`` does: browsers drop tabs and
newlines anywhere in a URL and leading control characters and spaces, read ``\\`` as
``/``, take ``//host`` (and so ``/\\host``) as another site, and go to another site for
``http:evil.example`` when the page is on HTTPS. Rather than imitate that normalisation
and hope to match every browser, anything it would touch is refused: the accepted
addresses are the plain ones this console writes itself.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote

# Longer than any address the console writes (a list URL with filters and a cursor).
MAX_LENGTH = 2048

# Unicode categories a browser may drop, or that make an address read differently than
# it looks: controls, format characters (bidi overrides, zero-width), every kind of space
# and line separator, private-use, surrogates and unassigned code points.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Cn", "Zs", "Zl", "Zp"})
_PATH_END = re.compile(r"[?#]")
# Rounds of percent-decoding checked: a server or proxy in front may decode once more.
_DECODE_ROUNDS = 3


def safe_target(target: str | None, default: str) -> str:
    """``target`` when every browser reads it as a path on this site, else ``default``."""
    if not target or not isinstance(target, str) or len(target) > MAX_LENGTH:
        return default
    if not _plain(target):
        return default
    path = _PATH_END.split(target, maxsplit=1)[0]
    for variant in _variants(path):
        if not _same_site_path(variant):
            return default
    return target


def _plain(text: str) -> bool:
    """No character a browser would drop or rewrite (controls, spaces, backslashes)."""
    return all(
        char != "\\" and unicodedata.category(char) not in _REFUSED_CATEGORIES for char in text
    )


def _variants(path: str) -> list[str]:
    """``path`` as given, percent-decoded (repeatedly) and NFKC-folded."""
    variants = [path]
    decoded = path
    for _ in range(_DECODE_ROUNDS):
        again = unquote(decoded)
        if again == decoded:
            break
        decoded = again
        variants.append(decoded)
    variants.extend(unicodedata.normalize("NFKC", v) for v in list(variants))
    return variants


def _same_site_path(path: str) -> bool:
    """An absolute path (``/...``) that cannot be read as ``//host`` or climb with dots."""
    if not path.startswith("/") or path.startswith("//"):
        return False
    if not _plain(path):
        return False
    # "/./" and "/../" are never in an address the console writes; "/.//host" collapses
    # to "//host" in some readers.
    return all(segment not in (".", "..") for segment in path.split("/"))
