"""Form pieces shared by every model view: CSRF, the token of what was loaded, kind rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask_admin.contrib.sqla.ajax import QueryAjaxModelLoader
from flask_admin.contrib.sqla.form import InlineModelConverter
from flask_admin.form import BaseForm
from flask_admin.model.form import InlineFormAdmin
from flask_wtf import FlaskForm
from sqlalchemy import inspect
from wtforms import HiddenField, ValidationError
from wtforms.validators import StopValidation
from wtforms.widgets import DateInput

from console import rules
from console.catalogue import ModelDescription, catalogue_of
from console.extensions import db
from console.kinds import DateKind, EmailKind, IntegerKind, NumberKind, TextKind

# The hidden field that carries what the user loaded (its version, or its values).
TOKEN_FIELD = "version"  # noqa: S105 - a field name, not a secret


class Messages:
    """Flask-Admin's translations, with WTForms' date messages saying the format to type."""

    REWORDED = {
        "Not a valid date value.": "Not a valid date: type it as YYYY-MM-DD (2026-12-31).",
        "Not a valid datetime value.":
            "Not a valid date and time: type it as YYYY-MM-DD HH:MM (2026-12-31 17:30).",
    }

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def gettext(self, string: str) -> str:
        return str(self.inner.gettext(self.REWORDED.get(string, string)))

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return str(self.inner.ngettext(singular, plural, n))


class ConsoleForm(BaseForm):
    """Flask-Admin's form base with Flask-WTF's CSRF token.

    Flask-Admin's own ``SecureForm`` signs tokens with a scheme that Flask-WTF's
    global ``CSRFProtect`` does not accept; Flask-WTF's Meta gives one token that
    both check.
    """

    class Meta(FlaskForm.Meta):
        _translations = Messages(BaseForm.Meta._translations)

        def get_translations(self, form: Any) -> Any:
            return self._translations


class TokenField(HiddenField):
    """What the user loaded (``console.versions`` token); read for the check, never written.

    Only the submitted form sets it: WTForms would otherwise fill a field missing from
    the POST with the object's current version, and a save without one would pass
    the check it skipped.
    """

    def process_data(self, value: Any) -> None:
        self.data = None

    def populate_obj(self, obj: Any, name: str) -> None:
        return None


class RuleValidator:
    """Run a ``console.rules`` check on a form field; its message lands on the field."""

    def __init__(self, check: Callable[[Any], Any]) -> None:
        self.check = check

    def __call__(self, form: Any, field: Any) -> None:
        if field.data in (None, ""):
            return
        try:
            field.data = self.check(field.data)
        except rules.RuleError as exc:
            raise ValidationError(str(exc)) from None


def no_nul(form: Any, field: Any) -> None:
    """Refuse text holding a NUL character: no database stores one as text."""
    if isinstance(field.data, str) and "\x00" in field.data:
        raise ValidationError("This contains a character that cannot be stored (NUL).")


def strip_filter(value: Any) -> Any:
    """Trim surrounding blanks from text input (as every other path does).

    Text of only invisible characters (``rules.is_blank``) is blank.
    """
    if not isinstance(value, str):
        return value
    return "" if rules.is_blank(value) else value.strip()


class Required:
    """The field must hold something visible: blanks and format characters are nothing."""

    field_flags = {"required": True}

    def __init__(self, label: str) -> None:
        self.message = f"{label} is required."

    def __call__(self, form: Any, field: Any) -> None:
        data = field.data
        if data is None or (isinstance(data, str) and rules.is_blank(data)):
            field.errors[:] = []
            raise StopValidation(self.message)


def email_filter(value: Any) -> Any:
    """Emails are compared and stored normalised."""
    return rules.normalise_email(value) if isinstance(value, str) else value


class FitsKind:
    """The value must be one the column's kind accepts (a Numeric's digits and places)."""

    def __init__(self, kind: Any, label: str) -> None:
        self.kind = kind
        self.label = label

    def __call__(self, form: Any, field: Any) -> None:
        if field.data in (None, ""):
            return
        try:
            self.kind.parse(str(field.data), label=self.label)
        except rules.RuleError as exc:
            raise ValidationError(str(exc)) from None


def form_args(description: ModelDescription) -> dict[str, dict[str, Any]]:
    """Each editable column's form filters and validators, from its kind."""
    args: dict[str, dict[str, Any]] = {}
    for info in description.columns:
        if not info.editable or info.is_reference:
            continue
        if isinstance(info.kind, NumberKind | IntegerKind):
            args[info.key] = {"validators": [FitsKind(info.kind, info.label)]}
        if isinstance(info.kind, DateKind):
            # The browser's own date input: it closes when a day is chosen (Flask-Admin's
            # picker stayed open over the Save button), works without JavaScript and
            # posts YYYY-MM-DD, which is also what may be typed where it is a text box.
            args[info.key] = {"widget": DateInput()}
        if isinstance(info.kind, TextKind):
            entry: dict[str, Any] = {"filters": [strip_filter], "validators": [no_nul]}
            if isinstance(info.kind, EmailKind):
                entry["filters"] = [email_filter]
                entry["validators"].append(RuleValidator(rules.check_email))
            if not info.nullable:
                # InputRequired alone would accept a value of blanks (or of U+200B).
                entry["validators"].insert(0, Required(info.label))
            args[info.key] = entry
    return args


class SafeAjaxLoader(QueryAjaxModelLoader):
    """Flask-Admin's search-as-you-type lookup, with malformed keys treated as "not found".

    Stock, a posted value such as ``abc`` for an integer key reaches the database
    and fails there (a 500 on PostgreSQL).
    """

    def get_one(self, pk: Any) -> Any:
        key = inspect(self.model).primary_key[0]
        try:
            pk = key.type.python_type(pk)
        except (TypeError, ValueError, NotImplementedError):
            return None
        return super().get_one(pk)


def lookup(name: str, parent: ModelDescription) -> SafeAjaxLoader:
    """A lookup of ``parent`` rows by their searchable text, ten at a time."""
    fields = [c.key for c in parent.searchable] or [parent.label.key]
    return SafeAjaxLoader(
        name,
        db,
        parent.cls,
        fields=fields,
        page_size=10,
        placeholder=f"Search {parent.plural}...",
    )


class TokenInlineFormAdmin(InlineFormAdmin):
    """Inline child rows (a list's to-dos) carry and check their own token."""

    def postprocess_form(self, form_class: Any) -> Any:
        form_class = super().postprocess_form(form_class)
        setattr(form_class, TOKEN_FIELD, TokenField())
        return form_class


class TokenInlineModelConverter(InlineModelConverter):
    """Builds inline forms with ``TokenInlineFormAdmin``."""

    form_admin_class = TokenInlineFormAdmin


def inline_form_options(description: ModelDescription, edge: Any) -> tuple[type, dict[str, Any]]:
    """The inline form of one child relationship: the child's editable columns."""
    catalogue = catalogue_of(edge.child)
    assert catalogue is not None
    child = catalogue.describe(edge.child)
    form_columns = [child.pk.key]
    refs: dict[str, Any] = {}
    for info in child.columns:
        if not info.editable or info.column is edge.fk:
            continue
        if info.reference is None:
            form_columns.append(info.key)
        elif info.reference.reference:
            form_columns.append(info.reference.reference)
            refs[info.reference.reference] = lookup(
                info.reference.reference, catalogue.describe(info.reference.parent)
            )
    return edge.child, {
        "column_labels": {c.key: c.label for c in child.columns}
        | {c.reference.reference: c.label for c in child.columns
           if c.reference is not None and c.reference.reference},
        "form_columns": form_columns,
        "form_ajax_refs": refs,
        "form_args": form_args(child),
    }


__all__ = [
    "ConsoleForm",
    "RuleValidator",
    "TokenField",
    "form_args",
    "inline_form_options",
    "lookup",
]
