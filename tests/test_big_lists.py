"""Big-table list views: indexed sorts, keyset pages, honest counts, paged inline children."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from console.demo.models import Person, Priority, Todo, TodoList
from console.extensions import db as _db
from console.paging import Cursor, RowCount, _round_estimate
from tests.conftest import post_form

ROW_ID = re.compile(r'href="/admin/todo/details/\?id=(\d+)&amp;')


def link(page: str, rel: str) -> str | None:
    """The href of the pager link with ``rel`` when it is enabled."""
    match = re.search(
        rf'<li class="page-item( disabled)?"><a class="page-link" rel="{rel}" href="([^"]*)"', page
    )
    if not match or match.group(1):
        return None
    return html.unescape(match.group(2))


def row_ids(page: str) -> list[int]:
    """The ids of the rows shown, in order."""
    return [int(i) for i in ROW_ID.findall(page)]


@pytest.fixture
def many(db: Any) -> dict[str, Any]:
    """73 to-dos on one list with repeated values and NULL due dates, to page through."""
    ann = Person(name="Ann", email="ann@example.com")
    home = TodoList(name="Home", owner=ann)
    db.session.add_all([ann, home])
    db.session.flush()
    start = date(2026, 1, 1)
    rows = [
        {
            "description": f"task {i % 9}",
            "completed": i % 3 == 0,
            "due_date": None if i % 4 == 0 else start + timedelta(days=i % 5),
            "priority": list(Priority)[i % 3],
            "list_id": home.id,
        }
        for i in range(73)
    ]
    db.session.execute(sa.insert(Todo), rows)
    db.session.commit()
    return {"list": home.id, "ids": sorted(db.session.scalars(sa.select(Todo.id)))}


def walk(client: Any, url: str, rel: str) -> list[int]:
    """Follow ``rel`` links from ``url`` and collect every row id seen, in order."""
    seen: list[int] = []
    for _ in range(50):
        response = client.get(url)
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        ids = row_ids(page)
        seen.extend(ids if rel == "next" else reversed(ids))
        url = link(page, rel)
        if url is None:
            return seen
    raise AssertionError("the pager did not end")


def expected_order(key: str | None, desc: bool, dialect: str) -> list[int]:
    """The order the database gives for (key, id), NULLs where the dialect puts them."""
    todos = list(_db.session.scalars(sa.select(Todo)))
    nulls_high = dialect == "postgresql"

    def sort_key(todo: Todo) -> tuple:
        value = getattr(todo, key) if key else todo.id
        if isinstance(value, Priority):
            value = value.value
        null = value is None
        return ((null if nulls_high else not null), value if not null else 0, todo.id)

    ordered = sorted(todos, key=sort_key)
    return [t.id for t in (reversed(ordered) if desc else ordered)]


SORTS = [
    (None, None),
    ("id", 0),
    ("description", 1),
    ("completed", 2),
    ("due_date", 3),
    ("priority", 4),
]


@pytest.mark.parametrize("key,column", SORTS)
@pytest.mark.parametrize("desc", [False, True])
def test_next_links_walk_every_row_once_in_order(app, viewer_client, many, key, column, desc):
    url = "/admin/todo/?page_size=20"
    if column is not None:
        url += f"&sort={column}" + ("&desc=1" if desc else "")
    seen = walk(viewer_client, url, "next")
    dialect = _db.engine.dialect.name
    assert seen == expected_order(key, desc and column is not None, dialect)


@pytest.mark.parametrize("key,column", [(None, None), ("due_date", 3), ("priority", 4)])
def test_previous_links_from_the_last_page_walk_every_row_once(
    app, viewer_client, many, key, column
):
    url = "/admin/todo/?page_size=20&page=-1" + (f"&sort={column}" if column else "")
    seen = walk(viewer_client, url, "prev")
    assert seen == list(reversed(expected_order(key, False, _db.engine.dialect.name)))


def test_cursor_pages_keep_filters_and_search(viewer_client, many):
    url = "/admin/todo/?page_size=5&flt0_completed_equals=1&search=task"
    seen = walk(viewer_client, url, "next")
    expected = [
        t.id for t in _db.session.scalars(sa.select(Todo).where(Todo.completed).order_by(Todo.id))
    ]
    assert seen == expected


def test_last_page_and_counts_are_shown(viewer_client, many):
    page = viewer_client.get("/admin/todo/?page_size=20&page=-1").get_data(as_text=True)
    assert row_ids(page) == many["ids"][-20:]
    assert "73 records" in page
    assert "Last page" in page or "Page 4 of 4" in page


def test_numbered_pages_use_offsets_on_small_tables(viewer_client, many):
    page = viewer_client.get("/admin/todo/?page_size=20&page=2").get_data(as_text=True)
    assert row_ids(page) == many["ids"][40:60]
    assert "Page 3 of 4" in page


def test_tampered_cursor_falls_back_to_the_page(viewer_client, many):
    response = viewer_client.get("/admin/todo/?page_size=20&after=not-a-cursor")
    assert response.status_code == 200
    assert row_ids(response.get_data(as_text=True)) == many["ids"][:20]


def test_sort_links_drop_the_cursor(viewer_client, many):
    first = viewer_client.get("/admin/todo/?page_size=20").get_data(as_text=True)
    second = viewer_client.get(link(first, "next")).get_data(as_text=True)
    sort_links = re.findall(r'href="([^"]*sort=[^"]*)"', second)
    assert sort_links
    assert not any("after=" in html.unescape(h) for h in sort_links)


def test_only_indexed_columns_are_sortable(viewer_client, many):
    page = viewer_client.get("/admin/todo/").get_data(as_text=True)
    titles = set(re.findall(r'title="Sort by ([^"]+)"', page))
    assert titles == {"ID", "Description", "Completed", "Due date", "Priority"}


def test_search_still_finds_rows(viewer_client, many):
    page = viewer_client.get("/admin/todo/?search=task+3").get_data(as_text=True)
    ids = row_ids(page)
    assert ids and len(ids) == len([i for i in range(73) if i % 9 == 3])


def test_count_labels_say_how_sure_they_are():
    assert RowCount(1234).label == "1,234"
    assert RowCount(1_000_000, exact=False).label == "about 1,000,000"
    assert RowCount(10_000, exact=False, at_least=True).label == "more than 10,000"
    assert _round_estimate(999_873.0) == 1_000_000
    assert RowCount(101, exact=True).pages(50) == 3


def test_cursor_tokens_round_trip():
    token = Cursor(date(2026, 1, 2), 7).encode()
    assert Cursor.decode(token, Todo.__table__.c.due_date) == Cursor(date(2026, 1, 2), 7)
    assert (
        Cursor.decode(Cursor(Priority.high, 3).encode(), Todo.__table__.c.priority).value
        is Priority.high
    )
    assert Cursor.decode(token, Todo.__table__.c.completed) is None
    assert Cursor.decode("%%%", Todo.__table__.c.due_date) is None


@pytest.mark.postgres_only
def test_big_tables_show_the_count_the_database_keeps(app, viewer_client, many, monkeypatch):
    from console.admin import list_page

    monkeypatch.setattr(list_page, "ESTIMATE_FROM", 10)
    with _db.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE todo")
    page = viewer_client.get("/admin/todo/").get_data(as_text=True)
    assert re.search(r"\b73 records", page)
    assert not re.search(r"about [\d,]+ records", page)


@pytest.mark.postgres_only
def test_big_tables_without_a_kept_count_show_an_estimate(app, viewer_client, many, monkeypatch):
    from console import paging
    from console.admin import list_page

    # A database migrated before 0004 keeps no count.
    monkeypatch.setattr(paging, "exact_table_count", lambda session, table_name: None)
    monkeypatch.setattr(list_page, "ESTIMATE_FROM", 10)
    monkeypatch.setattr(list_page, "COUNT_CAP", 5)
    with _db.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE todo")
    page = viewer_client.get("/admin/todo/").get_data(as_text=True)
    assert re.search(r"about [\d,]+ records", page)
    # page_size=20: a page that reached the end would know the exact count (count_seen).
    page = viewer_client.get("/admin/todo/?flt0_completed_equals=0&page_size=20").get_data(
        as_text=True
    )
    assert re.search(r"(about|more than) [\d,]+ records", page)


# -- in-place toggle -------------------------------------------------------------------------


def toggle(client: Any, todo: int, version: int, value: str, json: bool = True) -> Any:
    """POST the toggle form the list renders."""
    from tests.conftest import csrf_token

    token = csrf_token(client, "/admin/todo/")
    headers = {"Accept": "application/json"} if json else {}
    return client.post(
        f"/admin/todo/toggle/{todo}/completed",
        data={"csrf_token": token, "version": version, "value": value, "url": "/admin/todo/"},
        headers=headers,
    )


def test_editor_toggles_completion_in_place(editor_client, sample):
    response = toggle(editor_client, sample["milk"], 1, "1")
    assert response.status_code == 200
    assert response.get_json() == {"ok": True, "error": None, "value": True, "version": "2"}
    assert _db.session.get(Todo, sample["milk"]).completed is True


def test_stale_version_is_refused_and_nothing_changes(editor_client, sample):
    todo = _db.session.get(Todo, sample["milk"])
    todo.description = "Buy oat milk"
    _db.session.commit()
    response = toggle(editor_client, sample["milk"], 1, "1")
    assert response.status_code == 409
    assert "changed this record" in response.get_json()["error"]
    _db.session.expire_all()
    assert _db.session.get(Todo, sample["milk"]).completed is False


def test_toggle_without_javascript_redirects_back(editor_client, sample):
    response = toggle(editor_client, sample["milk"], 1, "1", json=False)
    assert response.status_code == 302
    assert response.location.endswith("/admin/todo/")
    _db.session.expire_all()
    assert _db.session.get(Todo, sample["milk"]).completed is True


def test_viewer_cannot_toggle_and_sees_no_toggle(viewer_client, sample):
    assert "console-toggle" not in viewer_client.get("/admin/todo/").get_data(as_text=True)
    assert toggle(viewer_client, sample["milk"], 1, "1").status_code == 403


def test_toggle_needs_csrf(editor_client, sample):
    response = editor_client.post(
        f"/admin/todo/toggle/{sample['milk']}/completed", data={"version": 1, "value": "1"}
    )
    assert response.status_code == 400
    assert _db.session.get(Todo, sample["milk"]).completed is False


def test_only_declared_columns_toggle(editor_client, sample):
    from tests.conftest import csrf_token

    token = csrf_token(editor_client, "/admin/todo/")
    response = editor_client.post(
        "/admin/account/toggle/1/active",
        data={"csrf_token": token, "version": 1, "value": "0"},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 403
    response = editor_client.post(
        f"/admin/todo/toggle/{sample['milk']}/description",
        data={"csrf_token": token, "version": 1, "value": "0"},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 404


# -- children paged in the parent's forms -----------------------------------------------------


@pytest.fixture
def big_list(db: Any) -> dict[str, Any]:
    """A list with 120 to-dos."""
    ann = Person(name="Ann", email="ann@example.com")
    home = TodoList(name="Home", owner=ann)
    db.session.add_all([ann, home])
    db.session.flush()
    db.session.execute(
        sa.insert(Todo), [{"description": f"job {i}", "list_id": home.id} for i in range(120)]
    )
    db.session.commit()
    ids = sorted(db.session.scalars(sa.select(Todo.id)))
    return {"list": home.id, "ids": ids, "owner": ann.id}


INLINE_ID = re.compile(
    r'name="todos-(\d+)-id"[^>]*value="(\d+)"|value="(\d+)"[^>]*name="todos-(\d+)-id"'
)


def inline_ids(page: str) -> list[int]:
    """The ids of the to-dos the edit form carries."""
    return [int(m[1] or m[2]) for m in INLINE_ID.findall(page)]


def test_edit_form_shows_one_page_of_children_with_links(editor_client, big_list):
    url = f"/admin/todolist/edit/?id={big_list['list']}"
    page = editor_client.get(url).get_data(as_text=True)
    assert inline_ids(page) == big_list["ids"][:20]
    assert "This form shows 20 of 120 to-dos" in page
    next_url = html.unescape(
        re.search(r'href="([^"]*todos_after=\d+[^"]*)" rel="next"', page).group(1)
    )
    second = editor_client.get(next_url).get_data(as_text=True)
    assert inline_ids(second) == big_list["ids"][20:40]


def test_saving_a_page_changes_only_that_page(editor_client, big_list):
    url = f"/admin/todolist/edit/?id={big_list['list']}&todos_after={big_list['ids'][49]}"
    page = editor_client.get(url).get_data(as_text=True)
    ids = inline_ids(page)
    data: dict[str, Any] = {"name": "Home", "owner": str(big_list["owner"])}
    for n, todo_id in enumerate(ids):
        data[f"todos-{n}-id"] = str(todo_id)
        data[f"todos-{n}-description"] = (
            _db.session.get(Todo, todo_id).description if n else "renamed"
        )
        data[f"todos-{n}-priority"] = "normal"
    n = len(ids)
    data[f"todos-{n}-description"] = "brand new"
    data[f"todos-{n}-priority"] = "high"
    response = post_form(editor_client, url, data)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    _db.session.expire_all()
    assert _db.session.get(Todo, ids[0]).description == "renamed"
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(Todo)) == 121
    assert (
        _db.session.scalar(sa.select(Todo.list_id).where(Todo.description == "brand new"))
        == big_list["list"]
    )
    # Rows outside the page were left alone.
    assert _db.session.get(Todo, big_list["ids"][0]).description == "job 0"


def test_details_page_previews_children(viewer_client, big_list):
    page = viewer_client.get(f"/admin/todolist/details/?id={big_list['list']}").get_data(
        as_text=True
    )
    assert "Showing 10 of 120" in page


def test_a_cursor_past_the_end_shows_an_empty_page_with_a_way_back(viewer_client, many):
    token = Cursor(10_000, 10_000).encode()
    page = viewer_client.get(f"/admin/todo/?page=3&after={token}").get_data(as_text=True)
    assert row_ids(page) == []
    assert link(page, "first") is not None
    assert link(page, "next") is None
