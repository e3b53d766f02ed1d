"""The one model view: every page of a model, generated from its catalogue description.

Each endpoint is a thin method that hands the request to the module named for what
the user sees: the list (``list_page``), forms (``edit_page``), deletes
(``deletes``), history (``history_pages``), import and export (``transfer``), bulk
edits (``bulk_edits``), in-place edits (``cells``). No mixins: the class reads top to
bottom. Flask-Admin still builds the forms, filters, lookups and actions; what it
needs is derived from the description once, in ``options_for``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from flask import abort, has_request_context, redirect, request
from flask_admin import expose
from flask_admin.contrib.sqla.filters import FilterEqual
from sqlalchemy import Select
from sqlalchemy.orm import Session

from console.admin import (
    adapter,
    bulk_edits,
    cells,
    deletes,
    edit_page,
    grid,
    grid_layouts,
    history_pages,
    list_page,
    lookups,
    record_pages,
    selection,
    transfer,
)
from console.admin import filters as list_filters
from console.admin.filters import ConsoleFilterConverter
from console.admin.forms import (
    TOKEN_FIELD,
    ConsoleForm,
    TokenField,
    TokenInlineModelConverter,
    form_args,
    inline_form_options,
    lookup,
)
from console.admin.static_urls import static_url
from console.admin.view_urls import fast_url, query_string
from console.auth.roles import current_role_includes, deny, requires
from console.catalogue import ColumnInfo, ModelDescription
from console.extensions import db
from console.kinds import BooleanKind, ChoiceKind, DateKind, DateTimeKind
from console.rules import Role

if TYPE_CHECKING:
    from console.admin.registry import Registry

# What each endpoint needs, by view-method name. Anything not listed (and not marked
# with ``@requires``) needs admin: new endpoints are closed by default.
ENDPOINT_ROLES: dict[str, Role] = {
    "index_view": Role.viewer,
    "details_view": Role.viewer,
    "export": Role.viewer,
    "export_job": Role.viewer,
    "export_selected": Role.viewer,
    "export_status": Role.viewer,
    "export_file": Role.viewer,
    "export_cancel": Role.viewer,
    "history_view": Role.viewer,
    "ajax_lookup": Role.editor,
    "create_view": Role.editor,
    "edit_view": Role.editor,
    "delete_view": Role.editor,
    "action_view": Role.editor,
    "toggle_view": Role.editor,
    "cells_view": Role.editor,
    "revert_view": Role.editor,
    "import_view": Role.editor,
    "import_status": Role.editor,
    "import_errors": Role.editor,
    "import_changes": Role.editor,
    "import_confirm": Role.editor,
    "import_cancel": Role.editor,
    "bulk_confirm": Role.editor,
    "bulk_apply": Role.editor,
}


def options_for(description: ModelDescription) -> dict[str, Any]:
    """Flask-Admin's options for one model, derived from its description."""
    references = [c for c in description.columns if c.reference is not None]
    shown = [c for c in description.columns if not c.hidden]
    form_columns: list[str] = []
    ajax: dict[str, Any] = {}
    catalogue = description.catalogue
    assert catalogue is not None
    for info in description.columns:
        if not info.editable:
            continue
        if info.reference is None:
            form_columns.append(info.key)
        elif info.reference.reference:
            # Chosen with a search-as-you-type lookup: a form never loads a whole table.
            name = info.reference.reference
            form_columns.append(name)
            ajax[name] = lookup(name, catalogue.describe(info.reference.parent))
        else:
            form_columns.append(info.key)
    filters: list[Any] = [
        info.key
        for info in shown
        if info.reference is None and isinstance(info.kind, BooleanKind | ChoiceKind | DateKind
                                                 | DateTimeKind)
    ]
    labels = {c.key: c.label for c in description.columns}
    for info in references:
        assert info.reference is not None
        parent = catalogue.describe(info.reference.parent)
        if info.reference.reference:
            # Filter by what people see of the parent: its natural key (or label).
            key = list_filters.reference_filter_column(parent)
            filters.append(getattr(parent.cls, key.key))
            labels[info.reference.reference] = info.label
        else:
            filters.append(info.key)
    inline = [inline_form_options(description, edge) for edge in description.inline]
    for edge in description.inline:
        labels[edge.collection or ""] = catalogue.describe(edge.child).title
    return {
        "form_columns": form_columns,
        "form_args": form_args(description),
        "form_ajax_refs": ajax,
        "inline_models": inline or None,
        "column_filters": filters,
        "column_labels": labels,
        "column_list": [c.key for c in list_page.list_columns(description)],
        "column_searchable_list": [],
    }


class ConsoleModelView(adapter.ModelViewBase):
    """Every model's admin view, configured from its description."""

    form_base_class = ConsoleForm
    filter_converter = ConsoleFilterConverter()
    inline_model_form_converter = TokenInlineModelConverter
    model_form_converter = adapter.ReferenceModelConverter
    named_filter_urls = True
    can_view_details = True
    can_set_page_size = True
    page_size = 50
    # Flask-Admin accepts no other size from the URL (get_safe_page_size).
    page_size_options = (20, 50, 100, 200)
    can_export = True
    export_types = ["csv", "jsonl", "xlsx"]
    list_template = "admin/console/list.html"
    edit_template = "admin/console/edit.html"
    create_template = "admin/console/create.html"
    details_template = "admin/console/details.html"
    column_type_formatters = {
        **adapter.ModelViewBase.column_type_formatters,
        datetime: lambda view, value, name: value.strftime("%Y-%m-%d %H:%M"),
    }
    column_type_formatters_detail = column_type_formatters
    # The least role every endpoint of this view needs (Accounts raise it to admin).
    min_role: Role = Role.viewer
    children_preview_size = 10

    def __init__(self, description: ModelDescription, registry: Registry | None = None,
                 **kwargs: Any) -> None:
        self.description = description
        self.registry = registry
        kwargs.setdefault("name", description.title)
        kwargs.setdefault("endpoint", description.name)
        for key, value in options_for(description).items():
            # A subclass's own class attribute wins over what the description derives.
            if key not in vars(type(self)):
                setattr(self, key, value)
        super().__init__(description.cls, db, **kwargs)
        if not self.description.read_only:
            bulk_edits.register_actions(self)

    # -- query hooks (small, documented; a subclass may replace any) ----------------------

    def list_query(self) -> Select[Any]:
        """Every row the list may show: the start of the list's and the export's query."""
        return list_page.list_query(self.description)

    def search_query(self, stmt: Select[Any], term: str) -> Select[Any]:
        """``stmt`` narrowed by a search ``term`` (every word in some searchable column)."""
        return list_page.search_query(self.description, stmt, term)

    def sort_column(self, headings: list[list_page.Heading], index: int | None) -> (
        ColumnInfo | None
    ):
        """The column a ``sort=`` argument names, if an index serves it."""
        return list_page.sort_column(self.description, headings, index)

    def get_one(self, id: Any) -> Any:
        """The row with primary key ``id`` (text from a URL); None when it is not one."""
        pk = self.description.pk
        try:
            key = pk.kind.parse(str(id), label="ID") if id not in (None, "") else None
        except ValueError:
            return None
        if key is None:
            return None
        return db.session.get(self.model, key)

    # -- forms -----------------------------------------------------------------------------

    def scaffold_form(self) -> Any:
        form_class = super().scaffold_form()
        setattr(form_class, TOKEN_FIELD, TokenField())
        return form_class

    def create_model(self, form: Any) -> Any:
        return edit_page.create(self, form)

    def update_model(self, form: Any, model: Any) -> bool:
        # Every edit goes through edit_page.save_edit (our edit_view); this hook is
        # Flask-Admin's, kept only so nothing of Flask-Admin's writes around the checks.
        raise NotImplementedError("edits go through console.admin.edit_page")

    def delete_model(self, model: Any) -> bool:
        raise NotImplementedError("deletes go through console.admin.deletes")

    # -- access control --------------------------------------------------------------------

    def required_role(self, name: str) -> Role:
        """The role an endpoint (view-method name) needs."""
        method = getattr(self, name, None)
        role = getattr(method, "required_role", None) or ENDPOINT_ROLES.get(name, Role.admin)
        return role if role.includes(self.min_role) else self.min_role

    def is_accessible(self) -> bool:
        return current_role_includes(self.min_role)

    def is_visible(self) -> bool:
        return current_role_includes(self.min_role)

    def check_access(self, endpoint: str) -> Any:
        if not current_role_includes(self.required_role(endpoint)):
            return deny()
        return None

    def _can(self, role: Role) -> bool:
        wanted = role if role.includes(self.min_role) else self.min_role
        return has_request_context() and current_role_includes(wanted)

    @property
    def can_create(self) -> bool:
        return not self.description.read_only and self._can(Role.editor)

    @property
    def can_edit(self) -> bool:
        return not self.description.read_only and self._can(Role.editor)

    @property
    def can_delete(self) -> bool:
        return not self.description.read_only and self._can(Role.editor)

    def get_filters(self) -> Any:
        """Flask-Admin's filters; a reference's read as the reference ("Assignee").

        Flask-Admin names a filter on a parent's column "Person / Email"; the URL keeps
        that name's form (``flt0_person_email_equals``), so that links still work.
        """
        found = super().get_filters()
        catalogue = self.description.catalogue
        assert catalogue is not None
        names: dict[Any, str] = {}
        for info in self.description.columns:
            if info.reference is None or not info.reference.reference:
                continue
            key = list_filters.reference_filter_column(catalogue.describe(info.reference.parent))
            names[key.column] = info.label
        for flt in found or []:
            label = names.get(getattr(flt, "column", None))
            if label is not None and not hasattr(flt, "url_name"):
                flt.url_name = flt.name
                flt.name = label
        return found

    def get_filter_arg(self, index: int, flt: Any) -> str:
        """A filter's URL name, from the name it had before it was renamed for the page."""
        url_name = getattr(flt, "url_name", None)
        # A stand-in with the old name: the filter itself is shared by every request.
        named = _UrlNamed(flt, url_name) if url_name is not None else flt
        return str(super().get_filter_arg(index, named))

    def get_invalid_value_msg(self, value: str, filter: Any) -> str:
        """The message for a filter value that is not one (quoted short: it goes in a cookie)."""
        shown = value if len(value) <= 40 else value[:40] + "..."
        return f"Not a valid value for the filter {filter.name!r}: {shown!r}; it was ignored."

    def is_action_allowed(self, name: str) -> bool:
        """The "With selected" entries a user is offered: deleting and setting need an editor."""
        if name == "delete":
            return self.can_delete
        if name.startswith("set:"):
            return self.can_edit
        return bool(super().is_action_allowed(name))

    @property
    def can_import(self) -> bool:
        """True when the model has a file format and the user may import."""
        return transfer.importable(self.description) and self.can_create

    def get_url(self, endpoint: str, **kwargs: Any) -> str:
        # Flask-Admin's templates build ~23 static file URLs per page through here.
        if endpoint.endswith(".static"):
            return static_url(endpoint, **kwargs)
        # The view's own pages (sort links, pager, exports...): the path built once.
        return fast_url(endpoint, **kwargs)

    # -- links to this view ------------------------------------------------------------------

    def url_filtered_by_parent(self, info: ColumnInfo, parent: Any) -> str | None:
        """This list, filtered to the children of ``parent`` through reference ``info``."""
        assert info.reference is not None
        catalogue = self.description.catalogue
        assert catalogue is not None
        parent_description = catalogue.describe(info.reference.parent)
        for index, flt in enumerate(adapter.filters_of(self)):
            if not isinstance(flt, FilterEqual):
                continue
            column = getattr(flt, "column", None)
            for candidate in (parent_description.natural_key, parent_description.label):
                if column is candidate.column:
                    arg = f"flt0_{self.get_filter_arg(index, flt)}"
                    value = list_page.display(getattr(parent, candidate.key))
                    return fast_url(f"{self.endpoint}.index_view", **{arg: value})
            if column is info.column:
                arg = f"flt0_{self.get_filter_arg(index, flt)}"
                value = getattr(parent, parent_description.pk.key)
                return fast_url(f"{self.endpoint}.index_view", **{arg: value})
        return None

    def children_previews(self, obj: Any) -> list[record_pages.ChildPreview]:
        """The first rows and the count of each child relationship of ``obj``."""
        return record_pages.children_previews(self, obj)

    # -- the pages -----------------------------------------------------------------------------

    @expose("/")
    def index_view(self) -> Any:
        """The list: honest counts, keyset pages, sort, search, filters, in-place edits."""
        if list_filters.ADD_FILTER in request.args:
            # The "Add filter" form of a page without JavaScript.
            return redirect(list_filters.added_filter_url(self))
        if grid.serves_list():
            return grid.grid_view(self, at_list_url=True)
        state = list_page.build_list_state(self)
        return self.render(self.list_template, **list_context(self, state))

    @expose("/new/", methods=("GET", "POST"))
    def create_view(self) -> Any:
        """Create a record."""
        return edit_page.create_view(self)

    @expose("/edit/", methods=("GET", "POST"))
    def edit_view(self) -> Any:
        """Edit one record, checked against what the user loaded."""
        return edit_page.edit_view(self)

    @expose("/details/")
    def details_view(self) -> Any:
        """One record, its references and the first rows of each of its children."""
        return record_pages.details_view(self)

    @expose("/delete/", methods=("GET", "POST"))
    def delete_view(self) -> Any:
        """GET: what deleting the selected rows would do. POST: do exactly that."""
        return deletes.delete_view(self)

    @expose("/history/")
    def history_view(self) -> Any:
        """One record's changes, newest first."""
        return history_pages.history_view(self)

    @expose("/history/revert/", methods=("GET", "POST"))
    def revert_view(self) -> Any:
        """Restore the values a record had before one of its changes."""
        return history_pages.revert_view(self)

    @expose("/toggle/<id>/<field>", methods=("POST",))
    def toggle_view(self, id: str, field: str) -> Any:
        """Set a toggled boolean in place (a form post, or JSON)."""
        return cells.toggle_view(self, id, field)

    @expose("/cells/", methods=("POST",))
    def cells_view(self) -> Any:
        """Save a batch of in-place cell edits (JSON), all or none."""
        return cells.cells_view(self)

    @expose("/grid/")
    @requires(Role.viewer)
    def grid_view(self) -> Any:
        """The grid: every row in reach of the keyboard, edited and pasted in place."""
        return grid.grid_view(self)

    @expose("/grid/rows")
    @requires(Role.viewer)
    def grid_rows(self) -> Any:
        """One keyset page of the grid's rows (JSON)."""
        return grid.rows_view(self)

    @expose("/grid/save", methods=("POST",))
    @requires(Role.editor)
    def grid_save(self) -> Any:
        """Save a batch of the grid's edits and new rows (JSON), all or none."""
        return grid.save_view(self)

    # A column layout is the user's own preference, not data: viewers keep theirs too.
    @expose("/grid/layouts")
    @requires(Role.viewer)
    def grid_layouts(self) -> Any:
        """The account's saved layout of this grid and its named views (JSON)."""
        return grid_layouts.layouts_view(self)

    @expose("/grid/layout", methods=("POST",))
    @requires(Role.viewer)
    def grid_layout_save(self) -> Any:
        """Store the column layout this account's grid opens with (JSON)."""
        return grid_layouts.layout_save_view(self)

    @expose("/grid/views", methods=("POST",))
    @requires(Role.viewer)
    def grid_view_save(self) -> Any:
        """Store a named view: the layout, search, filters and sort (JSON)."""
        return grid_layouts.view_save_view(self)

    @expose("/grid/views/delete", methods=("POST",))
    @requires(Role.viewer)
    def grid_view_delete(self) -> Any:
        """Delete one of the account's named views (JSON)."""
        return grid_layouts.view_delete_view(self)

    @expose("/ajax/lookup/")
    def ajax_lookup(self) -> Any:
        """Search-as-you-type for a reference field (JSON), its arguments checked first."""
        return lookups.lookup_view(self)

    @expose("/ajax/update/", methods=("POST",))
    def ajax_update(self) -> Any:
        """Flask-Admin's x-editable endpoint: in-place edits go through /cells/ instead."""
        abort(404)

    @expose("/export/<export_type>/")
    def export(self, export_type: str) -> Any:
        """Stream exactly the rows the list shows, in the import's format."""
        return transfer.export(self, export_type)

    @expose("/export/<export_type>/selected", methods=("POST",))
    def export_selected(self, export_type: str) -> Any:
        """Stream the rows the POST names by id (at most CONSOLE_MAX_SELECTION)."""
        return transfer.export_selected(self, export_type)

    @expose("/export/<export_type>/job", methods=("POST",))
    def export_job(self, export_type: str) -> Any:
        """Make the list's export in the background; its page follows it."""
        return transfer.export_job(self, export_type)

    @expose("/export/job/<job_id>/")
    def export_status(self, job_id: str) -> Any:
        """A background export's progress, then its download."""
        return transfer.export_status(self, job_id)

    @expose("/export/job/<job_id>/file")
    def export_file(self, job_id: str) -> Any:
        """The file a background export made."""
        return transfer.export_file(self, job_id)

    @expose("/export/job/<job_id>/cancel", methods=("POST",))
    def export_cancel(self, job_id: str) -> Any:
        """Stop a background export."""
        return transfer.export_cancel(self, job_id)

    @expose("/import/", methods=("GET", "POST"))
    def import_view(self) -> Any:
        """Upload a file; its dry run starts at once."""
        return transfer.import_view(self)

    @expose("/import/<job_id>/")
    def import_status(self, job_id: str) -> Any:
        """An import's progress, preview or result."""
        return transfer.import_status(self, job_id)

    @expose("/import/<job_id>/errors.csv")
    def import_errors(self, job_id: str) -> Any:
        """Every error of an import's last run, as CSV."""
        return transfer.import_errors(self, job_id)

    @expose("/import/<job_id>/changes.csv")
    def import_changes(self, job_id: str) -> Any:
        """Every field an import's upsert changes, as CSV (old and new values)."""
        return transfer.import_changes(self, job_id)

    @expose("/import/<job_id>/confirm", methods=("POST",))
    def import_confirm(self, job_id: str) -> Any:
        """Write a previewed import that had no errors."""
        return transfer.import_confirm(self, job_id)

    @expose("/import/<job_id>/cancel", methods=("POST",))
    def import_cancel(self, job_id: str) -> Any:
        """Stop a queued or running import; nothing of it is written."""
        return transfer.import_cancel(self, job_id)

    @expose("/bulk/<column>/", methods=("POST",))
    def bulk_apply(self, column: str) -> Any:
        """Apply a confirmed bulk edit in one transaction."""
        return bulk_edits.apply_view(self, column)

    # -- per-model rules -----------------------------------------------------------------------

    def edit_refusal(self, session: Session) -> str | None:
        """Why in-place edits just flushed may not be kept (a view's own rule), or None.

        The forms apply such rules in ``on_model_change``; the list's in-place editors
        and toggles ask this inside their transaction, before the commit.
        """
        return None

    def delete_refusal(self, session: Session, ids: list[Any]) -> str | None:
        """Why these rows may not be deleted beyond RESTRICT rules (a view's own rule), or None.

        Checked for the confirmation page and again inside the delete's transaction,
        after the DELETE ran, so a rule may count what would be left.
        """
        return None


class _UrlNamed:
    """A filter as ``get_filter_arg`` reads it (name, operation), under another name."""

    def __init__(self, flt: Any, name: str) -> None:
        self.flt = flt
        self.name = name

    def operation(self) -> Any:
        return self.flt.operation()


def export_links(view: ConsoleModelView) -> list[tuple[str, str, str, str]]:
    """Each export type's link with this list's arguments, the CSV one without a BOM, and
    where the checked rows are posted to be exported (in the list's sort).

    As ``url_for(".export", export_type=..., **request.args)`` builds them (the first value
    of each argument, in their order), with the arguments encoded once for all of them.
    """
    args = request.args.to_dict()
    query = query_string(args)
    no_bom = query_string({**args, "bom": "0"})
    links = []
    for export_type in view.export_types:
        path = fast_url(f"{view.endpoint}.export", export_type=export_type)
        selected = f"{path}selected"
        links.append((export_type, f"{path}?{query}" if query else path, f"{path}?{no_bom}",
                      f"{selected}?{query}" if query else selected))
    return links


def list_context(view: ConsoleModelView, state: list_page.ListState) -> dict[str, Any]:
    """What the list template (and Flask-Admin's menu macros in it) read."""
    args = state.args
    actions, confirmation = view.get_actions_list()

    def page_size_url(size: int) -> str:
        return adapter.list_url(view, args.clone(page_size=size or view.page_size, page=None))

    menus = list_filters.filter_menus(view)
    clear_search_url = adapter.list_url(
        view, args.clone(page=None, search=None, filters=None)
    )
    return {
        "state": state,
        "list_page": state.pager,
        "data": state.rows,
        "count": None,
        "return_url": state.return_url,
        "page_size": state.page_size,
        "page_size_url": page_size_url,
        "can_set_page_size": view.can_set_page_size,
        "default_page_size": view.page_size,
        "search_supported": bool(view.description.searchable),
        "search": state.search,
        "clear_search_url": clear_search_url,
        "search_placeholder": "Search: " + ", ".join(
            c.label.lower() for c in view.description.searchable
        ),
        "sort_column": args.sort,
        "sort_desc": args.sort_desc,
        "extra_args": args.extra_args,
        "actions": actions,
        "actions_confirmation": confirmation,
        "page": args.page,
        "shown_filters": list_filters.shown_filters(view, state.filters),
        "add_filter_names": (list_filters.ADD_FILTER, list_filters.ADD_FILTER_VALUE),
        # Made once per view: the filter groups, their JSON and the "Add filter" options.
        "filter_groups_json": menus.json,
        "add_filter_options": menus.options,
        "export_links": export_links(view) if view.can_export else [],
        "max_selection": selection.max_selection(),
        **adapter.filter_context(view, state.filters, menus.groups),
    }


__all__ = ["ENDPOINT_ROLES", "ConsoleModelView", "list_context", "options_for"]
