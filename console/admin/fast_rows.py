"""The list page's per-row markup, built from patterns made once per page.

Flask-Admin renders each row's action icons through Jinja macros and ``url_for``,
and each inline-editable cell through ``html_params`` over a dozen attributes: at
50 rows that was most of the list page's rendering time. Here each of those is
rendered once per page with an unguessable token where the row's id goes, and every
row substitutes its escaped id into that pattern. The output is the same markup;
anything not known to be row-independent falls back to Flask-Admin's own rendering.

``PageRows`` then renders all rows of the page in one Python call, so that Jinja
runs no per-row or per-cell code at all (a scoped block per row copied the whole
template context; each cell was a context call), and Flask-Admin's one-form-per-row
list forms are built only if a cell falls back to them (``LazyListForm``).
"""

from __future__ import annotations

import re
import secrets
from typing import Any
from urllib.parse import quote

from flask import current_app, request, url_for
from flask_admin.model import BaseModelView, template
from jinja2 import pass_context
from markupsafe import Markup, escape
from werkzeug.routing import BuildError
from wtforms.widgets import html_params

from console.admin.deletes import DeleteLinkRowAction
from console.admin.versioning import VersionedXEditableWidget, is_versioned

# Actions whose markup depends on the row only through its id (and the page's return
# URL). Exact types: a subclass may render something else, so it takes the slow path.
ROW_INDEPENDENT_ACTIONS = (
    template.ViewRowAction,
    template.EditRowAction,
    template.ViewPopupRowAction,
    template.EditPopupRowAction,
    DeleteLinkRowAction,
)

# The characters Werkzeug leaves unquoted in query values (werkzeug.urls._urlencode).
URL_SAFE = "!$'()*,/:;?@"


def _token() -> str:
    """A placeholder no user-supplied URL or value can contain by chance."""
    return "rowtoken" + secrets.token_hex(12)


def query_value(value: Any) -> str:
    """``value`` as Werkzeug writes it in a query string, HTML-escaped for an attribute."""
    return str(escape(quote(str(value), safe=URL_SAFE)))


class RowLinks:
    """One page's row action icons: each action's markup rendered once, ids filled in."""

    def __init__(self, actions: list[Any]) -> None:
        self.actions = list(actions)
        self.token = _token()
        self.patterns: list[tuple[Any, str | None]] | None = None
        self.context: Any = None

    def _pattern(self, context: Any, action: Any) -> str | None:
        if type(action) not in ROW_INDEPENDENT_ACTIONS:
            return None
        try:
            rendered = str(action.render(context, self.token, None))
        except BuildError:  # a route whose converter rejects the token: render per row
            return None
        # A token that did not come through as-is (quoted, escaped, absent) cannot be
        # replaced safely: such an action renders per row.
        return rendered if self.token in rendered else None

    @pass_context
    def prepare(self, context: Any) -> str:
        """Render each action once against the page's context (called before the rows)."""
        self.context = context
        self.patterns = [(a, self._pattern(context, a)) for a in self.actions]
        return ""

    def html(self, row_id: Any, row: Any) -> Markup:
        """One row's icons (not a context function: Jinja copies the context per such call)."""
        if self.patterns is None:
            raise RuntimeError("RowLinks.prepare() must run before the rows are rendered")
        value = query_value(row_id)
        parts = []
        for action, pattern in self.patterns:
            if pattern is None:
                parts.append(str(action.render(self.context, row_id, row)))
            else:
                parts.append(pattern.replace(self.token, value))
        # Built from Flask-Admin's own (escaping) macros; the id is quoted and escaped.
        return Markup("".join(parts))  # noqa: S704


# Field types whose x-editable attributes depend only on the field's definition
# (XEditableWidget.get_kwargs reads nothing per row for them).
STATIC_EDITABLE_TYPES = frozenset(
    {
        "StringField",
        "TextAreaField",
        "IntegerField",
        "FloatField",
        "DecimalField",
        "DateField",
        "DateTimeField",
        "TimeField",
        "SelectField",
        "Select2Field",
    }
)
DYNAMIC_KEYS = ("data-value", "data-pk", "data-csrf")


class FastXEditableWidget(VersionedXEditableWidget):
    """The list's inline-edit link, its static attributes rendered once per field."""

    def __init__(self) -> None:
        self.token = _token()
        self.cache: dict[Any, str | None] = {}

    def _pattern(self, field: Any) -> str | None:
        """The link's attributes split around the row's values, or None if not cacheable."""
        choices = getattr(field, "choices", None)
        try:
            choices_key = tuple(choices) if choices is not None else None
            key = (field.type, field.id, field.name, choices_key)
            hash(key)
        except TypeError:
            return None
        if key not in self.cache:
            self.cache[key] = self._build(field)
        return self.cache[key]

    def _build(self, field: Any) -> str | None:
        if field.type not in STATIC_EDITABLE_TYPES:
            return None
        kwargs: dict[str, Any] = {
            "data-value": self.token + "v",
            "data-role": "x-editable",
            "data-url": "./ajax/update/",
            "id": field.id,
            "name": field.name,
            "href": "#",
            "data-pk": self.token + "p",
            "data-csrf": self.token + "c",
        }
        kwargs = self.get_kwargs(field, kwargs)
        if any(kwargs.get(k) != self.token + k[5] for k in DYNAMIC_KEYS):
            return None
        # Slots "v", "p", "c": the row's value, pk and CSRF token.
        return split_slots(html_params(**kwargs), self.token)

    def __call__(self, field: Any, **kwargs: Any) -> Any:
        version = kwargs.get("data-row-version")
        rest = set(kwargs) - {"display_value", "pk", "csrf", "data-row-version"}
        display_value = kwargs.get("display_value", "")
        pk = kwargs.get("pk")
        if version is not None and pk is not None:
            pk = f"{pk}:{version}"
        csrf = kwargs.get("csrf", "")
        pattern = None if rest or not pk else self._pattern(field)
        if pattern is None or any(isinstance(v, bool) for v in (display_value, pk, csrf)):
            return super().__call__(field, **kwargs)
        values = {
            "v": str(escape(display_value)),
            "p": str(escape(str(pk))),
            "c": str(escape(csrf)),
        }
        attrs = fill(pattern, values)
        # html_params escaped the static attributes; the row's values are escaped above.
        return Markup("<a {}>{}</a>").format(Markup(attrs), display_value)  # noqa: S704


def split_slots(text: str, token: str) -> str | None:
    """``text`` as a format string: ``token`` + a slot letter becomes the field ``{letter}``.

    None when ``text`` has no slot. The rest of the text is kept as is (braces doubled).
    """
    pieces = re.split(f"{token}([a-z])", text)
    if len(pieces) == 1:
        return None
    return "".join(
        "{" + piece + "}" if i % 2 else piece.replace("{", "{{").replace("}", "}}")
        for i, piece in enumerate(pieces)
    )


def fill(pattern: str, values: dict[str, str]) -> str:
    """A ``split_slots`` pattern with each slot replaced by its (already escaped) value."""
    return pattern.format_map(values)


def per_request(name: str) -> dict[Any, Any]:
    """A cache that lives as long as the current request (``g`` can outlive one in tests)."""
    return request.environ.setdefault(f"console.fast_rows.{name}", {})


def toggle_cell(
    view: Any, context: Any, model: Any, name: str, cache: dict[Any, Any] | None = None
) -> Markup:
    """A boolean's in-place toggle form; rendered once per page and value, then filled in.

    ``cache``: this request's ``per_request("toggles")``, if the caller has it at hand.
    """
    value = bool(getattr(model, name))
    version = getattr(model, "version", 0)
    if cache is None:
        cache = per_request("toggles")
    key = (view.endpoint, name, value)
    if key not in cache:
        cache[key] = _toggle_pattern(view, context, name, value)
    entry = cache[key]
    if entry is None or isinstance(model.id, bool):
        return _render_toggle(view, context, name, value, model.id, version)
    pattern, values = entry
    # toggle.html escaped everything else; the row's id and version are escaped here.
    return Markup(fill(pattern, {**values, "i": escape(model.id), "v": escape(version)}))  # noqa: S704


def _toggle_pattern(
    view: Any, context: Any, name: str, value: bool
) -> tuple[str, dict[str, str]] | None:
    """This request's toggle pattern: the app's (made once) and this request's own values.

    The pattern has slots for the row's id and version, the CSRF token and the return
    URL, so it holds nothing of any request or session and is kept per app (and script
    root, endpoint, column, value and label); the CSRF token and return URL are filled
    in from this request.
    """
    label = view.column_labels.get(name, name)
    key = (request.script_root, view.endpoint, name, value, label)
    patterns = current_app.extensions.setdefault("console_toggle_patterns", {})
    if key not in patterns or current_app.jinja_env.auto_reload:
        patterns[key] = _app_toggle_pattern(view, name, value)
    pattern = patterns[key]
    if pattern is None:
        return None
    values = {
        "c": escape(context["csrf_token"]()),
        "u": escape(request.full_path.rstrip("?")),
    }
    return pattern, values


def _app_toggle_pattern(view: Any, name: str, value: bool) -> str | None:
    token = _token()
    # The route's int converter accepts only digits: a random 24-digit number stands in.
    id_token = str(10**23 + secrets.randbelow(9 * 10**23))
    html = str(
        _render_toggle_with(
            view,
            name,
            value,
            id=int(id_token),
            version=token + "v",
            return_url=token + "u",
            csrf_token=lambda: token + "c",
        )
    )
    # Each stand-in exactly once and as written (not quoted or escaped), else no pattern.
    if html.count(id_token) != 1 or html.count(token) != 3:
        return None
    if any(html.count(token + slot) != 1 for slot in "vuc"):
        return None
    return split_slots(html.replace(id_token, token + "i"), token)


def _render_toggle(
    view: Any, context: Any, name: str, value: bool, id: Any, version: Any
) -> Markup:
    return _render_toggle_with(
        view,
        name,
        value,
        id=id,
        version=version,
        return_url=request.full_path.rstrip("?"),
        csrf_token=context["csrf_token"],
    )


def _render_toggle_with(
    view: Any, name: str, value: bool, *, id: Any, version: Any, return_url: str, csrf_token: Any
) -> Markup:
    template = current_app.jinja_env.get_template("admin/console/toggle.html")
    # Rendered by an autoescaping template: the data in it is escaped there.
    return Markup(  # noqa: S704
        template.render(
            url=url_for(f"{view.endpoint}.toggle_view", id=id, field=name),
            value=value,
            version=version,
            label=view.column_labels.get(name, name),
            return_url=return_url,
            csrf_token=csrf_token,
        )
    )


def can_edit_now(view: Any) -> bool:
    """``view.can_edit`` (a role check), worked out once per request instead of per cell."""
    cache = per_request("can_edit")
    if view.endpoint not in cache:
        cache[view.endpoint] = view.can_edit
    return cache[view.endpoint]


# Off: every row goes through the template's per-cell code (the tests compare both).
PAGE_ROWS = True


class LazyListForm:
    """A row's inline-edit form, built only if something reads it.

    Flask-Admin builds one list form per row before rendering; ``PageRows`` needs
    just one per page (the fields' definitions are the same for every row), so the
    others stay unbuilt unless the per-cell fallback asks for them.
    """

    def __init__(self, build: Any) -> None:
        self._build = build
        self._form: Any = None

    @property
    def form(self) -> Any:
        if self._form is None:
            self._form = self._build()
        return self._form

    def __getattr__(self, name: str) -> Any:
        # Only called for what this proxy lacks; its own two are missing only mid-copy.
        if name in ("_build", "_form") or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.form, name)

    def __getitem__(self, name: str) -> Any:
        return self.form[name]

    def __contains__(self, name: str) -> bool:
        return name in self.form

    def __iter__(self) -> Any:
        return iter(self.form)

    def __len__(self) -> int:
        return len(self.form)


class PageRows:
    """One list page's rows (the template's ``list_row`` block) rendered in Python.

    Everything that is the same for every row is worked out once in ``prepare``:
    which columns are editable or toggled (role checks), the CSRF token, the
    checkbox markup, each inline-edit link's attributes (``FastXEditableWidget``
    patterns from one form per page). A row then costs one formatted value per
    column. The markup is byte for byte what the block's per-cell code renders (a
    test compares them); a cell this class cannot vouch for is rendered by that
    same per-cell code (``list_forms[pk][column](...)``), so nothing is guessed.
    Column formatters get the page's template context (as RowLinks' per-row
    fallback does), not the per-row copy the template would pass; no formatter of
    ours reads the context.
    """

    def __init__(self, view: Any, row_links: RowLinks, list_forms: dict[Any, Any]) -> None:
        self.view = view
        self.row_links = row_links
        self.list_forms = list_forms
        self.ready = False
        self.context: Any = None
        self.csrf = escape("")

    @pass_context
    def prepare(self, context: Any) -> str:
        """Work out the per-page parts (called once, before the rows, after RowLinks')."""
        if not PAGE_ROWS or self.row_links.patterns is None:
            return ""
        from console.admin.lists import BigListMixin

        view = self.view
        self.context = context
        self.get_pk = view.get_pk_value
        self.checkbox: tuple[str, str] | None = None
        if context.get("actions"):
            title = escape(context["_gettext"]("Select record"))
            self.checkbox = (
                '\n    <td><input type="checkbox" name="rowid" class="action-checkbox" value="',
                f'" title="{title}" /></td>',
            )
        self.display_actions = bool(view.column_display_actions)
        columns = [c for c, _name in context["list_columns"]]
        editable = [c for c in columns if view.is_editable(c)]
        # One form's fields stand for every row's only when nothing overrides how
        # list forms are made (ours adds just the row's version, passed per row here).
        self.template_form = None
        if editable and type(view).list_form is BigListMixin.list_form:
            self.template_form = self._template_form(context)
        self.versioned = is_versioned(view.model)
        # Our get_list_value (toggles, then Flask-Admin's formatters) is split per column
        # once; a view that overrides it gets its own per cell.
        own_value = (
            type(view).get_list_value is BigListMixin.get_list_value
            and super(BigListMixin, view).get_list_value.__func__ is BaseModelView.get_list_value
            and type(view)._get_list_value is BaseModelView._get_list_value
            and type(view)._get_field_value is BaseModelView._get_field_value
        )
        toggles = view.toggle_columns() if can_edit_now(view) else frozenset()
        # (opening markup, cell renderer, column, renderer's per-column argument)
        self.cells: list[tuple[str, Any, str, Any]] = []
        for c in columns:
            opening = f'\n    <td class="col-{escape(c)}">'
            if c in editable:
                value = self._list_value(c) if own_value and c not in toggles else None
                plan = (self._editable_pattern(c), value)
                self.cells.append((opening + "\n      ", self._editable, c, plan))
            elif not own_value:
                self.cells.append((opening + "\n    ", self._value, c, view.get_list_value))
            elif c in toggles:
                self.cells.append((opening + "\n    ", self._toggle, c, per_request("toggles")))
            else:
                self.cells.append((opening + "\n    ", self._formatted, c, self._list_value(c)))
        self.ready = True
        return ""

    # -- per page -----------------------------------------------------------------------

    def _template_form(self, context: Any) -> Any:
        """The first row's list form (its fields stand for all rows'); the CSRF value."""
        rows = context.get("data") or []
        form = self.list_forms.get(self.get_pk(rows[0])) if rows else None
        if form is None:
            return None
        form = form.form if isinstance(form, LazyListForm) else form
        # As the template decides it: the form's own token, else the global one, else none.
        token = getattr(form, "csrf_token", None)
        if token is not None and token:
            self.csrf = escape(token._value())
        elif context.get("csrf_token"):
            self.csrf = escape(context["csrf_token"]())
        return form

    def _editable_pattern(self, c: str) -> str | None:
        """Column ``c``'s inline-edit link split around its row values, or None (per cell)."""
        form = self.template_form
        field = form[c] if form is not None and c in form else None
        if field is None or not isinstance(field.widget, FastXEditableWidget):
            return None
        if set(field.render_kw or {}) - {"data-row-version"}:
            return None
        return field.widget._pattern(field)

    def _list_value(self, c: str) -> Any:
        """``BaseModelView._get_list_value`` for column ``c``, its lookups made once.

        Same steps: the column's formatter (else the attribute), its choices, then the
        first type formatter the value is an instance of (looked up once per type).
        """
        view, context = self.view, self.context
        column_fmt = view.column_formatters.get(c)
        choices = view._column_choices_map.get(c, {})
        type_formatters = view.column_type_formatters
        by_type: dict[type, Any] = {}
        path = c.split(".")

        def value(row: Any) -> Any:
            if column_fmt is not None:
                v = column_fmt(view, context, row, c)
            else:
                try:
                    v = row
                    for name in path:
                        v = getattr(v, name)
                except AttributeError:
                    v = None
            if choices:
                return choices.get(v) or v
            kind = type(v)
            if kind not in by_type:
                by_type[kind] = next(
                    (f for t, f in type_formatters.items() if isinstance(v, t)), None
                )
            type_fmt = by_type[kind]
            if type_fmt is None:
                return v
            try:
                return type_fmt(view, v, c)
            except TypeError:  # an old two-argument formatter: Flask-Admin's own handling
                return view._get_list_value(
                    context, row, c, view.column_formatters, type_formatters
                )

        return value

    # -- per cell -------------------------------------------------------------------------

    # Each returns the cell's content, escaped (after the opening's whitespace).

    def _formatted(self, row: Any, pk: Any, c: str, value: Any) -> Markup:
        return escape(value(row))

    def _value(self, row: Any, pk: Any, c: str, get_value: Any) -> Markup:
        return escape(get_value(self.context, row, c))

    def _toggle(self, row: Any, pk: Any, c: str, cache: dict[Any, Any]) -> Markup:
        return toggle_cell(self.view, self.context, row, c, cache)

    def _editable(self, row: Any, pk: Any, c: str, plan: Any) -> Any:
        pattern, value = plan
        if value is not None:
            display_value = value(row)
        else:
            display_value = self.view.get_list_value(self.context, row, c)
        version = row.version if self.versioned else None
        key = pk if version is None else f"{pk}:{version}"
        if pattern is None or not key or isinstance(display_value, bool):
            return escape(self._generic_editable(row, pk, c, display_value))
        shown = escape(display_value)
        values = {"v": shown, "p": escape(key), "c": self.csrf}
        # The pattern's static attributes were escaped by html_params, the values here.
        return f"<a {fill(pattern, values)}>{shown}</a>"

    def _generic_editable(self, row: Any, pk: Any, c: str, display_value: Any) -> Any:
        """What the template's per-cell code renders for an inline-editable cell."""
        form = self.list_forms[pk]
        token = getattr(form, "csrf_token", None)
        if token is not None and token:
            return form[c](pk=pk, display_value=display_value, csrf=token._value())
        if self.context.get("csrf_token"):
            return form[c](pk=pk, display_value=display_value, csrf=self.context["csrf_token"]())
        return form[c](pk=pk, display_value=display_value)

    # -- per row --------------------------------------------------------------------------

    # What Flask-Admin's row loop puts around each row's ``list_row`` block, and what
    # that block (console/list.html) puts around ``html()``: whitespace included.
    ROW_OPEN = "\n        <tr>\n            " + "\n  "
    ROW_CLOSE = "\n" + "\n        </tr>\n        "

    def rows(self, data: Any) -> Markup:
        """All rows, as Flask-Admin's loop over the ``list_row`` block renders them."""
        html, opening, closing = self.html, self.ROW_OPEN, self.ROW_CLOSE
        # html() escaped every value; the rest is fixed markup.
        parts = []
        for row in data:
            parts += [opening, html(row), closing]
        return Markup("".join(parts))  # noqa: S704

    def html(self, row: Any) -> Markup:
        """One row's cells (the ``list_row`` block's output, less its outer whitespace)."""
        pk = self.get_pk(row)
        parts = []
        if self.checkbox is not None:
            parts += [self.checkbox[0], escape(pk), self.checkbox[1]]
        if self.display_actions:
            links = self.row_links.html(pk, row)
            parts += ['\n    <td class="list-buttons-column">', links, "</td>"]
        for opening, render, c, arg in self.cells:
            parts += [opening, render(row, pk, c, arg), "\n    </td>"]
        parts.append("\n  ")
        # Every value above went through escape(); the fixed markup is ours.
        return Markup("".join(parts))  # noqa: S704
