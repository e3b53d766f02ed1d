"""No lost updates: a save against a row that moved on is refused, shown and can be re-applied."""

from __future__ import annotations

import html as html_lib
import re

import pytest
from sqlalchemy import select

from console import versions
from console.demo.models import Todo, TodoList
from console.extensions import db
from console.models import AuditEntry, Role
from tests.history_helpers import (
    editable_cell,
    form_fields,
    login_client,
    row_token,
    save_cells,
)


@pytest.fixture
def second_editor(app):
    """Another editor, in a browser of their own."""
    return login_client(app, "second@example.com", Role.editor)


def todo_now(todo_id: int) -> Todo:
    """The to-do as the database has it now."""
    db.session.expire_all()
    return db.session.get(Todo, todo_id)


def edit_url(endpoint: str, pk: int) -> str:
    return f"/admin/{endpoint}/edit/?id={pk}"


def conflict_rows(page: str) -> dict[str, tuple[str, str]]:
    """Field label -> (theirs, yours) from the conflict table."""
    return {k: (t, y) for k, (t, y, _m) in conflict_table(page).items()}


def conflict_table(page: str) -> dict[str, tuple[str, str, str]]:
    """Field label -> (theirs, yours, merge note) from the conflict table."""
    section = page.split('id="version-conflict"', 1)[1].split("</section>", 1)[0]
    rows = re.findall(
        r'<th scope="row">([^<]*)</th>\s*<td class="theirs">([^<]*)</td>\s*'
        r'<td class="yours">([^<]*)</td>\s*<td class="merge" data-merge="([^"]*)">',
        section,
    )
    return {
        html_lib.unescape(k): (html_lib.unescape(t), html_lib.unescape(y), m) for k, t, y, m in rows
    }


def test_edit_form_carries_the_loaded_version(editor_client, sample):
    fields = form_fields(editor_client.get(edit_url("todo", sample["milk"])).get_data(as_text=True))
    assert fields["version"] == "1"
    assert fields["description"] == "Buy milk"


def test_second_save_is_refused_with_the_others_values_and_can_be_reapplied(
    editor_client, second_editor, sample
):
    url = edit_url("todo", sample["milk"])
    mine = form_fields(editor_client.get(url).get_data(as_text=True))
    theirs = form_fields(second_editor.get(url).get_data(as_text=True))

    theirs["description"] = "Buy oat milk"
    response = second_editor.post(url, data=theirs)
    assert response.status_code == 302
    assert todo_now(sample["milk"]).description == "Buy oat milk"

    mine["description"] = "Buy soy milk"
    mine["priority"] = "high"
    response = editor_client.post(url, data=mine)
    page = response.get_data(as_text=True)
    assert response.status_code == 409
    assert 'id="version-conflict"' in page
    assert "second@example.com" in page
    table = conflict_table(page)
    assert table["Description"] == ("Buy oat milk", "Buy soy milk", "both")
    assert table["Priority"] == ("normal", "high", "")
    # Nothing of mine was written, nothing of theirs was lost.
    saved = todo_now(sample["milk"])
    assert (saved.description, saved.priority, saved.version) == ("Buy oat milk", "normal", 2)

    # My input is still in the form, now against the new version: one click re-applies it.
    kept = form_fields(page)
    assert kept["description"] == "Buy soy milk"
    assert kept["priority"] == "high"
    assert kept["version"] == "2"
    assert 'id="reapply-mine"' in page
    response = editor_client.post(url, data={**kept, "_continue_editing": "Re-apply my values"})
    assert response.status_code == 302
    saved = todo_now(sample["milk"])
    assert (saved.description, saved.priority, saved.version) == ("Buy soy milk", "high", 3)

    updates = db.session.scalars(
        select(AuditEntry)
        .where(AuditEntry.action == "update", AuditEntry.model == "Todo")
        .order_by(AuditEntry.id)
    ).all()
    assert [(e.account_email, e.changes["after"]) for e in updates] == [
        ("second@example.com", {"description": "Buy oat milk"}),
        ("editor@example.com", {"description": "Buy soy milk", "priority": "high"}),
    ]


def test_reapplying_never_undoes_a_field_only_the_other_person_changed(
    editor_client, second_editor, sample
):
    url = edit_url("todo", sample["milk"])
    mine = form_fields(editor_client.get(url).get_data(as_text=True))
    theirs = form_fields(second_editor.get(url).get_data(as_text=True))
    theirs.update(priority="high", due_date="2026-12-24")
    theirs["assignee"] = ""
    assert second_editor.post(url, data=theirs).status_code == 302

    mine["description"] = "Buy soy milk"
    page = editor_client.post(url, data=mine).get_data(as_text=True)
    table = conflict_table(page)
    assert table["Priority"] == ("high", "high", "theirs-kept")
    assert table["Due date"] == ("2026-12-24", "2026-12-24", "theirs-kept")
    assert table["Assignee"] == ("(empty)", "(empty)", "theirs-kept")
    assert table["Description"] == ("Buy milk", "Buy soy milk", "")
    kept = form_fields(page)
    assert (kept["priority"], kept["due_date"], kept["assignee"]) == ("high", "2026-12-24", "")
    assert editor_client.post(url, data=kept).status_code == 302
    saved = todo_now(sample["milk"])
    assert (saved.description, saved.priority, str(saved.due_date), saved.assignee_id) == (
        "Buy soy milk",
        "high",
        "2026-12-24",
        None,
    )


def test_a_save_racing_past_the_check_is_refused_by_the_database(
    editor_client, sample, monkeypatch
):
    """The row matched when read, but another commit lands before our guarded UPDATE."""
    url = edit_url("todo", sample["milk"])
    fields = form_fields(editor_client.get(url).get_data(as_text=True))
    fields["description"] = "Mine"
    real_guard = versions.guard

    def commit_first(session, description, ident, loaded):
        # Another worker commits between our read of the row and the UPDATE's check.
        with db.engine.begin() as conn:
            conn.execute(
                Todo.__table__.update()
                .where(Todo.id == sample["milk"])
                .values(description="Theirs", version=Todo.version + 1)
            )
        monkeypatch.setattr(versions, "guard", real_guard)
        return real_guard(session, description, ident, loaded)

    monkeypatch.setattr(versions, "guard", commit_first)
    response = editor_client.post(url, data=fields)
    page = response.get_data(as_text=True)
    assert response.status_code == 409
    assert 'id="version-conflict"' in page
    assert conflict_rows(page)["Description"] == ("Theirs", "Mine")
    assert todo_now(sample["milk"]).description == "Theirs"


def test_inline_todo_rows_of_a_list_form_are_checked(editor_client, second_editor, sample):
    url = edit_url("todolist", sample["groceries"])
    mine = form_fields(editor_client.get(url).get_data(as_text=True))
    assert mine["todos-0-version"] == "1"

    theirs = form_fields(second_editor.get(edit_url("todo", sample["milk"])).get_data(as_text=True))
    theirs["description"] = "Buy oat milk"
    assert second_editor.post(edit_url("todo", sample["milk"]), data=theirs).status_code == 302

    mine["todos-0-description"] = "Buy soy milk"
    mine["name"] = "Weekly shop"
    response = editor_client.post(url, data=mine)
    page = response.get_data(as_text=True)
    assert response.status_code == 409
    assert 'id="version-conflict"' in page
    assert conflict_rows(page)["Description"] == ("Buy oat milk", "Buy soy milk")
    db.session.expire_all()
    assert db.session.get(TodoList, sample["groceries"]).name == "Groceries"
    assert todo_now(sample["milk"]).description == "Buy oat milk"

    kept = form_fields(page)
    assert kept["todos-0-version"] == "2"
    assert editor_client.post(url, data=kept).status_code == 302
    db.session.expire_all()
    assert db.session.get(TodoList, sample["groceries"]).name == "Weekly shop"
    assert todo_now(sample["milk"]).description == "Buy soy milk"


def test_in_place_edit_carries_and_checks_the_version(editor_client, second_editor, sample):
    mine_page = editor_client.get("/admin/todo/").get_data(as_text=True)
    assert editable_cell(mine_page, "description", sample["milk"])
    assert row_token(mine_page, sample["milk"]) == "1"

    theirs_page = second_editor.get("/admin/todo/").get_data(as_text=True)
    response = save_cells(second_editor, "todo", theirs_page, (sample["milk"], "priority", "low"))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["tokens"] == {str(sample["milk"]): "2"}
    assert todo_now(sample["milk"]).priority == "low"

    response = save_cells(
        editor_client, "todo", mine_page, (sample["milk"], "description", "Buy soy milk")
    )
    problem = response.get_json()["problems"][0]
    assert response.status_code == 409
    assert "second@example.com changed this record" in problem["message"]
    assert problem["theirs"]["description"] == "Buy milk"
    assert problem["token"] == "2"
    saved = todo_now(sample["milk"])
    assert (saved.description, saved.priority) == ("Buy milk", "low")

    # With the token the conflict answer gave (as after a reload), the edit goes through.
    response = save_cells(
        editor_client, "todo", mine_page, (sample["milk"], "description", "Buy soy milk"),
        token=problem["token"],
    )
    assert response.status_code == 200
    saved = todo_now(sample["milk"])
    assert (saved.description, saved.priority, saved.version) == ("Buy soy milk", "low", 3)


def test_consecutive_in_place_edits_of_one_row_never_conflict_with_oneself(
    editor_client, sample
):
    page = editor_client.get("/admin/todo/").get_data(as_text=True)
    first = save_cells(editor_client, "todo", page, (sample["milk"], "description", "One"))
    token = first.get_json()["tokens"][str(sample["milk"])]
    second = save_cells(editor_client, "todo", page, (sample["milk"], "priority", "high"),
                        token=token)
    assert second.status_code == 200, second.get_data(as_text=True)
    saved = todo_now(sample["milk"])
    assert (saved.description, saved.priority, saved.version) == ("One", "high", 3)


def test_in_place_edits_of_several_cells_are_all_or_nothing(editor_client, sample):
    page = editor_client.get("/admin/todo/").get_data(as_text=True)
    response = save_cells(
        editor_client, "todo", page,
        (sample["milk"], "description", "Fine"),
        (sample["eggs"], "priority", "urgent"),
    )
    problems = response.get_json()["problems"]
    assert response.status_code == 400
    assert [(p["row"], p["column"]) for p in problems] == [(str(sample["eggs"]), "priority")]
    assert "Priority must be one of low, normal, high" in problems[0]["message"]
    assert todo_now(sample["milk"]).description == "Buy milk"


def test_in_place_edit_without_its_version_is_refused(editor_client, sample):
    page = editor_client.get("/admin/todo/").get_data(as_text=True)
    response = save_cells(editor_client, "todo", page, (sample["milk"], "description", "x"),
                          token="")
    assert response.status_code == 400
    assert "which version" in response.get_json()["problems"][0]["message"]
    assert todo_now(sample["milk"]).description == "Buy milk"


def test_in_place_edit_needs_an_editor(viewer_client, sample):
    response = viewer_client.post(
        "/admin/todo/cells/",
        json={"changes": [{"row": str(sample["milk"]), "token": "1", "column": "description",
                           "value": "x"}]},
    )
    assert response.status_code in (400, 403)
    assert todo_now(sample["milk"]).description == "Buy milk"


def test_in_place_edit_keeps_field_validation(editor_client, sample):
    page = editor_client.get("/admin/todo/").get_data(as_text=True)
    for value, message in (("   ", "required"), ("x" * 501, "at most 500"), ("a\x00b", "NUL")):
        response = save_cells(editor_client, "todo", page, (sample["milk"], "description", value))
        assert response.status_code == 400
        assert message in response.get_json()["problems"][0]["message"]
    assert todo_now(sample["milk"]).description == "Buy milk"
