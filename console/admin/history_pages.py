"""Per-record History pages and Revert, on every generated model view."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import abort, flash, redirect, request
from flask_admin import expose
from flask_admin.helpers import get_redirect_target
from flask_wtf import FlaskForm
from sqlalchemy import Integer, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from wtforms import HiddenField
from wtforms.validators import InputRequired

from console import history
from console.auth.roles import current_role_includes, requires
from console.db_errors import describe_integrity_error
from console.extensions import db
from console.models import AuditEntry
from console.rules import Role

# Updates (and earlier reverts) carry the "before" values a revert can restore.
REVERTIBLE_ACTIONS = frozenset({"update", "revert"})


def humanise(name: str) -> str:
    """``due_date`` -> ``Due date``."""
    return name.replace("_", " ").capitalize()


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


def field_changes(entry: AuditEntry) -> list[FieldChange]:
    """The field-level differences an entry records."""
    changes = entry.changes or {}
    before = changes.get("before") or {}
    after = changes.get("after") or {}
    keys = list(after) + [k for k in before if k not in after]
    return [
        FieldChange(
            name=key,
            label=humanise(key),
            before=show(before.get(key)) if key in before else "",
            after=show(after.get(key)) if key in after else "",
        )
        for key in keys
    ]


def restorable_values(entry: AuditEntry, model: type) -> dict[str, Any]:
    """What a revert of ``entry`` writes back: its "before" values of the columns history tracks."""
    if entry.action not in REVERTIBLE_ACTIONS or not isinstance(entry.changes, dict):
        return {}
    columns = history.tracked_columns(model)
    before = entry.changes.get("before") or {}
    return {
        key: value
        for key, value in before.items()
        if key in columns
        and key not in history.UNTRACKED_ON_UPDATE
        and not columns[key].primary_key
    }


def last_change(model: type, object_id: Any) -> AuditEntry | None:
    """The newest audit entry about one row."""
    return db.session.scalar(
        select(AuditEntry)
        .where(AuditEntry.model == model.__name__, AuditEntry.object_id == str(object_id))
        .order_by(AuditEntry.id.desc())
        .limit(1)
    )


class RevertForm(FlaskForm):
    """Confirm a revert: carries the version the confirmation page showed."""

    version = HiddenField(validators=[InputRequired()])


class HistoryPagesMixin:
    """History (viewers and up) and Revert (editors) for the records of a model view."""

    history_template = "admin/history.html"
    revert_template = "admin/history_revert.html"
    history_limit = 500

    def _object_id(self) -> str:
        raw = (request.values.get("id") or "").strip()
        pk = inspect(self.model).primary_key[0]  # type: ignore[attr-defined]
        if not raw or (isinstance(pk.type, Integer) and not raw.isdigit()):
            abort(404)
        return raw

    def _return_url(self) -> str:
        return get_redirect_target() or self.get_url(".index_view")  # type: ignore[attr-defined]

    @expose("/history/")
    @requires(Role.viewer)
    def history_view(self) -> Any:
        """One record's changes, newest first, with field-level differences."""
        object_id = self._object_id()
        obj = self.get_one(object_id)  # type: ignore[attr-defined]
        entries = list(
            db.session.scalars(
                select(AuditEntry)
                .where(
                    AuditEntry.model == self.model.__name__,  # type: ignore[attr-defined]
                    AuditEntry.object_id == object_id,
                )
                .order_by(AuditEntry.id.desc())
                .limit(self.history_limit + 1)
            )
        )
        if obj is None and not entries:
            abort(404)
        can_revert = (
            obj is not None
            and getattr(obj, "version", None) is not None
            and current_role_includes(max(Role.editor, self.min_role, key=lambda r: r.rank))  # type: ignore[attr-defined]
        )
        rows = [
            HistoryRow(
                entry=entry,
                fields=field_changes(entry),
                summary=(entry.changes or {}).get("summary")
                if isinstance(entry.changes, dict)
                else None,
                revertible=can_revert and bool(restorable_values(entry, self.model)),  # type: ignore[attr-defined]
            )
            for entry in entries[: self.history_limit]
        ]
        return self.render(  # type: ignore[attr-defined]
            self.history_template,
            obj=obj,
            object_id=object_id,
            rows=rows,
            truncated=len(entries) > self.history_limit,
            return_url=self._return_url(),
        )

    @expose("/history/revert/", methods=("GET", "POST"))
    @requires(Role.editor)
    def revert_view(self) -> Any:
        """Confirm (GET) and apply (POST) the values a record had before one of its changes."""
        object_id = self._object_id()
        obj = self.get_one(object_id)  # type: ignore[attr-defined]
        entry_id = request.values.get("entry", "")
        entry = db.session.get(AuditEntry, int(entry_id)) if entry_id.isdigit() else None
        if (
            obj is None
            or getattr(obj, "version", None) is None
            or entry is None
            or entry.model != self.model.__name__  # type: ignore[attr-defined]
            or entry.object_id != object_id
        ):
            abort(404)
        values = restorable_values(entry, self.model)  # type: ignore[attr-defined]
        if not values:
            abort(404)
        history_url = self.get_url(  # type: ignore[attr-defined]
            ".history_view", id=object_id, url=self._return_url()
        )
        form = RevertForm()
        status = 200
        if request.method == "POST":
            if not form.validate():
                status = 400
                flash("The confirmation had expired: review the values and confirm again.", "error")
            elif form.version.data != str(obj.version):
                status = 409
                flash(self._moved_on_message(obj, object_id), "error")
            else:
                outcome = self._apply_revert(obj, entry, values)
                if outcome is None:
                    flash(f"Restored the values from before change #{entry.id}.", "success")
                    return redirect(history_url)
                status = 409
                flash(outcome, "error")
                obj = self.get_one(object_id)  # type: ignore[attr-defined]
                if obj is None:
                    abort(404)
        form.version.data = str(obj.version)
        columns = history.tracked_columns(type(obj))
        rows = [
            FieldChange(
                name=key,
                label=humanise(key),
                before=show(history.json_value(getattr(obj, key))),
                after=show(values[key]),
            )
            for key in values
            if key in columns
        ]
        return (
            self.render(  # type: ignore[attr-defined]
                self.revert_template,
                obj=obj,
                entry=entry,
                rows=rows,
                form=form,
                object_id=object_id,
                history_url=history_url,
                return_url=self._return_url(),
            ),
            status,
        )

    def _moved_on_message(self, obj: Any, object_id: str) -> str:
        entry = last_change(type(obj), object_id)
        who = entry.account_email if entry and entry.account_email else "someone else"
        when = f" at {entry.at:%Y-%m-%d %H:%M:%S} UTC" if entry else ""
        return (
            f"Not restored: {who} changed this record{when} after you opened this page. "
            "Review the values below and confirm again."
        )

    def _apply_revert(self, obj: Any, entry: AuditEntry, values: dict[str, Any]) -> str | None:
        """Write the values in one transaction; return why not, or None when done."""
        columns = history.tracked_columns(type(obj))
        try:
            with history.update_action(db.session, "revert", reverts=entry.id):
                for key, value in values.items():
                    setattr(obj, key, history.python_value(columns[key], value))
                db.session.flush()
            db.session.commit()
        except StaleDataError:
            db.session.rollback()
            return self._moved_on_message(obj, str(entry.object_id))
        except IntegrityError as exc:
            db.session.rollback()
            problem = describe_integrity_error(exc, self.model)  # type: ignore[attr-defined]
            where = f" ({humanise(problem.field)})" if problem.field else ""
            return f"Not restored{where}: {problem.message}"
        return None
