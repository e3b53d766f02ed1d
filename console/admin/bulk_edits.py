"""Bulk edits: "With selected -> Set <column>" for every column a model's description allows.

Choosing the action opens a confirmation page listing the rows (each with the token
of what was shown) and asking for the value with the input of the column's kind (a
reference is chosen with the same search-as-you-type lookup the forms use). Confirming
writes every row or none (``console.bulk.edits``).

With "Select all matching" (``console.admin.matching``) the action posts the list's
filters and search instead of ids: the page shows the count and the first rows and
carries the query and the selection's fingerprint; the confirm resolves the query
again, locked, and writes only if the fingerprint is still the same (409 if not).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flask import abort, flash, redirect, request
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select

from console import rules, versions
from console.admin import adapter, deletes, matching
from console.admin.list_page import display, label_of, list_columns
from console.admin.reference_fields import BLANK, KEY_MARKER, ReferenceField, parent_description
from console.admin.reference_fields import resolve as resolve_reference
from console.admin.returns import back_to
from console.admin.selection import TOO_MANY_HINT, max_selection
from console.catalogue import ColumnInfo
from console.extensions import session as current_session
from console.kinds import BooleanKind, ChoiceKind, DateKind, DateTimeKind, NumberKind

if TYPE_CHECKING:
    from console.admin.model_view import ConsoleModelView

TEMPLATE = "admin/bulk_confirm.html"


def register_actions(view: ConsoleModelView) -> None:
    """The "With selected" entries: Delete (through its preview) and one Set per column."""
    adapter.add_action(view, "delete", "Delete", lambda ids: deletes.selection_action(view, ids))
    for info in view.description.bulk_columns:
        adapter.add_action(
            view, f"set:{info.key}", f"Set {info.label.lower()}", _confirm_for(view, info.key)
        )


def _confirm_for(view: ConsoleModelView, key: str) -> Callable[[list[str]], Any]:
    def handler(ids: list[str]) -> Any:
        return confirm_view(view, key, ids)

    return handler


def _column_or_404(view: ConsoleModelView, key: str) -> ColumnInfo:
    info = view.description.find(key)
    if info is None or not info.bulk or not view.can_edit:
        abort(404)
    return info


def _selected(view: ConsoleModelView, ids: list[str]) -> list[Any] | None:
    description = view.description
    if len(ids) > max_selection():
        flash(
            f"{len(ids):,} rows were selected; a bulk edit takes at most {max_selection():,} "
            f"ids. {TOO_MANY_HINT}",
            "error",
        )
        return None
    keys = []
    for raw in ids:
        try:
            key = description.pk.kind.parse(raw, label="ID")
        except rules.RuleError:
            key = None
        if key is not None:
            keys.append(key)
    if not keys:
        flash(f"Select at least one {description.singular}.", "error")
        return None
    pk = description.pk.column
    return list(current_session().scalars(select(description.cls).where(pk.in_(keys)).order_by(pk)))


def confirm_view(view: ConsoleModelView, key: str, ids: list[str]) -> Any:
    """The confirmation page for setting ``key`` on the selected rows."""
    info = _column_or_404(view, key)
    query = matching.requested()
    if query is not None:
        try:
            found = matching.resolve(view, query)
        except matching.MatchingError as exc:
            current_session().rollback()
            flash(str(exc), "error")
            return redirect(back_to(view))
        return _render(view, info, matching.first_rows(view, found), value="", error=None,
                       stale=set(), found=found)
    rows = _selected(view, ids)
    if not rows:
        return redirect(back_to(view))
    return _render(view, info, rows, value="", error=None, stale=set())


def value_field(view: ConsoleModelView, info: ColumnInfo) -> Any:
    """A lookup field for a reference, bound to the view's lookup of that parent; else None."""
    if info.reference is None or not info.reference.reference:
        return None
    loader = adapter.lookup_loader(view, info.reference.reference)
    if loader is None:
        return None

    class ValueForm(FlaskForm):
        value = ReferenceField(loader, info.label, allow_blank=info.nullable)

    return ValueForm(meta={"csrf": False})["value"]


def _render(view: ConsoleModelView, info: ColumnInfo, rows: list[Any], *, value: str,
            error: str | None, stale: set[Any], status: int = 200,
            found: matching.Matching | None = None) -> Any:
    description = view.description
    pk_key = description.pk.key
    columns = [c for c in list_columns(description) if not c.bookkeeping][:6]
    kind = info.kind
    choices: list[tuple[str, str]] = []
    if isinstance(kind, BooleanKind):
        choices = [("true", "Yes"), ("false", "No")]
    elif isinstance(kind, ChoiceKind):
        choices = [(c, c) for c in kind.choices]
    input_type = (
        "date" if isinstance(kind, DateKind)
        else "datetime-local" if isinstance(kind, DateTimeKind)
        else "number" if isinstance(kind, NumberKind)
        else "text"
    )
    body = view.render(
        TEMPLATE,
        column=info,
        rows=[
            {
                "id": getattr(row, pk_key),
                "ref": f"{getattr(row, pk_key)}:{versions.token_of(description, row)}",
                "cells": [display(getattr(row, c.key)) if c.reference is None
                          else _parent_label(view, c, row) for c in columns],
                "stale": getattr(row, pk_key) in stale,
            }
            for row in rows
        ],
        headings=[c.label for c in columns],
        id_shown=any(c is description.pk for c in columns),
        value=value,
        choices=choices,
        input_type=input_type,
        lookup=value_field(view, info),
        error=error,
        return_url=back_to(view),
        matching=found,
        total=found.count if found is not None else len(rows),
    )
    return body, status


def _parent_label(view: ConsoleModelView, info: ColumnInfo, row: Any) -> str:
    value = getattr(row, info.key)
    if value is None or info.reference is None:
        return ""
    catalogue = view.description.catalogue
    assert catalogue is not None
    session = current_session()
    parent = session.scalar(select(info.reference.parent).where(info.reference.target == value))
    return label_of(parent, catalogue.describe(info.reference.parent)) if parent else display(value)


def posted_value(view: ConsoleModelView, info: ColumnInfo) -> str:
    """The new value as posted: a reference's typed key (no JavaScript) becomes its ID."""
    values = request.form.getlist("value")
    if info.reference is None or not values:
        return request.form.get("value", "")
    if values[0] == BLANK:
        return ""
    if values[0] != KEY_MARKER:
        return values[0]
    typed = (values[1] if len(values) > 1 else "").strip()
    if not typed:
        return ""
    parent = parent_description(info.reference.parent)
    return str(getattr(resolve_reference(parent, typed), parent.pk.key))


def parse_refs(values: list[str]) -> dict[str, str]:
    """``["12:<token>", ...]`` (from the confirmation form) -> {id text: token}."""
    rows: dict[str, str] = {}
    for value in values:
        ident, sep, token = value.partition(":")
        if ident.isdigit() and not token:
            # A row without the token its page showed: never written as it is now.
            raise rules.RuleError(versions.MISSING)
        if not sep or not ident or not token:
            raise rules.RuleError(f"Malformed row reference {value[:40]!r}.")
        rows[ident] = token
    if not rows:
        raise rules.RuleError("No rows selected.")
    return rows


def apply_view(view: ConsoleModelView, key: str) -> Any:
    """Apply a confirmed bulk edit in one transaction, or say which rows changed."""
    from console.bulk import edits

    info = _column_or_404(view, key)
    description = view.description
    refused: str | None = None
    try:
        value = posted_value(view, info)
    except rules.RuleError as exc:
        value, refused = "", str(exc)
    query = matching.requested()
    if query is not None:
        return _apply_matching(view, info, query, value, refused)
    refs = request.form.getlist("row")
    if len(refs) > max_selection():
        flash(f"A bulk edit takes at most {max_selection():,} rows.", "error")
        return redirect(back_to(view))
    error: str | None = None
    stale: set[Any] = set()
    rows: dict[str, str] = {}
    try:
        rows = parse_refs(refs)
        if refused:
            raise rules.RuleError(refused)
        session = current_session()
        parsed = edits.parse_value(session, description, key, value)
        outcome = edits.apply(session, description, key, parsed, rows, account=current_user)
    except rules.RuleError as exc:
        current_session().rollback()
        error = str(exc)  # the selection stays: fix the value and confirm again
    else:
        if outcome.ok:
            flash(f"Set {info.label.lower()}: {outcome.written:,} {description.plural} updated.",
                  "success")
            return redirect(back_to(view))
        stale = {*outcome.stale, *outcome.missing}
        error = (
            f"Nothing was written: {len(stale)} of the selected {description.plural} changed or "
            "were deleted since you selected them. Review them and confirm again."
        )
    current = (_selected(view, list(rows)) or []) if rows else []
    return _render(view, info, current, value=value, error=error, stale=stale,
                   status=409 if stale else 400)


def _apply_matching(view: ConsoleModelView, info: ColumnInfo, query: str, value: str,
                    refused: str | None = None) -> Any:
    """Confirm a bulk edit of every row ``query`` matches, if they are still what was shown."""
    from console.bulk import edits

    description = view.description
    session = current_session()
    posted = request.form.get(matching.FINGERPRINT_FIELD, "")
    try:
        found = matching.resolve(view, query, lock=True)
    except matching.MatchingError as exc:
        session.rollback()
        flash(str(exc), "error")
        return redirect(back_to(view))
    if not posted:
        session.rollback()
        return _render(view, info, matching.first_rows(view, found), value=value,
                       error=matching.UNCONFIRMED, stale=set(), status=400, found=found)
    if found.fingerprint != posted:
        session.rollback()
        error = (
            f"Nothing was written: the matching {description.plural} changed since you "
            f"confirmed (now {found.count:,}; rows were edited, added or removed). Review them "
            "and confirm again."
        )
        return _render(view, info, matching.first_rows(view, found), value=value, error=error,
                       stale=set(), status=409, found=found)
    try:
        if refused:
            raise rules.RuleError(refused)
        parsed = edits.parse_value(session, description, info.key, value)
        outcome = edits.apply(session, description, info.key, parsed, found.rows,
                              account=current_user)
    except rules.RuleError as exc:
        session.rollback()
        return _render(view, info, matching.first_rows(view, found), value=value,
                       error=str(exc), stale=set(), status=400, found=found)
    if not outcome.ok:  # the rows were locked: only if a lock did not hold
        session.rollback()
        error = (f"Nothing was written: the matching {description.plural} changed since you "
                 "confirmed. Review them and confirm again.")
        return _render(view, info, matching.first_rows(view, found), value=value, error=error,
                       stale={*outcome.stale, *outcome.missing}, status=409, found=found)
    flash(f"Set {info.label.lower()}: {outcome.written:,} {description.plural} updated "
          f"(all {found.count:,} matching).", "success")
    return redirect(back_to(view))


__all__ = ["apply_view", "confirm_view", "register_actions"]
