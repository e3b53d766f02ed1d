"""The grid of a model (``/admin/<endpoint>/grid/``) and the JSON it talks to.

Thin over the engines: the page of rows comes from ``console.grid_rows`` (the paging
engine's keyset pages and honest counts) with the list's own search, filters and
sort (``list_page``: the same URL arguments, the same index-served sorts); a batch
of edits goes to ``console.grid_batch`` (the forms' rules, version checks, one
transaction). The page itself is the list's columns handed to the grid's script
(console/static/grid/grid.js), which needs JavaScript; the list stays the page that
works without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from flask import current_app, jsonify, request, url_for
from flask_wtf.csrf import generate_csrf

from console import grid_rows
from console.admin import adapter, conflicts, grid_details, grid_layouts, list_page, transfer
from console.admin import filters as list_filters
from console.admin.selection import max_matching, max_selection
from console.extensions import session as current_session
from console.grid_batch import GridChange, GridCreate, GridDelete, GridOutcome, apply_batch
from console.paging import Cursor

if TYPE_CHECKING:
    from console.admin.model_view import ConsoleModelView

# Arguments of the rows request that are the grid's own, not the list's.
OWN_ARGS = ("after", "before", "last", "limit", *grid_details.PARENT_ARGS)
# ``?view=classic``: the model's list URL shows the classic list even where it would be the grid.
VIEW_ARG = "view"
# Ctrl+Shift+End / Ctrl+Shift+Home load the rows up to the end they stretch the range to,
# at most this many rows in all ("Select all matching" is the selection beyond).
RANGE_LIMIT = 10_000


def can_edit(view: ConsoleModelView) -> bool:
    """True when this user may edit this model in the grid.

    A view with a save hook of its own (``on_model_change``: Accounts hash passwords
    and keep the last admin) has rules only its forms apply: its grid is read-only.
    """
    from console.admin.model_view import ConsoleModelView

    own_rules = type(view).on_model_change is not ConsoleModelView.on_model_change
    return bool(view.can_edit) and not own_rules


def _list_query_string() -> str:
    """The list's arguments of this request (search, filters, sort), without the grid's own."""
    pairs = [(k, v) for k, v in request.args.items(multi=True)
             if k not in OWN_ARGS and k != VIEW_ARG]
    return urlencode(pairs)


def serves_list() -> bool:
    """Whether this request to the model's list URL gets the grid instead of the list.

    With ``CONSOLE_LIST_PAGE=grid`` (the default), a browser that runs JavaScript (its
    pages set the ``console_js`` cookie) gets the grid, unless it chose the classic list
    last (``console_list=classic``, set by the grid's List tab) or asks for it
    (``?view=classic``, which the list's own links keep). A browser without JavaScript
    never sent the cookie, and the grid sends one that stopped running it to the list.
    """
    if current_app.config.get("CONSOLE_LIST_PAGE", "grid") != "grid":
        return False
    if request.args.get(VIEW_ARG) == "classic" or request.cookies.get("console_js") != "1":
        return False
    return request.cookies.get("console_list") != "classic"


def base_config(view: ConsoleModelView) -> dict[str, Any]:
    """What any grid of this model needs: its columns, where rows come from and edits go."""
    description = view.description
    editable = can_edit(view)
    columns = grid_rows.grid_columns(
        description, list_page.list_columns(description), can_edit=editable
    )
    return {
        "model": description.title,
        "singular": description.singular,
        "plural": description.plural,
        "columns": [c.as_json() for c in columns],
        "rowsUrl": url_for(f"{view.endpoint}.grid_rows"),
        "saveUrl": url_for(f"{view.endpoint}.grid_save"),
        "lookupUrl": url_for(f"{view.endpoint}.ajax_lookup"),
        "detailsUrl": url_for(f"{view.endpoint}.details_view"),
        # The context menu's classic pages: the form, the History, the delete preview.
        "editUrl": url_for(f"{view.endpoint}.edit_view") if view.can_edit else None,
        "historyUrl": url_for(f"{view.endpoint}.history_view"),
        "deleteUrl": url_for(f"{view.endpoint}.delete_view") if view.can_delete else None,
        "canEdit": editable,
        "readOnly": "" if editable else (
            f"{description.title} are edited in their forms, not here." if view.can_edit
            else "You can look, not edit: your role cannot change records."),
        "csrf": generate_csrf() if editable else "",
        "pageSize": grid_rows.PAGE_SIZE,
        "rangeLimit": RANGE_LIMIT,
    }


def grid_view(view: ConsoleModelView, *, at_list_url: bool = False) -> Any:
    """The grid page: its columns, where its rows come from and where its edits go."""
    description = view.description
    args = adapter.list_arguments(view)
    headings = list_page.headings_of(view, args)
    sort = view.sort_column(headings, args.sort)
    query = _list_query_string()
    config = base_config(view)
    config.update({
        "query": query,
        "sort": sort.key if sort is not None else None,
        "descending": bool(args.sort_desc) and sort is not None,
        "search": args.search or "",
        # The account's saved column layout and where its views go (grid_layouts).
        "layouts": grid_layouts.config(view),
        # "With selected": the list's own actions (Set <column>, Delete through its
        # preview), posted as the list's action form posts them, and its exports.
        **_selection_config(view),
        # The children's grids under this one, one tab per relationship (grid_details).
        "details": grid_details.details(view),
        "labelKey": description.label.key,
        # The list's filters by column, offered in the grid's header (grid-filter.js).
        "headerFilters": list_filters.header_filters(view),
    })
    # The classic list of the same rows (asked for by name: the list URL may be the grid).
    list_query = urlencode([(VIEW_ARG, "classic")]) + (f"&{query}" if query else "")
    list_url = url_for(f"{view.endpoint}.index_view") + f"?{list_query}"
    return view.render("admin/grid.html", grid_config=config, list_url=list_url,
                       description=description,
                       at_list_url=at_list_url)


def _selection_config(view: ConsoleModelView) -> dict[str, Any]:
    """What the grid's "With selected" menu offers this user, and where it posts."""
    actions, _confirmations = view.get_actions_list()
    exports = {}
    if view.can_export and transfer.exportable(view.description):
        exports = {kind: url_for(f"{view.endpoint}.export", export_type=kind)
                   for kind in view.export_types}
    return {
        "actions": [{"name": name, "label": str(label)} for name, label in actions],
        "actionUrl": url_for(f"{view.endpoint}.action_view"),
        "actionCsrf": generate_csrf() if actions else "",
        "exportUrls": exports,
        "exportCsrf": generate_csrf() if exports else "",
        "maxSelection": max_selection(),
        "maxMatching": max_matching(),
    }


def rows_view(view: ConsoleModelView) -> Any:
    """One keyset page of rows as JSON: ``{rows, next, count}`` (count on the first page).

    ``last=1``: the last page (``{rows, prev, count}``); ``before=<cursor>``: the page
    just before a row (``{rows, prev}``), for scrolling up from the end.
    """
    description = view.description
    args = adapter.list_arguments(view)
    headings = list_page.headings_of(view, args)
    sort = view.sort_column(headings, args.sort)
    descending = bool(args.sort_desc) and sort is not None
    raw_limit = request.args.get("limit") or str(grid_rows.PAGE_SIZE)
    if not raw_limit.isascii() or not raw_limit.isdigit() or len(raw_limit) > 4:
        return jsonify(error="limit must be a whole number from 1 to "
                             f"{grid_rows.MAX_PAGE_SIZE}."), 400
    after = request.args.get("after") or None
    before = request.args.get("before") or None
    last = request.args.get("last") or None
    if last not in (None, "1"):
        return jsonify(error="last must be 1."), 400
    if sum(x is not None for x in (after, before, last)) > 1:
        return jsonify(error="Ask for one of after, before or last, not several."), 400
    column = sort.column if sort is not None else description.pk.column
    for token in (after, before):
        if token is not None and Cursor.decode(token, column) is None:
            return jsonify(error="That position in the list is not valid: reload the grid."), 400
    # A filter the list would skip (unknown) or refuse (a bad value) is refused here: the
    # grid must never show more rows than it was asked for.
    _filters, _search, problems = adapter.filter_search_arguments(
        view, request.query_string.decode("utf-8", "replace"))
    if problems:
        return jsonify(error="Not filtered: " + " ".join(problems)), 400
    stmt, filtered = list_page.filtered_select(view, args)
    parent = grid_details.parent_filter(description)
    if isinstance(parent, str):
        return jsonify(error=parent), 400
    if parent is not None:
        stmt = stmt.where(grid_details.children_clause(description, *parent))
        filtered = True
    page = grid_rows.read_page(
        current_session(), description, stmt, list_page.list_columns(description),
        sort=sort, descending=descending, after=after, limit=int(raw_limit),
        filtered=filtered, search=bool(list_page.clean_search(args.search)),
        before=before, last=last is not None,
    )
    body = page.as_json()
    if page.count is not None and parent is None:
        # What "Select all matching" posts: the list's own filters and search (not for a
        # parent's children, which the list's filters cannot name: no "all matching" there).
        body["matching"] = list_page.matching_query(view, args.filters, args.search)
    return jsonify(body)


def _bad_request(message: str) -> Any:
    return jsonify(ok=False, problems=[{"row": "", "column": None, "message": message,
                                        "conflict": False, "deleted": False}]), 400


def _text_or_none(value: Any) -> bool:
    return value is None or isinstance(value, str)


Batch = tuple[list[GridChange], list[GridCreate], list[GridDelete]]


def _parse_body(data: Any) -> Batch | str:
    """The batch a JSON body holds, or what is wrong with its shape."""
    if not isinstance(data, dict):
        return 'Expected {"changes": [...], "creates": [...]}.'
    raw_changes = data.get("changes") or []
    raw_creates = data.get("creates") or []
    raw_deletes = data.get("deletes") or []
    if not all(isinstance(raw, list) for raw in (raw_changes, raw_creates, raw_deletes)):
        return '"changes", "creates" and "deletes" must be lists.'
    deletes = []
    for item in raw_deletes:
        if (not isinstance(item, dict) or not _text_or_none(item.get("token"))
                or not isinstance(item.get("row"), str | int) or isinstance(item.get("row"), bool)):
            return "Each row to delete needs its key and its token."
        deletes.append(GridDelete(str(item["row"]), item.get("token")))
    changes = []
    for item in raw_changes:
        if (not isinstance(item, dict) or not isinstance(item.get("column"), str)
                or not _text_or_none(item.get("value")) or not _text_or_none(item.get("token"))
                or not isinstance(item.get("row"), str | int) or isinstance(item.get("row"), bool)):
            return "Each change needs a row, its token, a column and a text value."
        changes.append(GridChange(str(item["row"]), item.get("token"), item["column"],
                                  item.get("value"), by_key=item.get("byKey") is True))
    creates = []
    for item in raw_creates:
        values = item.get("values") if isinstance(item, dict) else None
        by_key = item.get("byKey", []) if isinstance(item, dict) else None
        if (not isinstance(item, dict) or not isinstance(item.get("ref"), str)
                or not isinstance(values, dict)
                or not all(isinstance(k, str) and _text_or_none(v) for k, v in values.items())
                or not isinstance(by_key, list) or not all(isinstance(k, str) for k in by_key)):
            return "Each new row needs a ref and its cells' text values."
        creates.append(GridCreate(item["ref"], dict(values), frozenset(by_key)))
    return changes, creates, deletes


def save_view(view: ConsoleModelView) -> Any:
    """Save a batch (JSON): 200 with the saved rows, 400 with each bad cell, 409 on conflicts."""
    if not can_edit(view):
        return _bad_request(f"{view.description.title} are edited in their forms, not in "
                            "the grid.")
    parsed = _parse_body(request.get_json(silent=True))
    if isinstance(parsed, str):
        return _bad_request(parsed)
    changes, creates, deletes = parsed
    if deletes and not view.can_delete:
        return _bad_request(f"Your role cannot delete {view.description.plural}.")
    description = view.description
    assert description.catalogue is not None
    session = current_session()
    outcome = apply_batch(session, description, changes, creates, deletes,
                          edges=description.catalogue.edges,
                          delete_refusal=view.delete_refusal)
    columns = list_page.list_columns(description)
    if outcome.saved:
        saved = grid_rows.rows_by_id(session, description, columns, outcome.changed)
        made = grid_rows.rows_by_id(session, description, columns,
                                    list(outcome.created.values()))
        by_id = {row["id"]: row for row in made}
        created = {ref: by_id.get(str(ident)) for ref, ident in outcome.created.items()}
        return jsonify(ok=True, rows=saved, created=created,
                       deleted=[str(ident) for ident in outcome.deleted]), 200
    body = {"ok": False, "problems": [p.as_json() for p in outcome.problems],
            "conflicts": _conflicts(view, outcome)}
    session.rollback()
    status = 409 if any(p.conflict for p in outcome.problems) else 400
    return jsonify(body), status


def _conflicts(view: ConsoleModelView, outcome: GridOutcome) -> dict[str, Any]:
    """Each row that moved on: who changed it and when, and its values now (theirs)."""
    description = view.description
    session = current_session()
    found: dict[str, Any] = {}
    columns = list_page.list_columns(description)
    for problem in outcome.problems:
        if not problem.conflict or not problem.row or problem.row in found:
            continue
        if problem.deleted:
            found[problem.row] = {"message": "Not saved: this record was deleted since you "
                                             "loaded it.", "theirs": None}
            continue
        obj = view.get_one(problem.row)
        if obj is None:
            continue
        ident = getattr(obj, description.pk.key)
        who = conflicts.moved_on_message(session, description, ident)
        theirs = grid_rows.rows_by_id(session, description, columns, [ident])
        found[problem.row] = {"message": f"Not saved: {who} since you loaded it.",
                              "theirs": theirs[0] if theirs else None}
    return found


__all__ = ["base_config", "grid_view", "rows_view", "save_view"]
