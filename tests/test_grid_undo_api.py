"""Undo and redo in the grid, as the server sees them: batches of the values from before.

The grid undoes a saved batch by sending a new batch to the same endpoint: each cell's
value as the rows answered it before the save, checked against the version the save
produced (console/static/grid/grid-undo.js). These tests send what the grid sends.
"""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from console.demo.models import Todo
from console.models import AuditEntry
from tests import test_contract
from tests.conftest import count as count_rows
from tests.conftest import csrf_token
from tests.contract.models import Member
from tests.test_grid_api import by_id, change, make_account_and_login, rows, save


def undo_of(before: dict[str, Any], after: dict[str, Any], columns: list[str]) -> list[dict]:
    """The batch the grid sends to undo a save: the old values at the version it produced."""
    return [{"row": after["id"], "token": after["token"], "column": key,
             "value": before["values"][key] or None} for key in columns]


def stored(db: Any, ident: int) -> Todo:
    db.session.expire_all()
    todo = db.session.get(Todo, ident)
    assert todo is not None
    return todo


def test_an_undo_sets_every_kind_of_cell_back_and_a_redo_sets_it_again(editor_client, db, sample):
    milk = by_id(rows(editor_client))[str(sample["milk"])]
    columns = ["description", "due_date", "priority", "completed", "list_id", "assignee_id"]
    first = save(editor_client, {"changes": [
        change(milk, "description", "Buy oat milk"),
        change(milk, "due_date", "2026-03-01"),
        change(milk, "priority", "high"),
        change(milk, "completed", "true"),
        change(milk, "assignee_id", None),
    ]})
    assert first.status_code == 200, first.get_json()
    after = first.get_json()["rows"][0]
    # The values the rows answered before the save read back as they were.
    undone = save(editor_client, {"changes": undo_of(milk, after, columns)})
    assert undone.status_code == 200, undone.get_json()
    back = undone.get_json()["rows"][0]
    assert {k: back["values"][k] for k in columns} == {k: milk["values"][k] for k in columns}
    assert back["token"] == "3"
    todo = stored(db, sample["milk"])
    assert (todo.description, todo.due_date, todo.completed, todo.assignee_id) == (
        "Buy milk", None, False, sample["bob"])
    # A redo is the same: the values after, at the version the undo produced.
    redone = save(editor_client, {"changes": undo_of(after, back, columns)})
    assert redone.status_code == 200, redone.get_json()
    again = redone.get_json()["rows"][0]["values"]
    assert {k: again[k] for k in columns} == {k: after["values"][k] for k in columns}
    assert stored(db, sample["milk"]).description == "Buy oat milk"


def test_an_undo_after_someone_elses_edit_is_refused_and_writes_nothing(
    editor_client, app, db, sample
):
    page = by_id(rows(editor_client))
    milk, eggs = page[str(sample["milk"])], page[str(sample["eggs"])]
    first = save(editor_client, {"changes": [change(milk, "description", "Mine"),
                                             change(eggs, "description", "Mine too")]})
    assert first.status_code == 200
    answered = by_id(first.get_json())
    other = app.test_client()
    make_account_and_login(other, "other@example.com")
    theirs = save(other, {"changes": [change(answered[milk["id"]], "description", "Theirs")]})
    assert theirs.status_code == 200
    entries = count_rows(AuditEntry)

    response = save(editor_client, {"changes": [
        *undo_of(milk, answered[milk["id"]], ["description"]),
        *undo_of(eggs, answered[eggs["id"]], ["description"]),
    ]})

    assert response.status_code == 409
    body = response.get_json()
    assert list(body["conflicts"]) == [milk["id"]]
    conflict = body["conflicts"][milk["id"]]
    assert "other@example.com changed this record" in conflict["message"]
    assert conflict["theirs"]["values"]["description"] == "Theirs"
    # All or none: the row nobody else touched is not set back either.
    assert stored(db, sample["milk"]).description == "Theirs"
    assert stored(db, sample["eggs"]).description == "Mine too"
    assert count_rows(AuditEntry) == entries


def test_an_undo_is_a_change_in_the_records_history_that_can_be_reverted(
    editor_client, db, sample
):
    milk = by_id(rows(editor_client))[str(sample["milk"])]
    first = save(editor_client, {"changes": [change(milk, "description", "Buy oat milk")]})
    after = first.get_json()["rows"][0]
    undone = save(editor_client, {"changes": undo_of(milk, after, ["description"])})
    assert undone.status_code == 200

    entries = list(db.session.scalars(
        select(AuditEntry).where(AuditEntry.model == "Todo",
                                 AuditEntry.object_id == milk["id"]).order_by(AuditEntry.id)))
    edit, undo = entries[-2:]
    assert (edit.action, undo.action) == ("update", "update")
    assert edit.changes == {"before": {"description": "Buy milk"},
                            "after": {"description": "Buy oat milk"}}
    assert undo.changes == {"before": {"description": "Buy oat milk"},
                            "after": {"description": "Buy milk"}}
    assert undo.account_email == "editor@example.com"
    history = editor_client.get("/admin/todo/history/", query_string={"id": milk["id"]})
    text = history.get_data(as_text=True)
    assert history.status_code == 200
    assert f'id="entry-{edit.id}"' in text and f'id="entry-{undo.id}"' in text
    # The undo can be reverted there like any other change (back to "Buy oat milk").
    revert = editor_client.get("/admin/todo/history/revert/",
                               query_string={"id": milk["id"], "entry": undo.id})
    assert revert.status_code == 200
    assert "Buy oat milk" in revert.get_data(as_text=True)


def test_viewers_cannot_undo(viewer_client, editor_client, db, sample):
    milk = by_id(rows(editor_client))[str(sample["milk"])]
    first = save(editor_client, {"changes": [change(milk, "description", "Buy oat milk")]})
    after = first.get_json()["rows"][0]
    token = csrf_token(viewer_client, "/admin/")
    response = viewer_client.post("/admin/todo/grid/save",
                                  json={"changes": undo_of(milk, after, ["description"])},
                                  headers={"X-CSRFToken": token})
    assert response.status_code == 403
    assert stored(db, sample["milk"]).description == "Buy oat milk"


def test_the_grid_page_links_the_context_menus_pages(editor_client, viewer_client, sample):
    from tests.test_grid_api import grid_config

    config = grid_config(editor_client)
    assert config["editUrl"] == "/admin/todo/edit/"
    assert config["historyUrl"] == "/admin/todo/history/"
    assert config["deleteUrl"] == "/admin/todo/delete/"
    page = editor_client.get("/admin/todo/grid/").get_data(as_text=True)
    assert 'id="grid-undo"' in page and "grid/grid-undo.js" in page and "grid/grid-menu.js" in page
    viewing = grid_config(viewer_client)
    assert viewing["editUrl"] is None and viewing["deleteUrl"] is None


# -- undoing a paste that added rows: a version-checked delete, only of rows nothing uses ------


def created_row(client: FlaskClient, body: dict[str, Any], endpoint: str = "todo") -> dict:
    response = save(client, body, endpoint)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["created"]["new-1"]


def test_an_undo_deletes_the_rows_its_paste_added_with_the_cells_set_back(
    editor_client, db, sample
):
    milk = by_id(rows(editor_client))[str(sample["milk"])]
    response = save(editor_client, {
        "changes": [change(milk, "description", "Pasted over")],
        "creates": [{"ref": "new-1", "values": {"description": "Pasted",
                                                "list_id": "Groceries"}, "byKey": ["list_id"]}],
    })
    body = response.get_json()
    after, new = body["rows"][0], body["created"]["new-1"]
    undone = save(editor_client, {"changes": undo_of(milk, after, ["description"]),
                                  "deletes": [{"row": new["id"], "token": new["token"]}]})
    assert undone.status_code == 200, undone.get_json()
    assert undone.get_json()["deleted"] == [new["id"]]
    assert count_rows(Todo, Todo.description == "Pasted") == 0
    assert stored(db, sample["milk"]).description == "Buy milk"
    deletes = list(db.session.scalars(select(AuditEntry).where(
        AuditEntry.object_id == new["id"], AuditEntry.model == "Todo",
        AuditEntry.action == "delete")))
    assert len(deletes) == 1 and deletes[0].changes["before"]["description"] == "Pasted"


def test_an_undo_does_not_delete_an_added_row_someone_changed_or_something_uses(
    editor_client, app, db, sample
):
    chores = {"ref": "new-1", "values": {"name": "Chores", "owner_id": "ann@example.com"},
              "byKey": ["owner_id"]}
    new = created_row(editor_client, {"creates": [chores]}, "todolist")
    # A to-do now on the pasted list: deleting the list would take it along.
    db.session.add(Todo(description="Sweep", list_id=int(new["id"])))
    db.session.commit()
    refused = save(editor_client, {"deletes": [{"row": new["id"], "token": new["token"]}]},
                   "todolist")
    assert refused.status_code == 400
    [problem] = refused.get_json()["problems"]
    assert "delete preview" in problem["message"]
    assert count_rows(Todo, Todo.description == "Sweep") == 1
    # Changed by someone else since the paste: a conflict, nothing deleted.
    todo = created_row(editor_client, {"creates": [{"ref": "new-1", "values": {
        "description": "Pasted", "list_id": str(sample["groceries"])}}]})
    other = app.test_client()
    make_account_and_login(other, "other@example.com")
    assert save(other, {"changes": [change(todo, "description", "Theirs")]}).status_code == 200
    stale = save(editor_client, {"deletes": [{"row": todo["id"], "token": todo["token"]}]})
    assert stale.status_code == 409
    assert "other@example.com" in stale.get_json()["conflicts"][todo["id"]]["message"]
    assert count_rows(Todo, Todo.description == "Theirs") == 1


def test_a_delete_in_a_batch_needs_its_token_and_a_role_that_deletes(
    editor_client, viewer_client, sample
):
    milk = by_id(rows(editor_client))[str(sample["milk"])]
    missing = save(editor_client, {"deletes": [{"row": milk["id"], "token": None}]})
    assert missing.status_code == 400
    assert count_rows(Todo) == 2
    token = csrf_token(viewer_client, "/admin/")
    response = viewer_client.post("/admin/todo/grid/save",
                                  json={"deletes": [{"row": milk["id"], "token": "1"}]},
                                  headers={"X-CSRFToken": token})
    assert response.status_code == 403
    assert count_rows(Todo) == 2


# -- a model the console has never seen, without a version column (tests/contract) ------------

contract_app = test_contract.contract_app
editor = test_contract.editor
other_editor = test_contract.other_editor
tree = test_contract.tree


def test_an_undo_of_a_model_without_a_version_is_checked_by_its_saved_values(
    editor: FlaskClient, other_editor: FlaskClient, tree: dict
) -> None:
    ann = by_id(rows(editor, "member"))[str(tree["ann"])]
    saved = save(editor, {"changes": [change(ann, "full_name", "Ann B. Lee"),
                                      change(ann, "active", "no")]}, "member")
    assert saved.status_code == 200, saved.get_json()
    after = saved.get_json()["rows"][0]
    undone = save(editor, {"changes": undo_of(ann, after, ["full_name", "active"])}, "member")
    assert undone.status_code == 200, undone.get_json()
    back = undone.get_json()["rows"][0]
    assert (back["values"]["full_name"], back["values"]["active"]) == (
        ann["values"]["full_name"], ann["values"]["active"])
    # Someone else changes it; the redo (from the undo's answer) is refused, nothing written.
    assert save(other_editor, {"changes": [change(back, "full_name", "Theirs")]},
                "member").status_code == 200
    redo = save(editor, {"changes": undo_of(after, back, ["full_name", "active"])}, "member")
    assert redo.status_code == 409
    assert count_rows(Member, Member.full_name == "Theirs") == 1
    assert count_rows(Member, Member.full_name == "Ann B. Lee") == 0
