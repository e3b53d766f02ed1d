"""A record's details page: its values, its parents as links, the first rows of its children."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import flash, redirect, request, url_for
from sqlalchemy import func, inspect, select

from console.admin.list_page import display, label_of
from console.admin.returns import back_to
from console.catalogue import ColumnInfo
from console.extensions import session as current_session

if TYPE_CHECKING:
    from console.admin.model_view import ConsoleModelView

PREVIEW_SIZE = 10


@dataclass
class DetailRow:
    """One field of the details table."""

    key: str
    label: str
    text: str
    url: str | None = None


@dataclass
class ChildPreview:
    """The first rows of one child relationship, for the details page."""

    label: str
    count: int
    rows: list[tuple[str, str | None]]  # (label, details URL)
    list_url: str | None


def details_view(view: ConsoleModelView) -> Any:
    """One record, its references and the first rows of each of its children."""
    return_url = back_to(view)
    ident = request.args.get("id")
    obj = view.get_one(ident) if ident is not None else None
    if obj is None:
        flash("Record does not exist.", "error")
        return redirect(return_url)
    return view.render(
        view.details_template,
        model=obj,
        fields=detail_rows(view, obj),
        children=children_previews(view, obj),
        return_url=return_url,
    )


def detail_rows(view: ConsoleModelView, obj: Any) -> list[DetailRow]:
    """Every visible column of ``obj``; a reference as its parent's name, linked."""
    description = view.description
    rows = []
    for info in description.visible:
        value = getattr(obj, info.key)
        if info.reference is not None and value is not None:
            rows.append(_reference_row(view, info, value))
        else:
            rows.append(DetailRow(info.key, info.label, display(value)))
    return rows


def _reference_row(view: ConsoleModelView, info: ColumnInfo, value: Any) -> DetailRow:
    assert info.reference is not None
    catalogue = view.description.catalogue
    assert catalogue is not None
    parent_description = catalogue.describe(info.reference.parent)
    parent = current_session().scalar(
        select(info.reference.parent).where(info.reference.target == value)
    )
    if parent is None:
        return DetailRow(info.key, info.label, display(value))
    registry = view.registry
    parent_view = registry.view_of(parent_description.cls) if registry else None
    url = (
        url_for(f"{parent_view.endpoint}.details_view",
                id=getattr(parent, parent_description.pk.key))
        if parent_view is not None
        else None
    )
    return DetailRow(info.key, info.label, label_of(parent, parent_description), url)


def children_previews(view: ConsoleModelView, obj: Any) -> list[ChildPreview]:
    """The first rows and the count of each child relationship of ``obj``."""
    description = view.description
    catalogue = description.catalogue
    assert catalogue is not None
    previews = []
    mapper = inspect(type(obj))
    for edge in description.children:
        child = catalogue.describe(edge.child)
        target = getattr(obj, mapper.get_property_by_column(edge.target).key)
        where = edge.fk == target
        session = current_session()
        count = session.scalar(select(func.count()).select_from(edge.child).where(where)) or 0
        found: list[Any] = list(
            current_session().scalars(
                select(edge.child).where(where).order_by(child.pk.column).limit(PREVIEW_SIZE)
            )
        )
        registry = view.registry
        child_view = registry.view_of(edge.child) if registry else None
        rows = [
            (
                label_of(row, child),
                url_for(f"{child_view.endpoint}.details_view", id=getattr(row, child.pk.key))
                if child_view is not None
                else None,
            )
            for row in found
        ]
        fk_info = next(c for c in child.columns if c.column is edge.fk)
        same_child = [e for e in description.children if e.child is edge.child]
        label = (
            edge.collection.replace("_", " ").capitalize()
            if len(same_child) > 1 and edge.collection
            else child.title
        )
        previews.append(
            ChildPreview(
                label=label,
                count=count,
                rows=rows,
                list_url=child_view.url_filtered_by_parent(fk_info, obj) if child_view else None,
            )
        )
    return previews


__all__ = ["ChildPreview", "DetailRow", "children_previews", "detail_rows", "details_view"]
