"""Every delete goes through a confirmation page that shows its whole impact first.

Replaces Flask-Admin's immediate delete (row button, bulk action) with a GET page
built from ``console.cascade``'s plan, and a confirm POST that runs the executor:
one transaction, the database's own cascades, nothing done if the data changed
since the page was shown.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import flash, redirect, request, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.helpers import get_redirect_target
from flask_admin.model import template
from flask_login import current_user
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from console.cascade import Effect, Example, Plan, PlanError, execute_delete, plan_delete
from console.extensions import db

log = logging.getLogger(__name__)

NOTICES = {
    "changed": "The data changed since the impact below was worked out: nothing was deleted. "
    "Review the new impact and confirm again.",
    "blocked": "Nothing was deleted: other records still depend on the selection (see below).",
    "drift": "Nothing was deleted: the database's delete rules differ from the models' "
    "(see below).",
    "missing": "Nothing was deleted: the selected records no longer exist.",
}


class DeleteLinkRowAction(template.BaseListRowAction):
    """The list's trash icon, as a link to the confirmation page instead of a POST."""

    def __init__(self) -> None:
        super().__init__(title="Delete record")
        self.icon_class = "fa fa-trash"

    def render(self, context: Any, row_id: str, row: Any) -> Any:
        link = self._resolve_symbol(context, "row_actions.link")
        get_url = self._resolve_symbol(context, "get_url")
        url = get_url(".delete_view", id=row_id, url=context.resolve("return_url"))
        return link(self, url)


def plural(name: str) -> str:
    """A view's name as used inside a sentence: ``To-dos`` -> ``to-dos``."""
    return name[:1].lower() + name[1:]


def singular(name: str) -> str:
    """``To-do lists`` -> ``to-do list``; ``People`` -> ``person``."""
    word = plural(name)
    if word == "people":
        return "person"
    return word[:-1] if word.endswith("s") else word


class DeleteConfirmMixin:
    """Confirmation before every delete; mixed into ``ConsoleModelView``."""

    delete_confirm_template = "admin/delete_confirm.html"

    # -- entry points ----------------------------------------------------------------------

    def get_list_row_actions(self) -> list[Any]:
        actions = super().get_list_row_actions()  # type: ignore[misc]
        return [
            DeleteLinkRowAction() if isinstance(a, template.DeleteRowAction) else a
            for a in actions
        ]

    @action("delete", "Delete", None)
    def action_delete(self, ids: Any) -> Any:
        """The bulk action only leads to the confirmation page; it deletes nothing."""
        return_url = get_redirect_target() or self.get_url(".index_view")  # type: ignore[attr-defined]
        return redirect(self.get_url(".delete_view", id=list(ids), url=return_url))  # type: ignore[attr-defined]

    @expose("/delete/", methods=("GET", "POST"))
    def delete_view(self) -> Any:
        """GET: the impact of deleting the ``id`` rows. POST: confirm it (if still the same)."""
        return_url = get_redirect_target() or self.get_url(".index_view")  # type: ignore[attr-defined]
        ids = request.values.getlist("id")
        if not ids:
            flash("Select at least one record to delete.", "error")
            return redirect(return_url)
        model = self.model  # type: ignore[attr-defined]
        try:
            plan = plan_delete(db.session, model, ids, edges=self._edges)
        except PlanError as exc:
            flash(str(exc), "error")
            return redirect(return_url)
        if plan.selected_count == 0:
            flash("Record does not exist." if len(ids) == 1 else "None of those records exist.",
                  "error")
            return redirect(return_url)
        requested = plan.requested or []
        if request.method == "GET":
            refusal = self.delete_refusal(db.session, requested)
            db.session.rollback()
            return self._render_confirm(plan, return_url, refusal=refusal)

        try:
            outcome = execute_delete(
                db.session,
                model,
                ids,
                request.form.get("fingerprint", ""),
                edges=self._edges,
                account=current_user if current_user.is_authenticated else None,
                check=lambda session: self.delete_refusal(session, requested),
            )
        except IntegrityError:
            # A row that blocks the delete arrived after the plan: the database refused.
            db.session.rollback()
            plan = plan_delete(db.session, model, ids, edges=self._edges)
            db.session.rollback()
            return self._render_confirm(plan, return_url, notice=NOTICES["changed"], status=409)
        except SQLAlchemyError:
            log.exception("Delete of %s %s failed", model.__name__, ids)
            db.session.rollback()
            plan = plan_delete(db.session, model, ids, edges=self._edges)
            db.session.rollback()
            return self._render_confirm(
                plan, return_url,
                notice="The database reported an error: nothing was deleted. Try again; if it "
                "keeps failing, tell an administrator.",
                status=503,
            )
        if outcome.done:
            done = outcome.plan
            flash(self._done_message(done), "success")
            return redirect(return_url)
        notice = outcome.message or NOTICES.get(outcome.reason or "", "Nothing was deleted.")
        refusal = outcome.message or self.delete_refusal(db.session, requested)
        db.session.rollback()
        return self._render_confirm(outcome.plan, return_url, notice=notice, refusal=refusal,
                                    status=409)

    @property
    def _edges(self) -> Any:
        return self.description.catalogue.edges  # type: ignore[attr-defined]

    # -- per-model rules -------------------------------------------------------------------

    def delete_refusal(self, session: Session, ids: list[Any]) -> str | None:
        """Why these rows may not be deleted beyond RESTRICT rules (a view's own rule), or None.

        Checked for the confirmation page and again inside the delete's transaction,
        after the DELETE ran, so a rule may count what would be left.
        """
        return None

    # -- rendering -------------------------------------------------------------------------

    def _render_confirm(
        self,
        plan: Plan,
        return_url: str,
        *,
        notice: str | None = None,
        refusal: str | None = None,
        status: int = 200,
    ) -> Any:
        body = self.render(  # type: ignore[attr-defined]
            self.delete_confirm_template,
            plan=plan,
            return_url=return_url,
            notice=notice,
            refusal=refusal,
            headline=self._headline(plan),
            describe=self._describe,
            name_of=self._name_of,
            row_url=self._row_url,
            blocking_list_url=lambda effect: self._blocking_list_url(plan, effect),
            can_confirm=not (plan.blocked or plan.drift or refusal),
        )
        return body, status

    def _view_of(self, model: type) -> Any:
        for view in self.admin._views:  # type: ignore[attr-defined]
            if getattr(view, "model", None) is model and hasattr(view, "delete_view"):
                return view
        return None

    def _name_of(self, model: type, count: int = 2) -> str:
        view = self._view_of(model)
        if view is None:
            # A model without a view (the audit trail): its table name, in words.
            word = model.__table__.name.replace("_", " ")
            if count == 1:
                return word
            return word[:-1] + "ies" if word.endswith("y") else word + "s"
        return plural(view.name) if count != 1 else singular(view.name)

    def _describe(self, effect: Effect) -> str:
        return f"{effect.count:,} {self._name_of(effect.model, effect.count)}"

    def _row_url(self, example: Example) -> str | None:
        view = self._view_of(example.model)
        if view is None or not view.can_view_details:
            return None
        return url_for(f"{view.endpoint}.details_view", id=example.id)

    def _blocking_list_url(self, plan: Plan, effect: Effect) -> str | None:
        """The child list filtered to the rows that block deleting the one selected row."""
        view = self._view_of(effect.model)
        if view is None or plan.selected_count != 1 or effect.edge is None:
            return None
        from console.admin.base import label_attribute

        parent = db.session.get(plan.model, plan.selected[0].id)
        if parent is None:
            return None
        attribute = label_attribute(plan.model)
        return view.url_filtered_by(attribute, getattr(parent, attribute.key))

    def _headline(self, plan: Plan) -> str:
        if plan.selected_count == 1:
            subject = f"{self._name_of(plan.model, 1)} '{plan.selected[0].label}'"
        else:
            subject = self._describe(Effect("delete", plan.model, plan.selected_count, []))
        parts = [self._describe(e) for e in plan.cascaded]
        text = f"Deleting {subject}"
        if parts:
            text += " also deletes " + " and ".join(parts)
        nulled = [e for e in plan.nulled if e.count]
        if nulled:
            text += (" and " if parts else " ") + "leaves " + " and ".join(
                f"{self._describe(e)} without {e.edge.fk.key.removesuffix('_id')}"
                for e in nulled if e.edge
            )
        return text + "."

    def _done_message(self, plan: Plan) -> str:
        text = f"Deleted {self._describe(Effect('delete', plan.model, plan.selected_count, []))}"
        extra = [self._describe(e) for e in plan.cascaded]
        if extra:
            text += " with " + " and ".join(extra)
        return text + "."

