"""The feature pages in a real browser: delete preview, CSV import, the migrations page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from console import schema
from console.demo.models import Person, Todo, TodoList
from console.extensions import db as _db
from console.models import Role
from tests.browser.conftest import TIMEOUT_MS, LiveServer, log_in
from tests.conftest import count
from tests.schema_helpers import HEAD, console_app, copy_scripts, empty_database, noop, version

# A no-op revision on top of the console's own: a step the page may undo (its first
# revision, which drops the accounts, it never does).
STEP = "c9999_browser_step"
# An import runs in a background thread of the server; on a busy machine it may need
# longer than one page's wait, but never unboundedly long.
JOB_TIMEOUT_MS = 60_000
HEADER = "description,completed,due_date,priority,list,assignee\n"


def words(page: Any, selector: str) -> str:
    """The visible text of ``selector`` with runs of whitespace collapsed, as a reader sees it."""
    return re.sub(r"\s+", " ", page.inner_text(selector)).strip()


# --- Delete preview ---------------------------------------------------------------------


def test_delete_a_list_from_its_details_page_states_the_cascade(editor_page, sample):
    page = editor_page
    page.goto(f"/admin/todolist/details/?id={sample['groceries']}")
    page.click("#delete-record")
    page.wait_for_selector("#delete-confirm")
    headline = words(page, "#delete-headline")
    assert "'Groceries'" in headline
    assert "also deletes 2 to-dos" in headline
    cascade = words(page, ".delete-cascade")
    assert "Also deleted: 2 to-dos" in cascade
    assert "Buy milk" in cascade and "Buy eggs" in cascade
    # Nothing has gone yet: the page only previews.
    assert count(TodoList) == 1 and count(Todo) == 2

    page.click("#delete-form button[type=submit]")
    page.wait_for_selector(".alert-success")
    assert "Deleted" in words(page, ".alert-success")
    assert count(TodoList, TodoList.id == sample["groceries"]) == 0
    assert count(Todo) == 0
    # The people are untouched: only the list and its to-dos went.
    assert count(Person) == 2
    assert not page.js_errors


def test_delete_a_list_from_the_list_trash_icon(editor_page, sample):
    page = editor_page
    page.goto("/admin/todolist/")
    page.click(f"a[title='Delete record'][href*='id={sample['groceries']}']")
    page.wait_for_selector("#delete-form")
    assert "also deletes 2 to-dos" in words(page, "#delete-headline")
    page.click("#delete-form button[type=submit]")
    page.wait_for_selector(".alert-success")
    assert count(TodoList) == 0 and count(Todo) == 0


def test_deleting_a_person_who_owns_a_list_is_blocked(editor_page, sample):
    page = editor_page
    page.goto("/admin/person/")
    page.click(f"a[title='Delete record'][href*='id={sample['ann']}']")
    page.wait_for_selector("#delete-confirm")
    blocking = page.locator(".delete-blocking")
    assert blocking.count() == 1
    text = words(page, ".delete-blocking")
    assert "Cannot delete:" in text
    assert "1 to-do list" in text
    assert "Groceries" in text
    assert page.locator("#delete-form").count() == 0
    assert page.locator("#delete-confirm button[type=submit]").count() == 0
    assert "This delete cannot be confirmed." in words(page, "#delete-confirm")

    # The blocking rows can be opened in their own list, filtered to them.
    blocking.locator("a:has-text('Open them in the list')").click()
    page.wait_for_selector("table.model-list")
    assert "/admin/todolist/" in page.url
    assert "Groceries" in words(page, "table.model-list")
    assert count(Person, Person.id == sample["ann"]) == 1
    assert count(TodoList) == 1
    assert not page.js_errors


# --- CSV import -------------------------------------------------------------------------


def upload(page: Any, path: Path) -> None:
    """Open the To-dos import page from the list's menu, upload ``path``, wait for the dry run."""
    page.goto("/admin/todo/")
    page.click("#import-link")
    page.wait_for_selector("#import-form")
    page.set_input_files("#file", str(path))
    page.click("#import-form button[type=submit]")
    # The status page refreshes itself while the job runs; this wait survives the reloads.
    page.wait_for_selector(
        "#import-preview, #import-has-errors, #import-failed", timeout=JOB_TIMEOUT_MS
    )


def test_import_todos_through_upload_preview_and_confirm(editor_page, sample, tmp_path):
    page = editor_page
    path = tmp_path / "todos.csv"
    path.write_text(
        HEADER
        + "Paint fence,no,2025-06-01,low,Groceries,ann@example.com\n"
        + "Fix bike,yes,,high,Groceries,\n"
        + "Water plants,no,,,Groceries,bob@example.com\n"
    )
    upload(page, path)
    assert page.locator("#import-preview").is_visible()
    assert "nothing has been written yet" in words(page, "#import-preview")
    assert words(page, "#count-inserted") == "3"
    assert words(page, "#count-updated") == "0"
    assert words(page, "#count-errors") == "0"
    assert count(Todo) == 2  # a dry run writes nothing

    page.click("#import-confirm button[type=submit]")
    page.wait_for_selector("#import-done, #import-failed", timeout=JOB_TIMEOUT_MS)
    assert page.locator("#import-done").is_visible()
    assert words(page, "#count-inserted") == "3"
    assert page.locator("#import-confirm").count() == 0

    _db.session.expire_all()
    rows = _db.session.execute(
        sa.select(Todo.description, Todo.completed, Person.email)
        .outerjoin(Person, Todo.assignee_id == Person.id)
        .where(Todo.list_id == sample["groceries"])
        .order_by(Todo.description)
    ).all()
    assert [tuple(r) for r in rows] == [
        ("Buy eggs", True, None),
        ("Buy milk", False, "bob@example.com"),
        ("Fix bike", True, None),
        ("Paint fence", False, "ann@example.com"),
        ("Water plants", False, "bob@example.com"),
    ]
    assert not page.js_errors


def test_import_with_a_bad_row_shows_where_and_cannot_be_confirmed(
    editor_page, sample, tmp_path
):
    page = editor_page
    path = tmp_path / "broken.csv"
    path.write_text(
        HEADER
        + "Paint fence,no,,,Groceries,\n"
        + "Fix bike,maybe,,,Groceries,\n"
        + "Water plants,no,,,Groceries,\n"
    )
    upload(page, path)
    assert page.locator("#import-has-errors").is_visible()
    assert "1 error(s)" in words(page, "#import-has-errors")
    assert words(page, "#count-errors") == "1"
    cells = page.locator("#import-errors tbody tr").first.locator("td").all_inner_texts()
    # Line 3 of the file (the header is line 1), the column, and what is wrong with it.
    assert cells[:2] == ["3", "completed"]
    assert "maybe" in cells[2]
    assert page.locator("#import-errors tbody tr").count() == 1
    assert page.locator("#import-confirm").count() == 0
    assert count(Todo) == 2
    assert count(Todo, Todo.description == "Paint fence") == 0
    assert not page.js_errors


# --- Migrations page --------------------------------------------------------------------


def step_scripts(tmp_path: Path) -> Path:
    """The console's scripts with STEP on top, copied into ``tmp_path`` once."""
    target = tmp_path / "migrations"
    if not target.exists():
        assert copy_scripts(tmp_path, **{STEP: noop(STEP, HEAD)}) == target
    return target


@pytest.fixture(params=["sqlite", "postgresql"])
def own_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of this test's own at STEP, so the run's shared database stays untouched."""
    histories = [schema.console_history(step_scripts(tmp_path)), schema.demo_history()]
    with empty_database(request.param, tmp_path) as url:
        assert schema.initialise(url, histories).ok
        yield url


@contextmanager
def tab_on(browser: Any, url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A browser tab on the console served from ``url``; a screenshot if the test fails."""
    from tests.browser.conftest import ARTIFACTS

    with console_app(url, step_scripts(tmp_path), tmp_path) as app, LiveServer(app) as server:
        context = browser.new_context(base_url=server.url)
        context.set_default_timeout(TIMEOUT_MS)
        tab = context.new_page()
        errors: list[str] = []
        tab.on("pageerror", lambda exc: errors.append(str(exc)))
        tab.js_errors = errors
        try:
            yield tab
        except BaseException:
            ARTIFACTS.mkdir(exist_ok=True)
            name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)[-150:]
            tab.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
            raise
        finally:
            context.close()


def assert_up_to_date(page: Any) -> None:
    """The migrations page says the database is at head, with nothing pending and no drift."""
    assert words(page, "#state") == "Up to date"
    assert words(page, "#current") == STEP
    assert words(page, "#heads") == STEP
    assert words(page, "#pending") == "None."
    assert words(page, "#drift") == "No drift: the database schema matches the models."
    assert page.locator("#upgrade-head").count() == 0


def test_migrations_downgrade_one_step_and_upgrade_back(browser, own_database, tmp_path, request):
    before = HEAD
    with tab_on(browser, own_database, tmp_path, request) as page:
        log_in(page, Role.admin)
        page.goto("/admin/migrations/")
        assert_up_to_date(page)

        page.click("#downgrade")
        page.wait_for_selector("#downgrade-form")
        assert words(page, "#plan").startswith(STEP)
        # A wrong id is refused on the page and changes nothing.
        page.fill("#confirm_revision", before)
        page.click("#downgrade-form button[type=submit]")
        page.wait_for_selector("#confirm-error")
        assert STEP in words(page, "#confirm-error")
        assert version(own_database) == [STEP]

        page.fill("#confirm_revision", STEP)
        page.click("#downgrade-form button[type=submit]")
        page.wait_for_selector(".alert-success")
        assert f"Downgrade done: {STEP} -> {before}." in words(page, ".alert-success")
        assert words(page, "#current") == before
        assert words(page, "#state") != "Up to date"
        assert STEP in words(page, "#pending")
        assert version(own_database) == [before]

        page.click("#upgrade-head")
        page.wait_for_selector("#upgrade-form")
        assert words(page, "#plan").startswith(STEP)
        page.click("#upgrade-form button[type=submit]")
        page.wait_for_selector(".alert-success")
        assert f"Upgrade done: {before} -> {STEP}." in words(page, ".alert-success")
        assert_up_to_date(page)
        assert not page.js_errors
    assert version(own_database) == [STEP]
