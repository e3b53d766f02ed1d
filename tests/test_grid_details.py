"""Master-detail in the grid's JSON: each parent's tabs and the rows of one parent's children."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from console.demo.models import Todo, TodoList
from console.extensions import db as _db
from tests import test_contract
from tests.test_grid_api import by_id, change, grid_config, rows, save

contract_app = test_contract.contract_app
editor = test_contract.editor
tree = test_contract.tree


def more(db: Any, sample: dict[str, Any]) -> int:
    """A second list (Work, Bob's) with one to-do; its id."""
    work = TodoList(name="Work", owner_id=sample["bob"])
    db.session.add(work)
    db.session.flush()
    db.session.add(Todo(description="Write report", list_id=work.id, assignee_id=sample["ann"]))
    db.session.commit()
    return work.id


def test_a_list_has_one_tab_of_its_to_dos(editor_client: FlaskClient, sample: dict) -> None:
    config = grid_config(editor_client, "todolist")
    [tab] = config["details"]
    assert (tab["label"], tab["fk"], tab["movable"]) == ("To-dos", "list_id", True)
    assert tab["grid"]["rowsUrl"] == "/admin/todo/grid/rows"
    assert tab["grid"]["saveUrl"] == "/admin/todo/grid/save"
    assert "list_id" in [c["key"] for c in tab["grid"]["columns"]]


def test_a_person_has_a_tab_per_relationship_named_by_its_reference(
    editor_client: FlaskClient, sample: dict
) -> None:
    tabs = grid_config(editor_client, "person")["details"]
    assert sorted((t["label"], t["fk"]) for t in tabs) == [
        ("To-do lists (owner)", "owner_id"), ("To-dos (assignee)", "assignee_id")]


def test_a_model_without_children_has_no_tabs(editor_client: FlaskClient, sample: dict) -> None:
    assert grid_config(editor_client, "todo")["details"] == []


def test_viewers_get_the_tabs_but_no_move(viewer_client: FlaskClient, sample: dict) -> None:
    [tab] = grid_config(viewer_client, "todolist")["details"]
    assert (tab["movable"], tab["grid"]["canEdit"], tab["grid"]["csrf"]) == (False, False, "")


def test_the_rows_of_one_parent_are_its_children_only(
    editor_client: FlaskClient, db: Any, sample: dict
) -> None:
    work = more(db, sample)
    page = rows(editor_client, "todo", parent="list_id", parent_id=sample["groceries"])
    assert sorted(r["values"]["description"] for r in page["rows"]) == ["Buy eggs", "Buy milk"]
    assert page["count"]["value"] == 2 and page["count"]["exact"]
    page = rows(editor_client, "todo", parent="list_id", parent_id=work)
    assert [r["values"]["description"] for r in page["rows"]] == ["Write report"]
    page = rows(editor_client, "todo", parent="assignee_id", parent_id=sample["bob"])
    assert [r["values"]["description"] for r in page["rows"]] == ["Buy milk"]
    page = rows(editor_client, "todolist", parent="owner_id", parent_id=sample["bob"])
    assert [r["values"]["name"] for r in page["rows"]] == ["Work"]


def test_the_parent_filter_keeps_the_grids_search_and_pages(
    editor_client: FlaskClient, sample: dict
) -> None:
    page = rows(editor_client, "todo", parent="list_id", parent_id=sample["groceries"],
                search="milk")
    assert [r["values"]["description"] for r in page["rows"]] == ["Buy milk"]
    first = rows(editor_client, "todo", parent="list_id", parent_id=sample["groceries"], limit=1)
    assert first["next"]
    second = rows(editor_client, "todo", parent="list_id", parent_id=sample["groceries"],
                  limit=1, after=first["next"])
    assert {first["rows"][0]["id"], second["rows"][0]["id"]} == {
        str(sample["milk"]), str(sample["eggs"])}


def test_a_bad_parent_argument_is_a_400_with_the_reason(
    editor_client: FlaskClient, sample: dict
) -> None:
    cases = [
        ({"parent": "description", "parent_id": "1"}, "parent must name a reference column"),
        ({"parent": "owner_id", "parent_id": "1"}, "one of: list_id, assignee_id"),
        ({"parent": "list_id"}, "parent_id must be the key of a to-do list"),
        ({"parent_id": "1"}, "got None"),
        ({"parent": "list_id", "parent_id": "abc"}, "parent_id"),
    ]
    for args, reason in cases:
        response = editor_client.get("/admin/todo/grid/rows", query_string=args)
        assert response.status_code == 400, args
        assert reason in response.get_json()["error"], (args, response.get_json())


def test_moving_children_is_one_batch_of_their_reference_and_checks_each_version(
    editor_client: FlaskClient, db: Any, sample: dict
) -> None:
    work = more(db, sample)
    loaded = by_id(rows(editor_client, "todo", parent="list_id", parent_id=sample["groceries"]))
    milk, eggs = loaded[str(sample["milk"])], loaded[str(sample["eggs"])]
    # Someone else changes the eggs after they were loaded: the whole move is refused.
    _db.session.get(Todo, sample["eggs"]).description = "Buy brown eggs"
    _db.session.commit()
    response = save(editor_client, {"changes": [change(milk, "list_id", str(work)),
                                                change(eggs, "list_id", str(work))]})
    assert response.status_code == 409
    assert rows(editor_client, "todo", parent="list_id", parent_id=work)["count"]["value"] == 1
    loaded = by_id(rows(editor_client, "todo", parent="list_id", parent_id=sample["groceries"]))
    milk, eggs = loaded[str(sample["milk"])], loaded[str(sample["eggs"])]
    response = save(editor_client, {"changes": [change(milk, "list_id", str(work)),
                                                change(eggs, "list_id", str(work))]})
    assert response.status_code == 200, response.get_json()
    moved = rows(editor_client, "todo", parent="list_id", parent_id=work)
    assert moved["count"]["value"] == 3


def test_another_models_children_come_from_its_relationships(
    editor: FlaskClient, tree: dict
) -> None:
    tabs = grid_config(editor, "project")["details"]
    assert [(t["label"], t["fk"]) for t in tabs] == [("Tasks", "project_id")]
    page = rows(editor, "task", parent="project_id", parent_id=tree["project"])
    assert sorted(r["values"]["title"] for r in page["rows"]) == ["Build", "Test"]
    response = editor.get("/admin/task/grid/rows", query_string={"parent": "title",
                                                                 "parent_id": "1"})
    assert response.status_code == 400
    assert "project_id" in response.get_json()["error"]


def test_a_move_is_undone_by_a_batch_at_the_versions_the_move_returned(
    editor_client: FlaskClient, app: Any, db: Any, sample: dict
) -> None:
    # What grid-detail.js and grid-undo.js send: the move, then each child's reference
    # set back to the parent it had, at the token the move's answer gave that child.
    from tests.test_grid_api import make_account_and_login

    work = more(db, sample)
    groceries = str(sample["groceries"])
    loaded = by_id(rows(editor_client, "todo", parent="list_id", parent_id=groceries))
    milk, eggs = loaded[str(sample["milk"])], loaded[str(sample["eggs"])]
    moved = save(editor_client, {"changes": [change(milk, "list_id", str(work)),
                                             change(eggs, "list_id", str(work))]})
    assert moved.status_code == 200, moved.get_json()
    answered = by_id(moved.get_json())
    undo = save(editor_client, {"changes": [change(answered[milk["id"]], "list_id", groceries),
                                            change(answered[eggs["id"]], "list_id", groceries)]})
    assert undo.status_code == 200, undo.get_json()
    assert rows(editor_client, "todo", parent="list_id", parent_id=groceries)["count"]["value"] == 2
    assert rows(editor_client, "todo", parent="list_id", parent_id=work)["count"]["value"] == 1

    # Moved again; someone else edits one of them: the undo is refused whole, with who.
    undone = by_id(undo.get_json())
    again = save(editor_client, {"changes": [change(undone[milk["id"]], "list_id", str(work)),
                                             change(undone[eggs["id"]], "list_id", str(work))]})
    assert again.status_code == 200, again.get_json()
    answered = by_id(again.get_json())
    other = app.test_client()
    make_account_and_login(other, "other@example.com")
    theirs = save(other, {"changes": [change(answered[eggs["id"]], "description", "Brown eggs")]})
    assert theirs.status_code == 200, theirs.get_json()
    refused = save(editor_client, {"changes": [change(answered[milk["id"]], "list_id", groceries),
                                               change(answered[eggs["id"]], "list_id", groceries)]})
    assert refused.status_code == 409
    body = refused.get_json()
    assert list(body["conflicts"]) == [eggs["id"]]
    assert "other@example.com" in body["conflicts"][eggs["id"]]["message"]
    assert body["conflicts"][eggs["id"]]["theirs"]["values"]["list_id"] == str(work)
    db.session.expire_all()
    assert [db.session.get(Todo, sample[k]).list_id for k in ("milk", "eggs")] == [work, work]
