"""The conflict page: who changed a record since you opened it, theirs next to yours.

When a save is refused because the row moved on (``console.versions.Conflict``), the
edit page shows, field by field, the value saved now and the value submitted, and
what re-applying would do. Fields only the other person changed take their value in
the form, so "Re-apply my values" never undoes their work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from console import audit, history
from console.admin.list_page import display
from console.catalogue import ModelDescription
from console.versions import Loaded


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
class ConflictReport:
    """A row that moved on since it was loaded, and by whom."""

    label: str
    who: str
    when: datetime | None
    version: int | None
    deleted: bool = False
    fields: list[FieldComparison] = field(default_factory=list)


def shown(value: Any) -> str:
    """A value as the conflict table shows it."""
    text = display(value)
    return text if text else "(empty)"


def _field_key(mapper: Any, name: str) -> str | None:
    """The column key history records for a form field (a reference's foreign key)."""
    if name not in mapper.attrs:
        return None
    prop = mapper.attrs[name]
    if hasattr(prop, "direction"):
        if prop.direction.name != "MANYTOONE":
            return None
        return str(mapper.get_property_by_column(next(iter(prop.local_columns))).key)
    return name


def _recorded(value: Any) -> Any:
    """A form or model value as history records it (a referenced row as its id)."""
    if value is not None and hasattr(value, "_sa_instance_state"):
        identity = inspect(value).identity
        return identity[0] if identity else None
    if value == "":
        return None
    return history.json_value(value)


def compare_form(
    form: Any, obj: Any, original: dict[str, Any] | None = None
) -> list[FieldComparison]:
    """Field by field: the row's current values next to the submitted ones.

    With ``original`` (the values the user loaded, as history records them), a field
    only the other person changed takes their value in the form.
    """
    mapper = inspect(type(obj))
    rows = []
    for form_field in form:
        name = form_field.name.rsplit("-", 1)[-1]
        if name in ("csrf_token", "id") or form_field.type in (
            "InlineModelFormList",
            "HiddenField",
            "TokenField",
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
            FieldComparison(str(form_field.label.text), shown(theirs), shown(yours), merge)
        )
    return rows


def loaded_values(
    session: Session, description: ModelDescription, obj: Any, loaded: Loaded
) -> dict[str, Any] | None:
    """What the user had loaded, as history records values: theirs from the token or history."""
    if loaded.recorded is not None:
        return dict(loaded.recorded)
    return history.values_at_version(session, obj, loaded.version)


def report(
    session: Session,
    description: ModelDescription,
    object_id: Any,
    obj: Any | None,
    label: str,
) -> ConflictReport:
    """Who changed the row last and when (from the audit log)."""
    entry = audit.last_change(session, description.model_name, object_id)
    who = (entry.account_email or "an unknown account") if entry else "another session"
    version = None
    if obj is not None and description.version is not None:
        version = getattr(obj, description.version.key)
    return ConflictReport(
        label=label,
        who=who,
        when=entry.at if entry else None,
        version=version,
        deleted=obj is None,
    )


def moved_on_message(session: Session, description: ModelDescription, object_id: Any) -> str:
    """One sentence: who changed the record, and when."""
    entry = audit.last_change(session, description.model_name, object_id)
    who = entry.account_email if entry and entry.account_email else "someone else"
    when = f" at {entry.at:%Y-%m-%d %H:%M:%S} UTC" if entry else ""
    return f"{who} changed this record{when}"


__all__ = ["ConflictReport", "FieldComparison", "compare_form", "moved_on_message", "report"]
