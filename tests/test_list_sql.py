"""Searched pages and counts at scale: every plan gives exactly the rows of the plain query.

A text search's page is found by probing a bounded stretch of the sort order first and
asking for every match after (``paging._probed_rows``); counts trust a large planner
estimate and are corrected by what a page sees (``paging.count_seen``). The probe is
made tiny here so that both of its outcomes, and the pieces of a nullable ordering,
are exercised on a small table, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from console import paging
from console.demo.models import Person, Priority, Todo, TodoList
from console.extensions import db as _db
from console.paging import RowCount, count_seen
from tests.test_big_lists import row_ids, walk

ROWS = 157


@pytest.fixture
def varied(db: Any) -> dict[str, Any]:
    """157 to-dos: "alpha" common early and absent late, "omega" only in a late cluster."""
    ann = Person(name="Ann", email="ann@example.com")
    home = TodoList(name="Home", owner=ann)
    db.session.add_all([ann, home])
    db.session.flush()
    start = date(2026, 1, 1)

    def word(i: int) -> str:
        if i >= 140:
            return "omega"
        return "alpha" if i % 3 else "beta"

    rows = [
        {
            "description": f"{word(i)} item {i % 11}",
            "completed": i % 4 == 0,
            "due_date": None if i % 5 == 0 else start + timedelta(days=i % 7),
            "priority": list(Priority)[i % 3],
            "list_id": home.id,
        }
        for i in range(ROWS)
    ]
    db.session.execute(sa.insert(Todo), rows)
    db.session.commit()
    return {"list": home.id}


COLUMNS = ["id", "description", "completed", "due_date", "priority"]
SEARCHES = [
    ("alpha", []),
    ("omega", []),
    ("item 1", []),
    ("alpha", [Todo.completed.is_(True)]),
    ("nothing-matches", []),
]


def searched(term: str, extra: list[Any]) -> sa.Select:
    return sa.select(Todo).where(sa.cast(Todo.description, sa.String).ilike(f"%{term}%"), *extra)


def plain_ids(stmt: sa.Select, column: Any, descending: bool) -> list[int]:
    """Every id of ``stmt`` in the (column, id) ordering, by the plain ORDER BY."""
    order = paging._order_by([Todo.id] if column is Todo.id else [column, Todo.id], descending)
    return list(_db.session.scalars(stmt.with_only_columns(Todo.id).order_by(*order)))


@pytest.mark.parametrize("name", COLUMNS)
@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("term,extra", SEARCHES)
@pytest.mark.parametrize("probe", [0, 4, 1000])
def test_searched_pages_equal_the_plain_offset_query(varied, name, descending, term, extra, probe):
    column = getattr(Todo, name)
    stmt = searched(term, extra)
    expected = plain_ids(stmt, column, descending)
    size = 7
    # Pages near both ends and in the middle, and one past the end.
    offsets = sorted({0, size, 3 * size, max(0, len(expected) - size - 1), len(expected) + 2})
    for offset in offsets:
        rows = paging.offset_rows(
            _db.session,
            stmt,
            column,
            Todo.id,
            descending=descending,
            offset=offset,
            limit=size,
            probe=probe,
        )
        assert [r.id for r in rows] == expected[offset : offset + size], (offset, probe)


@pytest.mark.parametrize("name", COLUMNS)
@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("term,extra", SEARCHES)
@pytest.mark.parametrize("probe", [0, 5])
def test_searched_keyset_pages_walk_every_match_once(varied, name, descending, term, extra, probe):
    column = getattr(Todo, name)
    stmt = searched(term, extra)
    expected = plain_ids(stmt, column, descending)
    seen: list[int] = []
    after = None
    for _ in range(100):
        rows = paging.keyset_rows(
            _db.session,
            stmt,
            column,
            Todo.id,
            descending=descending,
            after=after,
            limit=6,
            probe=probe,
        )
        seen += [r.id for r in rows]
        if len(rows) < 6:
            break
        after = paging.cursor_of(rows[-1], name if name != "id" else None)
    assert seen == expected


def test_a_window_without_enough_matches_falls_back_to_every_match(varied, monkeypatch):
    """The probe finds too few "omega" rows early on; the fallback still gives the first ones."""
    calls: list[str] = []
    real = paging._matching_rows

    def spy(*args: Any, **kwargs: Any) -> list[Any]:
        calls.append("matching")
        return real(*args, **kwargs)

    monkeypatch.setattr(paging, "_matching_rows", spy)
    stmt = searched("omega", [])
    rows = paging.offset_rows(
        _db.session, stmt, Todo.id, Todo.id, descending=False, offset=0, limit=5, probe=20
    )
    assert [r.id for r in rows] == plain_ids(stmt, Todo.id, False)[:5]
    assert calls == ["matching"]
    calls.clear()
    stmt = searched("alpha", [])
    rows = paging.offset_rows(
        _db.session, stmt, Todo.id, Todo.id, descending=False, offset=0, limit=5, probe=20
    )
    assert [r.id for r in rows] == plain_ids(stmt, Todo.id, False)[:5]
    assert calls == [], "a common word's page comes from the probe alone"


def test_count_seen_corrects_estimates_and_keeps_exact_counts():
    about = RowCount(60_600, exact=False)
    assert count_seen(RowCount(12), 0, 12, False) == RowCount(12)
    # A page that reaches the end at a known offset knows the count.
    assert count_seen(about, 0, 7, False) == RowCount(7)
    assert count_seen(about, 100, 3, False) == RowCount(103)
    assert count_seen(about, 0, 0, False) == RowCount(0)
    # Past the end: only "at most offset" is known; the estimate stays.
    assert count_seen(about, 100, 0, False) == about
    # More rows than the estimate: say so.
    assert count_seen(RowCount(40, exact=False), 30, 20, True).label == "more than 50"
    assert count_seen(about, 50, 50, True) == about
    # A cursor page does not know its offset.
    assert count_seen(about, None, 3, False) == about


@pytest.mark.postgres_only
def test_a_large_planner_estimate_is_shown_without_counting(app, varied, monkeypatch):
    statements: list[str] = []

    def log(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    stmt = searched("alpha", [])
    # The planner's world: a table big enough for its estimate to be asked for.
    monkeypatch.setattr(paging, "_table_size", lambda session, name: float("inf"))
    monkeypatch.setattr(paging, "planner_estimate", lambda session, s: 31)
    sa.event.listen(_db.engine, "before_cursor_execute", log)
    try:
        count = paging.count_rows(
            _db.session, stmt, Todo.id, table_name="todo", filtered=True, cap=10
        )
        assert count == RowCount(31, exact=False)
        assert not any("count(" in s for s in statements)
        # Below three times the cap the count is exact, or "more than" / the estimate.
        monkeypatch.setattr(paging, "planner_estimate", lambda session, s: 29)
        # (A new planner: what the old one said of this statement is forgotten.)
        paging._ESTIMATES.clear()
        count = paging.count_rows(
            _db.session, stmt, Todo.id, table_name="todo", filtered=True, cap=10
        )
        assert count == RowCount(29, exact=False)
        assert any("count(" in s for s in statements)
        count = paging.count_rows(
            _db.session, stmt, Todo.id, table_name="todo", filtered=True, cap=1000
        )
        expected = len(plain_ids(stmt, Todo.id, False))
        assert count == RowCount(expected)
    finally:
        sa.event.remove(_db.engine, "before_cursor_execute", log)


@pytest.mark.postgres_only
def test_a_small_table_is_counted_without_asking_the_planner(app, varied):
    """Fewer rows in the table than an estimate is trusted from: no EXPLAIN, an exact count."""
    statements: list[str] = []

    def log(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    _db.session.execute(sa.text("ANALYZE todo"))
    paging._SIZES.clear()
    stmt = searched("alpha", [])
    sa.event.listen(_db.engine, "before_cursor_execute", log)
    try:
        count = paging.count_rows(
            _db.session, stmt, Todo.id, table_name="todo", filtered=True, cap=1000
        )
        assert count == RowCount(len(plain_ids(stmt, Todo.id, False)))
        assert not any(s.startswith("EXPLAIN") for s in statements)
        # A table as big as three caps: the planner is asked first.
        statements.clear()
        paging.count_rows(_db.session, stmt, Todo.id, table_name="todo", filtered=True, cap=10)
        assert any(s.startswith("EXPLAIN") for s in statements)
    finally:
        sa.event.remove(_db.engine, "before_cursor_execute", log)
        paging._SIZES.clear()


@pytest.mark.postgres_only
def test_a_wrong_estimate_is_corrected_by_the_page(app, viewer_client, varied, monkeypatch):
    """The planner promises a million "omega" rows; the page shows all 17, and says 17."""
    monkeypatch.setattr(paging, "_table_size", lambda session, name: float("inf"))
    monkeypatch.setattr(paging, "planner_estimate", lambda session, s: 1_000_000)
    page = viewer_client.get("/admin/todo/?search=omega&page_size=20").get_data(as_text=True)
    assert len(row_ids(page)) == ROWS - 140
    assert f"{ROWS - 140} records" in page
    page = viewer_client.get("/admin/todo/?search=alpha&page_size=20").get_data(as_text=True)
    assert "about 1,000,000 records" in page
    # The last page, read backwards, reaches the first row: the count is known too.
    page = viewer_client.get("/admin/todo/?search=omega&page_size=20&page=-1").get_data(
        as_text=True
    )
    assert re.search(r"(about |more than )?[\d,]+ records", page).group(0) == "17 records"


def view_order(term: str, name: str | None, descending: bool) -> list[int]:
    column = getattr(Todo, name) if name else Todo.id
    return plain_ids(searched(term, []), column, descending and name is not None)


@pytest.mark.parametrize("term", ["alpha", "omega", "item 1"])
@pytest.mark.parametrize("sort,name", [(None, None), (1, "description"), (3, "due_date")])
@pytest.mark.parametrize("desc", [False, True])
def test_search_pages_in_the_view_show_exactly_the_ordering(
    app, viewer_client, varied, monkeypatch, term, sort, name, desc
):
    from console.admin import list_page

    # A probe shorter than the table: the view goes through both of its outcomes.
    monkeypatch.setattr(list_page, "SEARCH_PROBE", 30)
    # Estimated counts, as on a big table: the probe is used on PostgreSQL.
    monkeypatch.setattr(list_page, "COUNT_CAP", 2)
    url = f"/admin/todo/?page_size=20&search={term.replace(' ', '+')}"
    if sort is not None:
        url += f"&sort={sort}" + ("&desc=1" if desc else "")
    expected = view_order(term, name, desc)
    assert walk(viewer_client, url, "next") == expected
    for page_no in (0, 1, 2, (len(expected) - 1) // 20):
        page = viewer_client.get(f"{url}&page={page_no}").get_data(as_text=True)
        assert row_ids(page) == expected[page_no * 20 : page_no * 20 + 20], page_no
    page = viewer_client.get(f"{url}&page=-1").get_data(as_text=True)
    assert row_ids(page) == expected[-20:]


# -- a search's exact count brings its matching keys ----------------------------------------


def matched(term: str, extra: list[Any], cap: int = 1000) -> RowCount:
    """``count_rows`` of a search as the list view asks for it (``keep_matches``)."""
    return paging.count_rows(
        _db.session,
        searched(term, extra),
        Todo.id,
        table_name="todo",
        filtered=True,
        cap=cap,
        keep_matches=True,
    )


@pytest.mark.postgres_only
@pytest.mark.parametrize("term,extra", SEARCHES)
def test_an_exact_search_count_brings_exactly_the_matching_keys(app, varied, term, extra):
    count = matched(term, extra)
    expected = plain_ids(searched(term, extra), Todo.id, False)
    assert count == RowCount(len(expected))
    assert count.matches is not None
    assert sorted(count.matches) == expected


@pytest.mark.postgres_only
def test_a_search_past_the_cap_keeps_no_keys_and_says_more_than(app, varied, monkeypatch):
    monkeypatch.setattr(paging, "planner_estimate", lambda session, s: 3)
    count = matched("alpha", [], cap=10)
    assert count.label == "more than 10"
    assert count.matches is None


@pytest.mark.postgres_only
@pytest.mark.parametrize("name", COLUMNS)
@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("term,extra", SEARCHES)
def test_pages_among_the_matches_equal_the_plain_offset_query(
    app, varied, monkeypatch, name, descending, term, extra
):
    column = getattr(Todo, name)
    stmt = searched(term, extra)
    expected = plain_ids(stmt, column, descending)
    matches = matched(term, extra).matches
    size = 7
    offsets = sorted({0, size, 3 * size, max(0, len(expected) - size - 1), len(expected) + 2})
    # 3: orderings by another column than id fall back to matching again.
    for array_max in (1000, 3):
        monkeypatch.setattr(paging, "ARRAY_ORDER_MAX", array_max)
        for offset in offsets:
            rows = paging.offset_rows(
                _db.session,
                stmt,
                column,
                Todo.id,
                descending=descending,
                offset=offset,
                limit=size,
                matches=matches,
            )
            assert [r.id for r in rows] == expected[offset : offset + size], (offset, array_max)
        seen: list[int] = []
        after = None
        for _ in range(100):
            rows = paging.keyset_rows(
                _db.session,
                stmt,
                column,
                Todo.id,
                descending=descending,
                after=after,
                limit=6,
                matches=matches,
            )
            seen += [r.id for r in rows]
            if len(rows) < 6:
                break
            after = paging.cursor_of(rows[-1], name if name != "id" else None)
        assert seen == expected, array_max


def search_statements(statements: list[str]) -> list[str]:
    """The statements that matched the search over the table (not the plan, not by id).

    A statement that loads rows by a list of ids (``todo.id IN (%(id_1_1)s, ...)``) only
    rechecks the search on those rows; one whose ids come from a subquery (the count
    with its first page) matches it.
    """
    return [
        s
        for s in statements
        if "ILIKE" in s.upper()
        and not s.startswith("EXPLAIN")
        and ("todo.id IN" not in s or "todo.id IN (SELECT" in s)
    ]


@pytest.mark.postgres_only
@pytest.mark.parametrize("term", ["omega", "item 1", "nothing-matches"])
@pytest.mark.parametrize("sort", [None, 1, 3])
def test_a_searched_page_with_an_exact_count_matches_the_search_once(
    app, viewer_client, varied, term, sort
):
    """Count and page from one match of the search; the page is exactly the ordering's."""
    statements: list[str] = []

    def log(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    url = f"/admin/todo/?page_size=20&search={term.replace(' ', '+')}"
    if sort is not None:
        url += f"&sort={sort}"
    sa.event.listen(_db.engine, "before_cursor_execute", log)
    try:
        page = viewer_client.get(url).get_data(as_text=True)
    finally:
        sa.event.remove(_db.engine, "before_cursor_execute", log)
    name = {None: None, 1: "description", 3: "due_date"}[sort]
    expected = view_order(term, name, False)
    assert row_ids(page) == expected[:20]
    assert f"{len(expected)} records" in page
    assert len(search_statements(statements)) == 1, search_statements(statements)


@pytest.mark.postgres_only
@pytest.mark.parametrize("term", ["alpha", "omega", "item 1"])
@pytest.mark.parametrize("sort,name", [(None, None), (1, "description"), (3, "due_date")])
def test_search_pages_with_exact_counts_show_exactly_the_ordering(
    app, viewer_client, varied, term, sort, name
):
    """As the estimated-count test above, with the counts exact: pages among the matches."""
    for desc in (False, True):
        url = f"/admin/todo/?page_size=20&search={term.replace(' ', '+')}"
        if sort is not None:
            url += f"&sort={sort}" + ("&desc=1" if desc else "")
        expected = view_order(term, name, desc)
        assert walk(viewer_client, url, "next") == expected
        for page_no in (0, 1, 2, (len(expected) - 1) // 20):
            page = viewer_client.get(f"{url}&page={page_no}").get_data(as_text=True)
            assert row_ids(page) == expected[page_no * 20 : page_no * 20 + 20], page_no
        page = viewer_client.get(f"{url}&page=-1").get_data(as_text=True)
        assert row_ids(page) == expected[-20:]
        assert walk(viewer_client, f"{url}&page=-1", "prev") == list(reversed(expected))


# -- a search's first page comes with its count ------------------------------------------


def first_page(term: str, extra: list[Any], descending: bool, cap: int = 1000,
               limit: int = 21) -> RowCount:
    """``count_rows`` of a search with its first page by id, as the list view asks for it."""
    stmt = searched(term, extra)
    return paging.count_rows(
        _db.session, stmt, Todo.id, table_name="todo", filtered=True, cap=cap,
        keep_matches=True, first_page=paging.FirstPage(stmt, limit, descending),
    )


@pytest.mark.postgres_only
@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("term,extra", SEARCHES)
def test_a_counted_first_page_is_the_plain_querys_first_page(app, varied, term, extra,
                                                             descending):
    count = first_page(term, extra, descending)
    expected = plain_ids(searched(term, extra), Todo.id, descending)
    assert count == RowCount(len(expected))
    assert count.rows is not None
    assert [t.id for t in count.rows] == expected[:21]


@pytest.mark.postgres_only
def test_a_first_page_past_the_cap_is_not_kept_and_the_count_says_more_than(
    app, varied, monkeypatch
):
    monkeypatch.setattr(paging, "planner_estimate", lambda session, s: 3)
    count = first_page("alpha", [], False, cap=10)
    assert count.label == "more than 10"
    assert count.rows is None


@pytest.mark.postgres_only
def test_a_searched_first_page_costs_one_statement_for_count_and_rows(
    app, viewer_client, varied
):
    """Count and rows of a search's first page in one statement; every other page as before."""
    statements: list[str] = []

    def log(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "FROM todo" in statement:
            statements.append(statement)

    expected = plain_ids(searched("omega", []), Todo.id, False)
    # Analysed, so that the table's size is known (small: the planner is not asked).
    _db.session.execute(sa.text("ANALYZE todo"))
    _db.session.commit()
    paging._SIZES.clear()
    sa.event.listen(_db.engine, "before_cursor_execute", log)
    try:
        page = viewer_client.get("/admin/todo/?search=omega").get_data(as_text=True)
    finally:
        sa.event.remove(_db.engine, "before_cursor_execute", log)
    assert row_ids(page) == expected
    assert f"{len(expected)} records" in page
    assert len(statements) == 1, statements
    # Descending, the next pages and other sorts are unchanged by it.
    url = "/admin/todo/?page_size=20&search=alpha"
    assert walk(viewer_client, url, "next") == plain_ids(searched("alpha", []), Todo.id, False)
    page = viewer_client.get(url + "&sort=0&desc=1").get_data(as_text=True)
    assert row_ids(page) == plain_ids(searched("alpha", []), Todo.id, True)[:20]


@pytest.mark.postgres_only
def test_the_planners_estimate_of_a_search_is_asked_once_for_a_while(app, varied, monkeypatch):
    """Its next page or a second user within SIZE_TTL: no second EXPLAIN; another term asks."""
    asked: list[str] = []

    def estimate(session: Any, stmt: Any) -> int:
        asked.append(str(stmt.compile(compile_kwargs={"literal_binds": True})))
        return 5

    monkeypatch.setattr(paging, "_table_size", lambda session, name: float("inf"))
    monkeypatch.setattr(paging, "planner_estimate", estimate)
    for term in ("alpha", "alpha", "omega", "alpha"):
        count = paging.count_rows(
            _db.session, searched(term, []), Todo.id, table_name="todo", filtered=True,
            cap=1000,
        )
        assert count == RowCount(len(plain_ids(searched(term, []), Todo.id, False)))
    assert len(asked) == 2
    assert "%alpha%" in asked[0] and "%omega%" in asked[1]
    # Past SIZE_TTL it is asked again.
    monkeypatch.setattr(paging, "SIZE_TTL", 0.0)
    paging.count_rows(
        _db.session, searched("alpha", []), Todo.id, table_name="todo", filtered=True, cap=1000
    )
    assert len(asked) == 3
