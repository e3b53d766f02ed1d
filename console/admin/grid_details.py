"""Master-detail in the grid: a parent's one-to-many children, one tab per relationship.

Everything comes from the catalogue's edges (``ModelDescription.children``), so the
demo, ``CONSOLE_MODELS`` and reflected tables all get it: for each edge whose child
has a view this user may read, the parent's grid page carries the child's grid
configuration (console/static/grid/grid-detail.js draws it as a second grid under
the first). The child grid reads its rows from the child's own ``grid/rows`` with
``parent=<reference column>&parent_id=<the parent's key>`` (``parent_filter``): the
list's filters name a parent by its natural key or label, which a reflected table
may not have unique, so "this foreign key equals this id" is an argument of its own,
checked against the catalogue. A move of children to another parent is an ordinary
batch to the child's ``grid/save`` (one change of the reference column per row,
version-checked), so it needs nothing here beyond saying whether it is offered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import request
from sqlalchemy import select

from console import rules
from console.auth.roles import current_role_includes
from console.catalogue import ColumnInfo, Edge, ModelDescription

if TYPE_CHECKING:
    from console.admin.model_view import ConsoleModelView

# The rows request's arguments that pick the children of one parent.
PARENT_ARGS = ("parent", "parent_id")


def reference_column(description: ModelDescription, edge: Edge) -> ColumnInfo:
    """The child's column of ``edge`` (its foreign key)."""
    return next(c for c in description.columns if c.column is edge.fk)


def tab_label(parent: ModelDescription, edge: Edge) -> str:
    """A tab's heading: the child's plural, and the reference when a parent has several."""
    catalogue = parent.catalogue
    assert catalogue is not None
    child = catalogue.describe(edge.child)
    if len(parent.children) < 2:
        return child.title
    return f"{child.title} ({reference_column(child, edge).label.lower()})"


def details(view: ConsoleModelView) -> list[dict[str, Any]]:
    """One entry per child relationship: its tab, its reference column, its grid's config."""
    from console.admin import grid

    description = view.description
    registry = view.registry
    catalogue = description.catalogue
    if registry is None or catalogue is None:
        return []
    out = []
    for edge in description.children:
        child_view = registry.view_of(edge.child)
        if child_view is None or not current_role_includes(child_view.required_role("grid_rows")):
            continue
        child = child_view.description
        fk = reference_column(child, edge)
        config = grid.base_config(child_view)
        config.update(query="", sort=None, descending=False, search="")
        out.append({
            "key": edge.name,
            "label": tab_label(description, edge),
            "fk": fk.key,
            "fkLabel": fk.label,
            # Moving children is a change of their reference: only where that is editable.
            "movable": bool(config["canEdit"]) and fk.editable,
            "grid": config,
        })
    return out


def parent_filter(description: ModelDescription) -> tuple[ColumnInfo, Any] | str | None:
    """The ``parent``/``parent_id`` arguments as (reference column, parent key), or a reason.

    None when the request has neither.
    """
    name = request.args.get("parent")
    raw = request.args.get("parent_id")
    if name is None and raw is None:
        return None
    references = [c for c in description.columns if c.reference is not None
                  and description.catalogue is not None
                  and description.catalogue.get(c.reference.parent) is not None]
    names = ", ".join(c.key for c in references) or "none"
    info = next((c for c in references if c.key == name), None)
    if info is None:
        return (f"parent must name a reference column of {description.plural} "
                f"(one of: {names}); got {name!r}.")
    assert info.reference is not None and description.catalogue is not None
    parent = description.catalogue.describe(info.reference.parent)
    if not raw:
        return f"parent_id must be the key of a {parent.singular}."
    try:
        value = parent.pk.kind.parse(raw, label="parent_id")
    except rules.RuleError as error:
        return str(error)
    if value is None:
        return f"parent_id must be the key of a {parent.singular}."
    return info, value


def children_clause(description: ModelDescription, info: ColumnInfo, key: Any) -> Any:
    """WHERE the reference ``info`` points at the parent whose primary key is ``key``."""
    assert info.reference is not None and description.catalogue is not None
    parent = description.catalogue.describe(info.reference.parent)
    target = info.reference.target
    if target is parent.pk.column:
        return info.column == key
    # A foreign key to another unique column of the parent: that column of that row.
    return info.column == select(target).where(parent.pk.column == key).scalar_subquery()


__all__ = ["PARENT_ARGS", "children_clause", "details", "parent_filter", "tab_label"]
