"""The one place that touches Flask-Admin's private names.

Flask-Admin gives the console its menu, layout, form scaffolding (including inline
child forms and search-as-you-type lookups), list filters and actions. Where what we
need has no public API, this module reaches in, so that a Flask-Admin upgrade has one
file to check. Everything else calls the functions and base classes here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qsl

from flask_admin import AdminIndexView, BaseView
from flask_admin.contrib.sqla import ModelView
from flask_admin.contrib.sqla.form import AdminModelConverter
from flask_admin.model.base import ViewArgs
from werkzeug.datastructures import MultiDict

# (filter index, filter name, raw value), as Flask-Admin parses ``flt<N>_<arg>=value``.
Filter = tuple[int, str, str]


class ModelViewBase(ModelView):
    """Flask-Admin's model view with its per-request hook turned into ``check_access``."""

    def check_access(self, endpoint: str) -> Any:
        """None to let the request through, else the response that refuses it."""
        return None

    def _handle_view(self, name: str, **kwargs: Any) -> Any:
        return self.check_access(name)


class PageViewBase(BaseView):
    """Flask-Admin's plain view with its per-request hook turned into ``check_access``."""

    def check_access(self, endpoint: str) -> Any:
        """None to let the request through, else the response that refuses it."""
        return None

    def _handle_view(self, name: str, **kwargs: Any) -> Any:
        return self.check_access(name)


class IndexViewBase(AdminIndexView):
    """Flask-Admin's index view with its per-request hook turned into ``check_access``."""

    def check_access(self, endpoint: str) -> Any:
        """None to let the request through, else the response that refuses it."""
        return None

    def _handle_view(self, name: str, **kwargs: Any) -> Any:
        return self.check_access(name)


def registered_views(admin: Any) -> list[Any]:
    """Every view added to ``admin``, in menu order."""
    return list(admin._views)


class ReferenceModelConverter(AdminModelConverter):
    """Flask-Admin's form converter, with ``ReferenceField`` for every looked-up reference.

    Its reference fields are made in a private method; the inline forms' converter
    makes theirs with this same class.
    """

    def _model_select_field(self, prop: Any, multiple: Any, remote_model: Any,
                            **kwargs: Any) -> Any:
        from console.admin.reference_fields import ReferenceField

        loader = (getattr(self.view, "_form_ajax_refs", None) or {}).get(prop.key)
        if loader is not None and not multiple:
            return ReferenceField(loader, **kwargs)
        return super()._model_select_field(prop, multiple, remote_model, **kwargs)


# -- list arguments and filters -------------------------------------------------------------


def list_arguments(view: ModelView) -> ViewArgs:
    """The list URL's arguments (page, page_size, sort, desc, search, filters, the rest)."""
    return view._get_list_extra_args()


def filter_search_arguments(
    view: ModelView, query: str
) -> tuple[list[Filter], str | None, list[str]]:
    """A list query string's filters and search, and what in it is not a valid filter.

    Flask-Admin reads only ``request.args`` and skips an unknown filter silently (an
    invalid value with a flashed message); this reads any query string and reports
    both, so that a selection made from it never reaches more rows than asked. Other
    arguments (page, sort, cursors) are ignored.
    """
    values = MultiDict(parse_qsl(query, keep_blank_values=True))
    problems: list[str] = []
    found: list[tuple[int, Filter]] = []
    known = view._filter_args or {}
    for arg, value in values.items(multi=True):
        if not arg.startswith("flt"):
            continue
        pos, sep, key = arg[3:].partition("_")
        if not sep or not pos.isdigit() or key not in known:
            problems.append(f"Unknown filter {arg[:60]!r}.")
            continue
        index, flt = known[key]
        if not flt.validate(value):
            shown = value if len(value) <= 40 else value[:40] + "..."
            problems.append(f"Not a valid value for the filter {flt.name!r}: {shown!r}.")
            continue
        found.append((int(pos), (index, str(flt.name), value)))
    search = values.get("search") or None
    return [f for _pos, f in sorted(found, key=lambda item: item[0])], search, problems


def list_url(view: ModelView, args: ViewArgs) -> str:
    """The list URL for ``args`` (filters and extra arguments kept)."""
    return view._get_list_url(args)


def apply_filters(view: ModelView, query: Any, filters: Sequence[Filter]) -> Any:
    """``query`` (an ORM Query) narrowed by the parsed ``filters``, with their joins."""
    if not filters or not view._filters:
        return query
    query, _count, _joins, _count_joins = view._apply_filters(query, None, {}, {}, filters)
    return query


def filter_context(
    view: ModelView, filters: Sequence[Filter] | None, groups: Any = None
) -> dict[str, Any]:
    """What Flask-Admin's filter macros and script read from the template context.

    ``groups``: ``filter_groups(view)`` made earlier (it is the same on every request).
    """
    return {
        "filters": view._filters,
        "filter_groups": view._get_filter_groups() if groups is None else groups,
        "active_filters": filters,
        "filter_args": view._get_filters(filters),
    }


def filter_groups(view: ModelView) -> Any:
    """The view's filters by group, as Flask-Admin's filter script reads them (or None)."""
    return view._get_filter_groups()


def filter_groups_source(view: ModelView) -> Any:
    """What ``filter_groups`` is made from: a new object whenever the filters are rebuilt."""
    return view._filter_groups


def filter_arguments(view: ModelView, filters: Sequence[Filter] | None) -> dict[str, str]:
    """The active filters as ``flt<N>_<arg>`` URL arguments."""
    return dict(view._get_filters(filters))


def filter_named(view: ModelView, arg: str) -> tuple[int, Any] | None:
    """(index, filter) of the filter whose URL name is ``arg`` (``completed_equals``), or None."""
    found = (view._filter_args or {}).get(arg)
    return (found[0], found[1]) if found else None


def filter_args(view: ModelView) -> dict[str, tuple[int, Any]]:
    """Every filter by its URL name: (index, filter)."""
    return dict(view._filter_args or {})


def filters_of(view: ModelView) -> list[Any]:
    """The view's filter objects, in index order."""
    return list(view._filters or [])


def lookup_loader(view: ModelView, name: str) -> Any:
    """The view's search-as-you-type loader called ``name`` (from ``form_ajax_refs``), or None."""
    return (view._form_ajax_refs or {}).get(name)


# -- actions ----------------------------------------------------------------------------------


def add_action(
    view: ModelView,
    name: str,
    text: str,
    handler: Callable[[list[str]], Any],
    confirmation: str | None = None,
) -> None:
    """Offer one more entry in the list's "With selected" menu (Flask-Admin's actions).

    An entry of the same name (Flask-Admin's own "delete") is replaced in its place:
    the menu would otherwise offer it twice, both running the new handler.
    """
    entries = [(n, t) for n, t in view._actions if n != name]
    at = next((i for i, (n, _t) in enumerate(view._actions) if n == name), len(entries))
    entries.insert(at, (name, text))
    view._actions[:] = entries
    view._actions_data[name] = (handler, text, confirmation)


__all__ = [
    "Filter",
    "IndexViewBase",
    "ModelViewBase",
    "PageViewBase",
    "ReferenceModelConverter",
    "ViewArgs",
    "add_action",
    "apply_filters",
    "filter_arguments",
    "filter_context",
    "filter_groups",
    "filter_groups_source",
    "filter_named",
    "filter_search_arguments",
    "filters_of",
    "list_arguments",
    "list_url",
    "lookup_loader",
    "registered_views",
]
