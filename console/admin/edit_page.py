"""Create and edit forms: every save checked against what the user loaded.

``edit_view`` is Flask-Admin's edit page rebuilt around an explicit ``EditOutcome``
(saved, refused as a conflict with theirs and yours, refused with field errors), so
nothing travels through ``flask.g``. A parent's inline children come one page at a
time (``ChildPage``), and each child row carries and checks its own token.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import abort, flash, redirect, request, url_for
from flask_admin.form import FormOpts
from sqlalchemy import Select, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError
from wtforms import ValidationError

from console import paging, versions
from console.admin import conflicts, inline_grids
from console.admin.forms import TOKEN_FIELD
from console.admin.returns import back_to
from console.catalogue import ModelDescription
from console.db_errors import describe_integrity_error
from console.extensions import session as current_session
from console.paging import RowCount

if TYPE_CHECKING:
    from console.admin.model_view import ConsoleModelView

# Inline children shown per page in a parent's edit form (each is a small form).
INLINE_PAGE_SIZE = 20
COUNT_CAP = 10_000


@dataclass
class ChildPage:
    """One page of a parent's children, shown in the parent's edit form."""

    label: str
    # The form field (the parent's relationship) that holds these children.
    collection: str
    count: RowCount
    shown: int
    next_url: str | None
    first_url: str | None
    list_url: str | None


@dataclass
class EditOutcome:
    """What a save came to."""

    saved: bool = False
    conflicts: list[conflicts.ConflictReport] = field(default_factory=list)
    message: str | None = None
    status: int = 200


class FieldProblem(ValidationError):
    """A refusal that belongs to one form field (``field_name``) or to the whole form."""

    def __init__(self, message: str, field_name: str | None = None) -> None:
        super().__init__(message)
        self.field_name = field_name


# -- the pages --------------------------------------------------------------------------------


def edit_view(view: ConsoleModelView) -> Any:
    """GET: the form, with the token of what is loaded. POST: save it, if still current."""
    return_url = back_to(view)
    if not view.can_edit:
        return redirect(return_url)
    ident = request.args.get("id")
    obj = view.get_one(ident) if ident is not None else None
    if obj is None:
        flash("Record does not exist.", "error")
        return redirect(return_url)
    child_pages = page_inline_children(view, obj)
    form = view.edit_form(obj=obj)
    outcome = EditOutcome()
    if request.method == "GET":
        fill_tokens(view.description, form, obj)
    elif view.validate_form(form):
        outcome = save_edit(view, form, obj)
        if outcome.saved:
            flash(f"{view.description.singular.capitalize()} '{_label(view, obj)}' was saved.",
                  "success")
            if "_add_another" in request.form:
                return redirect(view.get_url(".create_view", url=return_url))
            if "_continue_editing" in request.form:
                return redirect(view.get_url(".edit_view", id=ident, url=return_url))
            return redirect(saved_url(view, obj, return_url))
    else:
        flash("Failed to save record.", "danger")
    if outcome.message:
        flash(outcome.message, "error")
    body = view.render(
        view.edit_template,
        model=obj,
        form=form,
        form_opts=FormOpts(widget_args=view.form_widget_args, form_rules=None),
        return_url=return_url,
        conflicts=outcome.conflicts,
        child_pages=child_pages,
        # With JavaScript, the inline children as grids (inline_grids, grid-inline.js).
        inline_grids=inline_grids.inline_grids(view, obj),
    )
    return body, outcome.status


def _label(view: ConsoleModelView, obj: Any) -> str:
    from console.admin.list_page import label_of

    return label_of(obj, view.description)


def saved_url(view: ConsoleModelView, obj: Any, return_url: str) -> str:
    """Where Save leads: the record's own page, which shows what was saved.

    The list it came from (``return_url``) opened on its first page, where a new
    record sorted last was out of sight; the record's page links back to that list.
    """
    return str(view.get_url(".details_view", id=view.get_pk_value(obj), url=return_url))


def fill_tokens(description: ModelDescription, form: Any, obj: Any) -> None:
    """Put the token of what is loaded in the form and in each inline child row."""
    if TOKEN_FIELD in form:
        form[TOKEN_FIELD].data = versions.token_of(description, obj)
    catalogue = description.catalogue
    assert catalogue is not None
    for form_field in form:
        if form_field.type != "InlineModelFormList":
            continue
        child = catalogue.describe(form_field.model)
        for entry, child_obj in zip(form_field.entries, form_field.object_data or [], strict=False):
            if TOKEN_FIELD in entry.form:
                entry.form[TOKEN_FIELD].data = versions.token_of(child, child_obj)


def save_edit(view: ConsoleModelView, form: Any, obj: Any) -> EditOutcome:
    """Write the form in one transaction, or refuse it whole (conflict or field error)."""
    description = view.description
    session = current_session()
    ident = inspect(obj).identity[0]
    try:
        loaded = versions.parse_token(description, form[TOKEN_FIELD].data)
    except versions.MissingToken as exc:
        return EditOutcome(message=str(exc), status=400)
    except ValueError:
        return EditOutcome(message="The form was damaged: reload the page.", status=400)
    try:
        versions.check_object(description, obj, loaded)
        # Locks the row while it is still what the user loaded (the UPDATE's own check).
        versions.guard(session, description, ident, loaded)
        # Every existing child row too, before anything is changed: a guard after a
        # change would see the change (autoflush) instead of what the user loaded.
        for child_description, child, child_loaded in _child_tokens(description, form):
            versions.check_object(child_description, child, child_loaded)
            versions.guard(
                session, child_description, inspect(child).identity[0], child_loaded
            )
        form.populate_obj(obj)
        view.on_model_change(form, obj, False)
        session.flush()
        session.commit()
    except (versions.Conflict, StaleDataError):
        session.rollback()
        return EditOutcome(conflicts=conflict_reports(view, form, obj), status=409)
    except IntegrityError as exc:
        session.rollback()
        report_write_error(view, form, exc)
        return EditOutcome(status=400)
    except ValidationError as exc:
        session.rollback()
        report_write_error(view, form, exc)
        return EditOutcome(status=400)
    except versions.MissingToken as exc:
        session.rollback()
        return EditOutcome(message=str(exc), status=400)
    view.after_model_change(form, obj, False)
    return EditOutcome(saved=True)


def _inline_rows(description: ModelDescription, form: Any) -> Iterator[tuple[Any, Any, Any]]:
    """(child description, form entry, primary key) of every existing inline child row that
    carries its token, in the form's order."""
    catalogue = description.catalogue
    assert catalogue is not None
    for form_field in form:
        if form_field.type != "InlineModelFormList":
            continue
        child = catalogue.describe(form_field.model)
        for entry in form_field.entries:
            pk = entry.get_pk()
            if pk and TOKEN_FIELD in entry.form:
                yield child, entry, pk


def _child_tokens(description: ModelDescription, form: Any) -> list[tuple[Any, Any, Any]]:
    """(description, object, loaded) of every existing inline child row in the form."""
    found = []
    for child, entry, pk in _inline_rows(description, form):
        key = child.pk.kind.parse(str(pk), label="ID")
        child_obj = current_session().get(child.cls, key)
        if child_obj is None:
            raise versions.Conflict(deleted=True)
        try:
            child_loaded = versions.parse_token(child, entry.form[TOKEN_FIELD].data)
        except versions.MissingToken:
            raise
        except ValueError:
            raise versions.Conflict() from None
        found.append((child, child_obj, child_loaded))
    return found


def report_write_error(view: ConsoleModelView, form: Any, exc: Exception) -> None:
    """Put a database refusal on the field it concerns, with the input kept."""
    if isinstance(exc, ValidationError):
        field_name, message = getattr(exc, "field_name", None), str(exc)
    else:
        problem = describe_integrity_error(exc, view.model)  # type: ignore[arg-type]
        field_name, message = problem.field, problem.message
    form_field = getattr(form, field_name, None) if field_name else None
    if form_field is not None:
        form_field.errors = [*list(form_field.errors or []), message]
        flash("The record was not saved: see the highlighted field.", "error")
    else:
        flash(f"The record was not saved: {message}", "error")


def conflict_reports(view: ConsoleModelView, form: Any, obj: Any) -> list[conflicts.ConflictReport]:
    """The rows of this form that moved on; their token fields now hold the current ones."""
    description = view.description
    session = current_session()
    found: list[conflicts.ConflictReport] = []
    state = inspect(obj)
    if state.identity is None:
        return found
    current = session.get(type(obj), state.identity, populate_existing=True)
    submitted = form[TOKEN_FIELD].data
    if current is None:
        found.append(conflicts.report(session, description, state.identity[0], None,
                                      f"This {description.singular}"))
        return found
    if submitted != versions.token_of(description, current):
        found.append(_conflict_for(description, form, current, submitted))
        form[TOKEN_FIELD].data = versions.token_of(description, current)
    for child_description, entry, pk in _inline_rows(description, form):
        child = session.get(child_description.cls, pk, populate_existing=True)
        child_submitted = entry.form[TOKEN_FIELD].data
        if child is not None and child_submitted == versions.token_of(child_description, child):
            continue
        if child is None:
            found.append(conflicts.report(
                session, child_description, pk, None, f"{child_description.singular} {pk}"
            ))
            continue
        found.append(_conflict_for(child_description, entry.form, child, child_submitted))
        entry.form[TOKEN_FIELD].data = versions.token_of(child_description, child)
    return found


def _conflict_for(
    description: ModelDescription, form: Any, current: Any, submitted: str | None
) -> conflicts.ConflictReport:
    session = current_session()
    ident = inspect(current).identity[0]
    report = conflicts.report(session, description, ident, current, str(current))
    try:
        loaded = versions.parse_token(description, submitted)
    except ValueError:
        original = None
    else:
        original = conflicts.loaded_values(session, description, current, loaded)
    report.fields = conflicts.compare_form(form, current, original)
    return report


# -- creating ---------------------------------------------------------------------------------


def create_view(view: ConsoleModelView) -> Any:
    """GET: an empty form. POST: insert the record, or show the form with its errors."""
    return_url = back_to(view)
    if not view.can_create:
        return redirect(return_url)
    form = view.create_form()
    status = 200
    if view.validate_form(form):
        obj = create(view, form)
        if obj:
            flash(f"{view.description.singular.capitalize()} '{_label(view, obj)}' was created.",
                  "success")
            if "_add_another" in request.form:
                return redirect(view.get_url(".create_view", url=return_url))
            if "_continue_editing" in request.form:
                return redirect(view.get_url(".edit_view", id=view.get_pk_value(obj),
                                             url=return_url))
            return redirect(saved_url(view, obj, return_url))
        status = 400
    elif request.method == "POST":
        flash("Failed to create record.", "danger")
        status = 400
    body = view.render(
        view.create_template,
        form=form,
        form_opts=FormOpts(widget_args=view.form_widget_args, form_rules=None),
        return_url=return_url,
    )
    return body, status


def create(view: ConsoleModelView, form: Any) -> Any:
    """Insert the form's record in one transaction; False (errors on the form) if refused."""
    obj = view.build_new_instance()
    try:
        form.populate_obj(obj)
        current_session().add(obj)
        view.on_model_change(form, obj, True)
        current_session().commit()
    except (IntegrityError, ValidationError) as exc:
        current_session().rollback()
        report_write_error(view, form, exc)
        return False
    view.after_model_change(form, obj, True)
    return obj


# -- inline children, a page at a time ------------------------------------------------------


def page_inline_children(view: ConsoleModelView, obj: Any) -> list[ChildPage]:
    """Load one page of each inline collection instead of the whole collection.

    The collection is set as if loaded, so the form shows (and on save updates or
    deletes) only that page; new rows are still appended to it. A POST reloads
    exactly the rows its form carried.
    """
    description = view.description
    catalogue = description.catalogue
    assert catalogue is not None
    pages = []
    ident = inspect(obj).identity[0]
    for edge in description.inline:
        assert edge.collection is not None
        child = catalogue.describe(edge.child)
        child_pk = child.pk.column
        base: Select[Any] = select(edge.child).where(edge.fk == ident)
        arg = f"{edge.collection}_after"
        if request.method == "POST":
            pattern = re.compile(rf"^{re.escape(edge.collection)}-\d+-{child.pk.key}$")
            ids = []
            for key, value in request.form.items():
                if pattern.match(key):
                    try:
                        ids.append(child.pk.kind.parse(value, label="ID"))
                    except ValueError:
                        abort(400)
            ids = [i for i in ids if i is not None]
            rows = list(current_session().scalars(base.where(child_pk.in_(ids)).order_by(child_pk)))
            after = None
        else:
            raw_after = request.args.get(arg)
            try:
                after = child.pk.kind.parse(raw_after, label="ID") if raw_after else None
            except ValueError:
                after = None
            stmt = base.where(child_pk > after) if after is not None else base
            limited = stmt.order_by(child_pk).limit(INLINE_PAGE_SIZE + 1)
            rows = list(current_session().scalars(limited))
        more = len(rows) > INLINE_PAGE_SIZE
        rows = rows[:INLINE_PAGE_SIZE]
        set_committed_value(obj, edge.collection, rows)
        count = paging.count_rows(
            current_session(), base, child_pk, table_name=child.table.name, filtered=True,
            cap=COUNT_CAP,
        )
        args: dict[str, Any] = {k: v for k, v in request.args.items() if k != arg}
        child_view = view.registry.view_of(edge.child) if view.registry else None
        fk_info = next(c for c in child.columns if c.column is edge.fk)
        pages.append(
            ChildPage(
                label=child.plural,
                collection=edge.collection,
                count=count,
                shown=len(rows),
                next_url=url_for(".edit_view", **args, **{arg: getattr(rows[-1], child.pk.key)})
                if more and rows
                else None,
                first_url=url_for(".edit_view", **args) if after is not None else None,
                list_url=child_view.url_filtered_by_parent(fk_info, obj) if child_view else None,
            )
        )
    return pages


__all__ = ["ChildPage", "EditOutcome", "create", "edit_view", "page_inline_children"]
