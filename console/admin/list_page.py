"""A model's list page, as one explicit object: the query, the count, the page, the rows.

``build_list_state`` reads the request (Flask-Admin's URL arguments: ``page``,
``page_size``, ``sort``, ``desc``, ``search``, ``flt<N>_...``, plus the console's
``after`` / ``before`` keyset cursors), asks the paging engine for one page and an
honest count, and returns a ``ListState`` that the list template renders as it is.
Nothing travels through ``flask.g``. On top of Flask-Admin's arguments:

- ``after`` / ``before``: keyset cursors (opaque tokens) for next/previous pages;
- ``page=-1`` (``-2``, ...): the last page (second-to-last, ...), read backwards;
- counts are exact where cheap or kept by the database, else "about N";
- a typed ``page=N`` nearer the end than the front (exact count) is read backwards;
- only columns an index serves are sortable.

The query hooks (``list_query``, ``search_query``, ``filter_query``, ``sort_column``)
are small functions here that a view may replace, in the spirit of SQLAdmin's.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from flask import flash, request
from flask_wtf.csrf import generate_csrf
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import joinedload

from console import paging
from console.admin import adapter
from console.admin.view_urls import fast_url
from console.catalogue import ColumnInfo, Edge, ModelDescription
from console.extensions import session as current_session
from console.kinds import (
    BooleanKind,
    ChoiceKind,
    DateKind,
    DateTimeKind,
    EmailKind,
    NumberKind,
    TextKind,
)
from console.paging import Cursor, RowCount
from console.versions import token_of

if TYPE_CHECKING:
    from console.admin.model_view import ConsoleModelView

CURSOR_ARGS = ("after", "before")
# Offsets within this many rows are cheap enough to offer numbered page links.
OFFSET_ROWS = 10_000
# Filtered counts are exact up to this many rows, then estimated.
COUNT_CAP = 10_000
# Unfiltered tables bigger than this (by PostgreSQL's statistics) show "about N".
ESTIMATE_FROM = 100_000
# A text search on PostgreSQL first looks for its page among this many rows of the sort
# order (a common word fills it early), then asks the trigram index for every match.
SEARCH_PROBE = 5_000
# No list has more pages than this; a page number past it is a typo or a probe.
MAX_PAGE = 10**9
# The characters Werkzeug leaves unquoted in query values (werkzeug.urls._urlencode).
URL_SAFE = "!$'()*,/:;?@"


# -- what the template renders ---------------------------------------------------------------


@dataclass
class Cell:
    """One cell: its text, an optional link, and how it may be edited in place."""

    key: str
    text: str
    url: str | None = None
    # "text", "choice", "number", "date": the in-place editor; None: not editable here.
    editor: str | None = None
    raw: str = ""
    # For a toggled boolean: its value and where its form posts.
    toggle: bool | None = None
    toggle_url: str = ""
    # How the template renders it ("text", "link", "edit" or "toggle") and its class;
    # worked out here so that the row loop makes no decisions of its own.
    mode: str = "text"
    css: str = ""

    def __post_init__(self) -> None:
        if not self.css:
            self.css = css_class(self.key)
        if self.toggle is not None:
            self.mode = "toggle"
        elif self.editor:
            self.mode = "edit"
        elif self.url:
            self.mode = "link"


def css_class(key: str) -> str:
    """A column's cell class: ``col-`` and its key, made CSS-safe."""
    return "col-" + key.replace(":", "-").replace(".", "-")


def unbroken(info: ColumnInfo) -> bool:
    """Whether a column's values must not break inside a word (at a hyphen, say)."""
    return info.reference is not None or isinstance(info.kind, DateKind | DateTimeKind | EmailKind)


@dataclass
class Row:
    """One row: its id, what the user loaded of it (token) and its cells."""

    id: Any
    token: str
    cells: list[Cell]
    details_url: str
    edit_url: str | None
    delete_url: str | None


@dataclass
class Heading:
    """One column heading, with its sort link."""

    key: str
    label: str
    index: int
    sort_url: str | None = None
    sorted: str | None = None  # "asc", "desc" or None
    numeric: bool = False


@dataclass
class Pager:
    """Where the page stands and the links to its neighbours."""

    count: RowCount
    page: int
    page_size: int
    has_prev: bool
    has_next: bool
    urls: dict[str, str | None] = field(default_factory=dict)
    numbered: list[tuple[int, str]] = field(default_factory=list)

    @property
    def position(self) -> str:
        """'Page 3 of 20', 'Page 20,000 of about 20,000', 'Last page', 'Page 2 from the end'."""
        if self.page < 0:
            back = -self.page
            return "Last page" if back == 1 else f"Page {back:,} from the end"
        pages = self.count.pages(self.page_size)
        if pages is None:
            return f"Page {self.page + 1:,}"
        about = "" if self.count.exact else "about "
        if self.count.exact and self.page >= max(pages, 1):
            # A typed page past the end ("Page 1,000 of 4" was shown over an empty table).
            return (f"There is no page {self.page + 1:,}: the list has {pages:,} "
                    f"{'page' if pages == 1 else 'pages'}")
        return f"Page {self.page + 1:,} of {about}{pages:,}"


@dataclass
class ListState:
    """Everything one list page shows, built once per request."""

    description: ModelDescription
    args: adapter.ViewArgs
    headings: list[Heading]
    rows: list[Row]
    pager: Pager
    sort: ColumnInfo | None
    descending: bool
    search: str | None
    filters: list[adapter.Filter]
    return_url: str
    page_size: int
    can_edit: bool
    csrf: str = ""
    # The list's filters and search as a query string: what "Select all matching" posts.
    matching_query: str = ""

    @property
    def more_than_page(self) -> bool:
        """True when more rows match than this page shows ("Select all matching" applies)."""
        return self.pager.has_next or self.pager.has_prev or self.count.value > len(self.rows)

    @property
    def count(self) -> RowCount:
        """The honest count of the rows that match."""
        return self.pager.count


# -- the query hooks ----------------------------------------------------------------------


def list_query(description: ModelDescription) -> Select[Any]:
    """Every row of the model: the start of a list page's query."""
    return select(description.cls)


def search_query(description: ModelDescription, stmt: Select[Any], term: str) -> Select[Any]:
    """``stmt`` narrowed to rows whose searchable text contains every word of ``term``."""
    columns = [c.column for c in description.searchable]
    if not columns:
        return stmt
    for word in term.split():
        pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(or_(*(c.ilike(pattern, escape="\\") for c in columns)))
    return stmt


def sort_column(description: ModelDescription, headings: list[Heading], index: int | None) -> (
    ColumnInfo | None
):
    """The sortable column the ``sort`` argument names (a heading's index), or None."""
    if index is None:
        return None
    heading = next((h for h in headings if h.index == index), None)
    info = description.find(heading.key) if heading else None
    return info if info is not None and info.sortable else None


def list_columns(description: ModelDescription) -> list[ColumnInfo]:
    """The columns a list shows: everything visible except row bookkeeping the user never set."""
    return [
        c
        for c in description.columns
        if not c.hidden
        and c is not description.version
        and not (c.bookkeeping and c is not description.changed)
    ]


def parent_loaders(description: ModelDescription) -> list[Any]:
    """Loader options that bring each shown reference's parent with the page's rows.

    Many-to-one joins: the page's rows and their parents in one statement, instead
    of one more statement per reference column. References without a relationship
    are loaded by ``RowMaker._parents`` instead.
    """
    return [
        joinedload(getattr(description.cls, info.reference.reference))
        for info in list_columns(description)
        if info.reference is not None and info.reference.reference
    ]


def child_label(description: ModelDescription, edge: Edge) -> str:
    """A child-count column's heading: the child's plural, or the relationship's name."""
    catalogue = description.catalogue
    assert catalogue is not None
    child = catalogue.describe(edge.child)
    same_child = [e for e in description.children if e.child is edge.child]
    if len(same_child) > 1 and edge.collection:
        return edge.collection.replace("_", " ").capitalize()
    return child.title


# -- the state -------------------------------------------------------------------------------


def headings_of(view: ConsoleModelView, args: adapter.ViewArgs) -> list[Heading]:
    """The list's column headings (their indexes are what ``sort=`` names)."""
    description = view.description
    headings: list[Heading] = []
    for index, info in enumerate(list_columns(description)):
        heading = Heading(
            info.key, info.label, index, numeric=isinstance(info.kind, NumberKind)
        )
        if info.sortable:
            desc = args.sort == index and not args.sort_desc
            heading.sort_url = adapter.list_url(
                view, args.clone(sort=index, sort_desc=1 if desc else None, page=None,
                                 extra_args=_without_cursors(args))
            )
            if args.sort == index:
                heading.sorted = "desc" if args.sort_desc else "asc"
        headings.append(heading)
    offset = len(headings)
    for position, edge in enumerate(description.children):
        headings.append(Heading(f"children:{edge.name}", child_label(description, edge),
                                offset + position, numeric=True))
    return headings


def _without_cursors(args: adapter.ViewArgs) -> dict[str, Any]:
    return {k: v for k, v in args.extra_args.items() if k not in CURSOR_ARGS}


def filtered_select(
    view: ConsoleModelView, args: adapter.ViewArgs
) -> tuple[Select[Any], bool]:
    """The list's query with its search and filters, and whether either applies."""
    description = view.description
    stmt = view.list_query()
    search = clean_search(args.search)
    if search and description.searchable:
        stmt = view.search_query(stmt, search)
    if args.filters:
        stmt = adapter.apply_filters(view, stmt, args.filters)
    return stmt, bool(search and description.searchable) or bool(args.filters)


def matching_query(view: ConsoleModelView, filters: list[adapter.Filter] | None,
                   search: str | None) -> str:
    """The list's filters and search (not page, size, sort, cursors) as one query string."""
    args: dict[str, str] = dict(adapter.filter_arguments(view, filters)) if filters else {}
    term = (search or "").strip()
    if term and "\x00" not in term and view.description.searchable:
        args["search"] = term
    return urlencode(args)


def clean_search(text: str | None) -> str | None:
    """The search term, or None; a NUL (no database stores it) is refused with a message."""
    if not text:
        return None
    if "\x00" in text:
        flash("The search contained a character that cannot be searched for; it was ignored.",
              "error")
        return None
    return text.strip() or None


def build_list_state(view: ConsoleModelView) -> ListState:
    """Read the request and make the page: count, rows, pager, headings."""
    description = view.description
    args = adapter.list_arguments(view)
    cursors = {k: args.extra_args.get(k) for k in CURSOR_ARGS}
    args.extra_args = _without_cursors(args)
    size = view.get_safe_page_size(args.page_size or view.page_size)
    headings = headings_of(view, args)
    sort = view.sort_column(headings, args.sort)
    descending = bool(args.sort_desc) and sort is not None
    stmt, filtered = filtered_select(view, args)

    session = current_session()
    pk = description.pk.column
    column = sort.column if sort is not None else pk
    after = Cursor.decode(cursors.get("after"), column)
    before = Cursor.decode(cursors.get("before"), column)
    page = args.page or 0
    if abs(page) > MAX_PAGE:
        flash(f"There is no page {page:,}: showing the first page.", "error")
        page = 0
    postgres = session.get_bind().dialect.name == "postgresql"
    searched = bool(args.search and description.searchable)
    # Counted without them; the rows come with their parents.
    page_stmt = stmt.options(*parent_loaders(description))
    # A search's first page in key order: counted and read in one statement.
    first_page = (
        paging.FirstPage(page_stmt, size + 1, descending)
        if postgres and searched and column is pk and page == 0 and after is None
        and before is None
        else None
    )
    count = paging.count_rows(
        session, stmt, pk, table_name=description.table.name, filtered=filtered,
        cap=COUNT_CAP, estimate_from=ESTIMATE_FROM, keep_matches=bool(args.search),
        first_page=first_page,
    )
    stmt = page_stmt
    # A search's exact count brings its matching keys: pages are ordered among them.
    common: dict[str, Any] = {
        "column": column, "pk": pk, "limit": size + 1, "matches": count.matches
    }
    if searched and postgres:
        # Few matches (counted exactly): straight to the trigram index.
        common["probe"] = 0 if count.exact else SEARCH_PROBE
    if count.rows is not None:
        # Read with the count (``first_page``): the first page and whether more follow.
        rows = count.rows
        has_prev, has_next = False, len(rows) > size
        rows = rows[:size]
    elif after is not None:
        rows = paging.keyset_rows(session, stmt, descending=descending, after=after, **common)
        has_prev, has_next = True, len(rows) > size
        rows = rows[:size]
    elif before is not None:
        rows = paging.keyset_rows(session, stmt, descending=not descending, after=before, **common)
        has_prev, has_next = len(rows) > size, True
        rows = rows[:size][::-1]
    elif page < 0:
        rows = paging.offset_rows(
            session, stmt, descending=not descending, offset=(-page - 1) * size,
            deferred_from=OFFSET_ROWS, **common,
        )
        has_prev, has_next = len(rows) > size, page < -1
        # Counted from the end: rows before this page are what "more" means here.
        count = paging.count_seen(count, (-page - 1) * size, min(len(rows), size), has_prev)
        rows = rows[:size][::-1]
    elif (back := paging.from_the_end(page * size, size, count.value) if count.exact else None):
        # A typed page nearer the end: read backwards from there, as ``page=-k`` does.
        offset, limit = back
        rows = (
            paging.offset_rows(
                session, stmt, descending=not descending, offset=offset,
                deferred_from=OFFSET_ROWS, **{**common, "limit": limit},
            )[::-1]
            if limit
            else []
        )
        has_prev, has_next = page > 0, page * size + len(rows) < count.value
    else:
        rows = paging.offset_rows(
            session, stmt, descending=descending, offset=page * size,
            deferred_from=OFFSET_ROWS, **common,
        )
        has_prev, has_next = page > 0, len(rows) > size
        count = paging.count_seen(count, page * size, min(len(rows), size), has_next)
        rows = rows[:size]
    if (after or before) and not rows:
        # A cursor past the end (rows deleted meanwhile): offer the way back, not onwards.
        has_prev, has_next = True, False

    sort_key = sort.key if sort is not None else None
    first = paging.cursor_of(rows[0], sort_key, pk.key).encode() if rows else None
    last = paging.cursor_of(rows[-1], sort_key, pk.key).encode() if rows else None
    pager = _pager(view, args, count, page, size, has_prev, has_next, first, last,
                   bool(after or before))
    return_url = request.full_path.rstrip("?")
    can_edit = view.can_edit
    state = ListState(
        description=description, args=args, headings=headings, rows=[], pager=pager,
        sort=sort, descending=descending, search=args.search, filters=list(args.filters or []),
        return_url=return_url, page_size=size, can_edit=can_edit,
    )
    if can_edit:
        state.csrf = generate_csrf()
    state.matching_query = matching_query(view, state.filters, args.search)
    state.rows = RowMaker(view, state).rows(rows)
    return state


def _pager(
    view: ConsoleModelView, args: adapter.ViewArgs, count: RowCount, page: int, size: int,
    has_prev: bool, has_next: bool, first: str | None, last: str | None, by_cursor: bool,
) -> Pager:
    def url(page_no: int | None, **cursor: str | None) -> str:
        extra = dict(args.extra_args)
        extra.update({k: v for k, v in cursor.items() if v})
        return adapter.list_url(view, args.clone(page=page_no or None, extra_args=extra))

    prev_page = page - 1 if page != 0 else 0
    # Keyset for next/previous: adjacent pages never skip or repeat a row.
    urls: dict[str, str | None] = {
        "first": url(None),
        "prev": (
            (url(None) if prev_page == 0 and page > 0 else url(prev_page, before=first))
            if has_prev
            else None
        ),
        "next": url(page + 1, after=last) if has_next else None,
        "last": url(-1),
    }
    pages = count.pages(size)
    numbered: list[tuple[int, str]] = []
    if (
        count.exact
        and pages is not None
        and pages * size <= OFFSET_ROWS * 2
        and (page >= 0 and not by_cursor)
    ):
        low, high = max(0, page - 3), min(pages, page + 4)
        numbered = [(p, url(p)) for p in range(low, high)]
        if pages > 1:
            urls["last"] = url(pages - 1)
    return Pager(count, page, size, has_prev, has_next, urls, numbered)


# -- rows and cells ------------------------------------------------------------------------


def display(value: Any) -> str:
    """A value as a list or details page shows it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if hasattr(value, "value") and isinstance(getattr(value, "value", None), str):
        return str(value.value)
    return str(value)


def label_of(obj: Any, description: ModelDescription) -> str:
    """How a row is named: the model's own ``__str__`` where it has one, else its label."""
    if type(obj).__str__ is not object.__str__:
        return str(obj)
    return display(getattr(obj, description.label.key))


class _RowUrls:
    """A view URL with the row's id filled in: built once per page, not per row."""

    def __init__(self, endpoint: str, return_url: str) -> None:
        token = "rowtoken" + secrets.token_hex(8)
        built = fast_url(endpoint, id=token, url=return_url)
        self.head, _, self.tail = built.partition(token)

    def __call__(self, ident: Any) -> str:
        return self.head + quote(str(ident), safe=URL_SAFE) + self.tail


class RowMaker:
    """Turns one page of ORM rows into ``Row``s, with parents and child counts batch-loaded."""

    def __init__(self, view: ConsoleModelView, state: ListState) -> None:
        self.view = view
        self.state = state
        self.description = view.description
        self.columns = list_columns(self.description)

    def rows(self, objects: list[Any]) -> list[Row]:
        description, state = self.description, self.state
        if not objects:
            return []
        pk_key = description.pk.key
        ids = [getattr(o, pk_key) for o in objects]
        parents = self._parents(objects)
        children = self._child_counts(ids)
        endpoint = self.view.endpoint
        details = _RowUrls(f"{endpoint}.details_view", state.return_url)
        edit = _RowUrls(f"{endpoint}.edit_view", state.return_url) if state.can_edit else None
        delete = (
            _RowUrls(f"{endpoint}.delete_view", state.return_url)
            if self.view.can_delete
            else None
        )
        cell_makers = [self._cell_maker(info, parents) for info in self.columns]
        child_links = [self._child_link(edge) for edge in description.children]
        out = []
        for obj, ident in zip(objects, ids, strict=True):
            cells = [make(obj) for make in cell_makers]
            for edge, link in zip(description.children, child_links, strict=True):
                number = children[edge.name].get(ident, 0)
                cells.append(
                    Cell(f"children:{edge.name}", f"{number:,}", link(obj) if link else None)
                )
            out.append(
                Row(
                    id=ident,
                    token=token_of(description, obj),
                    cells=cells,
                    details_url=details(ident),
                    edit_url=edit(ident) if edit else None,
                    delete_url=delete(ident) if delete else None,
                )
            )
        return out

    def _parents(self, objects: list[Any]) -> dict[str, dict[Any, Any]]:
        """Each reference column's parents on this page, one query per column."""
        found: dict[str, dict[Any, Any]] = {}
        for info in self.columns:
            if info.reference is None:
                continue
            loaded = info.reference.reference
            if loaded and all(loaded in vars(o) for o in objects):
                # Joined to the rows (``parent_loaders``): no statement of its own.
                found[info.key] = {getattr(o, info.key): vars(o)[loaded] for o in objects}
                continue
            keys = {getattr(o, info.key) for o in objects} - {None}
            target = info.reference.target
            parent = info.reference.parent
            stmt: Select[Any] = select(parent).where(target.in_(keys))
            rows: Sequence[Any] = current_session().scalars(stmt).all() if keys else []
            attribute = self._attribute_of(parent, target)
            found[info.key] = {getattr(r, attribute): r for r in rows}
        return found

    @staticmethod
    def _attribute_of(cls: type, column: Any) -> str:
        from sqlalchemy import inspect

        return str(inspect(cls).get_property_by_column(column).key)

    def _child_counts(self, ids: list[Any]) -> dict[str, dict[Any, int]]:
        """Each child relationship's counts for this page's rows, one grouped query each."""
        counts: dict[str, dict[Any, int]] = {}
        for edge in self.description.children:
            if edge.target is not self.description.pk.column:
                counts[edge.name] = {}
                continue
            rows = current_session().execute(
                select(edge.fk, func.count())
                .where(edge.fk.in_(ids))
                .group_by(edge.fk)
            ).all()
            counts[edge.name] = {key: number for key, number in rows}
        return counts

    def _child_link(self, edge: Edge) -> Callable[[Any], str | None] | None:
        registry = self.view.registry
        child_view = registry.view_of(edge.child) if registry else None
        if child_view is None:
            return None
        catalogue = self.description.catalogue
        assert catalogue is not None
        child = catalogue.describe(edge.child)
        info = next(c for c in child.columns if c.column is edge.fk)
        return lambda obj: child_view.url_filtered_by_parent(info, obj)

    def _cell_maker(self, info: ColumnInfo, parents: dict[str, dict[Any, Any]]) -> (
        Callable[[Any], Cell]
    ):
        key = info.key
        # Dates, emails and references (a label with an email) wrap between words only.
        css = css_class(key) + (" console-unbroken" if unbroken(info) else "")
        if info.reference is not None:
            catalogue = self.description.catalogue
            assert catalogue is not None
            parent = catalogue.describe(info.reference.parent)
            registry = self.view.registry
            parent_view = registry.view_of(parent.cls) if registry else None
            by_key = parents[key]
            details = (
                _RowUrls(f"{parent_view.endpoint}.details_view", self.state.return_url)
                if parent_view is not None
                else None
            )
            parent_pk = parent.pk.key

            def reference(obj: Any) -> Cell:
                found = by_key.get(getattr(obj, key))
                if found is None:
                    return Cell(key, display(getattr(obj, key)), css=css)
                return Cell(key, label_of(found, parent),
                            details(getattr(found, parent_pk)) if details else None, css=css)

            return reference
        if info.toggle and self.state.can_edit:
            token = "rowtoken" + secrets.token_hex(8)
            built = fast_url(f"{self.view.endpoint}.toggle_view", id=token, field=key)
            head, _, tail = built.partition(token)
            pk_key = self.description.pk.key

            def toggle(obj: Any) -> Cell:
                url = head + quote(str(getattr(obj, pk_key)), safe="") + tail
                return Cell(key, display(getattr(obj, key)), toggle=bool(getattr(obj, key)),
                            toggle_url=url, css=css)

            return toggle
        editor = self._editor(info) if self.state.can_edit else None
        if editor is None:
            return lambda obj: Cell(key, display(getattr(obj, key)), css=css)
        kind = info.kind

        def editable(obj: Any) -> Cell:
            value = getattr(obj, key)
            return Cell(key, display(value), editor=editor, raw=kind.to_text(value), css=css)

        return editable

    @staticmethod
    def _editor(info: ColumnInfo) -> str | None:
        if not info.editable or info.toggle:
            return None
        if isinstance(info.kind, ChoiceKind):
            return "choice"
        if isinstance(info.kind, BooleanKind):
            return "choice"
        if isinstance(info.kind, DateKind):
            return "date"
        if isinstance(info.kind, NumberKind):
            return "number"
        if type(info.kind) is TextKind:
            return "text"
        return None


__all__ = ["Cell", "Heading", "ListState", "Pager", "Row", "build_list_state", "display"]
