"""A form's reference field (a to-do's list, its assignee) that works with JavaScript off.

Flask-Admin renders a reference as a hidden input that only its select2 script turns
into something a person can use: without JavaScript the field is not there at all.
``ReferenceField`` renders real inputs instead:

- a parent table of at most ``SELECT_LIMIT`` rows: a plain ``<select>`` of them all
  (select2 adds a search box over it when JavaScript runs);
- a bigger one: a text input for the parent's key (its natural key, else its label,
  else its ID), resolved on the server with a message at the field when nothing or
  more than one row matches. console-page.js swaps it for the search-as-you-type
  lookup, which posts the parent's ID.

The two posts are told apart by a marker posted before the typed key under the
same name, which the swap removes.
"""

from __future__ import annotations

from typing import Any

from flask import render_template
from flask_admin.model.fields import AjaxSelectField
from flask_admin.model.widgets import AjaxSelect2Widget
from markupsafe import Markup
from sqlalchemy import func, select
from wtforms.validators import StopValidation

from console import rules
from console.catalogue import ColumnInfo, ModelDescription, catalogue_of
from console.extensions import session as current_session

# Parents up to this many are offered as a <select>; past it, their key is typed.
SELECT_LIMIT = 200
# Posted before the typed key: "what follows is a key, not an ID".
KEY_MARKER = "__key"
# What Flask-Admin's own selects post for "none"; ours post "" and take either.
BLANK = "__None"


def parent_description(model: type) -> ModelDescription:
    """The catalogue's description of a reference's parent model."""
    catalogue = catalogue_of(model)
    assert catalogue is not None
    return catalogue.describe(model)


def typed_key(description: ModelDescription) -> ColumnInfo:
    """The column a person types to name a parent: its natural key, else its label."""
    if description.natural_key is not description.pk:
        return description.natural_key
    return description.label


def key_hint(description: ModelDescription) -> str:
    """What the text input asks for, in words."""
    key = typed_key(description)
    if key is description.pk:
        return f"Type the {description.singular}'s {key.label}."
    return (f"Type the {description.singular}'s {key.label.lower()} exactly"
            f"{'' if key is description.natural_key else ' (or its ID)'}.")


def resolve(description: ModelDescription, text: str) -> Any:
    """The parent row ``text`` names; a ``rules.RuleError`` saying why when none or several."""
    session = current_session()
    key = typed_key(description)
    try:
        value = key.kind.parse(text, label=key.label)
    except rules.RuleError:
        value = None
    if value is not None:
        column = key.column
        rows: list[Any] = list(
            session.scalars(select(description.cls).where(column == value).limit(2))
        )
        if len(rows) == 1:
            return rows[0]
        if len(rows) > 1:
            raise rules.RuleError(
                f"More than one {description.singular} has the {key.label.lower()} {text!r}: "
                f"type the ID of the one you mean."
            )
    if key is not description.pk:
        # A label need not be unique: its ID always is.
        try:
            ident = description.pk.kind.parse(text, label="ID")
        except rules.RuleError:
            ident = None
        row = session.get(description.cls, ident) if ident is not None else None
        if row is not None and key is description.label:
            return row
    raise rules.RuleError(f"No {description.singular} has the {key.label.lower()} {text!r}.")


class ReferenceWidget:
    """A <select> of every parent when they are few; a text input for the key otherwise."""

    template = "admin/reference_field.html"

    def __call__(self, field: ReferenceField, **kwargs: Any) -> Markup:
        description = parent_description(field.loader.model)
        kwargs.setdefault("id", field.id)
        css = kwargs.pop("class", "") or kwargs.pop("class_", "")
        rows = field.few_parents()
        if rows is not None:
            current = field.loader.format(field.data) if field.data is not None else None
            attrs = {"data-role": "select2", **kwargs, "name": field.name,
                     "class": f"{css} console-reference".strip()}
            if field.allow_blank:
                attrs["data-allow-blank"] = "1"
                attrs["data-placeholder"] = f"(no {description.singular})"
            return Markup(render_template(  # noqa: S704 - a template's escaped output
                self.template,
                options=[field.loader.format(row) for row in rows],
                attrs=attrs,
                chosen=str(current[0]) if current else None,
                blank=field.allow_blank or current is None,
            ))
        key = typed_key(description)
        if field.typed is not None:
            shown = field.typed
        elif field.data is not None:
            shown = str(getattr(field.data, key.key))
        else:
            shown = ""
        attrs = {**kwargs, "type": "text", "name": field.name, "value": shown,
                 "class": f"{css} console-reference-key".strip(), "autocomplete": "off",
                 "aria-describedby": f"{kwargs['id']}-hint"}
        return Markup(render_template(  # noqa: S704 - a template's escaped output
            self.template,
            options=None,
            attrs=attrs,
            name=field.name,
            marker=KEY_MARKER,
            hint=key_hint(description),
            # What console-page.js puts in their place: Flask-Admin's lookup input.
            lookup=AjaxSelect2Widget()(field, **{"class": css, **kwargs}),
        ))


class ReferenceField(AjaxSelectField):
    """A reference chosen from a <select>, by its typed key, or by the lookup's ID."""

    widget = ReferenceWidget()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.typed: str | None = None
        self.key_error: str | None = None

    def few_parents(self) -> list[Any] | None:
        """Every parent row, by label, when there are at most ``SELECT_LIMIT``; else None."""
        description = parent_description(self.loader.model)
        session = current_session()
        pk = description.pk.column
        many = session.scalar(
            select(func.count()).select_from(
                select(pk).limit(SELECT_LIMIT + 1).subquery()
            )
        ) or 0
        if many > SELECT_LIMIT:
            return None
        return list(session.scalars(
            select(description.cls).order_by(description.label.column, pk)
        ))

    def process_formdata(self, valuelist: Any) -> None:
        self.typed = None
        self.key_error = None
        if valuelist and valuelist[0] == KEY_MARKER:
            text = (valuelist[1] if len(valuelist) > 1 else "") or ""
            self.typed = text
            if rules.is_blank(text):
                self.data = None
                return
            try:
                self.data = resolve(parent_description(self.loader.model), text.strip())
            except rules.RuleError as exc:
                self.data = None
                self.key_error = str(exc)
            return
        if valuelist and valuelist[0] in ("", BLANK):
            self.data = None
            return
        super().process_formdata(valuelist)

    def pre_validate(self, form: Any) -> None:
        # StopValidation: InputRequired would otherwise replace the message with its own.
        if self.key_error:
            raise StopValidation(self.key_error)
        if not self.allow_blank and self.data is None:
            raise StopValidation(f"{self.label.text} is required.")


__all__ = ["KEY_MARKER", "SELECT_LIMIT", "ReferenceField", "ReferenceWidget", "resolve"]
