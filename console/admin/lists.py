"""List views that stay fast at millions of rows; children paged on edit pages.

``BigListMixin`` sits in ``ConsoleModelView``'s bases. Flask-Admin's URL arguments
(``page``, ``page_size``, ``sort``, ``desc``, ``search``, ``flt...``) keep working;
on top of them:

- ``after`` / ``before``: keyset cursors (opaque tokens) for next/previous pages;
- ``page=-1`` (``-2``, ...): the last page (second-to-last, ...), read backwards;
- counts are exact where cheap or kept by the database (migration 0004), else
  "about N" from PostgreSQL's statistics;
- a typed ``page=N`` nearer the end than the front (exact count) is read backwards;
- only columns an index serves are sortable (relationship sorts are not offered).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Blueprint, flash, g, jsonify, redirect, request, url_for
from flask_admin import expose
from flask_admin.helpers import get_redirect_target
from jinja2 import pass_context
from sqlalchemy import Column, Enum, inspect, select
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from console import paging
from console.admin.fast_rows import (
    FastXEditableWidget,
    LazyListForm,
    PageRows,
    RowLinks,
    can_edit_now,
    toggle_cell,
)
from console.auth.roles import requires
from console.extensions import db
from console.paging import Cursor, RowCount
from console.rules import Role

CURSOR_ARGS = ("after", "before")

# The console's own front-end files (keyboard shortcuts, in-place toggles, dense tables).
assets = Blueprint(
    "console_assets",
    __name__,
    static_folder=str(Path(__file__).resolve().parent.parent / "static"),
    static_url_path="/console-static",
)


@dataclass
class ListPage:
    """What the list template's pager and count line need."""

    count: RowCount
    page: int
    page_size: int
    has_prev: bool
    has_next: bool
    first_cursor: str | None
    last_cursor: str | None
    urls: dict[str, str | None] = field(default_factory=dict)
    numbered: list[tuple[int, str]] = field(default_factory=list)

    @property
    def position(self) -> str:
        """'Page 3 of 20', 'Page 20,000 of about 20,000', 'Last page', '2nd page from the end'."""
        if self.page < 0:
            back = -self.page
            return "Last page" if back == 1 else f"Page {back:,} from the end"
        pages = self.count.pages(self.page_size)
        if pages is None:
            return f"Page {self.page + 1:,}"
        about = "" if self.count.exact else "about "
        return f"Page {self.page + 1:,} of {about}{pages:,}"


@dataclass
class ChildPage:
    """One page of a parent's children, shown in the parent's edit form."""

    label: str
    count: RowCount
    shown: int
    next_url: str | None
    first_url: str | None
    list_url: str | None


class BigListMixin:
    """List, sort, search and page at any table size; page inline children on edit."""

    # Offsets within this many rows are cheap enough to offer numbered page links.
    list_offset_rows = 10_000
    # Filtered counts are exact up to this many rows, then estimated.
    list_count_cap = 10_000
    # Unfiltered tables bigger than this (by PostgreSQL's statistics) show "about N".
    list_estimate_from = 100_000
    # A text search on PostgreSQL first looks for its page among this many rows of the
    # sort order (a common word fills it early), then asks the trigram index for every
    # match (a rare word): see paging._probed_rows.
    list_search_probe = 5_000
    # Inline children shown per page in a parent's edit form (each is a small form).
    inline_page_size = 20

    # -- sorting: only what an index serves ---------------------------------------------

    def get_sortable_columns(self) -> dict[Any, Any]:
        columns = super().get_sortable_columns()  # type: ignore[misc]
        joins = self._sortable_joins
        kept = {
            name: attr
            for name, attr in columns.items()
            if not joins.get(name) and self._index_serves(attr)
        }
        self._sortable_joins = {}
        return kept

    def _index_serves(self, attr: Any) -> bool:
        """True when a b-tree index of this model's table starts with ``attr``'s column."""
        column = getattr(getattr(attr, "property", None), "columns", [None])[0]
        table = self.model.__table__  # type: ignore[attr-defined]
        if not isinstance(column, Column) or column.table is not table:
            return False
        if column.primary_key:
            return True
        for index in table.indexes:
            if index.info.get("trigram"):
                continue
            first = next(iter(index.expressions), None)
            if first is column:
                return True
        return any(
            getattr(constraint, "columns", None) is not None
            and len(constraint.columns) > 0
            and next(iter(constraint.columns)) is column
            for constraint in table.constraints
            if type(constraint).__name__ == "UniqueConstraint"
        )

    # -- searching: free text only ------------------------------------------------------

    def init_search(self) -> bool:
        # An enum (a String subtype) is chosen with a filter, not searched as text; in an
        # OR with an indexed column it would also turn every search into a full scan.
        self.column_searchable_list = [
            name
            for name in self.column_searchable_list or ()  # type: ignore[attr-defined]
            if not _is_enum(self.model, name)  # type: ignore[attr-defined]
        ]
        return super().init_search()  # type: ignore[misc]

    # -- the list page ------------------------------------------------------------------

    def _get_list_extra_args(self) -> Any:
        view_args = super()._get_list_extra_args()  # type: ignore[misc]
        # Cursors belong to one page: sort, search and filter links must not carry them.
        g.console_cursors = {k: view_args.extra_args.pop(k, None) for k in CURSOR_ARGS}
        g.console_view_args = view_args
        return view_args

    def get_list(
        self,
        page: int | None,
        sort_column: Any,
        sort_desc: bool,
        search: str | None,
        filters: Any,
        execute: bool = True,
        page_size: int | None = None,
    ) -> Any:
        listing = getattr(g, "console_view_args", None) is not None and request.endpoint == (
            f"{self.endpoint}.index_view"  # type: ignore[attr-defined]
        )
        if not execute or not listing or not page_size:
            return super().get_list(  # type: ignore[misc]
                page, sort_column, sort_desc, search, filters, execute=execute, page_size=page_size
            )
        query = self.get_query()  # type: ignore[attr-defined]
        joins: dict[Any, Any] = {}
        if self._search_supported and search:  # type: ignore[attr-defined]
            query, _, joins, _ = self._apply_search(query, None, joins, {}, search)  # type: ignore[attr-defined]
        if filters and self._filters:  # type: ignore[attr-defined]
            query, _, joins, _ = self._apply_filters(query, None, joins, {}, filters)  # type: ignore[attr-defined]
        stmt = query.statement
        mapper = inspect(self.model)  # type: ignore[attr-defined]
        pk = getattr(self.model, mapper.primary_key[0].key)  # type: ignore[attr-defined]
        attr = self._sortable_columns.get(sort_column) if sort_column else None  # type: ignore[attr-defined]
        column = attr if attr is not None else pk
        column_key = attr.key if attr is not None else None
        descending = bool(sort_desc) and attr is not None

        session = db.session
        count = paging.count_rows(
            session,
            stmt,
            pk,
            table_name=mapper.local_table.name,
            filtered=bool(search) or bool(filters),
            cap=self.list_count_cap,
            estimate_from=self.list_estimate_from,
            keep_matches=bool(search),
        )
        rows_stmt = stmt.options(*(joinedload(j) for j in self._auto_joins))  # type: ignore[attr-defined]
        cursors = getattr(g, "console_cursors", {})
        after = Cursor.decode(cursors.get("after"), column.expression)
        before = Cursor.decode(cursors.get("before"), column.expression)
        page = page or 0
        size = page_size
        # A search's exact count brings its matching keys: pages are ordered among them.
        common = {"column": column, "pk": pk, "limit": size + 1, "matches": count.matches}
        postgres = session.get_bind().dialect.name == "postgresql"
        if search and self._search_supported and postgres:  # type: ignore[attr-defined]
            # Few matches (counted exactly): straight to the trigram index.
            common["probe"] = 0 if count.exact else self.list_search_probe
        if after is not None:
            rows = paging.keyset_rows(
                session, rows_stmt, descending=descending, after=after, **common
            )
            has_prev, has_next = True, len(rows) > size
            rows = rows[:size]
        elif before is not None:
            rows = paging.keyset_rows(
                session, rows_stmt, descending=not descending, after=before, **common
            )
            has_prev, has_next = len(rows) > size, True
            rows = rows[:size][::-1]
        elif page < 0:
            rows = paging.offset_rows(
                session,
                rows_stmt,
                descending=not descending,
                offset=(-page - 1) * size,
                deferred_from=self.list_offset_rows,
                **common,
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
                    session,
                    rows_stmt,
                    descending=not descending,
                    offset=offset,
                    deferred_from=self.list_offset_rows,
                    **{**common, "limit": limit},
                )[::-1]
                if limit
                else []
            )
            has_prev, has_next = page > 0, page * size + len(rows) < count.value
        else:
            rows = paging.offset_rows(
                session,
                rows_stmt,
                descending=descending,
                offset=page * size,
                deferred_from=self.list_offset_rows,
                **common,
            )
            has_prev, has_next = page > 0, len(rows) > size
            count = paging.count_seen(count, page * size, min(len(rows), size), has_next)
            rows = rows[:size]
        if (after or before) and not rows:
            # A cursor past the end (rows deleted meanwhile): offer the way back, not onwards.
            has_prev, has_next = True, False
        g.console_list_page = self._list_page(
            count, page, size, rows, column_key, has_prev, has_next, bool(after or before)
        )
        # None: Flask-Admin's own pager (which would OFFSET to any page) stays off.
        return None, rows

    def _list_page(
        self,
        count: RowCount,
        page: int,
        size: int,
        rows: list[Any],
        column_key: str | None,
        has_prev: bool,
        has_next: bool,
        by_cursor: bool,
    ) -> ListPage:
        first = paging.cursor_of(rows[0], column_key).encode() if rows else None
        last = paging.cursor_of(rows[-1], column_key).encode() if rows else None
        view_args = g.console_view_args
        extra = dict(view_args.extra_args)

        def url(page_no: int | None, **cursor: str | None) -> str:
            args = dict(extra)
            args.update({k: v for k, v in cursor.items() if v})
            return self._get_list_url(  # type: ignore[attr-defined]
                view_args.clone(page=page_no or None, extra_args=args)
            )

        prev_page = page - 1 if page != 0 else 0
        next_page = page + 1
        # Keyset for next/previous: adjacent pages never skip or repeat a row.
        urls: dict[str, str | None] = {
            "first": url(None),
            "prev": (
                (url(None) if prev_page == 0 and page > 0 else url(prev_page, before=first))
                if has_prev
                else None
            ),
            "next": url(next_page, after=last) if has_next else None,
            "last": url(-1),
        }
        pages = count.pages(size)
        numbered: list[tuple[int, str]] = []
        if (
            count.exact
            and pages is not None
            and pages * size <= self.list_offset_rows * 2
            and (page >= 0 and not by_cursor)
        ):
            low, high = max(0, page - 3), min(pages, page + 4)
            numbered = [(p, url(p)) for p in range(low, high)]
            if pages > 1:
                urls["last"] = url(pages - 1)
        return ListPage(
            count=count,
            page=page,
            page_size=size,
            has_prev=has_prev,
            has_next=has_next,
            first_cursor=first,
            last_cursor=last,
            urls=urls,
            numbered=numbered,
        )

    def render(self, template: str, **kwargs: Any) -> Any:
        list_page = getattr(g, "console_list_page", None)
        if template == self.list_template and list_page is not None:  # type: ignore[attr-defined]
            kwargs["list_page"] = list_page
            # Back to this very page (cursor included) after an edit.
            kwargs["return_url"] = request.full_path.rstrip("?")
            kwargs["row_links"] = RowLinks(kwargs.get("list_row_actions", ()))
            kwargs["page_rows"] = PageRows(self, kwargs["row_links"], kwargs.get("list_forms", {}))
        if template == self.edit_template:
            kwargs.setdefault("child_pages", getattr(g, "console_child_pages", []))
        return super().render(template, **kwargs)  # type: ignore[misc]

    def scaffold_list_form(self, widget: Any = None, validators: Any = None) -> Any:
        return super().scaffold_list_form(widget or FastXEditableWidget(), validators)  # type: ignore[misc]

    def list_form(self, obj: Any = None) -> Any:
        # The list page asks for one form per row up front; PageRows reads one of them.
        if obj is not None and request.endpoint == f"{self.endpoint}.index_view":  # type: ignore[attr-defined]
            return LazyListForm(lambda: super(BigListMixin, self).list_form(obj))  # type: ignore[misc]
        return super().list_form(obj)  # type: ignore[misc]

    # -- toggling a boolean in place ----------------------------------------------------

    @pass_context
    def get_list_value(self, context: Any, model: Any, name: str) -> Any:
        if name in self.toggle_columns() and can_edit_now(self):
            return toggle_cell(self, context, model, name)
        return super().get_list_value(context, model, name)  # type: ignore[misc]

    def is_editable(self, name: str) -> bool:
        return name in self.column_editable_list and can_edit_now(self)  # type: ignore[attr-defined]

    def toggle_columns(self) -> frozenset[str]:
        """Boolean columns the list toggles in place (``info={"toggle_in_list": True}``)."""
        cached = self.__dict__.get("_toggle_columns")
        if cached is None:
            cached = frozenset(c.key for c in self.description.toggles)  # type: ignore[attr-defined]
            self.__dict__["_toggle_columns"] = cached
        return cached

    @expose("/toggle/<int:id>/<field>", methods=["POST"])
    @requires(Role.editor)
    def toggle_view(self, id: int, field: str) -> Any:
        """Set a boolean column, checked against the version the user saw."""
        wants_json = request.accept_mimetypes.best == "application/json"

        def answer(message: str | None, status: int, **data: Any) -> Any:
            if wants_json:
                return jsonify(ok=message is None, error=message, **data), status
            if message:
                flash(message, "error")
            return redirect(get_redirect_target() or url_for(f"{self.endpoint}.index_view"))  # type: ignore[attr-defined]

        if field not in self.toggle_columns():
            return answer("This field cannot be changed from the list.", 404)
        row = db.session.get(self.model, id)  # type: ignore[attr-defined]
        if row is None:
            return answer("This record no longer exists: reload the page.", 404)
        value = request.form.get("value")
        version = request.form.get("version", type=int)
        if value not in ("0", "1") or version is None:
            return answer("The request was incomplete: reload the page and try again.", 400)
        if getattr(row, "version", version) != version:
            db.session.rollback()
            return answer(
                "Someone changed this record since you loaded the page: reload to see it.",
                409,
                value=getattr(row, field),
                version=getattr(row, "version", None),
            )
        setattr(row, field, value == "1")
        try:
            db.session.commit()
        except StaleDataError:
            db.session.rollback()
            return answer("Someone changed this record at the same moment: reload to see it.", 409)
        return answer(None, 200, value=getattr(row, field), version=getattr(row, "version", None))

    # -- children paged in the parent's edit form --------------------------------------------

    def edit_form(self, obj: Any = None) -> Any:
        if obj is not None:
            g.console_child_pages = self._page_inline_children(obj)
        return super().edit_form(obj)  # type: ignore[misc]

    def _inline_relationships(self) -> list[Any]:
        inline = getattr(self, "inline_models", None) or ()
        models = {m if isinstance(m, type) else m[0] for m in inline}
        return [r for r in inspect(self.model).relationships if r.mapper.class_ in models]  # type: ignore[attr-defined]

    def _page_inline_children(self, obj: Any) -> list[ChildPage]:
        """Load one page of each inline collection instead of the whole collection.

        The collection is set as if loaded, so the form shows (and on save
        updates or deletes) only that page; new rows are still appended to it.
        A POST reloads exactly the rows its form carried.
        """
        pages = []
        ident = inspect(obj).identity[0]
        for rel in self._inline_relationships():
            child = rel.mapper.class_
            fk = next(iter(rel.remote_side))
            child_pk = getattr(child, inspect(child).primary_key[0].key)
            base = select(child).where(fk == ident)
            # The inline form shows each child's to-one fields (assignee...): one query.
            eager = [
                joinedload(getattr(child, r.key))
                for r in inspect(child).relationships
                if r.direction.name == "MANYTOONE" and r.mapper.class_ is not self.model  # type: ignore[attr-defined]
            ]
            arg = f"{rel.key}_after"
            if request.method == "POST":
                pattern = re.compile(rf"^{re.escape(rel.key)}-\d+-{child_pk.key}$")
                ids = {int(v) for k, v in request.form.items() if pattern.match(k) and v.isdigit()}
                rows = list(
                    db.session.scalars(
                        base.options(*eager).where(child_pk.in_(ids)).order_by(child_pk)
                    )
                )
                after = None
            else:
                after = request.args.get(arg, type=int)
                stmt = base.options(*eager)
                stmt = stmt.where(child_pk > after) if after is not None else stmt
                rows = list(
                    db.session.scalars(stmt.order_by(child_pk).limit(self.inline_page_size + 1))
                )
            more = len(rows) > self.inline_page_size
            rows = rows[: self.inline_page_size]
            set_committed_value(obj, rel.key, rows)
            count = paging.count_rows(
                db.session,
                base,
                child_pk,
                table_name=child.__table__.name,
                filtered=True,
                cap=self.list_count_cap,
            )
            args = {k: v for k, v in request.args.items() if k != arg}
            child_view = self._view_for(child)  # type: ignore[attr-defined]
            pages.append(
                ChildPage(
                    label=rel.key.replace("_", " "),
                    count=count,
                    shown=len(rows),
                    next_url=url_for(".edit_view", **args, **{arg: rows[-1].id})
                    if more and rows
                    else None,
                    first_url=url_for(".edit_view", **args) if after is not None else None,
                    list_url=child_view.url_filtered_by(
                        self._label_attr(), getattr(obj, self._label_attr().key)
                    )
                    if child_view is not None
                    else None,
                )
            )
        return pages

    def _label_attr(self) -> Any:
        from console.admin.base import label_attribute

        return label_attribute(self.model)  # type: ignore[attr-defined]


def _is_enum(model: type, name: Any) -> bool:
    column = getattr(model, name, None) if isinstance(name, str) else name
    column_type = getattr(getattr(column, "expression", None), "type", None)
    return isinstance(column_type, Enum)


def count_label(model: type) -> str:
    """The row count of a whole table, exact where cheap ('about N' on big PostgreSQL tables)."""
    pk = getattr(model, inspect(model).primary_key[0].key)
    return paging.count_rows(
        db.session, select(model), pk, table_name=model.__table__.name, filtered=False
    ).label


__all__ = ["BigListMixin", "ChildPage", "ListPage", "assets", "count_label"]
