"""History pages, revert, and the read-only audit log with filters and CSV export."""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import func, select

from console.audit import record
from console.demo.models import Todo, TodoList
from console.extensions import db
from console.models import AuditEntry, Role
from tests.conftest import csrf_token, delete_through_console, post_form
from tests.history_helpers import (
    form_fields,
    login_client,
)


def save_todo(client, todo_id: int, **changes) -> None:
    """Edit a to-do through its form."""
    url = f"/admin/todo/edit/?id={todo_id}"
    fields = form_fields(client.get(url).get_data(as_text=True))
    fields.update(changes)
    assert client.post(url, data=fields).status_code == 302


def todo_now(todo_id: int) -> Todo:
    db.session.expire_all()
    return db.session.get(Todo, todo_id)


def entry_ids(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'class="card mb-3 history-entry" id="entry-(\d+)"', page)]


def test_history_page_lists_changes_newest_first_with_field_differences(
    editor_client, viewer_client, sample
):
    save_todo(editor_client, sample["milk"], description="Buy oat milk")
    save_todo(editor_client, sample["milk"], priority="high")
    response = viewer_client.get(f"/admin/todo/history/?id={sample['milk']}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    ids = entry_ids(page)
    assert len(ids) == 3  # create (from the fixture), two updates
    assert ids == sorted(ids, reverse=True)
    newest = page.split(f'id="entry-{ids[0]}"', 1)[1].split("</article>", 1)[0]
    assert re.search(
        r'data-field="priority"><th scope="row">Priority</th><td class="before">normal</td>'
        r'<td class="after">high</td>',
        newest,
    )
    second = page.split(f'id="entry-{ids[1]}"', 1)[1].split("</article>", 1)[0]
    assert "Buy milk" in second and "Buy oat milk" in second
    assert "editor@example.com" in second
    # Viewers read history but are not offered a revert.
    assert "revert-link" not in page


def test_history_is_linked_from_edit_and_details_pages(editor_client, sample):
    link = f'href="/admin/todo/history/?id={sample["milk"]}'
    for page in ("edit", "details"):
        html = editor_client.get(f"/admin/todo/{page}/?id={sample['milk']}").get_data(as_text=True)
        assert link in html, page


def test_history_of_a_deleted_record_is_still_readable(editor_client, sample):
    delete_through_console(editor_client, "todo", sample["eggs"])
    page = editor_client.get(f"/admin/todo/history/?id={sample['eggs']}").get_data(as_text=True)
    assert "deleted" in page
    assert 'data-action="delete"' in page
    assert editor_client.get("/admin/todo/history/?id=99999").status_code == 404
    assert editor_client.get("/admin/todo/history/?id=abc").status_code == 404


def test_revert_restores_earlier_values_and_is_itself_recorded(editor_client, sample):
    save_todo(editor_client, sample["milk"], description="Buy oat milk", priority="high")
    history_url = f"/admin/todo/history/?id={sample['milk']}"
    page = editor_client.get(history_url).get_data(as_text=True)
    [link] = re.findall(r'revert-link"\s*href="([^"]+)"', page)
    confirm = editor_client.get(link.replace("&amp;", "&"))
    confirm_page = confirm.get_data(as_text=True)
    assert confirm.status_code == 200
    assert re.search(
        r'<td class="now">Buy oat milk</td><td class="restored">Buy milk</td>', confirm_page
    )
    fields = form_fields(confirm_page)
    assert fields["version"] == "2"
    # Nothing is written until the POST.
    assert todo_now(sample["milk"]).description == "Buy oat milk"

    response = editor_client.post(link.replace("&amp;", "&"), data=fields)
    assert response.status_code == 302
    saved = todo_now(sample["milk"])
    assert (saved.description, saved.priority, saved.version) == ("Buy milk", "normal", 3)

    [update] = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "update")).all()
    [revert] = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "revert")).all()
    assert revert.account_email == "editor@example.com"
    assert revert.changes == {
        "before": {"description": "Buy oat milk", "priority": "high"},
        "after": {"description": "Buy milk", "priority": "normal"},
        "reverts": update.id,
    }
    page = editor_client.get(history_url).get_data(as_text=True)
    assert entry_ids(page)[0] == revert.id
    assert f"restores the values from before #{update.id}" in page


def test_revert_is_refused_when_the_record_moved_on(app, editor_client, sample):
    save_todo(editor_client, sample["milk"], description="Buy oat milk")
    [update] = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "update")).all()
    url = f"/admin/todo/history/revert/?id={sample['milk']}&entry={update.id}"
    fields = form_fields(editor_client.get(url).get_data(as_text=True))

    other = login_client(app, "other@example.com", Role.editor)
    save_todo(other, sample["milk"], description="Buy rice milk")

    response = editor_client.post(url, data=fields)
    page = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "other@example.com changed this record" in page
    assert todo_now(sample["milk"]).description == "Buy rice milk"
    # The page now shows the new values and carries the new version: confirming again works.
    assert '<td class="now">Buy rice milk</td>' in page
    fields = form_fields(page)
    assert fields["version"] == "3"
    assert editor_client.post(url, data=fields).status_code == 302
    assert todo_now(sample["milk"]).description == "Buy milk"


def test_revert_needs_an_editor_and_a_csrf_token(viewer_client, editor_client, sample):
    save_todo(editor_client, sample["milk"], description="Buy oat milk")
    [update] = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "update")).all()
    url = f"/admin/todo/history/revert/?id={sample['milk']}&entry={update.id}"
    assert viewer_client.get(url).status_code == 403
    assert viewer_client.post(url, data={"version": "2"}).status_code in (400, 403)
    assert editor_client.post(url, data={"version": "2"}).status_code == 400
    assert todo_now(sample["milk"]).description == "Buy oat milk"


# -- the audit log ---------------------------------------------------------------------------


def test_audit_log_is_admin_only(viewer_client, editor_client, admin_client):
    assert viewer_client.get("/admin/audit/").status_code == 403
    assert editor_client.get("/admin/audit/export.csv").status_code == 403
    assert admin_client.get("/admin/audit/").status_code == 200


@pytest.fixture
def varied_log(db, sample):
    """A log with entries by two accounts, on two models and dates."""
    from datetime import UTC, datetime

    record(
        db.session,
        "update",
        account=None,
        model="Todo",
        object_id=1,
        changes={"before": {"description": "a"}, "after": {"description": "=HYPERLINK(1)"}},
    )
    old = record(
        db.session,
        "delete",
        model="Person",
        object_id=9,
        changes={"before": {"name": "Old"}, "after": {}},
    )
    old.account_email = "zed@example.com"
    old.at = datetime(2020, 1, 2, 12, 0, tzinfo=UTC)
    db.session.commit()
    return sample


def rows_shown(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr class="audit-entry" data-id="(\d+)">', page)]


def test_audit_log_filters_by_account_model_action_and_date(admin_client, varied_log):
    everything = rows_shown(admin_client.get("/admin/audit/").get_data(as_text=True))
    assert everything == sorted(everything, reverse=True)
    all_entries = db.session.scalars(select(AuditEntry)).all()
    assert len(everything) == len(all_entries)

    def shown(query: str) -> set[int]:
        return set(rows_shown(admin_client.get(f"/admin/audit/?{query}").get_data(as_text=True)))

    zed = {e.id for e in all_entries if e.account_email == "zed@example.com"}
    assert shown("account=ZED@") == zed
    assert shown("model=Person&action=delete") == zed
    assert shown("from=2020-01-01&to=2020-01-02") == zed
    assert shown("to=2020-01-01") == set()
    assert shown("action=login") == {e.id for e in all_entries if e.action == "login"}
    assert shown("action=login")  # the fixtures' logins
    page = admin_client.get("/admin/audit/?from=yesterday").get_data(as_text=True)
    assert "Expected a date as YYYY-MM-DD" in page
    assert set(rows_shown(page)) == {e.id for e in all_entries}


def test_audit_log_pages_older_entries(admin_client, db, sample):
    for n in range(60):
        record(db.session, "update", model="Todo", object_id=n, changes={"summary": {"n": n}})
    db.session.commit()
    first = admin_client.get("/admin/audit/?model=Todo&action=update").get_data(as_text=True)
    assert len(rows_shown(first)) == 50
    older = re.search(r'id="older" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    second = admin_client.get(older).get_data(as_text=True)
    assert len(rows_shown(second)) == 10
    assert set(rows_shown(first)).isdisjoint(rows_shown(second))


def test_audit_log_exports_the_filtered_entries_as_csv(admin_client, varied_log):
    response = admin_client.get("/admin/audit/export.csv?model=Todo")
    assert response.status_code == 200
    # A generator body: sent as it is produced, so no Content-Length up front.
    assert "Content-Length" not in response.headers
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    expected = db.session.scalars(select(AuditEntry).where(AuditEntry.model == "Todo")).all()
    assert [int(r["id"]) for r in rows] == sorted((e.id for e in expected), reverse=True)
    assert {r["model"] for r in rows} == {"Todo"}
    formula = next(r for r in rows if "HYPERLINK" in r["changes"])
    # JSON starts with "{", so no escaping needed there; cells that start with "=" are escaped.
    assert formula["changes"].startswith("{")
    response = admin_client.get("/admin/audit/export.csv?account=zed")
    [row] = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert (row["action"], row["model"], row["object_id"]) == ("delete", "Person", "9")


def test_csv_cells_cannot_run_as_formulas():
    from console.admin.audit_log import csv_cell

    assert csv_cell("=1+1") == "'=1+1"
    assert csv_cell("@SUM(A1)") == "'@SUM(A1)"
    assert csv_cell("plain") == "plain"
    assert csv_cell(None) == ""


# -- nothing edits or deletes an entry -------------------------------------------------------

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def audit_snapshot() -> dict[int, tuple]:
    db.session.expire_all()
    return {
        e.id: (e.at, e.account_id, e.account_email, e.action, e.model, e.object_id, e.changes)
        for e in db.session.scalars(select(AuditEntry))
    }


def test_no_endpoint_edits_or_deletes_an_audit_entry(app, admin_client, sample):
    save_todo(admin_client, sample["milk"], description="Buy oat milk")
    before = audit_snapshot()
    assert len(before) >= 5
    target = max(before)

    audit_rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("auditlog.")]
    assert audit_rules
    for rule in audit_rules:
        assert not (rule.methods or set()) & WRITE_METHODS, rule

    # No model view is built over the audit table.
    for view in app.extensions["admin"][0]._views:
        assert getattr(view, "model", None) is not AuditEntry

    token = csrf_token(admin_client, "/admin/")
    tried = 0
    for rule in app.url_map.iter_rules():
        methods = (rule.methods or set()) & WRITE_METHODS
        if not methods or rule.endpoint in ("auth.logout", "auth.login"):
            continue
        url = rule.build({arg: str(target) for arg in rule.arguments}, append_unknown=False)[1]
        for method in sorted(methods):
            for query in ("", f"?id={target}"):
                admin_client.open(
                    url + query,
                    method=method,
                    data={
                        "csrf_token": token,
                        "id": str(target),
                        "rowid": str(target),
                        "list_form_pk": str(target),
                        "action": "delete",
                        "url": "/admin/",
                    },
                )
                tried += 1
    assert tried >= 10
    after = audit_snapshot()
    # Entries may be added (the writes above are themselves recorded), never changed or removed.
    assert {k: after.get(k) for k in before} == before


def test_revert_that_the_database_refuses_explains_why_and_writes_nothing(editor_client, sample):
    url = f"/admin/todolist/edit/?id={sample['groceries']}"
    fields = form_fields(editor_client.get(url).get_data(as_text=True))
    fields["name"] = "Weekly shop"
    assert editor_client.post(url, data=fields).status_code == 302
    post_form(editor_client, "/admin/todolist/new/", {"name": "Groceries", "owner": sample["ann"]})
    [update] = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "update", AuditEntry.model == "TodoList")
    ).all()
    revert_url = f"/admin/todolist/history/revert/?id={sample['groceries']}&entry={update.id}"
    before = db.session.scalar(select(func.count()).select_from(AuditEntry))
    response = editor_client.post(
        revert_url, data=form_fields(editor_client.get(revert_url).get_data(as_text=True))
    )
    assert response.status_code == 409
    assert "Not restored (Name): Already exists" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == before
    assert db.session.get(TodoList, sample["groceries"]).name == "Weekly shop"
