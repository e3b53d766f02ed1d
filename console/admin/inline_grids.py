"""A parent's edit form: its inline children as a compact grid where JavaScript runs.

For each inline collection of the parent (``ModelDescription.inline``: children whose
reference cannot be empty) whose child view exists and whose grid this user may read
and edit, the edit page carries the child's grid configuration
(``grid.base_config``, as the master-detail pane under a parent's grid uses it,
``grid_details.details``), narrowed to this parent's children with the rows request's
``parent``/``parent_id`` arguments. console/static/grid/grid-inline.js draws it in
place of the classic inline table, whose inputs it takes out of the form: the
parent's *Save* then writes the parent's own fields only, and every grid edit is its
own version-checked batch to the child's ``grid/save``. Where a child's grid is
read-only (a view with rules of its own), the classic table keeps its editing.

Built only for the edit page: the create page has no parent key for the grid yet.
Where the console serves grids (``CONSOLE_LIST_PAGE=grid``, as for a model's list URL);
``?inline=classic`` (the grid's "Use the form's table" link) keeps the classic table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from flask import current_app, request
from sqlalchemy import inspect

from console.admin import grid, grid_details
from console.auth.roles import current_role_includes
from console.catalogue import mapper_of

if TYPE_CHECKING:
    from console.admin.model_view import ConsoleModelView

# ``?inline=classic``: this edit page keeps the classic inline table even with JavaScript.
INLINE_ARG = "inline"


def inline_grids(view: ConsoleModelView, obj: Any) -> list[dict[str, Any]]:
    """One entry per inline collection shown as a grid: its field, reference and grid config."""
    from console.admin.list_page import label_of

    description = view.description
    registry = view.registry
    catalogue = description.catalogue
    if registry is None or catalogue is None:
        return []
    if (current_app.config.get("CONSOLE_LIST_PAGE", "grid") != "grid"
            or request.args.get(INLINE_ARG) == "classic"):
        return []
    ident = inspect(obj).identity
    if ident is None:
        return []
    out = []
    for edge in description.inline:
        child_view = registry.view_of(edge.child)
        if (edge.collection is None or child_view is None
                or not current_role_includes(child_view.required_role("grid_rows"))):
            continue
        config = grid.base_config(child_view)
        if not config["canEdit"]:
            continue
        child = child_view.description
        fk = grid_details.reference_column(child, edge)
        # The rows request names the parent by its primary key (grid_details.children_clause);
        # a new child's reference holds what the foreign key points at.
        value = getattr(obj, _attribute_of(edge.parent, edge.target))
        config.update(
            query=urlencode({"parent": fk.key, "parent_id": str(ident[0])}),
            sort=None, descending=False, search="",
            # Every row here is this parent's: its reference column is left out of sight.
            layouts={"current": {"order": [], "hidden": [fk.key], "widths": {}}},
        )
        out.append({
            "field": edge.collection,
            "label": child.title,
            "fk": fk.key,
            "parentValue": "" if value is None else str(value),
            "parentLabel": label_of(obj, description),
            "grid": config,
        })
    return out


def _attribute_of(cls: type, column: Any) -> str:
    """The mapped attribute of ``cls`` that holds ``column``."""
    return str(mapper_of(cls).get_property_by_column(column).key)


__all__ = ["INLINE_ARG", "inline_grids"]
