"""In-place edits from the list: toggles (a form that works without JavaScript) and cells (JSON).

Both hand a batch to ``console.cell_edits``: the same rules as the forms, the token
of what the page showed, one transaction. The answer gives each saved row its new
token, so the next edit of the same row is never a conflict with oneself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import flash, jsonify, redirect, request

from console.admin import conflicts
from console.admin.list_page import display
from console.admin.returns import back_to
from console.cell_edits import CellChange, CellOutcome, apply_cells
from console.extensions import session as current_session

if TYPE_CHECKING:
    from console.admin.model_view import ConsoleModelView


def _problems_json(view: ConsoleModelView, outcome: CellOutcome) -> list[dict[str, Any]]:
    description = view.description
    out = []
    for problem in outcome.problems:
        item: dict[str, Any] = {
            "row": problem.row, "column": problem.column, "message": problem.message,
            "conflict": problem.conflict,
        }
        if problem.conflict and problem.row:
            obj = view.get_one(problem.row)
            if obj is not None:
                from console.versions import token_of

                who = conflicts.moved_on_message(current_session(), description, problem.row)
                item["message"] = f"Not saved: {who} since you loaded the page."
                item["token"] = token_of(description, obj)
                item["theirs"] = {
                    c.key: display(getattr(obj, c.key)) for c in description.visible
                }
            current_session().rollback()
        out.append(item)
    return out


def cells_view(view: ConsoleModelView) -> Any:
    """Save ``{"changes": [{"row", "token", "column", "value"}]}``; 200, 400 or 409 (JSON)."""
    data = request.get_json(silent=True)
    changes = data.get("changes") if isinstance(data, dict) else None
    if not isinstance(changes, list) or not all(isinstance(c, dict) for c in changes):
        return jsonify(ok=False, problems=[{"row": "", "column": None, "conflict": False,
                                            "message": "Expected {\"changes\": [...]}."}]), 400
    batch = []
    for change in changes:
        value = change.get("value")
        if not isinstance(value, str | type(None)) or not isinstance(change.get("column"), str):
            return jsonify(ok=False, problems=[{"row": "", "column": None, "conflict": False,
                                                "message": "Each change needs a column and a "
                                                "text value."}]), 400
        batch.append(CellChange(str(change.get("row", "")), change.get("token"),
                                change["column"], value))
    outcome = apply_cells(current_session(), view.description, batch, view.edit_refusal)
    if outcome.saved:
        return jsonify(ok=True, tokens=outcome.tokens, values=outcome.values), 200
    status = 409 if any(p.conflict for p in outcome.problems) else 400
    return jsonify(ok=False, problems=_problems_json(view, outcome)), status


def toggle_view(view: ConsoleModelView, id: str, field: str) -> Any:
    """Set a toggled boolean, checked against the token the page showed."""
    wants_json = request.accept_mimetypes.best == "application/json"
    description = view.description
    info = description.find(field)
    if info is None or not info.toggle:
        return _answer(view, wants_json, "This field cannot be changed from the list.", 404)
    value = request.form.get("value")
    token = request.form.get("version")
    # A missing token is apply_cells' to refuse, with the words every write path uses.
    if value not in ("0", "1"):
        return _answer(view, wants_json,
                       "The request was incomplete: reload the page and try again.", 400)
    outcome = apply_cells(
        current_session(), description, [CellChange(id, token, info.key, "true" if value == "1"
                                             else "false")], view.edit_refusal
    )
    if outcome.saved:
        return _answer(view, wants_json, None, 200, value=value == "1",
                       version=outcome.tokens.get(id))
    problem = outcome.problems[0]
    obj = view.get_one(id)
    if problem.conflict and obj is None:
        return _answer(view, wants_json, "This record no longer exists: reload the page.", 404)
    if problem.conflict:
        from console.versions import token_of

        message = (
            "Not saved: " + conflicts.moved_on_message(current_session(), description, id)
            + " since you loaded the page: reload to see it."
        )
        current = token_of(description, obj)
        current_value = getattr(obj, info.key)
        current_session().rollback()
        return _answer(view, wants_json, message, 409, value=current_value, version=current)
    return _answer(view, wants_json, f"Not saved: {problem.message}", 400)


def _answer(view: ConsoleModelView, wants_json: bool, message: str | None, status: int,
            **data: Any) -> Any:
    if wants_json:
        return jsonify(ok=message is None, error=message, **data), status
    if message:
        flash(message, "error")
    return redirect(back_to(view))


__all__ = ["cells_view", "toggle_view"]
