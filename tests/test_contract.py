"""The genericity promise: models the console has never seen get the whole console.

The app is started with ``CONSOLE_MODELS=tests.contract.models`` (three cascading
levels, a RESTRICT owner, a SET NULL reference, an Enum, Numerics, a DateTime, a
model without a version column, a model on a second declarative base) and every
feature is used through HTTP, on SQLite and PostgreSQL. No code of the console names
these models.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from console import create_app
from console.extensions import db as _db
from console.jobs import wait_for_job
from console.models import Role
from tests.bulk_helpers import action, confirm_bulk, job_url, refs, upload
from tests.conftest import (
    IsolatedClient,
    count,
    csrf_token,
    delete_through_console,
    post_form,
)
from tests.contract.models import METADATAS, Member, Project, Step, Task, Team
from tests.history_helpers import form_fields, login_client, row_token, save_cells

MODELS = "tests.contract.models"
ENDPOINTS = ("team", "member", "project", "task", "step", "label")


@pytest.fixture
def contract_app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """The console over the contract models: the console's tables migrated, theirs created."""
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "SQLALCHEMY_DATABASE_URI": database_url,
            "WTF_CSRF_ENABLED": True,
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "CONSOLE_MODELS": MODELS,
        }
    )
    app.test_client_class = IsolatedClient
    with app.app_context():
        if database_url.startswith("sqlite"):
            from flask_migrate import upgrade

            upgrade()
        # The application's own tables are the application's to create.
        for metadata in METADATAS:
            metadata.create_all(_db.engine)
        yield app
        _db.session.remove()
        for metadata in METADATAS:
            metadata.drop_all(_db.engine)
        _db.engine.dispose()


@pytest.fixture
def editor(contract_app: Flask) -> FlaskClient:
    """An editor's client."""
    return login_client(contract_app, "editor@example.com", Role.editor)


@pytest.fixture
def other_editor(contract_app: Flask) -> FlaskClient:
    """Another editor, in a browser of their own."""
    return login_client(contract_app, "other@example.com", Role.editor)


@pytest.fixture
def tree(contract_app: Flask) -> dict[str, Any]:
    """A team with a project of two tasks (three steps), a reviewer, and an empty team."""
    session = _db.session
    team = Team(code="core", title="Core")
    idle = Team(code="idle", title="Idle")
    ann = Member(handle="ann", full_name="Ann Lee")
    project = Project(name="Apollo", budget=Decimal("1200.50"), team=team)
    build = Task(title="Build", project=project, reviewer=ann, estimate=Decimal("3.5"))
    test = Task(title="Test", project=project)
    session.add_all([team, idle, ann, project, build, test])
    session.flush()
    session.add_all(
        [Step(position=1, note="Plan", task=build), Step(position=2, note="Do", task=build),
         Step(position=1, note="Check", task=test)]
    )
    session.commit()
    ids = {"team": team.id, "idle": idle.id, "ann": ann.id, "project": project.id,
           "build": build.id, "test": test.id}
    session.expire_all()
    return ids


def text(response: Any) -> str:
    """The body of a response, as text."""
    return str(response.get_data(as_text=True))


# -- every page of every model ------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_every_model_has_its_pages(editor, tree, endpoint):
    listing = editor.get(f"/admin/{endpoint}/")
    assert listing.status_code == 200, text(listing)[-2000:]
    assert 'class="table table-striped table-bordered table-hover model-list' in text(listing)
    assert editor.get(f"/admin/{endpoint}/new/").status_code == 200


def test_the_menu_names_each_model_in_the_plural(editor, tree):
    page = text(editor.get("/admin/"))
    for title in ("Teams", "Members", "Projects", "Tasks", "Steps", "Labels"):
        assert f">{title}<" in page


def test_create_edit_details_of_a_model_with_an_enum_numerics_and_a_datetime(editor, tree):
    response = post_form(
        editor,
        "/admin/task/new/",
        {"title": "  Ship  ", "stage": "doing", "estimate": "2.5",
         "due_at": "2026-12-24 17:30:00", "project": str(tree["project"])},
    )
    assert response.status_code == 302, text(response)[-3000:]
    task = _db.session.scalar(sa.select(Task).where(Task.title == "Ship"))
    assert task is not None
    assert (task.stage.value, task.estimate) == ("doing", Decimal("2.5"))
    assert (task.due_at.year, task.due_at.hour) == (2026, 17)

    details = text(editor.get(f"/admin/task/details/?id={task.id}"))
    assert "Ship" in details and "2026-12-24 17:30" in details
    # A reference is its parent's name, linked to the parent's page.
    assert re.search(rf'href="/admin/project/details/\?id={tree["project"]}"[^>]*>Apollo<', details)

    url = f"/admin/task/edit/?id={task.id}"
    fields = form_fields(text(editor.get(url)))
    fields.update(stage="done", estimate="4")
    assert editor.post(url, data=fields).status_code == 302
    _db.session.expire_all()
    saved = _db.session.get(Task, task.id)
    assert (saved.stage.value, saved.estimate, saved.version) == ("done", Decimal("4.0"), 2)


def test_numeric_input_is_checked_by_its_scale(editor, tree):
    response = post_form(
        editor, "/admin/project/new/",
        {"name": "Gemini", "budget": "12.345", "team": str(tree["team"])},
    )
    assert response.status_code != 302
    assert count(Project, Project.name == "Gemini") == 0


def test_search_filter_and_sort(editor, tree):
    found = text(editor.get("/admin/task/?search=buil"))
    assert "Build" in found and ">Test<" not in found
    filters = re.findall(r'"arg": "(\w+)"', text(editor.get("/admin/task/")))
    stage = next(f for f in filters if f.startswith("stage"))
    filtered = text(editor.get(f"/admin/task/?flt0_{stage}=to%20do"))
    assert "Build" in filtered and "Test" in filtered
    # Sortable only where an index serves: the title has none, the id has the key.
    listing = text(editor.get("/admin/task/"))
    assert 'title="Sort by ID"' in listing and 'title="Sort by Title"' not in listing


def test_parents_show_their_childrens_counts_linked_to_the_children(editor, tree):
    listing = text(editor.get("/admin/project/"))
    assert re.search(r">Tasks<", listing)
    link = re.search(r'<td class="col-children-Task-project_id"><a href="([^"]+)">2</a>', listing)
    assert link, listing[-3000:]
    children = text(editor.get(link.group(1).replace("&amp;", "&")))
    assert "Build" in children and "Test" in children


def test_a_parents_form_edits_its_children_a_page_at_a_time(editor, tree):
    url = f"/admin/project/edit/?id={tree['project']}"
    page = text(editor.get(url))
    assert "This form shows 2 of 2 tasks" in page
    fields = form_fields(page)
    index = next(k.split("-")[1] for k, v in fields.items() if k.endswith("-title") and v == "Test")
    fields[f"tasks-{index}-title"] = "Test well"
    assert editor.post(url, data=fields).status_code == 302
    assert count(Task, Task.title == "Test well") == 1


# -- deletes ------------------------------------------------------------------------------------


def test_a_three_level_delete_is_previewed_with_counts_then_done(editor, tree):
    page, done = delete_through_console(editor, "project", tree["project"])
    preview = text(page)
    assert "Deleting project &#39;Apollo&#39; also deletes 2 tasks and 3 steps." in preview
    assert done is not None and done.status_code == 302
    assert (count(Project), count(Task), count(Step)) == (0, 0, 0)


def test_a_restricting_owner_blocks_the_delete(editor, tree):
    page, done = delete_through_console(editor, "team", tree["team"])
    assert done is None
    assert "Cannot delete:" in text(page) and "as its team" in text(page)
    assert count(Team, Team.id == tree["team"]) == 1
    _page, done = delete_through_console(editor, "team", tree["idle"])
    assert done is not None and done.status_code == 302


def test_a_set_null_reference_is_kept_and_emptied(editor, tree):
    page, done = delete_through_console(editor, "member", tree["ann"])
    assert "Kept, without reviewer: 1 task" in text(page)
    assert done is not None and done.status_code == 302
    _db.session.expire_all()
    assert _db.session.get(Task, tree["build"]).reviewer_id is None


# -- no lost updates, without a version column --------------------------------------------------


def test_a_model_without_a_version_column_is_checked_by_the_values_loaded(
    editor, other_editor, tree
):
    url = f"/admin/member/edit/?id={tree['ann']}"
    mine = form_fields(text(editor.get(url)))
    theirs = form_fields(text(other_editor.get(url)))
    assert mine["version"].startswith("values:")
    theirs["full_name"] = "Ann Lee-Smith"
    assert other_editor.post(url, data=theirs).status_code == 302

    mine["full_name"] = "Annie Lee"
    response = editor.post(url, data=mine)
    page = text(response)
    assert response.status_code == 409
    assert 'id="version-conflict"' in page and "other@example.com" in page
    _db.session.expire_all()
    assert _db.session.get(Member, tree["ann"]).full_name == "Ann Lee-Smith"

    # Re-applying carries the values loaded now, and goes through.
    kept = form_fields(page)
    assert kept["full_name"] == "Annie Lee"
    assert editor.post(url, data=kept).status_code == 302
    _db.session.expire_all()
    assert _db.session.get(Member, tree["ann"]).full_name == "Annie Lee"


def test_a_save_without_what_was_loaded_is_refused(editor, tree):
    url = f"/admin/member/edit/?id={tree['ann']}"
    fields = form_fields(text(editor.get(url)))
    fields["full_name"] = "Nobody checked"
    del fields["version"]
    response = editor.post(url, data=fields)
    assert response.status_code == 400
    assert "which version" in text(response)
    _db.session.expire_all()
    assert _db.session.get(Member, tree["ann"]).full_name == "Ann Lee"


def test_in_place_edits_of_a_versionless_row_are_checked_too(editor, other_editor, tree):
    mine = text(editor.get("/admin/member/"))
    theirs = text(other_editor.get("/admin/member/"))
    first = save_cells(other_editor, "member", theirs, (tree["ann"], "full_name", "A. Lee"))
    assert first.status_code == 200, text(first)
    stale = save_cells(editor, "member", mine, (tree["ann"], "full_name", "Ann L."))
    assert stale.status_code == 409
    assert stale.get_json()["problems"][0]["theirs"]["full_name"] == "A. Lee"
    # The token handed back makes the next edit of the same row current, not a conflict.
    token = first.get_json()["tokens"][str(tree["ann"])]
    again = save_cells(other_editor, "member", theirs, (tree["ann"], "active", "false"),
                       token=token)
    assert again.status_code == 200, text(again)
    _db.session.expire_all()
    assert _db.session.get(Member, tree["ann"]).active is False
    assert row_token(text(editor.get("/admin/member/")), tree["ann"]) == again.get_json()[
        "tokens"][str(tree["ann"])]


# -- history -------------------------------------------------------------------------------------


def test_history_records_changes_and_reverts_a_versionless_row(editor, tree):
    url = f"/admin/member/edit/?id={tree['ann']}"
    fields = form_fields(text(editor.get(url)))
    fields["full_name"] = "Changed"
    assert editor.post(url, data=fields).status_code == 302

    history = text(editor.get(f"/admin/member/history/?id={tree['ann']}"))
    assert "Ann Lee" in history and "Changed" in history
    revert = re.search(r'href="([^"]*history/revert/[^"]*)"', history)
    assert revert
    revert_url = revert.group(1).replace("&amp;", "&")
    confirm = text(editor.get(revert_url))
    token = re.search(r'name="version"[^>]*value="([^"]+)"', confirm).group(1)
    done = editor.post(revert_url, data={"version": token,
                                         "csrf_token": csrf_token(editor, revert_url)})
    assert done.status_code == 302, text(done)[-2000:]
    _db.session.expire_all()
    assert _db.session.get(Member, tree["ann"]).full_name == "Ann Lee"


# -- the rest of the console ----------------------------------------------------------------------


def test_the_dashboard_counts_every_model(editor, tree):
    page = text(editor.get("/admin/"))
    counts = dict(re.findall(r'<div class="text-muted small">([^<]+)</div>\s*<div class="h4 mb-0">'
                             r'\s*(?:<a [^>]*>)?([\d,]+)', page))
    assert counts == {"Teams": "2", "Members": "1", "Projects": "1", "Tasks": "2", "Steps": "3",
                      "Labels": "0"}
    assert "Teams with the most projects" in page
    assert "Tasks with the most steps" in page


def test_the_relationships_page_shows_every_foreign_key(editor, tree):
    page = text(editor.get("/admin/relationships/"))
    for fk in ("project.team_id", "task.project_id", "task.reviewer_id", "step.task_id"):
        assert f"<code>{fk}</code>" in page
    assert "Models, ORM and database agree on every relationship." in page


def test_a_model_on_another_base_is_managed_too(editor, tree):
    response = post_form(editor, "/admin/label/new/", {"text": "urgent", "colour": "red"})
    assert response.status_code == 302
    assert "urgent" in text(editor.get("/admin/label/"))


# -- files and bulk edits, through the pages ---------------------------------------------------


def import_through_the_pages(client: FlaskClient, endpoint: str, data: bytes, *, name: str,
                             mode: str = "upsert") -> str:
    """Upload ``data``, check the dry run wrote nothing, confirm it: the result page."""
    status_url = job_url(upload(client, endpoint, data, mode=mode, name=name))
    preview = text(client.get(status_url))
    assert "Dry run finished" in preview, preview
    job_id = status_url.rstrip("/").rsplit("/", 1)[1]
    token = csrf_token(client, status_url)
    confirmed = client.post(f"/admin/{endpoint}/import/{job_id}/confirm",
                            data={"csrf_token": token})
    assert confirmed.status_code == 302
    assert wait_for_job(job_id)
    page = text(client.get(status_url))
    assert "Imported" in page, page
    return page


def counted(page: str, what: str) -> int:
    """The number an import's status page shows for ``what`` (inserted, updated...)."""
    found = re.search(rf'id="count-{what}">([0-9,]+)<', page)
    assert found, page
    return int(found.group(1).replace(",", ""))


def test_a_new_file_is_imported_with_parents_by_their_natural_keys(editor, tree):
    data = (b"title,stage,estimate,due_at,project,reviewer\n"
            b"Ship,done,1.5,2026-03-01T09:30:00+02:00,Apollo,ann\n"
            b"Document,to do,,,Apollo,\n")
    page = import_through_the_pages(editor, "task", data, name="tasks.csv", mode="insert")
    assert counted(page, "inserted") == 2 and counted(page, "errors") == 0
    with editor.application.app_context():
        ship = _db.session.scalars(sa.select(Task).where(Task.title == "Ship")).one()
        assert (ship.stage.value, ship.estimate, ship.project_id, ship.reviewer_id) == (
            "done", Decimal("1.5"), tree["project"], tree["ann"])
        assert ship.due_at is not None and ship.due_at.utctimetuple()[3:5] == (7, 30)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_every_model_exports_and_imports_back_unchanged(editor, tree, fmt):
    with editor.application.app_context():
        from tests.contract.models import Label

        _db.session.add(Label(text="Ünïcode ✓", colour=None))
        _db.session.commit()
    for endpoint in ENDPOINTS:
        before = editor.get(f"/admin/{endpoint}/export/{fmt}/")
        assert before.status_code == 200, (endpoint, text(before))
        lines = before.data.count(b"\n") - (1 if fmt == "csv" else 0)
        assert lines > 0, endpoint
        page = import_through_the_pages(editor, endpoint, before.data, name=f"{endpoint}.{fmt}")
        assert (counted(page, "inserted"), counted(page, "updated"), counted(page, "errors"),
                counted(page, "unchanged")) == (0, 0, 0, lines), endpoint
        after = editor.get(f"/admin/{endpoint}/export/{fmt}/")
        assert after.data == before.data, endpoint


def test_a_bulk_set_of_an_enum(editor, tree):
    ids = [tree["build"], tree["test"]]
    page = text(action(editor, "set:stage", ids, model="task"))
    assert len(refs(page)) == 2, page
    response = confirm_bulk(editor, "task", "stage", page, "done")
    assert response.status_code == 302, text(response)
    with editor.application.app_context():
        tasks = _db.session.scalars(sa.select(Task).where(Task.id.in_(ids))).all()
        assert {t.stage.value for t in tasks} == {"done"}
        assert {t.version for t in tasks} == {2}
    history = text(editor.get(f"/admin/task/history/?id={tree['build']}"))
    assert "done" in history


def test_a_bulk_set_of_a_foreign_key_by_its_lookup(editor, tree):
    ids = [tree["build"], tree["test"]]
    with editor.application.app_context():
        bea = Member(handle="bea", full_name="Bea Park")
        _db.session.add(bea)
        _db.session.commit()
        bea_id = bea.id
    page = text(action(editor, "set:reviewer_id", ids, model="task"))
    # The value is chosen from the members (a select: there are few of them; a big table
    # gets the forms' search-as-you-type lookup), never typed by name.
    assert f'<option value="{bea_id}">' in page, page
    found = editor.get("/admin/task/ajax/lookup/", query_string={"name": "reviewer",
                                                                 "query": "be"})
    assert [bea_id] == [row[0] for row in found.get_json()]
    response = confirm_bulk(editor, "task", "reviewer_id", page, str(bea_id))
    assert response.status_code == 302, text(response)
    with editor.application.app_context():
        tasks = _db.session.scalars(sa.select(Task).where(Task.id.in_(ids))).all()
        assert {t.reviewer_id for t in tasks} == {bea_id}


def test_a_bulk_set_of_a_stale_selection_writes_nothing(editor, other_editor, tree):
    ids = [tree["build"], tree["test"]]
    page = text(action(editor, "set:stage", ids, model="task"))
    # Another editor saves one of the rows after the selection was made.
    done = confirm_bulk(other_editor, "task", "stage",
                        text(action(other_editor, "set:stage", [tree["test"]], model="task")),
                        "doing")
    assert done.status_code == 302
    response = confirm_bulk(editor, "task", "stage", page, "done")
    assert response.status_code in (302, 409)
    with editor.application.app_context():
        stages = {t.title: t.stage.value for t in _db.session.scalars(sa.select(Task)).all()}
    assert stages == {"Build": "to do", "Test": "doing"}
