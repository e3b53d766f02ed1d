"""No lost updates: a save against a row that moved on is refused, shown and can be re-applied."""

from __future__ import annotations

import html as html_lib
import re

import pytest
from sqlalchemy import select

from console.demo.models import Todo, TodoList
from console.extensions import db
from console.models import AuditEntry, Role
from tests.history_helpers import (
    editable_pk,
    form_fields,
    list_csrf,
    login_client,
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
    assert response.status_code == 200
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
    assert table["Due Date"] == ("2026-12-24", "2026-12-24", "theirs-kept")
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


def test_a_save_racing_past_the_check_is_refused_by_the_database(editor_client, sample):
    """The form's version matched when read, but another commit lands before our UPDATE."""
    url = edit_url("todo", sample["milk"])
    fields = form_fields(editor_client.get(url).get_data(as_text=True))
    fields["description"] = "Mine"

    from sqlalchemy import event
    from sqlalchemy.orm import Session

    done = []

    def sneak_in(session, _context, _instances):
        # Another worker commits between our version check and our flush.
        if done:
            return
        done.append(True)
        with db.engine.begin() as conn:
            conn.execute(
                Todo.__table__.update()
                .where(Todo.id == sample["milk"])
                .values(description="Theirs", version=Todo.version + 1)
            )

    event.listen(Session, "before_flush", sneak_in)
    try:
        response = editor_client.post(url, data=fields)
    finally:
        event.remove(Session, "before_flush", sneak_in)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
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
    assert response.status_code == 200
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


def test_inline_list_edit_carries_and_checks_the_version(editor_client, second_editor, sample):
    mine_page = editor_client.get("/admin/todo/").get_data(as_text=True)
    pk = editable_pk(mine_page, "description", sample["milk"])
    assert pk == f"{sample['milk']}:1"
    token = list_csrf(mine_page)

    theirs_page = second_editor.get("/admin/todo/").get_data(as_text=True)
    response = second_editor.post(
        "/admin/todo/ajax/update/",
        data={
            "list_form_pk": editable_pk(theirs_page, "priority", sample["milk"]),
            "priority": "low",
            "csrf_token": list_csrf(theirs_page),
        },
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert todo_now(sample["milk"]).priority == "low"

    response = editor_client.post(
        "/admin/todo/ajax/update/",
        data={"list_form_pk": pk, "description": "Buy soy milk", "csrf_token": token},
    )
    message = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "second@example.com changed this row" in message
    assert "theirs 'Buy milk', yours 'Buy soy milk'" in message
    saved = todo_now(sample["milk"])
    assert (saved.description, saved.priority) == ("Buy milk", "low")

    # After a reload the cell carries the new version and the same edit goes through.
    page = editor_client.get("/admin/todo/").get_data(as_text=True)
    pk = editable_pk(page, "description", sample["milk"])
    assert pk == f"{sample['milk']}:2"
    response = editor_client.post(
        "/admin/todo/ajax/update/",
        data={"list_form_pk": pk, "description": "Buy soy milk", "csrf_token": list_csrf(page)},
    )
    assert response.status_code == 200
    saved = todo_now(sample["milk"])
    assert (saved.description, saved.priority, saved.version) == ("Buy soy milk", "low", 3)


def test_inline_list_edit_needs_an_editor(viewer_client, sample):
    response = viewer_client.post(
        "/admin/todo/ajax/update/",
        data={"list_form_pk": f"{sample['milk']}:1", "description": "x"},
    )
    assert response.status_code in (400, 403)
    assert todo_now(sample["milk"]).description == "Buy milk"


def test_inline_list_edit_keeps_field_validation(editor_client, sample):
    page = editor_client.get("/admin/todo/").get_data(as_text=True)
    response = editor_client.post(
        "/admin/todo/ajax/update/",
        data={
            "list_form_pk": editable_pk(page, "description", sample["milk"]),
            "description": "   ",
            "csrf_token": list_csrf(page),
        },
    )
    assert response.status_code == 400
    assert "required" in response.get_data(as_text=True)
    assert todo_now(sample["milk"]).description == "Buy milk"
