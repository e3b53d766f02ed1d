"""'Select all matching': a "With selected" action on every row of a filter, not on ids.

The list posts its filters and search as one query string (``matching``) instead of
row ids. The server resolves it with the list's own ``filtered_select`` (the same
filters, search and query hooks), refuses it when any filter in it is unknown or
invalid (never more rows than asked) or when it reaches more than
CONSOLE_MAX_MATCHING rows, and fingerprints the selection: a SHA-256 over every
matching row's (id, version token) in id order. A confirmation page carries the
fingerprint; the confirm resolves the query again with the rows locked and goes
ahead only if the fingerprint is still the same.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import request
from sqlalchemy import Select, func, select

from console.admin import adapter
from console.admin.list_page import filtered_select
from console.admin.selection import max_matching
from console.cascade import begin_for_write
from console.extensions import session as current_session
from console.versions import token_of

if TYPE_CHECKING:
    from console.admin.model_view import ConsoleModelView

FIELD = "matching"
FINGERPRINT_FIELD = "selection"
# A confirm without the fingerprint of what its page showed (a delete plan, a selection):
# refused as incomplete, never taken as "whatever matches now".
UNCONFIRMED = (
    "This request does not say which rows it was confirmed on: reload the page and confirm "
    "again."
)
# Rows read per query while fingerprinting (keyset batches by primary key).
BATCH = 5_000
# Rows a confirmation page shows of the selection.
SHOWN = 20


class MatchingError(Exception):
    """The ``matching`` query cannot be acted on; the message says why."""


@dataclass
class Matching:
    """The rows a ``matching`` query string selects, as of when it was resolved."""

    query: str
    ids_select: Select[Any]
    count: int
    rows: dict[str, str] = field(default_factory=dict)  # id text -> token, in id order
    ids: list[Any] = field(default_factory=list)
    fingerprint: str = ""


def requested() -> str | None:
    """The ``matching`` query string this request carries (form or URL), or None."""
    if FIELD not in request.values:
        return None
    return request.values.get(FIELD, "")


def resolve(view: ConsoleModelView, query: str, *, lock: bool = False) -> Matching:
    """The rows ``query`` selects, counted, bounded and fingerprinted; MatchingError if not.

    With ``lock`` the matching rows are locked first (FOR UPDATE on PostgreSQL; SQLite
    takes its write lock), for a confirm that will write them in this transaction.
    """
    description = view.description
    filters, search, problems = adapter.filter_search_arguments(view, query)
    if search and "\x00" in search:
        problems.append("The search contains a character that cannot be searched for.")
    if problems:
        raise MatchingError("Nothing was done: " + " ".join(problems))
    args = adapter.ViewArgs(page=0, page_size=0, sort=None, sort_desc=None, search=search,
                            filters=filters or None, extra_args={})
    session = current_session()
    pk = description.pk.column
    stmt, _filtered = filtered_select(view, args)
    ids_select = stmt.with_only_columns(pk).order_by(None)
    limit = max_matching()
    if lock:
        begin_for_write(session)
    count = int(session.scalar(
        select(func.count()).select_from(
            select(pk).where(pk.in_(ids_select.scalar_subquery())).limit(limit + 1).subquery()
        )
    ) or 0)
    if count > limit:
        session.rollback()
        raise MatchingError(
            f"More than {limit:,} {description.plural} match; one action takes at most "
            f"{limit:,}. Narrow the list with a filter or a search, or change them by import."
        )
    if count == 0:
        session.rollback()
        raise MatchingError(f"No {description.plural} match: nothing was done.")
    found = Matching(query, ids_select, count)
    _fingerprint(view, found, lock=lock)
    return found


def _fingerprint(view: ConsoleModelView, found: Matching, *, lock: bool) -> None:
    """Read every matching row's id and token in id order, in batches, and hash them."""
    description = view.description
    session = current_session()
    pk = description.pk.column
    checked = [description.version] if description.version else description.checked_columns
    columns = [description.pk, *(c for c in checked if c is not description.pk)]
    base = select(*(c.column.label(c.key) for c in columns)).where(
        pk.in_(found.ids_select.scalar_subquery())
    ).order_by(pk).limit(BATCH)
    if lock:
        base = base.with_for_update()
    digest = hashlib.sha256()
    last: Any = None
    while True:
        batch = list(session.execute(base if last is None else base.where(pk > last)))
        for row in batch:
            ident = row._mapping[description.pk.key]
            token = token_of(description, row)
            text = str(ident)
            found.ids.append(ident)
            found.rows[text] = token
            digest.update(f"{text}\t{token}\n".encode())
        if len(batch) < BATCH:
            break
        last = batch[-1]._mapping[description.pk.key]
    found.fingerprint = digest.hexdigest()
    # Rows may have been added or removed between the count and the batches.
    found.count = len(found.ids)
    if found.count > max_matching():
        session.rollback()
        raise MatchingError(
            f"More than {max_matching():,} {description.plural} match; one action takes at "
            "most that many."
        )


def first_rows(view: ConsoleModelView, found: Matching, limit: int = SHOWN) -> list[Any]:
    """The first ``limit`` matching rows (ORM objects, in id order), for a page to show."""
    description = view.description
    pk = description.pk.column
    ids = found.ids[:limit]
    if not ids:
        return []
    return list(current_session().scalars(
        select(description.cls).where(pk.in_(ids)).order_by(pk)
    ))


__all__ = [
    "FIELD",
    "FINGERPRINT_FIELD",
    "Matching",
    "MatchingError",
    "first_rows",
    "requested",
    "resolve",
]
