"""No lost updates: forms, inline rows and list-view edits carry the version they were loaded at.

A write whose row has moved on is refused whole; the edit page then shows who changed
the row and when, their values next to the administrator's, and a button that
re-submits the administrator's input against the new version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask import g, get_flashed_messages, has_request_context, request
from flask_admin import expose
from flask_admin.contrib.sqla.form import InlineModelConverter
from flask_admin.model.form import InlineFormAdmin
from flask_admin.model.widgets import XEditableWidget
from sqlalchemy import inspect, select
from sqlalchemy.orm.exc import StaleDataError
from wtforms import HiddenField, ValidationError

from console import history
from console.admin.history_pages import HistoryPagesMixin, last_change
from console.extensions import db
from console.models import AuditEntry

CONFLICT_MESSAGE = "someone else changed it after you opened it. Compare below and re-apply."


def is_versioned(model: type) -> bool:
    """True when the ORM checks and bumps a version on every UPDATE of ``model``."""
    return inspect(model).version_id_col is not None


def _current_account() -> Any:
    # Flask-Login caches the loaded user on g; reading it never queries mid-flush.
    if not has_request_context():
        return None
    user = g.get("_login_user")
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return history.Actor(user.id, user.email)


history.set_actor_provider(_current_account)


class VersionConflict(ValidationError):
    """The row changed since the form was loaded: nothing was written."""

    field_name = None

    def __init__(self) -> None:
        super().__init__(CONFLICT_MESSAGE)
        if has_request_context():
            g.version_conflict = True


class VersionField(HiddenField):
    """The version the administrator loaded; read for the check, never written to the row."""

    def populate_obj(self, obj: Any, name: str) -> None:
        return None


def loaded_version(value: Any) -> int | None:
    """The submitted version as an int; None when the client did not send one."""
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise VersionConflict() from None


def check_version(obj: Any, loaded: Any) -> None:
    """Refuse the write when ``obj`` is no longer at the version the user loaded."""
    version = loaded_version(loaded)
    if version is not None and version != obj.version:
        raise VersionConflict()


class VersionedInlineFormAdmin(InlineFormAdmin):
    """Inline child rows (a list's to-dos) carry and check their own version."""

    def postprocess_form(self, form_class: Any) -> Any:
        form_class = super().postprocess_form(form_class)
        if is_versioned(self.model):
            form_class.version = VersionField()
        return form_class

    def _on_model_change(self, form: Any, model: Any, is_created: bool) -> None:
        if not is_created and is_versioned(self.model):
            check_version(model, form.form.version.data)
        super()._on_model_change(form, model, is_created)


class VersionedInlineModelConverter(InlineModelConverter):
    """Builds inline forms with ``VersionedInlineFormAdmin``."""

    form_admin_class = VersionedInlineFormAdmin


class VersionedXEditableWidget(XEditableWidget):
    """List-view inline editing: the row's version travels in the pk as ``<pk>:<version>``.

    Flask-Admin's script posts only pk, name and value, so the pk is the one place
    the version can ride along.
    """

    def __call__(self, field: Any, **kwargs: Any) -> Any:
        version = kwargs.pop("data-row-version", None)
        if version is not None and kwargs.get("pk") is not None:
            kwargs["pk"] = f"{kwargs['pk']}:{version}"
        return super().__call__(field, **kwargs)


@dataclass
class FieldComparison:
    """One field: the value now in the database and the value the user submitted."""

    label: str
    theirs: str
    yours: str
    # "theirs-kept": only they changed it, so the form now holds their value;
    # "both": both changed it, and the form still holds yours.
    merge: str = ""

    @property
    def differs(self) -> bool:
        """True when saving would change what the other person left."""
        return self.theirs != self.yours


@dataclass
class Conflict:
    """A row that moved on since it was loaded, and by whom."""

    label: str
    who: str
    when: datetime | None
    version: int | None
    deleted: bool = False
    fields: list[FieldComparison] = field(default_factory=list)


def display(value: Any) -> str:
    """A value as the conflict table shows it."""
    if value is None or value == "":
        return "(empty)"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "value") and isinstance(getattr(value, "value", None), str):
        return value.value
    return str(value)


def _field_key(mapper: Any, name: str) -> str | None:
    """The column key history records for a form field (a reference's foreign key)."""
    if name not in mapper.attrs:
        return None
    prop = mapper.attrs[name]
    if hasattr(prop, "direction"):
        if prop.direction.name != "MANYTOONE":
            return None
        return mapper.get_property_by_column(next(iter(prop.local_columns))).key
    return name


def _recorded(value: Any) -> Any:
    """A form or model value as history records it (a referenced row as its id)."""
    if value is not None and hasattr(value, "_sa_instance_state"):
        identity = inspect(value).identity
        return identity[0] if identity else None
    if value == "":
        return None
    return history.json_value(value)


def values_at_version(obj: Any, loaded: int | None) -> dict[str, Any] | None:
    """The row's values when it was at version ``loaded``, rebuilt from its history.

    None when the history cannot say (a change that left no per-row entry, such as a
    bulk action, happened in between).
    """
    if loaded is None or obj.version is None or loaded >= obj.version:
        return None
    steps = obj.version - loaded
    state = inspect(obj)
    updates = list(
        db.session.scalars(
            select(AuditEntry)
            .where(
                AuditEntry.model == type(obj).__name__,
                AuditEntry.object_id == str(state.identity[0]),
                AuditEntry.action.in_(("update", "revert")),
            )
            .order_by(AuditEntry.id.desc())
            .limit(steps)
        )
    )
    if len(updates) < steps:
        return None
    values = history.snapshot(obj)
    for entry in updates:
        values.update((entry.changes or {}).get("before") or {})
    return values


def compare_form(
    form: Any, obj: Any, original: dict[str, Any] | None = None
) -> list[FieldComparison]:
    """Field by field: the row's current values next to the submitted ones.

    With ``original`` (the values the user loaded), a field only the other person
    changed takes their value in the form, so re-applying never undoes their work.
    """
    mapper = inspect(type(obj))
    rows = []
    for form_field in form:
        name = form_field.name.rsplit("-", 1)[-1]
        if name in ("csrf_token", "version", "id") or form_field.type in (
            "InlineModelFormList",
            "HiddenField",
            "VersionField",
        ):
            continue
        key = _field_key(mapper, name)
        if key is None:
            continue
        theirs = getattr(obj, name)
        yours = form_field.data
        if isinstance(theirs, bool) and yours in (None, ""):
            yours = False
        merge = ""
        if original is not None and key in original:
            before = original[key]
            they_changed = _recorded(theirs) != before
            you_changed = _recorded(yours) != before
            if they_changed and not you_changed:
                form_field.data = theirs
                # Some fields (dates) render what was typed rather than their data.
                form_field.raw_data = None
                yours, merge = theirs, "theirs-kept"
            elif they_changed and you_changed and _recorded(theirs) != _recorded(yours):
                merge = "both"
        rows.append(
            FieldComparison(str(form_field.label.text), display(theirs), display(yours), merge)
        )
    return rows


def describe(model: type, object_id: Any, obj: Any | None, label: str) -> Conflict:
    """Who changed the row last and when (from the audit trail)."""
    entry = last_change(model, object_id)
    who = (entry.account_email or "an unknown account") if entry else "another session"
    return Conflict(
        label=label,
        who=who,
        when=entry.at if entry else None,
        version=None if obj is None else obj.version,
        deleted=obj is None,
    )


class VersionCheckMixin(HistoryPagesMixin):
    """Added to ConsoleModelView's bases: version checks, conflict pages, list edits, history."""

    inline_model_form_converter = VersionedInlineModelConverter

    def __init__(self, model: type, *args: Any, **kwargs: Any) -> None:
        if is_versioned(model) and "column_editable_list" not in vars(type(self)):
            self.column_editable_list = editable_columns(self.description)  # type: ignore[attr-defined]
        super().__init__(model, *args, **kwargs)  # type: ignore[call-arg]

    # -- forms ----------------------------------------------------------------------------

    def scaffold_form(self) -> Any:
        form_class = super().scaffold_form()  # type: ignore[misc]
        if is_versioned(self.model):  # type: ignore[attr-defined]
            form_class.version = VersionField()
        return form_class

    def scaffold_list_form(self, widget: Any = None, validators: Any = None) -> Any:
        return super().scaffold_list_form(  # type: ignore[misc]
            widget or VersionedXEditableWidget(), validators
        )

    def list_form(self, obj: Any = None) -> Any:
        form = super().list_form(obj)  # type: ignore[misc]
        if obj is not None and is_versioned(type(obj)):
            for form_field in form:
                if form_field.name not in ("list_form_pk", "csrf_token"):
                    form_field.render_kw = {
                        **(form_field.render_kw or {}),
                        "data-row-version": obj.version,
                    }
        return form

    # -- the check ------------------------------------------------------------------------

    def _on_model_change(self, form: Any, model: Any, is_created: bool) -> None:
        g.version_conflict = False
        versioned = not is_created and is_versioned(self.model)  # type: ignore[attr-defined]
        if versioned:
            submitted = getattr(form, "loaded_row_version", None)
            if submitted is None and "version" in form:
                submitted = form.version.data
            check_version(model, submitted)
        super()._on_model_change(form, model, is_created)  # type: ignore[misc]
        if versioned:
            # The UPDATE runs WHERE version = <the loaded one>: a save that committed
            # between our check and here matches no row, and nothing is written.
            try:
                db.session.flush()
            except StaleDataError:
                raise VersionConflict() from None

    def render(self, template: str, **kwargs: Any) -> Any:
        if template == self.edit_template and g.get("version_conflict") and "form" in kwargs:
            kwargs["conflicts"] = self.conflicts(kwargs["form"], kwargs.get("model"))
        kwargs.setdefault("conflicts", [])
        return super().render(template, **kwargs)  # type: ignore[misc]

    def conflicts(self, form: Any, model: Any) -> list[Conflict]:
        """The rows of this form that moved on; their version fields now hold the new versions."""
        found: list[Conflict] = []
        if model is None:
            return found
        db.session.rollback()
        state = inspect(model)
        if state.identity is None:
            return found
        current = db.session.get(type(model), state.identity, populate_existing=True)
        if "version" in form and current is not None:
            submitted = _as_int(form.version.data)
            if submitted != current.version:
                conflict = describe(type(model), state.identity[0], current, str(current))
                original = values_at_version(current, submitted)
                conflict.fields = compare_form(form, current, original)
                found.append(conflict)
                form.version.data = current.version
        for form_field in form:
            if form_field.type != "InlineModelFormList":
                continue
            child_model = form_field.model
            for entry in form_field.entries:
                pk = entry.get_pk()
                if not pk or "version" not in entry.form:
                    continue
                child = db.session.get(child_model, pk, populate_existing=True)
                submitted = _as_int(entry.form.version.data)
                if child is not None and submitted == child.version:
                    continue
                label = f"{child_model.__name__} {pk}" if child is None else str(child)
                conflict = describe(child_model, pk, child, label)
                if child is not None:
                    original = values_at_version(child, submitted)
                    conflict.fields = compare_form(entry.form, child, original)
                    entry.form.version.data = child.version
                found.append(conflict)
        return found

    # -- list-view inline edits -----------------------------------------------------------

    @expose("/ajax/update/", methods=("POST",))
    def ajax_update(self) -> Any:
        """Save one cell edited in the list view, refusing it when the row has moved on."""
        if not self.column_editable_list:  # type: ignore[attr-defined]
            return "Inline editing is not enabled here.", 404
        g.version_conflict = False
        form = self.list_form()
        for form_field in list(form):
            if form_field.name not in request.form and form_field.name != "csrf_token":
                del form[form_field.name]
        if not self.validate_form(form):  # type: ignore[attr-defined]
            errors = [e for f in form for e in f.errors if f.name != "list_form_pk"]
            message = "; ".join(str(e) for e in errors) or "The form had expired: reload the page."
            return f"Not saved: {message}", 400
        pk, _, version = str(form.list_form_pk.data).partition(":")
        record = self.get_one(pk)  # type: ignore[attr-defined]
        if record is None:
            return "Not saved: this record no longer exists (it was deleted).", 409
        form.loaded_row_version = version if is_versioned(self.model) else None  # type: ignore[attr-defined]
        if self.update_model(form, record):  # type: ignore[attr-defined]
            return "Saved."
        flashed = [str(m) for m in get_flashed_messages()]
        if g.get("version_conflict"):
            return self._inline_conflict_message(record, form), 409
        return "Not saved: " + " ".join(flashed), 400

    def _inline_conflict_message(self, record: Any, form: Any) -> str:
        db.session.rollback()
        state = inspect(record)
        current = db.session.get(type(record), state.identity, populate_existing=True)
        if current is None:
            return "Not saved: this record was deleted by someone else."
        conflict = describe(type(record), state.identity[0], current, str(current))
        when = f" at {conflict.when:%Y-%m-%d %H:%M:%S} UTC" if conflict.when else ""
        parts = [
            f"{row.label}: theirs {row.theirs!r}, yours {row.yours!r}"
            for row in compare_form(form, current)
        ]
        return (
            f"Not saved: {conflict.who} changed this row{when}. "
            + "; ".join(parts)
            + ". Reload the page to see the current values, then apply yours again."
        )


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def editable_columns(description: Any) -> list[str]:
    """Columns sensible to edit in place: short text, flags and choices, never keys or secrets."""
    from console.kinds import BooleanKind, ChoiceKind, EmailKind, TextKind

    return [
        c.key
        for c in description.columns
        if c.editable and not c.is_reference and not c.toggle
        # Emails need the full form's checks; toggled flags have their own control.
        and isinstance(c.kind, BooleanKind | ChoiceKind | TextKind)
        and not isinstance(c.kind, EmailKind)
    ]


__all__ = ["Conflict", "VersionCheckMixin", "VersionConflict", "is_versioned"]
