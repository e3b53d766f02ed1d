"""The grid's jump to the end: ``last=1`` and ``before=`` pages of the rows endpoint."""

from __future__ import annotations

from tests.test_grid_api import grid_config, many_todos, rows


def every_id(client, **args) -> list[str]:
    """Every row id in the grid's order, read forwards page by page."""
    seen: list[str] = []
    page = rows(client, limit=10, **args)
    while True:
        seen += [r["id"] for r in page["rows"]]
        if page["next"] is None:
            return seen
        page = rows(client, limit=10, after=page["next"], **args)


def backwards(client, **args) -> tuple[list[str], dict]:
    """Every row id read from the end (``last=1``) then ``before=`` pages, and the last page."""
    last = rows(client, limit=10, last=1, **args)
    seen = [r["id"] for r in last["rows"]]
    page = last
    while page["prev"] is not None:
        page = rows(client, limit=10, before=page["prev"], **args)
        assert "count" not in page  # counted once, on the last page
        seen = [r["id"] for r in page["rows"]] + seen
    return seen, last


def test_the_last_page_is_the_end_of_the_ordering_with_the_count(editor_client, db, sample):
    many_todos(db, sample, 23)
    forwards = every_id(editor_client)
    last = rows(editor_client, limit=10, last=1)
    assert [r["id"] for r in last["rows"]] == forwards[-10:]
    assert last["next"] is None
    assert last["count"] == {"value": 25, "exact": True, "atLeast": False, "label": "25"}
    assert last["prev"] is not None


def test_before_pages_walk_back_to_the_start_without_gaps_or_repeats(editor_client, db, sample):
    many_todos(db, sample, 23)
    seen, _last = backwards(editor_client)
    assert seen == every_id(editor_client)
    assert len(seen) == 25 == len(set(seen))


def test_the_end_follows_the_sort_and_the_search(editor_client, db, sample):
    many_todos(db, sample, 12)
    config = grid_config(editor_client)
    index = next(c["sortIndex"] for c in config["columns"] if c["key"] == "description")
    for desc in ({}, {"desc": 1}):
        seen, _last = backwards(editor_client, sort=index, **desc)
        assert seen == every_id(editor_client, sort=index, **desc)
    last = rows(editor_client, sort=index, desc=1, limit=3, last=1)
    assert [r["values"]["description"] for r in last["rows"]] == [
        "Task 001", "Buy milk", "Buy eggs"]
    found = rows(editor_client, search="Task 01", last=1, limit=2)
    assert [r["values"]["description"] for r in found["rows"]] == ["Task 011", "Task 012"]
    assert found["count"]["value"] == 4  # Task 001 and 010-012: both words match


def test_a_nullable_sort_column_walks_back_through_its_empty_cells(editor_client, db, sample):
    many_todos(db, sample, 14)
    config = grid_config(editor_client)
    nullable = [c for c in config["columns"] if c["sortable"] and c["nullable"]]
    assert nullable, "no nullable sortable column among the to-dos' columns"
    for col in nullable:
        for desc in ({}, {"desc": 1}):
            seen, _last = backwards(editor_client, sort=col["sortIndex"], **desc)
            assert seen == every_id(editor_client, sort=col["sortIndex"], **desc), col["key"]


def test_a_short_list_has_its_whole_ordering_in_the_last_page(editor_client, sample):
    last = rows(editor_client, last=1)
    assert last["prev"] is None
    assert len(last["rows"]) == last["count"]["value"] == 2


def test_a_damaged_before_cursor_or_mixed_positions_are_a_400(editor_client, sample):
    first = rows(editor_client, limit=1)
    assert editor_client.get("/admin/todo/grid/rows?before=%%%").status_code == 400
    assert editor_client.get("/admin/todo/grid/rows?before=bm90LWpzb24").status_code == 400
    assert editor_client.get("/admin/todo/grid/rows?last=yes").status_code == 400
    mixed = editor_client.get(f"/admin/todo/grid/rows?last=1&after={first['next']}")
    assert mixed.status_code == 400
    assert "one of" in mixed.get_json()["error"]


def test_viewers_may_jump_to_the_end_too(viewer_client, sample):
    assert len(rows(viewer_client, last=1)["rows"]) == 2


def test_the_first_and_last_pages_carry_the_lists_matching_query(editor_client, db, sample):
    many_todos(db, sample, 3)
    assert rows(editor_client, search="Task", sort=1)["matching"] == "search=Task"
    assert rows(editor_client, search="Task", last=1)["matching"] == "search=Task"


def test_the_grid_offers_each_of_the_lists_actions_once(editor_client, viewer_client, sample):
    names = [a["name"] for a in grid_config(editor_client)["actions"]]
    assert names[0] == "delete" and len(names) == len(set(names))
    assert "set:completed" in names
    assert grid_config(viewer_client)["actions"] == []
    assert set(grid_config(viewer_client)["exportUrls"]) == {"csv", "jsonl", "xlsx"}
    page = editor_client.get("/admin/todo/").get_data(as_text=True)
    assert page.count('data-console-action="delete"') == 1
