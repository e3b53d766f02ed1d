"""The one base view: list/create/edit/details/delete generated from model metadata."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import flash, has_request_context, url_for
from flask_admin.contrib.sqla import ModelView
from flask_admin.contrib.sqla.ajax import QueryAjaxModelLoader
from flask_admin.contrib.sqla.filters import FilterEqual
from flask_admin.form import BaseForm
from flask_wtf import FlaskForm
from sqlalchemy import Boolean, Column, Date, DateTime, Enum, String, Text, func, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import ColumnProperty, undefer
from wtforms import ValidationError
from wtforms.validators import DataRequired

from console import rules
from console.admin.bulk import BulkMixin
from console.admin.deletes import DeleteConfirmMixin
from console.admin.lists import BigListMixin
from console.admin.static_urls import static_url
from console.admin.versioning import VersionCheckMixin
from console.auth.roles import current_role_includes, deny
from console.catalogue import ModelDescription, catalogue_of
from console.kinds import EmailKind
from console.db_errors import describe_integrity_error
from console.extensions import db
from console.rules import Role

log = logging.getLogger(__name__)


class ConsoleForm(BaseForm):
    """Flask-Admin's form base with Flask-WTF's CSRF token.

    Flask-Admin's own ``SecureForm`` signs tokens with a scheme that Flask-WTF's
    global ``CSRFProtect`` does not accept; using Flask-WTF's Meta gives one token
    that both check.
    """

    class Meta(FlaskForm.Meta):
        _translations = BaseForm.Meta._translations

        def get_translations(self, form: Any) -> Any:
            return self._translations


class RuleValidator:
    """Run a ``console.rules`` check on a form field; its message lands on the field."""

    def __init__(self, check: Callable[[Any], Any]) -> None:
        self.check = check

    def __call__(self, form: Any, field: Any) -> None:
        if field.data in (None, ""):
            return
        try:
            field.data = self.check(field.data)
        except rules.RuleError as exc:
            raise ValidationError(str(exc)) from None


def strip_filter(value: Any) -> Any:
    """Trim surrounding blanks from text input."""
    return value.strip() if isinstance(value, str) else value


def email_filter(value: Any) -> Any:
    """Emails are compared and stored lower-case."""
    return rules.normalise_email(value) if isinstance(value, str) else value


# What each Flask-Admin endpoint needs, by view-method name. Anything not listed
# (and not marked with ``@requires``) needs admin: new endpoints are closed by default.
ENDPOINT_ROLES: dict[str, Role] = {
    "index_view": Role.viewer,
    "details_view": Role.viewer,
    "export": Role.viewer,
    "ajax_lookup": Role.editor,
    "create_view": Role.editor,
    "edit_view": Role.editor,
    "delete_view": Role.editor,
    "action_view": Role.editor,
    "ajax_update": Role.editor,
}

HIDDEN_COLUMNS = {"version", "created_at"}
UNEDITABLE_COLUMNS = {"version", "created_at", "updated_at"}


def table_columns(model: type) -> list[Column]:
    """The model's own table columns (not computed column properties)."""
    return [c for c in inspect(model).columns if isinstance(c, Column)]


def description_of(model: type) -> ModelDescription:
    """The catalogue's description of ``model``."""
    catalogue = catalogue_of(model)
    assert catalogue is not None
    return catalogue.describe(model)


def label_attribute(model: type) -> Any:
    """The column that names a row to people (the catalogue's label)."""
    catalogue = catalogue_of(model)
    assert catalogue is not None
    return getattr(model, catalogue.describe(model).label.key)


class SafeAjaxLoader(QueryAjaxModelLoader):
    """Flask-Admin's ajax lookup, with malformed keys treated as "not found".

    Stock, a posted value such as ``abc`` for an integer key reaches the database
    and fails there (a 500 on PostgreSQL).
    """

    def get_one(self, pk: Any) -> Any:
        key = inspect(self.model).primary_key[0]
        try:
            pk = key.type.python_type(pk)
        except (TypeError, ValueError, NotImplementedError):
            return None
        return super().get_one(pk)


def ajax_loader(name: str, model: type) -> SafeAjaxLoader:
    """A lookup of ``model`` rows by their text columns, ten at a time."""
    fields = [
        c.key
        for c in table_columns(model)
        if isinstance(c.type, String) and not c.info.get("secret")
    ]
    return SafeAjaxLoader(
        name,
        db,
        model,
        fields=fields,
        page_size=10,
        placeholder=f"Search {humanise(name).lower()}...",
    )


def humanise(name: str) -> str:
    """``due_date`` -> ``Due date``."""
    return name.replace("_", " ").capitalize()


@dataclass
class ChildPreview:
    """The first rows of a one-to-many relationship, for the details page."""

    label: str
    count: int
    rows: list[Any]
    list_url: str | None
    view_endpoint: str | None


class ConsoleModelView(BulkMixin, BigListMixin, DeleteConfirmMixin, VersionCheckMixin, ModelView):
    """Every model's admin view, configured from its mapper.

    Subclass only for what metadata cannot say; register models in
    ``console.admin.registry``.
    """

    form_base_class = ConsoleForm
    named_filter_urls = True
    can_view_details = True
    can_set_page_size = True
    page_size = 50
    # Flask-Admin offers these in the page size menu and accepts no other size from the
    # URL (get_safe_page_size): a hand-edited huge size is refused there.
    page_size_options = (20, 50, 100, 200)
    can_export = True
    export_types = ["csv"]
    # One chain of templates, each mixin adding its part: paged inline children
    # (console/edit.html) > version conflicts (versioned_edit.html) > record tabs.
    edit_template = "admin/console/edit.html"
    details_template = "admin/console_details.html"
    list_template = "admin/console_list.html"
    column_type_formatters = {
        **ModelView.column_type_formatters,
        datetime: lambda view, value, name: value.strftime("%Y-%m-%d %H:%M"),
    }
    column_type_formatters_detail = column_type_formatters
    # The least role every endpoint of this view needs (Account raises it to admin).
    min_role: Role = Role.viewer
    children_preview_size = 10
    # Per-model additions that metadata cannot say.
    extra_form_args: dict[str, dict[str, Any]] = {}

    def __init__(self, description: ModelDescription, **kwargs: Any) -> None:
        self.description = description
        kwargs.setdefault("name", description.title)
        kwargs.setdefault("endpoint", description.name)
        if description.inline and "inline_models" not in vars(type(self)):
            self.inline_models = [self._inline(edge) for edge in description.inline]
        self._configure_from_metadata(description.cls)
        super().__init__(description.cls, db, **kwargs)

    def _inline(self, edge: Any) -> Any:
        """The inline form of one child relationship: the child's editable columns."""
        assert description_of(edge.child) is not None
        child = description_of(edge.child)
        columns = [c for c in child.columns if c.editable and c.column is not edge.fk]
        form_columns = [child.pk.key]
        refs = {}
        for c in columns:
            if c.reference is not None and c.reference.reference:
                form_columns.append(c.reference.reference)
                refs[c.reference.reference] = ajax_loader(c.reference.reference, c.reference.parent)
            elif c.reference is None:
                form_columns.append(c.key)
        return (edge.child, {"form_columns": form_columns, "form_ajax_refs": refs})

    # -- generation from metadata ---------------------------------------------------

    def _configure_from_metadata(self, model: type) -> None:
        mapper = inspect(model)
        columns = table_columns(model)
        fk_columns = {c.key for c in columns if c.foreign_keys}
        secret = {c.key for c in self.description.columns if c.hidden}
        plain = [
            c
            for c in columns
            if not c.primary_key and c.key not in fk_columns and c.key not in secret
        ]
        to_one = [r for r in mapper.relationships if r.direction.name == "MANYTOONE"]
        to_many = [r for r in mapper.relationships if r.direction.name == "ONETOMANY"]
        computed = [
            p
            for p in mapper.column_attrs
            if isinstance(p, ColumnProperty)
            and not isinstance(p.columns[0], Column)
            and p.key not in secret
        ]
        pk = mapper.primary_key[0].key

        cls = type(self)
        if "column_list" not in vars(cls):
            self.column_list = (
                [pk]
                + [c.key for c in plain if c.key not in HIDDEN_COLUMNS]
                + [r.key for r in to_one]
                + [p.key for p in computed]
            )
        if "column_details_list" not in vars(cls):
            self.column_details_list = (
                [pk] + [c.key for c in plain] + [r.key for r in to_one] + [p.key for p in computed]
            )
        self.column_export_list = [pk] + [c.key for c in plain] + [r.key for r in to_one]
        self.column_exclude_list = sorted(secret)
        self.column_export_exclude_list = sorted(secret)
        self.column_details_exclude_list = sorted(secret)
        self.column_labels = {
            **{p.key: p.info.get("label", humanise(p.key)) for p in computed},
            **{r.key: humanise(r.key) for r in to_one},
            "id": "ID",
            **(vars(cls).get("column_labels") or {}),
        }
        if "column_sortable_list" not in vars(cls):
            sortable: list[Any] = [pk] + [c.key for c in plain]
            for rel in to_one:
                label = label_attribute(rel.mapper.class_)
                sortable.append((rel.key, f"{rel.key}.{label.key}"))
            self.column_sortable_list = sortable
        if "column_searchable_list" not in vars(cls):
            self.column_searchable_list = [
                c.key for c in plain if isinstance(c.type, String | Text)
            ]
        if "column_filters" not in vars(cls):
            filters: list[Any] = [
                c.key for c in plain if isinstance(c.type, Boolean | Enum | Date | DateTime)
            ]
            for rel in to_one:
                filters.append(label_attribute(rel.mapper.class_))
            self.column_filters = filters
        if "form_ajax_refs" not in vars(cls):
            self.form_ajax_refs = {
                rel.key: ajax_loader(rel.key, rel.mapper.class_) for rel in to_one
            }
        excluded = [c.key for c in columns if c.key in UNEDITABLE_COLUMNS or c.key in secret]
        inline = getattr(cls, "inline_models", None) or ()
        inline_models = {m if isinstance(m, type) else m[0] for m in inline}
        excluded += [r.key for r in to_many if r.mapper.class_ not in inline_models]
        self.form_excluded_columns = excluded
        self.form_args = self._form_args(plain)
        self._to_many = to_many
        self._computed = [p.key for p in computed]

    def _form_args(self, columns: list[Any]) -> dict[str, dict[str, Any]]:
        """Validators and filters from column metadata, plus the shared domain rules."""
        args: dict[str, dict[str, Any]] = {}
        for column in columns:
            if not isinstance(column.type, String):
                continue
            entry: dict[str, Any] = {"filters": [strip_filter], "validators": []}
            info = self.description.find(column.key)
            if info is not None and isinstance(info.kind, EmailKind):
                entry["filters"] = [email_filter]
                entry["validators"].append(RuleValidator(rules.check_email))
            if not column.nullable:
                # InputRequired alone would accept a value of blanks.
                entry["validators"].insert(0, DataRequired(message="This field is required."))
            args[column.key] = entry
        for name, extra in self.extra_form_args.items():
            merged = args.setdefault(name, {})
            for key, value in extra.items():
                if isinstance(value, list):
                    merged[key] = merged.get(key, []) + value
                else:
                    merged[key] = value
        return args

    def get_url(self, endpoint: str, **kwargs: Any) -> str:
        # Flask-Admin's templates build ~23 static file URLs per page through here.
        if endpoint.endswith(".static"):
            return static_url(endpoint, **kwargs)
        return super().get_url(endpoint, **kwargs)

    # -- access control ---------------------------------------------------------------

    def required_role(self, name: str) -> Role:
        """The role an endpoint (view-method name) needs."""
        method = getattr(self, name, None)
        role = getattr(method, "required_role", None) or ENDPOINT_ROLES.get(name, Role.admin)
        return role if role.includes(self.min_role) else self.min_role

    def is_accessible(self) -> bool:
        return current_role_includes(self.min_role)

    def _handle_view(self, name: str, **kwargs: Any) -> Any:
        if not current_role_includes(self.required_role(name)):
            return deny()
        return None

    def is_visible(self) -> bool:
        return current_role_includes(self.min_role)

    def _can(self, role: Role) -> bool:
        return has_request_context() and current_role_includes(max(role, self.min_role, key=_rank))

    @property
    def can_create(self) -> bool:  # type: ignore[override]
        return self._can(Role.editor)

    @property
    def can_edit(self) -> bool:  # type: ignore[override]
        return self._can(Role.editor)

    @property
    def can_delete(self) -> bool:  # type: ignore[override]
        return self._can(Role.editor)

    # -- queries ----------------------------------------------------------------------

    def get_one(self, id: Any) -> Any:
        # PostgreSQL refuses "abc" for an integer key with an error (a 500), SQLite
        # just finds nothing: treat a malformed id as "no such record" on both.
        pk = inspect(self.model).primary_key[0]
        try:
            key = pk.type.python_type(id)
        except (TypeError, ValueError, NotImplementedError):
            return None
        return db.session.get(self.model, key)


    def get_query(self) -> Any:
        query = super().get_query()
        if self._computed:
            query = query.options(*(undefer(getattr(self.model, k)) for k in self._computed))
        return query

    # -- writes -----------------------------------------------------------------------

    def create_model(self, form: Any) -> Any:
        model = self.build_new_instance()
        try:
            form.populate_obj(model)
            db.session.add(model)
            self._on_model_change(form, model, True)
            db.session.commit()
        except (IntegrityError, ValidationError) as exc:
            db.session.rollback()
            self._report_write_error(form, exc)
            return False
        self.after_model_change(form, model, True)
        return model

    def update_model(self, form: Any, model: Any) -> bool:
        try:
            form.populate_obj(model)
            self._on_model_change(form, model, False)
            db.session.commit()
        except (IntegrityError, ValidationError) as exc:
            db.session.rollback()
            self._report_write_error(form, exc)
            return False
        self.after_model_change(form, model, False)
        return True

    def _report_write_error(self, form: Any, exc: Exception) -> None:
        """Put a database refusal on the field it concerns, with the input kept."""
        if isinstance(exc, ValidationError):
            field_name, message = getattr(exc, "field_name", None), str(exc)
        else:
            problem = describe_integrity_error(exc, self.model)
            field_name, message = problem.field, problem.message
        field = getattr(form, field_name, None) if field_name else None
        if field is not None:
            field.errors = [*list(field.errors or []), message]
            flash("The record was not saved: see the highlighted field.", "error")
        else:
            flash(f"The record was not saved: {message}", "error")

    # -- details page -------------------------------------------------------------------

    def children_previews(self, model: Any) -> list[ChildPreview]:
        """The first rows and the count of each one-to-many relationship of ``model``."""
        previews = []
        ident = inspect(model).identity[0]
        for rel in self._to_many:
            child = rel.mapper.class_
            fk = next(iter(rel.remote_side))
            where = fk == ident
            count = db.session.scalar(select(func.count()).select_from(child).where(where)) or 0
            rows = list(
                db.session.scalars(
                    select(child)
                    .where(where)
                    .order_by(*inspect(child).primary_key)
                    .limit(self.children_preview_size)
                )
            )
            child_view = self._view_for(child)
            list_url = None
            if child_view is not None:
                list_url = child_view.url_filtered_by(
                    label_attribute(self.model), getattr(model, label_attribute(self.model).key)
                )
            previews.append(
                ChildPreview(
                    label=humanise(rel.key),
                    count=count,
                    rows=rows,
                    list_url=list_url,
                    view_endpoint=child_view.endpoint if child_view else None,
                )
            )
        return previews

    def _view_for(self, model: type) -> ConsoleModelView | None:
        for view in self.admin._views:
            if isinstance(view, ConsoleModelView) and view.model is model:
                return view
        return None

    def url_filtered_by(self, attribute: Any, value: Any) -> str | None:
        """This view's list URL with an 'equals' filter on ``attribute`` set to ``value``."""
        for index, flt in enumerate(self._filters or []):
            if isinstance(flt, FilterEqual) and flt.column is attribute.property.columns[0]:
                arg = f"flt0_{self.get_filter_arg(index, flt)}"
                return url_for(f"{self.endpoint}.index_view", **{arg: value})
        return None


def _rank(role: Role) -> int:
    return role.rank



__all__ = ["ConsoleForm", "ConsoleModelView"]
