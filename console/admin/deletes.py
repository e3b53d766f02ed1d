"""Every delete goes through a confirmation page that shows its whole impact first.

A GET page built from ``console.cascade``'s plan, and a confirm POST that runs the
executor: one transaction, the database's own cascades, nothing done if the data
changed since the page was shown. The list's trash icon, the record pages' Delete
button and the "With selected -> Delete" action all lead here. With "Select all
matching" the page plans the delete of every row the list's filter matches and
carries the query and the selection's fingerprint (``console.admin.matching``); the
confirm resolves the query again, locked, and deletes only if both are the same.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from flask import flash, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from console.admin import matching
from console.admin.returns import back_to
from console.admin.selection import TOO_MANY_HINT, max_selection
from console.cascade import Effect, Example, Plan, PlanError, execute_delete, plan_delete
from console.catalogue import ModelDescription
from console.extensions import session as current_session
from console.rules import RuleError

if TYPE_CHECKING:
    from console.admin.model_view import ConsoleModelView

log = logging.getLogger(__name__)

NOTICES = {
    "changed": "The data changed since the impact below was worked out: nothing was deleted. "
    "Review the new impact and confirm again.",
    "blocked": "Nothing was deleted: other records still depend on the selection (see below).",
    "drift": "Nothing was deleted: the database's delete rules differ from the models' "
    "(see below).",
    "missing": "Nothing was deleted: the selected records no longer exist.",
}
TEMPLATE = "admin/delete_confirm.html"


def delete_view(view: ConsoleModelView) -> Any:
    """GET: the impact of deleting the ``id`` rows. POST: confirm it (if still the same)."""
    return_url = back_to(view)
    if not view.can_delete:
        return redirect(return_url)
    description = view.description
    query = matching.requested()
    if query is not None:
        return _delete_matching(view, query, return_url)
    raw_ids = request.values.getlist("id")
    if not raw_ids:
        flash("Select at least one record to delete.", "error")
        return redirect(return_url)
    if len(raw_ids) > max_selection():
        flash(f"{len(raw_ids):,} rows were selected; a delete takes at most "
              f"{max_selection():,} ids. {TOO_MANY_HINT}", "error")
        return redirect(return_url)
    ids = []
    for raw in raw_ids:
        try:
            ids.append(description.pk.kind.parse(raw, label="ID"))
        except RuleError:
            flash(f"Not a valid {description.singular} id: {raw[:40]!r}.", "error")
            return redirect(return_url)
    edges = _edges(description)
    model = description.cls
    try:
        plan = plan_delete(current_session(), model, ids, edges=edges)
    except PlanError as exc:
        current_session().rollback()
        flash(str(exc), "error")
        return redirect(return_url)
    if plan.selected_count == 0:
        current_session().rollback()
        flash("Record does not exist." if len(ids) == 1 else "None of those records exist.",
              "error")
        return redirect(return_url)
    requested = plan.requested or []
    if request.method == "GET":
        refusal = view.delete_refusal(current_session(), requested)
        current_session().rollback()
        return render_confirm(view, plan, return_url, refusal=refusal)
    if not request.form.get("fingerprint"):
        current_session().rollback()
        return render_confirm(view, plan, return_url, notice=matching.UNCONFIRMED, status=400)

    try:
        outcome = execute_delete(
            current_session(),
            model,
            ids,
            request.form.get("fingerprint", ""),
            edges=edges,
            account=current_user if current_user.is_authenticated else None,
            check=lambda session: view.delete_refusal(session, requested),
        )
    except IntegrityError:
        # A row that blocks the delete arrived after the plan: the database refused.
        current_session().rollback()
        plan = plan_delete(current_session(), model, ids, edges=edges)
        current_session().rollback()
        return render_confirm(view, plan, return_url, notice=NOTICES["changed"], status=409)
    except SQLAlchemyError:
        log.exception("Delete of %s %s failed", description.model_name, ids)
        current_session().rollback()
        plan = plan_delete(current_session(), model, ids, edges=edges)
        current_session().rollback()
        return render_confirm(
            view, plan, return_url,
            notice="The database reported an error: nothing was deleted. Try again; if it "
            "keeps failing, tell an administrator.",
            status=503,
        )
    if outcome.done:
        flash(done_message(description, outcome.plan), "success")
        return redirect(return_url)
    notice = outcome.message or NOTICES.get(outcome.reason or "", "Nothing was deleted.")
    refusal = outcome.message or view.delete_refusal(current_session(), requested)
    current_session().rollback()
    return render_confirm(view, outcome.plan, return_url, notice=notice, refusal=refusal,
                          status=409)


def selection_action(view: ConsoleModelView, ids: list[str]) -> Any:
    """The "With selected -> Delete" action: only leads to the confirmation page."""
    return_url = back_to(view)
    query = matching.requested()
    if query is not None:
        return redirect(view.get_url(".delete_view", matching=query, url=return_url))
    return redirect(view.get_url(".delete_view", id=list(ids), url=return_url))


def _delete_matching(view: ConsoleModelView, query: str, return_url: str) -> Any:
    """The delete page (GET) and its confirm (POST) for every row ``query`` matches."""
    description = view.description
    model = description.cls
    edges = _edges(description)
    session = current_session()
    posting = request.method == "POST"
    try:
        found = matching.resolve(view, query, lock=posting)
        plan = plan_delete(session, model, found.ids_select, edges=edges)
    except (matching.MatchingError, PlanError) as exc:
        session.rollback()
        flash(str(exc), "error")
        return redirect(return_url)
    if not posting:
        refusal = view.delete_refusal(session, found.ids)
        session.rollback()
        return render_confirm(view, plan, return_url, refusal=refusal, found=found)
    if not request.form.get(matching.FINGERPRINT_FIELD) or not request.form.get("fingerprint"):
        session.rollback()
        return _matching_again(view, query, return_url, matching.UNCONFIRMED, status=400)
    if found.fingerprint != request.form.get(matching.FINGERPRINT_FIELD, ""):
        session.rollback()
        return _matching_again(view, query, return_url, NOTICES["changed"])
    try:
        outcome = execute_delete(
            session, model, found.ids_select, request.form.get("fingerprint", ""),
            edges=edges, account=current_user if current_user.is_authenticated else None,
            check=lambda checked: view.delete_refusal(checked, found.ids),
        )
    except IntegrityError:
        session.rollback()
        return _matching_again(view, query, return_url, NOTICES["changed"])
    except SQLAlchemyError:
        log.exception("Delete of the %s matching %r failed", description.model_name, query)
        session.rollback()
        return _matching_again(
            view, query, return_url,
            "The database reported an error: nothing was deleted. Try again; if it keeps "
            "failing, tell an administrator.", status=503,
        )
    if outcome.done:
        flash(done_message(description, outcome.plan), "success")
        return redirect(return_url)
    session.rollback()
    notice = outcome.message or NOTICES.get(outcome.reason or "", "Nothing was deleted.")
    return _matching_again(view, query, return_url, notice)


def _matching_again(view: ConsoleModelView, query: str, return_url: str, notice: str,
                    status: int = 409) -> Any:
    """The matching delete's page as the data is now, with why nothing was deleted."""
    session = current_session()
    try:
        found = matching.resolve(view, query)
        plan = plan_delete(session, view.description.cls, found.ids_select,
                           edges=_edges(view.description))
    except (matching.MatchingError, PlanError) as exc:
        session.rollback()
        flash(f"{notice} {exc}", "error")
        return redirect(return_url)
    refusal = view.delete_refusal(session, found.ids)
    session.rollback()
    return render_confirm(view, plan, return_url, notice=notice, refusal=refusal, status=status,
                          found=found)


def _edges(description: ModelDescription) -> Any:
    assert description.catalogue is not None
    return description.catalogue.edges


# -- the page ----------------------------------------------------------------------------------


def render_confirm(
    view: ConsoleModelView,
    plan: Plan,
    return_url: str,
    *,
    notice: str | None = None,
    refusal: str | None = None,
    status: int = 200,
    found: matching.Matching | None = None,
) -> Any:
    """The confirmation page for ``plan`` (of every row ``found`` matches, when given)."""
    description = view.description
    words = Words(view)
    body = view.render(
        TEMPLATE,
        plan=plan,
        return_url=return_url,
        notice=notice,
        refusal=refusal,
        headline=headline(description, plan, words),
        describe=words.describe,
        name_of=words.name_of,
        reference_of=words.reference_of,
        row_url=words.row_url,
        blocking_list_url=lambda effect: blocking_list_url(view, plan, effect),
        blocking_selected=lambda effect: blocking_selected(plan, effect),
        can_confirm=not (plan.blocked or plan.drift or refusal),
        matching=found,
    )
    return body, status


class Words:
    """How a delete page names models, rows and references, from the catalogue."""

    def __init__(self, view: ConsoleModelView) -> None:
        self.view = view
        catalogue = view.description.catalogue
        assert catalogue is not None
        self.catalogue = catalogue

    def name_of(self, model: type, count: int = 2) -> str:
        description = self.catalogue.get(model)
        if description is None:
            word = model.__table__.name.replace("_", " ")  # type: ignore[attr-defined]
            return word if count == 1 else word + "s"
        return description.singular if count == 1 else description.plural

    def describe(self, effect: Effect) -> str:
        return f"{effect.count:,} {self.name_of(effect.model, effect.count)}"

    def reference_of(self, effect: Effect) -> str:
        """The reference a SET NULL or RESTRICT effect goes through, as people call it."""
        if effect.edge is None:
            return ""
        child = self.catalogue.get(effect.edge.child)
        columns = child.columns if child else []
        info = next((c for c in columns if c.column is effect.edge.fk), None)
        return (info.label if info else effect.edge.fk.key).lower()

    def row_url(self, example: Example) -> str | None:
        registry = self.view.registry
        view = registry.view_of(example.model) if registry else None
        if view is None:
            return None
        return url_for(f"{view.endpoint}.details_view", id=example.id)


def blocking_list_url(view: ConsoleModelView, plan: Plan, effect: Effect) -> str | None:
    """The child list filtered to the rows that block deleting the one selected row."""
    registry = view.registry
    child_view = registry.view_of(effect.model) if registry else None
    if child_view is None or plan.selected_count != 1 or effect.edge is None:
        return None
    parent = current_session().get(plan.model, plan.selected[0].id)
    if parent is None:
        return None
    child = child_view.description
    info = next((c for c in child.columns if c.column is effect.edge.fk), None)
    return child_view.url_filtered_by_parent(info, parent) if info else None


def blocking_selected(plan: Plan, effect: Effect, limit: int = 10) -> list[Example]:
    """Which of the selected rows (the shown ones) a blocking effect's rows point at.

    Only for a reference straight to the selected model: a blocker further down (a
    child of a child) names no single selected row.
    """
    edge = effect.edge
    if edge is None or edge.parent is not plan.model or plan.selected_count < 2:
        return []
    by_key = {example.id: example for example in plan.selected}
    keys = current_session().scalars(
        select(edge.fk).where(edge.fk.in_(list(by_key))).distinct().limit(limit)
    )
    return [by_key[key] for key in keys if key in by_key]


def headline(description: ModelDescription, plan: Plan, words: Words) -> str:
    """One sentence saying what the delete does."""
    if plan.selected_count == 1:
        subject = f"{description.singular} '{plan.selected[0].label}'"
    else:
        subject = words.describe(Effect("delete", plan.model, plan.selected_count, []))
    parts = [words.describe(e) for e in plan.cascaded]
    text = f"Deleting {subject}"
    if parts:
        text += " also deletes " + " and ".join(parts)
    nulled = [e for e in plan.nulled if e.count]
    if nulled:
        text += (" and " if parts else " ") + "leaves " + " and ".join(
            f"{words.describe(e)} without {words.reference_of(e)}" for e in nulled if e.edge
        )
    return text + "."


def done_message(description: ModelDescription, plan: Plan) -> str:
    """What a confirmed delete did."""
    catalogue = description.catalogue
    assert catalogue is not None

    def named(model: type, count: int) -> str:
        found = catalogue.get(model)
        word = (found.singular if count == 1 else found.plural) if found else model.__name__
        return f"{count:,} {word}"

    text = f"Deleted {named(plan.model, plan.selected_count)}"
    extra = [named(e.model, e.count) for e in plan.cascaded]
    if extra:
        text += " with " + " and ".join(extra)
    return text + "."


__all__ = ["delete_view", "render_confirm", "selection_action"]
