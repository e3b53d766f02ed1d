"""The dashboard: counts, a 30-day chart, overdue to-dos, biggest lists, recent changes."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import current_app

from console import dashboard
from console.audit import record
from console.demo.models import Person, Todo, TodoList
from console.models import AuditEntry


@pytest.fixture
def activity(db: Any) -> dict[str, Any]:
    """Two lists (3 and 1 to-dos), created over the last days, one overdue, one done today."""
    now = datetime.now(UTC)
    today = date.today()
    ann = Person(name="Ann", email="ann@example.com")
    big = TodoList(name="Big", owner=ann)
    small = TodoList(name="Small", owner=ann)
    db.session.add_all([ann, big, small])
    db.session.flush()
    rows = [
        {
            "description": "old",
            "list_id": big.id,
            "created_at": now - timedelta(days=40),
            "updated_at": now - timedelta(days=40),
        },
        {
            "description": "late <b>",
            "list_id": big.id,
            "due_date": today - timedelta(days=3),
            "created_at": now - timedelta(days=2),
            "updated_at": now - timedelta(days=2),
        },
        {
            "description": "done",
            "list_id": big.id,
            "completed": True,
            "due_date": today - timedelta(days=9),
            "created_at": now - timedelta(days=2),
            "updated_at": now,
        },
        {"description": "fresh", "list_id": small.id, "created_at": now, "updated_at": now},
    ]
    db.session.execute(sa.insert(Todo), rows)
    db.session.commit()
    return {"big": big.id, "small": small.id, "today": today}


def demo() -> Any:
    return current_app.extensions["console_catalogue"]


def test_the_demo_has_every_panel(app):
    catalogue = demo()
    assert dashboard.charted(catalogue).cls is Todo
    assert dashboard.with_due_dates(catalogue).cls is Todo
    assert [(e.parent, e.child) for e in dashboard.parent_pairs(catalogue)] == [
        (TodoList, Todo), (Person, TodoList)
    ]


def test_chart_counts_created_and_completed_per_day(db, activity):
    chart = dashboard.activity_chart(db.session, demo().describe(Todo), activity["today"])
    assert len(chart.days) == 30
    assert chart.days[-1].day == activity["today"]
    assert chart.total_created == 3  # the 40-day-old to-do is outside the window
    assert chart.total_completed == 1
    assert chart.days[-1].completed == 1
    tallest = max(chart.days, key=lambda d: d.created_height)
    assert tallest.created_height <= chart.height


def test_overdue_lists_open_past_due_todos_only(db, activity):
    overdue = dashboard.overdue(db.session, demo().describe(Todo), activity["today"])
    assert overdue.count.label == "1"
    assert [t.description for t in overdue.rows] == ["late <b>"]


def test_biggest_lists_come_first(db, activity):
    edge = next(e for e in demo().edges if e.name == "Todo.list_id")
    biggest = dashboard.biggest_parents(db.session, demo(), edge)
    assert biggest.exact is True
    assert [(lst.name, n) for lst, n in biggest.rows] == [("Big", 3), ("Small", 1)]


def test_dashboard_page_shows_every_panel(viewer_client, activity):
    page = viewer_client.get("/admin/").get_data(as_text=True)
    assert re.search(r"To-dos</div>\s*<div class=\"h4 mb-0\">\s*<a[^>]*>4</a>", page)
    assert "<svg" in page and page.count('class="bar-created"') == 30
    # Data is escaped in the page, never markup.
    assert "late &lt;b&gt;" in page and "late <b>" not in page
    assert "Big" in page
    recent = page[page.index('id="dashboard-recent"') :]
    # The data created for this test is listed; the viewer's own sign-in is not a change.
    assert "create" in recent and "login" not in recent


def test_recent_changes_say_so_when_there_are_none(viewer_client, db):
    db.session.execute(sa.delete(AuditEntry).where(AuditEntry.action.not_in(("login",))))
    db.session.commit()
    page = viewer_client.get("/admin/").get_data(as_text=True)
    assert "No changes recorded yet." in page


def test_recent_changes_come_from_the_audit_table(viewer_client, db, activity):
    record(
        db.session,
        "update",
        model="TodoList",
        object_id=activity["big"],
        changes={"before": {"name": "Big"}, "after": {"name": "Bigger"}},
    )
    db.session.commit()
    page = viewer_client.get("/admin/").get_data(as_text=True)
    assert "No changes recorded yet." not in page
    assert f"/admin/todolist/details/?id={activity['big']}" in page


def test_dashboard_needs_login(client):
    response = client.get("/admin/")
    assert response.status_code == 302 and "/login" in response.location


def _estimate_from_one_row(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every unfiltered count would be an estimate, if no exact count is kept."""
    from console import paging

    original = paging.count_rows

    def low_threshold(*args: Any, **kwargs: Any) -> Any:
        kwargs["estimate_from"] = 1
        return original(*args, **kwargs)

    monkeypatch.setattr(paging, "count_rows", low_threshold)


@pytest.mark.postgres_only
def test_big_tables_show_the_kept_count_on_the_dashboard(db, viewer_client, activity, monkeypatch):

    _estimate_from_one_row(monkeypatch)
    with db.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE todo")
    todos = db.session.scalar(sa.select(sa.func.count()).select_from(Todo))
    counts = {d.title: c.label for d, c in dashboard.model_counts(db.session, demo())}
    # Exact although ANALYZE knows the table and the threshold says "estimate".
    assert counts["To-dos"] == f"{todos:,}"
    assert viewer_client.get("/admin/").status_code == 200


@pytest.mark.postgres_only
def test_big_tables_are_estimated_on_the_dashboard(db, viewer_client, activity, monkeypatch):
    from console import paging

    # A database migrated before 0004 keeps no count.
    monkeypatch.setattr(paging, "exact_table_count", lambda session, table_name: None)
    _estimate_from_one_row(monkeypatch)
    with db.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE todo")
    page = viewer_client.get("/admin/").get_data(as_text=True)
    assert "about 4" in page


def test_recent_changes_show_each_role_only_what_it_may_see(viewer_client, admin_client, db,
                                                          activity):
    """Account changes and migration runs are the admin's audit log, not a viewer's."""
    record(db.session, "update", model="Account", object_id=1,
           changes={"before": {"role": "viewer"}, "after": {"role": "admin"}})
    record(db.session, "migration_upgrade", model="Migration", object_id="d0001",
           changes={"summary": {"to": "d0001"}})
    record(db.session, "update", model="TodoList", object_id=activity["big"],
           changes={"before": {"name": "Big"}, "after": {"name": "Bigger"}})
    db.session.commit()
    def recent(client: Any) -> str:
        page = client.get("/admin/").get_data(as_text=True)
        return page.split('id="dashboard-recent"', 1)[1]

    seen = recent(viewer_client)
    assert f"/admin/todolist/details/?id={activity['big']}" in seen
    assert "Account" not in seen and "Migration" not in seen
    everything = recent(admin_client)
    assert "Account" in everything and "Migration" in everything
