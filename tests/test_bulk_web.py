"""Import pages and bulk actions through HTTP: roles, CSRF, preview, confirm, versions."""

from __future__ import annotations

import re
import time
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from console.admin.transfer import job_store
from console.demo.models import Todo
from console.jobs import wait_for_job
from console.models import AuditEntry, JobFile
from tests.bulk_helpers import action, confirm_bulk, job_url, refs, upload
from tests.conftest import count, csrf_token

TODOS = (
    "description,completed,due_date,priority,list,assignee\n"
    "Paint fence,no,2025-06-01,low,Groceries,ann@example.com\n"
    "Fix bike,yes,,high,Groceries,\n"
)


def test_upload_preview_confirm_result(editor_client: FlaskClient, sample: dict) -> None:
    """Upload -> dry-run preview (nothing written) -> confirm with CSRF -> result and audit."""
    status_url = job_url(upload(editor_client, "todo", TODOS.encode()))
    page = editor_client.get(status_url).get_data(as_text=True)
    assert "Dry run finished" in page
    assert re.search(r'id="count-inserted">2<', page)
    assert count(Todo) == 2

    job_id = status_url.rstrip("/").rsplit("/", 1)[1]
    confirm = f"/admin/todo/import/{job_id}/confirm"
    assert editor_client.post(confirm).status_code == 400  # no CSRF token
    token = csrf_token(editor_client, status_url)
    response = editor_client.post(confirm, data={"csrf_token": token})
    assert response.status_code == 302
    assert wait_for_job(job_id)
    page = editor_client.get(status_url).get_data(as_text=True)
    assert "Imported" in page and re.search(r'id="count-inserted">2<', page)
    assert count(Todo) == 4
    entry = count(AuditEntry, AuditEntry.action == "import")
    assert entry == 1

    # A second confirm of the same upload writes nothing more, and says who imported it.
    again = editor_client.post(confirm, data={"csrf_token": token}, follow_redirects=True)
    assert wait_for_job(job_id)
    assert count(Todo) == 4
    page = again.get_data(as_text=True)
    assert "This upload was already imported by editor@example.com at " in page
    assert "fix its errors" not in page


def test_preview_lists_errors_and_refuses_to_confirm(
    editor_client: FlaskClient, sample: dict
) -> None:
    """Errors are shown by line and column, downloadable as CSV; confirm writes nothing."""
    rows = "".join(f"Task {i},maybe,,,Groceries,\n" for i in range(60))
    status_url = job_url(
        upload(editor_client, "todo", ("description,completed,due_date,priority,list,assignee\n"
                                       + rows).encode())
    )
    page = editor_client.get(status_url).get_data(as_text=True)
    assert "60 error(s)" in page
    assert "Expected true/false, yes/no or 1/0 (got &#39;maybe&#39;)." in page
    assert "Page 1 of 2" in page and 'id="import-confirm"' not in page
    second = editor_client.get(status_url + "?page=2").get_data(as_text=True)
    assert second.count("<tr><td>") == 10
    errors = editor_client.get(status_url + "errors.csv")
    assert errors.status_code == 200
    lines = errors.get_data(as_text=True).splitlines()
    errors.close()
    assert lines[0] == "line,column,message" and len(lines) == 61
    assert lines[1].startswith("2,completed,")

    job_id = status_url.rstrip("/").rsplit("/", 1)[1]
    token = csrf_token(editor_client, status_url)
    editor_client.post(f"/admin/todo/import/{job_id}/confirm", data={"csrf_token": token})
    assert wait_for_job(job_id)
    assert count(Todo) == 2


def test_upload_without_a_file_says_so(editor_client: FlaskClient, sample: dict) -> None:
    """A form sent without a file is answered with a message, not a 500."""
    token = csrf_token(editor_client, "/admin/todo/import/")
    response = editor_client.post("/admin/todo/import/", data={"csrf_token": token})
    assert response.status_code == 400
    assert "Choose a CSV, JSON Lines or XLSX file" in response.get_data(as_text=True)


def test_upload_over_the_size_limit_is_refused(app: Flask, editor_client: FlaskClient) -> None:
    """MAX_CONTENT_LENGTH (CONSOLE_MAX_UPLOAD_MB) caps the upload."""
    app.config["MAX_CONTENT_LENGTH"] = 1024
    response = upload(editor_client, "person", b"name,email\n" + b"a,a@example.com\n" * 200)
    assert response.status_code == 413


@pytest.mark.parametrize("url", ["/admin/todo/import/", "/admin/person/import/"])
def test_import_needs_an_editor(viewer_client: FlaskClient, url: str) -> None:
    """Viewers get 403."""
    assert viewer_client.get(url).status_code == 403


def test_anonymous_users_are_sent_to_log_in(client: FlaskClient) -> None:
    """Anonymous users go to the login page."""
    anonymous = client.get("/admin/todo/import/")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_unknown_or_foreign_jobs_are_not_found(editor_client: FlaskClient, sample: dict) -> None:
    """A made-up id, or one of another model, is a 404."""
    assert editor_client.get("/admin/todo/import/" + "0" * 32 + "/").status_code == 404
    status_url = job_url(upload(editor_client, "todo", TODOS.encode()))
    assert editor_client.get(status_url.replace("/todo/", "/person/")).status_code == 404


def test_expired_uploads_are_removed(
    app: Flask, db: Any, editor_client: FlaskClient, sample: dict
) -> None:
    """After an hour the upload and its status are deleted and the page is gone."""
    status_url = job_url(upload(editor_client, "todo", TODOS.encode()))
    job_id = status_url.rstrip("/").rsplit("/", 1)[1]
    store = job_store(app)
    assert store.has_file(job_id, "upload")
    store.update(job_id, created=time.time() - 3601)
    assert editor_client.get(status_url).status_code == 404
    assert store.clean_expired() == 1
    assert not store.has_file(job_id, "upload") and store.load(job_id) is None
    with db.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(JobFile)).scalar() == 0


# -- bulk edits: "With selected -> Set <column>" --------------------------------------------


def confirm(client: FlaskClient, column: str, page: str, value: str) -> Any:
    """Confirm the to-do edit the confirmation ``page`` shows, with ``value``."""
    return confirm_bulk(client, "todo", column, page, value)


def test_set_completed_through_the_confirmation_page(
    editor_client: FlaskClient, db: Any, sample: dict
) -> None:
    """Action -> confirmation listing the rows -> one transaction -> entries per row and in sum."""
    page = action(editor_client, "set:completed", [sample["milk"], sample["eggs"]])
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Set completed: 2 to-dos" in text and len(refs(text)) == 2
    assert count(Todo, Todo.completed.is_(True)) == 1  # nothing written yet
    response = confirm(editor_client, "completed", text, "true")
    assert response.status_code == 302
    assert count(Todo, Todo.completed.is_(True)) == 2
    milk = db.session.get(Todo, sample["milk"])
    assert milk.version == 2
    # Eggs were complete already: checked, not written (their version stays).
    assert db.session.get(Todo, sample["eggs"]).version == 1
    # One "update" entry per changed row, as the form writes (the row's history shows
    # it), and one summary of the edit.
    updates = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "update")).all()
    assert [(e.model, e.object_id, e.changes) for e in updates] == [
        ("Todo", str(sample["milk"]),
         {"before": {"completed": False}, "after": {"completed": True}}),
    ]
    entry = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action.like("bulk%"))).one()
    assert entry.action == "bulk_set" and entry.account_email == "editor@example.com"
    assert entry.changes == {"summary": {
        "column": "completed", "label": "Completed", "value": True, "count": 2, "changed": 1,
        "ids": [sample["milk"], sample["eggs"]],
    }}


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("completed", "false", False),
        ("priority", "high", "high"),
        ("due_date", "2026-03-01", date(2026, 3, 1)),
        ("assignee_id", "ann", "ann"),  # the lookup posts the person's id
        ("assignee_id", "", None),
        ("list_id", "errands", "errands"),
    ],
)
def test_each_column_can_be_set(
    editor_client: FlaskClient, db: Any, sample: dict, column: str, value: str, expected: Any,
) -> None:
    """Each bulk column is set on every selected row."""
    from console.demo.models import TodoList

    errands = TodoList(name="Errands", owner_id=sample["bob"])
    db.session.add(errands)
    db.session.commit()
    targets = {"ann": sample["ann"], "errands": errands.id}
    text = action(editor_client, f"set:{column}", [sample["milk"], sample["eggs"]]).get_data(
        as_text=True
    )
    response = confirm(editor_client, column, text, str(targets.get(value, value)))
    assert response.status_code == 302, response.get_data(as_text=True)
    db.session.expire_all()
    got = {getattr(db.session.get(Todo, i), column) for i in (sample["milk"], sample["eggs"])}
    assert got == {targets.get(expected, expected)}


def test_bulk_edit_refused_when_a_row_changed_since_selection(
    editor_client: FlaskClient, db: Any, sample: dict
) -> None:
    """Nothing is written when any selected row's version moved on; the row is named."""
    text = action(editor_client, "set:priority", [sample["milk"], sample["eggs"]]).get_data(
        as_text=True
    )
    # Someone else edits one of the rows meanwhile.
    eggs = db.session.get(Todo, sample["eggs"])
    eggs.description = "Buy free-range eggs"
    db.session.commit()
    audits = count(AuditEntry)
    response = confirm(editor_client, "priority", text, "low")
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "Nothing was written: 1 of the selected to-dos changed" in page
    assert page.count("changed since selected</span>") == 1
    assert count(Todo, Todo.priority == "low") == 0
    assert count(AuditEntry) == audits


def test_a_parent_that_does_not_exist_is_a_message(
    editor_client: FlaskClient, sample: dict
) -> None:
    """A list id that names no list is said so on the page; nothing is written."""
    text = action(editor_client, "set:list_id", [sample["milk"]]).get_data(as_text=True)
    response = confirm(editor_client, "list_id", text, "999")
    assert response.status_code == 400
    assert "No to-do list with id 999." in response.get_data(as_text=True)
    assert count(Todo, Todo.list_id == sample["groceries"]) == 2


def test_bulk_edits_need_an_editor(viewer_client: FlaskClient, sample: dict) -> None:
    """Viewers get 403 for the confirmation page and the edit; nothing is written."""
    ref = f"{sample['milk']}:1"
    token = csrf_token(viewer_client, "/admin/todo/")
    response = viewer_client.post(
        "/admin/todo/bulk/completed/", data={"csrf_token": token, "row": ref, "value": "true"}
    )
    assert response.status_code == 403
    assert action(viewer_client, "set:completed", [sample["milk"]]).status_code == 403
    assert count(Todo, Todo.completed.is_(True)) == 1


def test_viewers_are_not_offered_the_bulk_edits(viewer_client: FlaskClient, sample: dict) -> None:
    """A viewer's list has no "Set ..." entries."""
    assert "Set completed" not in viewer_client.get("/admin/todo/").get_data(as_text=True)


def test_bulk_edits_need_the_csrf_token(editor_client: FlaskClient, sample: dict) -> None:
    """Editors see the edits; a POST without the token is refused and writes nothing."""
    assert "Set completed" in editor_client.get("/admin/todo/").get_data(as_text=True)
    ref = f"{sample['milk']}:1"
    response = editor_client.post("/admin/todo/bulk/completed/", data={"row": ref, "value": "1"})
    assert response.status_code == 400
    assert count(Todo, Todo.completed.is_(True)) == 1


def test_each_model_offers_its_own_columns(editor_client: FlaskClient, sample: dict) -> None:
    """People have nothing to set in bulk; to-do lists their owner."""
    people = editor_client.get("/admin/person/").get_data(as_text=True)
    assert "set:" not in people and 'id="import-link"' in people
    lists = editor_client.get("/admin/todolist/").get_data(as_text=True)
    assert "set:owner_id" in lists and "Set owner" in lists


def test_a_selection_past_the_limit_is_refused_before_anything_is_read(
    app: Flask, editor_client: FlaskClient, sample: dict
) -> None:
    """CONSOLE_MAX_SELECTION bounds what one bulk edit or delete may name."""
    app.config["CONSOLE_MAX_SELECTION"] = 2
    ids = [sample["milk"], sample["eggs"], sample["milk"] + 10_000]
    response = action(editor_client, "set:completed", ids)
    page = editor_client.get(response.headers["Location"]).get_data(as_text=True) if (
        response.status_code == 302) else response.get_data(as_text=True)
    assert "3 rows were selected; a bulk edit takes at most 2" in page
    deleted = editor_client.get("/admin/todo/delete/", query_string={"id": ids},
                                follow_redirects=True).get_data(as_text=True)
    assert "3 rows were selected; a delete takes at most 2" in deleted
    assert count(Todo) == 2
    # Within the limit, the same selection goes ahead.
    page = action(editor_client, "set:completed", ids[:2]).get_data(as_text=True)
    assert len(refs(page)) == 2


def test_a_huge_id_list_is_a_short_refusal(editor_client: FlaskClient, sample: dict) -> None:
    """100,000 ids in one POST: a message, not a five-megabyte page."""
    token = csrf_token(editor_client, "/admin/todo/")
    response = editor_client.post(
        "/admin/todo/action/",
        data={"csrf_token": token, "action": "set:completed",
              "rowid": [str(i) for i in range(100_000)], "url": "/admin/todo/"},
        follow_redirects=True,
    )
    assert response.status_code < 500
    body = response.get_data(as_text=True)
    assert "100,000 rows were selected; a bulk edit takes at most 1,000" in body
    assert len(body) < 200_000


def test_a_refusal_of_the_whole_file_names_no_line(
    app: Flask, editor_client: FlaskClient, sample: dict
) -> None:
    """A problem of the whole upload (rows changed meanwhile) is not "line 0" of it."""
    from console.bulk.importer import RowError

    status_url = job_url(upload(editor_client, "todo", TODOS.encode()))
    job_id = status_url.rstrip("/").rsplit("/", 1)[1]
    store = job_store()
    store.write_errors(job_id, [RowError(0, None, "Rows changed while importing.")])
    store.update(job_id, result={**store.load(job_id)["result"], "error_count": 1,
                                 "shown_errors": 1})
    assert store.load(job_id)["result"]["error_count"] == 1
    page = editor_client.get(status_url).get_data(as_text=True)
    assert "<td>whole file</td>" in page and "<td>0</td>" not in page
    errors = editor_client.get(f"/admin/todo/import/{job_id}/errors.csv").get_data(as_text=True)
    assert errors.splitlines()[1] == ",,Rows changed while importing."


def test_an_upload_updating_by_id_without_versions_is_refused(
    editor_client: FlaskClient, sample: dict
) -> None:
    """Issue 13 through HTTP: ids without versions are refused, with what to do instead."""
    milk = sample["milk"]
    no_column = f"id,description,list\n{milk},Buy oat milk,Groceries\n".encode()
    page = editor_client.get(
        job_url(upload(editor_client, "todo", no_column, mode="upsert"))
    ).get_data(as_text=True)
    assert "has an &#39;id&#39; column but no &#39;version&#39; column" in page
    assert 'id="import-confirm"' not in page
    blank = f"id,description,list,version\n{milk},Buy oat milk,Groceries,\n".encode()
    status_url = job_url(upload(editor_client, "todo", blank, mode="upsert"))
    page = editor_client.get(status_url).get_data(as_text=True)
    assert f"Version is required to update to-do {milk}: export the rows again" in page
    assert 'id="import-confirm"' not in page
    errors = editor_client.get(status_url + "errors.csv")
    assert errors.get_data(as_text=True).splitlines()[1].startswith("2,version,")
    errors.close()
    assert editor_client.get("/admin/todo/").status_code == 200
    assert count(Todo, Todo.description == "Buy oat milk") == 0
