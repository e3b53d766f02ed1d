"""The grid's JSON: keyset pages of rows, and batches of cell edits saved whole or not at all."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from console.demo.models import Person, Priority, Todo, TodoList
from console.extensions import db as _db
from console.models import AuditEntry
from tests import test_contract
from tests.conftest import count as count_rows
from tests.conftest import csrf_token, make_account
from tests.contract.models import Member, Task

# The contract app's fixtures (the console over models it has never seen), used below.
contract_app = test_contract.contract_app
editor = test_contract.editor
other_editor = test_contract.other_editor
tree = test_contract.tree


def grid_config(client: FlaskClient, endpoint: str = "todo", query: str = "") -> dict[str, Any]:
    """The grid page's configuration (its columns, URLs and CSRF token)."""
    import json

    response = client.get(f"/admin/{endpoint}/grid/" + (f"?{query}" if query else ""))
    assert response.status_code == 200, response.status_code
    match = re.search(r'<script type="application/json" id="grid-config">(.*?)</script>',
                      response.get_data(as_text=True), re.S)
    assert match, "no grid configuration on the grid page"
    return json.loads(match.group(1))


def rows(client: FlaskClient, endpoint: str = "todo", **args: Any) -> dict[str, Any]:
    """One page of the grid's rows (asserting a 200)."""
    response = client.get(f"/admin/{endpoint}/grid/rows", query_string=args)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def by_id(page: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The page's rows by id."""
    return {row["id"]: row for row in page["rows"]}


def save(client: FlaskClient, body: dict[str, Any], endpoint: str = "todo",
         csrf: str | None = None) -> Any:
    """POST a batch with the grid page's CSRF token."""
    token = csrf if csrf is not None else grid_config(client, endpoint)["csrf"]
    return client.post(f"/admin/{endpoint}/grid/save", json=body,
                       headers={"X-CSRFToken": token})


def change(row: dict[str, Any], column: str, value: str | None, **extra: Any) -> dict[str, Any]:
    """One cell change of a loaded row, with the token the grid read."""
    return {"row": row["id"], "token": row["token"], "column": column, "value": value, **extra}


def many_todos(db: Any, sample: dict, n: int) -> None:
    """``n`` more to-dos on the sample's list, described "Task 001".."Task n"."""
    db.session.add_all(
        Todo(description=f"Task {i:03d}", list_id=sample["groceries"],
             priority=Priority.high if i % 3 == 0 else Priority.normal)
        for i in range(1, n + 1)
    )
    db.session.commit()


# -- pages ----------------------------------------------------------------------------------


def test_the_grid_page_describes_every_column_and_its_editor(editor_client, sample):
    config = grid_config(editor_client)
    columns = {c["key"]: c for c in config["columns"]}
    assert list(columns)[:2] == ["id", "description"]
    assert columns["id"]["editable"] is False
    assert columns["description"]["editor"] == "text"
    assert columns["completed"]["editor"] == "boolean"
    assert columns["due_date"]["editor"] == "date"
    assert columns["priority"]["editor"] == "choice"
    assert columns["priority"]["choices"] == ["low", "normal", "high"]
    assert columns["list_id"]["editor"] == "reference"
    assert columns["list_id"]["lookup"] == "todo_list"
    assert columns["assignee_id"]["nullable"] is True
    assert config["csrf"]


def test_the_list_links_to_its_grid_with_its_search(editor_client, sample):
    page = editor_client.get("/admin/todo/?search=milk").get_data(as_text=True)
    assert 'href="/admin/todo/grid/?search=milk"' in page
    assert ">Open in grid<" in page


def test_a_page_of_rows_carries_ids_tokens_values_and_parent_labels(editor_client, sample):
    page = rows(editor_client)
    assert page["count"] == {"value": 2, "exact": True, "atLeast": False, "label": "2"}
    assert page["next"] is None
    milk = by_id(page)[str(sample["milk"])]
    assert milk["token"] == "1"
    assert milk["values"]["description"] == "Buy milk"
    assert milk["values"]["completed"] == "false"
    assert milk["values"]["list_id"] == str(sample["groceries"])
    assert milk["labels"] == {"list_id": "Groceries", "assignee_id": "Bob <bob@example.com>"}
    assert milk["keys"] == {"list_id": "Groceries", "assignee_id": "bob@example.com"}


def test_keyset_pages_follow_each_other_without_gaps_or_repeats(editor_client, db, sample):
    many_todos(db, sample, 23)
    seen: list[str] = []
    page = rows(editor_client, limit=10)
    assert page["count"]["value"] == 25
    while True:
        seen += [r["id"] for r in page["rows"]]
        if page["next"] is None:
            break
        page = rows(editor_client, limit=10, after=page["next"])
        assert "count" not in page  # counted once, on the first page
    assert len(seen) == 25 == len(set(seen))
    assert seen == sorted(seen, key=int)


def test_pages_follow_the_lists_sort_and_search(editor_client, db, sample):
    many_todos(db, sample, 12)
    config = grid_config(editor_client)
    index = next(c["sortIndex"] for c in config["columns"] if c["key"] == "description")
    first = rows(editor_client, sort=index, desc=1, limit=5)
    described = [r["values"]["description"] for r in first["rows"]]
    assert described == ["Task 012", "Task 011", "Task 010", "Task 009", "Task 008"]
    following = rows(editor_client, sort=index, desc=1, limit=5, after=first["next"])
    assert following["rows"][0]["values"]["description"] == "Task 007"
    found = rows(editor_client, search="milk")
    assert [r["values"]["description"] for r in found["rows"]] == ["Buy milk"]
    assert found["count"]["value"] == 1


def test_pages_follow_the_lists_filters(editor_client, db, sample):
    many_todos(db, sample, 9)
    arg = _equal_filter_arg(editor_client.get("/admin/todo/").get_data(as_text=True), "Priority")
    assert arg, "no 'Priority equals' filter on the list"
    page_rows = rows(editor_client, **{arg: "high"})
    assert page_rows["count"]["value"] == 3
    assert {r["values"]["priority"] for r in page_rows["rows"]} == {"high"}


def _equal_filter_arg(page: str, label: str) -> str | None:
    """The URL argument of the list's "equals" filter on ``label`` (from the filter data)."""
    import html
    import json

    match = re.search(r'id="filter-groups-data"[^>]*>(.*?)</div>', page, re.S)
    if not match:
        return None
    groups = json.loads(html.unescape(match.group(1)))
    for name, options in groups.items():
        if name != label:
            continue
        for option in options:
            if option["operation"] in ("equals", "Equals"):
                return f"flt0_{option['arg']}"
    return None


def test_a_damaged_cursor_or_limit_is_a_400_not_a_500(editor_client, sample):
    assert editor_client.get("/admin/todo/grid/rows?after=%%%").status_code == 400
    assert editor_client.get("/admin/todo/grid/rows?limit=lots").status_code == 400


def test_models_without_a_version_column_carry_their_loaded_values(admin_client, db):
    page = rows(admin_client, "account")
    assert page["rows"]
    assert all(r["token"] for r in page["rows"])
    assert all("password_hash" not in r["values"] for r in page["rows"])


def test_accounts_keep_their_form_rules_so_their_grid_is_read_only(admin_client, db):
    config = grid_config(admin_client, "account")
    assert config["canEdit"] is False
    assert not any(c["editable"] for c in config["columns"])
    admin = rows(admin_client, "account")["rows"][0]
    token = csrf_token(admin_client, "/admin/")
    response = save(admin_client, {"changes": [change(admin, "role", "viewer")]},
                    endpoint="account", csrf=token)
    assert response.status_code == 400
    assert "edited in their forms" in response.get_json()["problems"][0]["message"]


# -- batches --------------------------------------------------------------------------------


def test_a_batch_saves_every_cell_and_answers_each_rows_new_version(editor_client, db, sample):
    page = by_id(rows(editor_client))
    milk, eggs = page[str(sample["milk"])], page[str(sample["eggs"])]
    response = save(editor_client, {"changes": [
        change(milk, "description", "Buy oat milk"),
        change(milk, "due_date", "2026-03-01"),
        change(milk, "assignee_id", None),
        change(eggs, "priority", "HIGH"),
        change(eggs, "list_id", "Groceries", byKey=True),
    ]})
    assert response.status_code == 200, response.get_json()
    answer = {r["id"]: r for r in response.get_json()["rows"]}
    assert answer[milk["id"]]["token"] == "2"
    assert answer[milk["id"]]["values"]["description"] == "Buy oat milk"
    assert answer[eggs["id"]]["values"]["priority"] == "high"
    db.session.expire_all()
    stored = db.session.get(Todo, sample["milk"])
    assert stored is not None
    assert (stored.description, stored.due_date, stored.assignee_id) == (
        "Buy oat milk", date(2026, 3, 1), None)


def test_consecutive_batches_with_the_answered_versions_never_conflict(editor_client, sample):
    milk = by_id(rows(editor_client))[str(sample["milk"])]
    first = save(editor_client, {"changes": [change(milk, "description", "One")]})
    milk = first.get_json()["rows"][0]
    second = save(editor_client, {"changes": [change(milk, "completed", "true")]})
    assert second.status_code == 200, second.get_json()
    values = second.get_json()["rows"][0]["values"]
    assert (values["description"], values["completed"]) == ("One", "true")
    assert second.get_json()["rows"][0]["token"] == "3"


def test_one_invalid_cell_saves_nothing_and_names_the_cell(editor_client, sample):
    page = by_id(rows(editor_client))
    milk, eggs = page[str(sample["milk"])], page[str(sample["eggs"])]
    response = save(editor_client, {"changes": [
        change(milk, "description", "Changed"),
        change(milk, "due_date", "31/12/2026"),
        change(eggs, "description", "Changed too"),
        change(eggs, "priority", "urgent"),
    ], "creates": [{"ref": "new-1", "values": {"description": "New", "list_id": "Groceries"},
                    "byKey": ["list_id"]}]})
    assert response.status_code == 400
    problems = {(p["row"], p["column"]): p["message"] for p in response.get_json()["problems"]}
    assert set(problems) == {(milk["id"], "due_date"), (eggs["id"], "priority")}
    assert "YYYY-MM-DD" in problems[(milk["id"], "due_date")]
    assert "one of low, normal, high" in problems[(eggs["id"], "priority")]
    assert count_rows(Todo, Todo.description.like("Changed%")) == 0
    assert count_rows(Todo) == 2


def test_a_reference_by_an_unknown_key_is_refused_at_its_cell(editor_client, sample):
    milk = by_id(rows(editor_client))[str(sample["milk"])]
    response = save(editor_client, {"changes": [
        change(milk, "assignee_id", "nobody@example.com", byKey=True)]})
    assert response.status_code == 400
    [problem] = response.get_json()["problems"]
    assert (problem["row"], problem["column"]) == (milk["id"], "assignee_id")
    assert "nobody@example.com" in problem["message"]


def test_a_row_changed_by_someone_else_is_a_conflict_with_theirs(
    editor_client, app, db, sample
):
    milk = by_id(rows(editor_client))[str(sample["milk"])]
    other = app.test_client()
    make_account_and_login(other, "other@example.com")
    theirs = save(other, {"changes": [change(milk, "description", "Theirs")]})
    assert theirs.status_code == 200
    response = save(editor_client, {"changes": [change(milk, "description", "Mine")]})
    assert response.status_code == 409
    body = response.get_json()
    assert body["problems"][0]["conflict"] is True
    conflict = body["conflicts"][milk["id"]]
    assert "other@example.com changed this record" in conflict["message"]
    assert conflict["theirs"]["values"]["description"] == "Theirs"
    assert conflict["theirs"]["token"] == "2"
    db.session.expire_all()
    assert db.session.get(Todo, sample["milk"]).description == "Theirs"
    mine = save(editor_client, {"changes": [change(conflict["theirs"], "description", "Mine")]})
    assert mine.status_code == 200


def make_account_and_login(client: FlaskClient, email: str) -> None:
    """A second editor, logged in on ``client``."""
    from console.models import Role
    from tests.conftest import Auth

    make_account(Role.editor, email)
    assert Auth(client).login(email).status_code == 302


def test_a_deleted_row_is_a_conflict_that_says_so(editor_client, db, sample):
    eggs = by_id(rows(editor_client))[str(sample["eggs"])]
    db.session.delete(db.session.get(Todo, sample["eggs"]))
    db.session.commit()
    response = save(editor_client, {"changes": [change(eggs, "description", "Mine")]})
    assert response.status_code == 409
    assert "deleted" in response.get_json()["conflicts"][eggs["id"]]["message"]


def test_a_change_without_its_version_is_refused(editor_client, sample):
    milk = by_id(rows(editor_client))[str(sample["milk"])]
    for token in (None, ""):
        response = save(editor_client, {"changes": [
            {"row": milk["id"], "token": token, "column": "description", "value": "x"}]})
        assert response.status_code == 400
        assert "which version" in response.get_json()["problems"][0]["message"]
    assert count_rows(Todo, Todo.description == "x") == 0


def test_a_malformed_batch_is_a_400(editor_client, sample):
    for body in ([], {"changes": "x"}, {"changes": [{"row": "1"}]},
                 {"creates": [{"ref": "n", "values": {"description": 3}}]}, {}):
        assert save(editor_client, body).status_code == 400


def test_viewers_read_the_grid_but_cannot_save(viewer_client, sample):
    assert viewer_client.get("/admin/todo/grid/").status_code == 200
    page = by_id(rows(viewer_client))
    assert grid_config(viewer_client)["canEdit"] is False
    milk = page[str(sample["milk"])]
    token = csrf_token(viewer_client, "/admin/")
    response = save(viewer_client, {"changes": [change(milk, "description", "x")]}, csrf=token)
    assert response.status_code == 403
    assert count_rows(Todo, Todo.description == "x") == 0


def test_a_batch_without_the_csrf_token_is_refused(editor_client, sample):
    milk = by_id(rows(editor_client))[str(sample["milk"])]
    response = save(editor_client, {"changes": [change(milk, "description", "x")]}, csrf="")
    assert response.status_code == 400
    assert count_rows(Todo, Todo.description == "x") == 0


def test_anonymous_visitors_are_sent_to_log_in(client, sample):
    assert client.get("/admin/todo/grid/rows").status_code == 302


def test_new_rows_are_created_in_the_same_batch(editor_client, db, sample):
    eggs = by_id(rows(editor_client))[str(sample["eggs"])]
    response = save(editor_client, {"changes": [change(eggs, "description", "Eggs, a dozen")],
                                    "creates": [
        {"ref": "new-1", "values": {"description": "Bread", "list_id": "Groceries",
                                    "assignee_id": "ann@example.com", "priority": "low"},
         "byKey": ["list_id", "assignee_id"]},
        {"ref": "new-2", "values": {"description": "Butter", "list_id": str(sample["groceries"])}},
    ]})
    assert response.status_code == 200, response.get_json()
    created = response.get_json()["created"]
    assert created["new-1"]["values"]["description"] == "Bread"
    assert created["new-1"]["labels"]["assignee_id"] == "Ann <ann@example.com>"
    assert created["new-2"]["values"]["priority"] == "normal"
    assert created["new-2"]["token"] == "1"
    assert count_rows(Todo) == 4
    bread = db.session.scalar(select(Todo).where(Todo.description == "Bread"))
    assert bread.assignee_id == sample["ann"] and bread.priority is Priority.low


def test_a_new_row_missing_a_required_cell_is_refused_at_that_cell(editor_client, sample):
    response = save(editor_client, {"creates": [{"ref": "new-1",
                                                 "values": {"description": "Bread"}}]})
    assert response.status_code == 400
    [problem] = response.get_json()["problems"]
    assert (problem["row"], problem["column"]) == ("new-1", "list_id")
    assert "required" in problem["message"]
    assert count_rows(Todo) == 2


def test_a_new_row_breaking_a_unique_rule_is_refused_with_nothing_saved(editor_client, sample):
    lists = by_id(rows(editor_client, "todolist"))
    groceries = lists[str(sample["groceries"])]
    response = save(editor_client, {
        "changes": [change(groceries, "name", "Food")],
        "creates": [{"ref": "new-1", "values": {"name": "Food", "owner_id": "ann@example.com"},
                     "byKey": ["owner_id"]}],
    }, endpoint="todolist")
    assert response.status_code == 400
    assert response.get_json()["problems"][0]["row"] == "new-1"
    assert count_rows(TodoList, TodoList.name == "Food") == 0


def test_every_saved_and_created_row_gets_its_history_entry(editor_client, db, sample):
    milk = by_id(rows(editor_client))[str(sample["milk"])]
    before = count_rows(AuditEntry)
    response = save(editor_client, {
        "changes": [change(milk, "description", "Buy oat milk")],
        "creates": [{"ref": "new-1", "values": {"description": "Bread",
                                                "list_id": str(sample["groceries"])}}],
    })
    assert response.status_code == 200
    entries = list(db.session.scalars(
        select(AuditEntry).where(AuditEntry.model == "Todo").order_by(AuditEntry.id)))
    assert count_rows(AuditEntry) == before + 2
    update = next(e for e in entries if e.action == "update")
    assert update.object_id == milk["id"]
    assert update.account_email == "editor@example.com"
    assert update.changes == {"before": {"description": "Buy milk"},
                              "after": {"description": "Buy oat milk"}}
    assert any(e.action == "create" and e.account_email == "editor@example.com" for e in entries)


def test_people_are_edited_through_their_rules(editor_client, sample):
    ann = by_id(rows(editor_client, "person"))[str(sample["ann"])]
    response = save(editor_client, {"changes": [change(ann, "email", "not an email")]},
                    endpoint="person")
    assert response.status_code == 400
    assert "email" in response.get_json()["problems"][0]["message"].lower()
    assert count_rows(Person, Person.email == "ann@example.com") == 1


# -- models the console has never seen (tests/contract/models.py) ----------------------------


def test_a_model_without_a_version_is_checked_by_its_loaded_values(
    editor: FlaskClient, other_editor: FlaskClient, tree: dict
) -> None:
    ann = by_id(rows(editor, "member"))[str(tree["ann"])]
    assert ann["token"].startswith("values:")
    saved = save(editor, {"changes": [change(ann, "full_name", "Ann B. Lee")]}, "member")
    assert saved.status_code == 200, saved.get_json()
    fresh = saved.get_json()["rows"][0]
    assert fresh["token"] != ann["token"]
    # Consecutive edits with the answered token; a stale one is a conflict.
    assert save(editor, {"changes": [change(fresh, "active", "no")]}, "member").status_code == 200
    stale = save(other_editor, {"changes": [change(fresh, "full_name", "Someone")]}, "member")
    assert stale.status_code == 409
    assert stale.get_json()["conflicts"][ann["id"]]["theirs"]["values"]["active"] == "false"
    assert count_rows(Member, Member.full_name == "Someone") == 0


def test_numbers_choices_and_date_times_of_another_model(editor: FlaskClient, tree: dict) -> None:
    build = by_id(rows(editor, "task"))[str(tree["build"])]
    response = save(editor, {"changes": [
        change(build, "estimate", "4.25"),
        change(build, "stage", "DONE"),
    ]}, "task")
    assert response.status_code == 400
    [problem] = response.get_json()["problems"]
    assert problem["column"] == "estimate"
    assert "decimal place" in problem["message"]
    response = save(editor, {"changes": [
        change(build, "estimate", "4.5"),
        change(build, "stage", "DONE"),
        change(build, "due_at", "2026-12-24 17:30"),
        change(build, "reviewer_id", "ann", byKey=True),
    ]}, "task")
    assert response.status_code == 200, response.get_json()
    values = response.get_json()["rows"][0]["values"]
    assert (values["estimate"], values["stage"]) == ("4.5", "done")
    assert values["due_at"].startswith("2026-12-24T17:30")
    _db.session.expire_all()
    task = _db.session.get(Task, tree["build"])
    assert task is not None and task.reviewer_id == tree["ann"]


def test_the_grid_offers_the_lists_filters_by_column(viewer_client: FlaskClient,
                                                     sample: dict) -> None:
    """Each filter of the list under the grid column it narrows; a reference's under it."""
    filters = grid_config(viewer_client)["headerFilters"]
    completed = {f["arg"]: f for f in filters["completed"]}
    assert completed["completed_equals"]["options"] == [["1", "Yes"], ["0", "No"]]
    assert completed["completed_equals"]["operation"] == "equals"
    lists = [f["arg"] for f in filters["list_id"]]
    assert "list_name_equals" in lists and "list_name_contains" in lists
    assert {f["arg"] for f in filters["assignee_id"]} >= {"person_email_equals"}
    assert {f["type"] for f in filters["due_date"]} >= {"datepicker", "daterangepicker"}
    # Only the filters the list has: a plain text column has none.
    assert "description" not in filters
    # Every one of them narrows the grid's rows as the list's filter does.
    rows = viewer_client.get("/admin/todo/grid/rows?flt0_completed_equals=1").get_json()
    assert [r["values"]["description"] for r in rows["rows"]] == ["Buy eggs"]


@pytest.mark.parametrize("query, words", [
    ("flt0_due_date_greater_than=notadate", "Not a valid value for the filter"),
    ("flt0_bogus_equals=1", "Unknown filter 'flt0_bogus_equals'"),
])
def test_a_filter_the_list_would_skip_is_refused_not_ignored(
    viewer_client: FlaskClient, sample: dict, query: str, words: str
) -> None:
    response = viewer_client.get(f"/admin/todo/grid/rows?{query}")
    assert response.status_code == 400
    assert words in response.get_json()["error"]
    assert "rows" not in response.get_json()
