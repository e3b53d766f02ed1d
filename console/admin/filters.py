"""List filters: Flask-Admin's, with choice filters that read what their own menu offers.

Flask-Admin's enum filters offer the column's stored values in their menu but look
the submitted text up by member *name*, so an Enum whose values differ from its names
(``todo = "to do"``) fails with a server error, and so does any unknown value in the
URL. These take a value or a name, in any case, and refuse anything else as an
invalid filter value (a message, not an error).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import current_app, flash, request
from flask_admin.contrib.sqla import filters as sqla_filters
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup, escape

from console.admin import adapter
from console.catalogue import ColumnInfo, ModelDescription
from console.kinds import TextKind

if TYPE_CHECKING:
    from console.admin.model_view import ConsoleModelView

# The no-JavaScript "Add filter" form's fields (a GET): which filter, and its value.
ADD_FILTER = "add_filter"
ADD_FILTER_VALUE = "add_filter_value"


@dataclass
class ShownFilter:
    """An active filter as the page without JavaScript lists it, with a link that drops it."""

    text: str
    remove_url: str


@dataclass(frozen=True)
class FilterMenus:
    """What a list page shows of its view's filters, the same on every request.

    Flask-Admin evaluates each filter's options once, when the view is made, so the
    groups (``_get_filter_groups``), their JSON for its script and the no-JavaScript
    form's ``<option>``s are made once per view too (they were made per page).
    """

    groups: dict[str, list[dict[str, Any]]] | None
    json: Markup
    options: Markup


def filter_menus(view: ConsoleModelView) -> FilterMenus:
    """The view's ``FilterMenus``, made on first use."""
    source = adapter.filter_groups_source(view)
    cached: tuple[Any, FilterMenus] | None = getattr(view, "_console_filter_menus", None)
    if cached is not None and cached[0] is source:
        return cached[1]
    groups = adapter.filter_groups(view)
    menus = FilterMenus(
        groups=groups,
        json=htmlsafe_json_dumps(groups, dumps=current_app.json.dumps),
        options=_options_markup(groups or {}),
    )
    view._console_filter_menus = (source, menus)
    return menus


def reference_filter_column(parent: ModelDescription) -> ColumnInfo:
    """The parent's column a reference is filtered by: what people see of the parent, its
    natural key when that is text, else its label."""
    return parent.natural_key if isinstance(parent.natural_key.kind, TextKind) else parent.label


def header_filters(view: ConsoleModelView) -> dict[str, list[dict[str, Any]]]:
    """The list's filters by the grid column they narrow (its key), for the grid's header.

    Each: its URL name (``arg``, as ``flt<N>_<arg>``), its operation in words, its choices
    (when it offers a fixed set) and Flask-Admin's kind of value (``datepicker``...). A
    reference's filters (on the parent's natural key or label) belong to the reference's
    column. Made once per view, as the filter menus are.
    """
    source = adapter.filter_groups_source(view)
    cached: tuple[Any, dict[str, list[dict[str, Any]]]] | None = getattr(
        view, "_console_header_filters", None)
    if cached is not None and cached[0] is source:
        return cached[1]
    description = view.description
    catalogue = description.catalogue
    keys: dict[Any, str] = {}
    for info in description.columns:
        if info.reference is not None and info.reference.reference and catalogue is not None:
            shown = reference_filter_column(catalogue.describe(info.reference.parent))
            keys.setdefault(shown.column, info.key)
        else:
            keys.setdefault(info.column, info.key)
    found: dict[str, list[dict[str, Any]]] = {}
    for arg, (_index, flt) in sorted(adapter.filter_args(view).items(), key=lambda i: i[1][0]):
        key = keys.get(getattr(flt, "column", None))
        if key is None:
            continue
        options = flt.get_options(view) if hasattr(flt, "get_options") else None
        found.setdefault(key, []).append({
            "arg": arg,
            "operation": str(flt.operation()),
            "options": [[str(v), str(t)] for v, t in options] if options else None,
            "type": getattr(flt, "data_type", None),
        })
    view._console_header_filters = (source, found)
    return found


def _options_markup(groups: dict[str, list[dict[str, Any]]]) -> Markup:
    """The "Add filter" form's ``<optgroup>``s: a filter and, for a choice, its value."""
    parts: list[str] = []
    for group, items in groups.items():
        label = escape(group)
        parts.append(f'<optgroup label="{label}">')
        for item in items:
            arg, operation = escape(item["arg"]), escape(item["operation"])
            if item.get("options"):
                parts.extend(
                    f'<option value="{arg}={escape(value)}">{label} {operation} '
                    f"{escape(text)}</option>"
                    for value, text in item["options"]
                )
            else:
                parts.append(f'<option value="{arg}">{label} {operation} &hellip;</option>')
        parts.append("</optgroup>")
    return Markup("\n".join(parts))  # noqa: S704 (every value above is escaped)


def added_filter_url(view: ConsoleModelView) -> str:
    """The list URL with the filter the no-JavaScript form asked for added (a GET, no state).

    The form names the filter by its URL name; a choice filter's option comes with it
    (``completed_equals=1``), any other's value from the text input.
    """
    args = adapter.list_arguments(view)
    arg, sep, preset = request.args.get(ADD_FILTER, "").partition("=")
    value = preset if sep else request.args.get(ADD_FILTER_VALUE, "").strip()
    extra = {k: v for k, v in args.extra_args.items() if k not in (ADD_FILTER, ADD_FILTER_VALUE)}
    found = adapter.filter_named(view, arg)
    filters = list(args.filters or [])
    if found is None:
        flash("Choose a filter to add.", "error")
    elif not found[1].validate(value):
        flash(view.get_invalid_value_msg(value, found[1]), "error")
    else:
        filters.append((found[0], str(found[1].name), value))
    return adapter.list_url(view, args.clone(page=None, filters=filters or None, extra_args=extra))


def shown_filters(view: ConsoleModelView, filters: list[adapter.Filter]) -> list[ShownFilter]:
    """The active filters in words ("Completed equals Yes"), each with its remove link."""
    args = adapter.list_arguments(view)
    every = adapter.filters_of(view)
    shown = []
    for position, (index, name, value) in enumerate(filters):
        flt = every[index]
        options = dict(flt.get_options(view) or []) if hasattr(flt, "get_options") else {}
        rest = [f for i, f in enumerate(filters) if i != position]
        shown.append(ShownFilter(
            text=f"{name} {flt.operation()} {options.get(value, value)}".strip(),
            remove_url=adapter.list_url(view, args.clone(page=None, filters=rest or None)),
        ))
    return shown


def choice_of(column: Any, text: Any) -> Any:
    """The stored value ``text`` names (a value or a member name, any case); ValueError if none.

    The stored value, not the enum member: SQLAlchemy's Enum type takes either, and a
    plain string also survives code that hands parameters to the driver unprocessed
    (the planner's row estimate).
    """
    if not isinstance(text, str) or "\x00" in text:
        raise ValueError(text)
    wanted = text.strip().lower()
    enum_class = getattr(column.type, "enum_class", None)
    if enum_class is not None:
        for member in enum_class:
            if wanted in (str(member.value).lower(), member.name.lower()):
                return str(member.value)
        raise ValueError(text)
    for value in column.type.enums:
        if str(value).lower() == wanted:
            return value
    raise ValueError(text)


class ChoiceEqual(sqla_filters.FilterEqual):
    """Equals one of the choices."""

    def clean(self, value: Any) -> Any:
        return choice_of(self.column, value)


class ChoiceNotEqual(sqla_filters.FilterNotEqual):
    """Is not one of the choices (rows without a value included)."""

    def clean(self, value: Any) -> Any:
        return choice_of(self.column, value)


class ChoiceInList(sqla_filters.FilterInList):
    """Is any of several choices (comma-separated)."""

    def clean(self, value: Any) -> Any:
        return [choice_of(self.column, v) for v in super().clean(value)]


class ChoiceNotInList(sqla_filters.FilterNotInList):
    """Is none of several choices."""

    def clean(self, value: Any) -> Any:
        return [choice_of(self.column, v) for v in super().clean(value)]


class ConsoleFilterConverter(sqla_filters.FilterConverter):
    """Flask-Admin's filter converter with the choice filters above."""

    enum = (ChoiceEqual, ChoiceNotEqual, sqla_filters.FilterEmpty, ChoiceInList, ChoiceNotInList)


__all__ = ["ConsoleFilterConverter", "FilterMenus", "choice_of", "filter_menus"]
