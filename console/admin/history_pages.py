"""A record's History tab and Restore: its changes, newest first, and a way back.

Every model view has them. Restoring writes the values a record had before one of
its changes, as a new change, checked against the token of what the page showed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import abort, flash, redirect, request
from flask_wtf import FlaskForm
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from wtforms import HiddenField
from wtforms.validators import InputRequired

from console import audit, history, versions
from console.admin import conflicts
from console.admin.list_page import display
from console.admin.returns import back_to
from console.catalogue import humanise
from console.db_errors import describe_integrity_error
from console.extensions import session as current_session
from console.models import AuditEntry

if TYPE_CHECKING:
    from console.admin.model_view import ConsoleModelView

HISTORY_LIMIT = 500


def show(value: Any) -> str:
    """A recorded (JSON) value as the history table shows it."""
    if value is None or value == "":
        return "(empty)"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return str(value)


@dataclass
class FieldChange:
    """One field of one entry: before and after."""

    name: str
    label: str
    before: str
    after: str


@dataclass
class HistoryRow:
    """One audit entry as the History page shows it."""

    entry: AuditEntry
    fields: list[FieldChange]
    summary: dict[str, Any] | None
    revertible: bool


def field_changes(entry: AuditEntry, labels: dict[str, str]) -> list[FieldChange]:
    """The field-level differences an entry records."""
    changes = entry.changes or {}
    before = changes.get("before") or {}
    after = changes.get("after") or {}
    keys = list(after) + [k for k in before if k not in after]
    return [
        FieldChange(
            name=key,
            label=labels.get(key, humanise(key)),
            before=show(before.get(key)) if key in before else "",
            after=show(after.get(key)) if key in after else "",
        )
        for key in keys
    ]


class RevertForm(FlaskForm):
    """Confirm a restore: carries the token of what the confirmation page showed."""

    version = HiddenField(validators=[InputRequired()])


def _object_id(view: ConsoleModelView) -> str:
    raw = (request.values.get("id") or "").strip()
    try:
        parsed = view.description.pk.kind.parse(raw, label="ID") if raw else None
    except ValueError:
        parsed = None
    if parsed is None:
        abort(404)
    return str(parsed)


def _return_url(view: ConsoleModelView) -> str:
    return back_to(view)


def history_view(view: ConsoleModelView) -> Any:
    """One record's changes, newest first, with field-level differences."""
    description = view.description
    object_id = _object_id(view)
    obj = view.get_one(object_id)
    entries = audit.entries_for(
        current_session(), description.model_name, object_id, HISTORY_LIMIT + 1
    )
    if obj is None and not entries:
        abort(404)
    can_revert = obj is not None and view.can_edit
    labels = {c.key: c.label for c in description.columns}
    rows = [
        HistoryRow(
            entry=entry,
            fields=field_changes(entry, labels),
            summary=(entry.changes or {}).get("summary") if isinstance(entry.changes, dict)
            else None,
            revertible=can_revert and bool(history.restorable_values(entry, description.cls)),
        )
        for entry in entries[:HISTORY_LIMIT]
    ]
    return view.render(
        "admin/history.html",
        obj=obj,
        object_id=object_id,
        rows=rows,
        truncated=len(entries) > HISTORY_LIMIT,
        return_url=_return_url(view),
    )


def revert_view(view: ConsoleModelView) -> Any:
    """Confirm (GET) and apply (POST) the values a record had before one of its changes."""
    description = view.description
    object_id = _object_id(view)
    obj = view.get_one(object_id)
    entry_id = request.values.get("entry", "")
    entry = current_session().get(AuditEntry, int(entry_id)) if entry_id.isdigit() and len(
        entry_id) < 19 else None
    if (
        obj is None
        or not view.can_edit
        or entry is None
        or entry.model != description.model_name
        or entry.object_id != object_id
    ):
        abort(404)
    values = history.restorable_values(entry, description.cls)
    if not values:
        abort(404)
    return_url = _return_url(view)
    history_url = view.get_url(".history_view", id=object_id, url=return_url)
    form = RevertForm()
    status = 200
    if request.method == "POST":
        if not form.validate():
            status = 400
            flash("The confirmation had expired: review the values and confirm again.", "error")
        else:
            problem = apply_revert(view, obj, entry, values, form.version.data)
            if problem is None:
                flash(f"Restored the values from before change #{entry.id}.", "success")
                return redirect(history_url)
            status = 409
            flash(problem, "error")
            obj = view.get_one(object_id)
            if obj is None:
                abort(404)
    form.version.data = versions.token_of(description, obj)
    columns = history.tracked_columns(type(obj))
    labels = {c.key: c.label for c in description.columns}
    rows = [
        FieldChange(
            name=key,
            label=labels.get(key, humanise(key)),
            before=show(history.json_value(getattr(obj, key))),
            after=show(values[key]),
        )
        for key in values
        if key in columns
    ]
    body = view.render(
        "admin/history_revert.html",
        obj=obj,
        entry=entry,
        rows=rows,
        form=form,
        object_id=object_id,
        history_url=history_url,
        return_url=return_url,
    )
    return body, status


def apply_revert(
    view: ConsoleModelView, obj: Any, entry: AuditEntry, values: dict[str, Any], token: str | None
) -> str | None:
    """Write the values in one transaction, if the record is still what the page showed."""
    description = view.description
    session = current_session()
    columns = history.tracked_columns(type(obj))
    ident = getattr(obj, description.pk.key)
    try:
        loaded = versions.parse_token(description, token)
        versions.check_object(description, obj, loaded)
        versions.guard(session, description, ident, loaded)
        with history.update_action(session, "revert", reverts=entry.id):
            for key, value in values.items():
                setattr(obj, key, history.python_value(columns[key], value))
            session.flush()
        session.commit()
    except (versions.Conflict, StaleDataError, ValueError):
        session.rollback()
        who = conflicts.moved_on_message(session, description, ident)
        return f"Not restored: {who} after you opened this page. Review the values below and " \
            "confirm again."
    except IntegrityError as exc:
        session.rollback()
        problem = describe_integrity_error(exc, description.cls)
        where = f" ({humanise(problem.field)})" if problem.field else ""
        return f"Not restored{where}: {problem.message}"
    return None


__all__ = ["apply_revert", "display", "field_changes", "history_view", "revert_view", "show"]
