"""Issue 16's bugs on the classic (server-rendered) pages, over HTTP."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qsl, quote, urlsplit

from console.models import Role
from tests.conftest import make_account


def page_text(client, url: str) -> str:
    """The page at ``url``, its entities decoded."""
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return html.unescape(response.get_data(as_text=True))


def words_of(client, url: str) -> str:
    """What a person reads on the page at ``url``: its text without tags, spaces collapsed."""
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    body = response.get_data(as_text=True).split("<body", 1)[-1]
    body = re.sub(r"<script.*?</script>", " ", body, flags=re.S)
    text = html.unescape(" ".join(re.sub(r"<[^>]+>", " ", body).split()))
    return text.replace(" .", ".").replace(" ,", ",")


def query_of(response) -> dict[str, str]:
    """The arguments of the URL a response redirects to."""
    return dict(parse_qsl(urlsplit(response.headers["Location"]).query))


def test_reference_filters_are_named_for_the_reference(editor_client, sample):
    text = page_text(editor_client, "/admin/todo/")
    assert "Person / Email" not in text and "List / Name" not in text
    assert '<a href="#" class="dropdown-item filter console-js-only">Assignee</a>' in text
    assert '<a href="#" class="dropdown-item filter console-js-only">List</a>' in text
    # Links made before the rename still work.
    text = page_text(editor_client, "/admin/todo/?flt0_person_email_equals=bob@example.com")
    assert "Buy milk" in text and "Buy eggs" not in text


def test_the_no_javascript_filter_form_adds_a_filter(editor_client, sample):
    response = editor_client.get(
        "/admin/todo/?page_size=20&add_filter=completed_equals%3D1&add_filter_value="
    )
    assert response.status_code == 302
    assert query_of(response) == {"page_size": "20", "flt0_completed_equals": "1"}
    response = editor_client.get(
        "/admin/todo/?flt0_completed_equals=1&add_filter=person_email_equals"
        "&add_filter_value=bob%40example.com"
    )
    assert query_of(response) == {"page_size": "50", "flt0_completed_equals": "1",
                                  "flt1_person_email_equals": "bob@example.com"}
    text = page_text(editor_client, response.headers["Location"])
    assert "Completed equals Yes" in text and "Assignee equals bob@example.com" in text


def test_a_bad_filter_from_the_form_is_a_message(editor_client, sample):
    response = editor_client.get("/admin/todo/?add_filter=due_date_equals&add_filter_value=soon",
                                 follow_redirects=True)
    text = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 200
    assert "Not a valid value for the filter 'Due date': 'soon'" in text
    response = editor_client.get("/admin/todo/?add_filter=nonsense", follow_redirects=True)
    assert "Choose a filter to add." in response.get_data(as_text=True)


def test_a_blocked_delete_speaks_of_people_and_lists_not_columns(editor_client, sample):
    text = words_of(editor_client, f"/admin/person/delete/?id={sample['ann']}")
    assert "Cannot delete: 1 to-do list still has this person as its owner. Move it to " \
           "another person or delete it first." in text
    text = words_of(editor_client, f"/admin/person/delete/?id={sample['bob']}")
    assert "leaves 1 to-do without assignee" in text
    for word in ("owner_id", "assignee_id", "RESTRICT", "SET NULL", "TodoList"):
        assert word not in text


def test_a_bulk_delete_names_the_selected_row_that_blocks(editor_client, sample):
    url = f"/admin/person/delete/?id={sample['ann']}&id={sample['bob']}"
    text = words_of(editor_client, url)
    assert "Cannot delete: 1 to-do list still has a selected person as its owner." in text
    assert "Selected person this concerns: Ann <ann@example.com>. Unselect it to delete " \
           "the others." in text


def test_a_typed_page_past_the_end_says_there_is_no_such_page(editor_client, sample):
    text = words_of(editor_client, "/admin/todo/?page=999&page_size=20")
    assert "There is no page 1,000: the list has 1 page" in text
    assert "Page 1,000" not in text
    page = editor_client.get("/admin/todo/?page=999&page_size=20").get_data(as_text=True)
    assert 'rel="first" href="/admin/todo/' in page  # the way back


def test_only_the_account_edit_form_offers_to_keep_the_password(admin_client, app):
    create = words_of(admin_client, "/admin/account/new/")
    assert "At least 8 characters." in create
    assert "keep the current password" not in create
    account = make_account(Role.viewer)
    edit = words_of(admin_client, f"/admin/account/edit/?id={account.id}")
    assert "At least 8 characters. Leave blank to keep the current password." in edit


def test_after_save_the_record_itself_is_shown_with_the_way_back(editor_client, sample):
    from tests.conftest import post_form

    back = "/admin/todo/?page=0&page_size=20"
    url = f"/admin/todo/edit/?id={sample['milk']}&url={quote(back)}"
    response = post_form(editor_client, url, {
        "description": "Buy oat milk", "priority": "normal",
        "todo_list": str(sample["groceries"]), "assignee": "",
    })
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(f"/admin/todo/details/?id={sample['milk']}&url=")
    text = words_of(editor_client, location)
    assert "To-do 'Buy oat milk' was saved." in text
    assert f'href="{back}"' in html.unescape(editor_client.get(location).get_data(as_text=True))
    response = post_form(editor_client, "/admin/todo/new/", {
        "description": "Call Bob", "priority": "normal", "todo_list": str(sample["groceries"]),
    })
    assert "/admin/todo/details/?id=" in response.headers["Location"]
    assert "To-do 'Call Bob' was created." in words_of(editor_client, response.headers["Location"])


def test_the_audit_log_says_what_bulk_entries_did_in_words(app, sample):
    from tests.bulk_helpers import action, confirm_bulk
    from tests.conftest import _logged_in, delete_through_console

    admin = _logged_in(app, Role.admin)
    page = action(admin, "set:assignee_id", [sample["milk"], sample["eggs"]]).get_data(
        as_text=True
    )
    assert confirm_bulk(admin, "todo", "assignee_id", page, str(sample["ann"])).status_code == 302
    _page, done = delete_through_console(admin, "person", sample["bob"])
    assert done.status_code == 302
    _page, done = delete_through_console(admin, "todolist", sample["groceries"])
    assert done.status_code == 302
    text = words_of(admin, "/admin/audit/")
    assert "{" not in text.split("Changes", 1)[1]  # no JSON
    assert "set assignee to 'ann@example.com'; 2 of 2 selected changed" in text
    assert "deleted 1 to-do list; deleted 2 to-dos" in text


def test_the_import_button_counts_what_changes_not_the_rows_read(editor_client, sample):
    from tests.bulk_helpers import job_url, upload

    people = b"name,email\nAnn,ann@example.com\nRobert,bob@example.com\nCy,cy@example.com\n"
    status = job_url(upload(editor_client, "person", people, mode="upsert"))
    text = words_of(editor_client, status)
    assert "Import: insert 1 person and update 1 (1 unchanged)" in text
    assert "row(s)" not in text
    same = b"name,email\nAnn,ann@example.com\n"
    text = words_of(editor_client, job_url(upload(editor_client, "person", same, mode="upsert")))
    assert "Nothing to import: every row is unchanged" in text


def test_references_are_links_in_lists_and_details(editor_client, sample):
    listed = editor_client.get("/admin/todo/").get_data(as_text=True)
    groceries = f'/admin/todolist/details/?id={sample["groceries"]}'
    bob = f'/admin/person/details/?id={sample["bob"]}'
    assert groceries in listed and bob in listed
    details = editor_client.get(f"/admin/todo/details/?id={sample['milk']}").get_data(
        as_text=True
    )
    assert f'href="{groceries}">Groceries</a>' in details
    assert f'href="{bob}">Bob &lt;bob@example.com&gt;</a>' in details
