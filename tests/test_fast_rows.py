"""The list page's per-page row patterns give exactly Flask-Admin's per-row markup."""

from __future__ import annotations

import difflib
import re
from typing import Any

import pytest
from markupsafe import escape

from console.admin import fast_rows
from console.models import Person, Todo, TodoList

TRICKY = "Fish & chips <b>\"quoted\"</b> 'single' {braces} %(fmt)s"
CSRF = re.compile(r'((?:data-csrf|name="csrf_token"(?: type="hidden")? value)=)"[^"]*"')


@pytest.fixture
def tricky(db: Any) -> dict[str, int]:
    """To-dos whose text needs escaping everywhere it appears."""
    ann = Person(name="Ann <&>", email="ann@example.com")
    home = TodoList(name='Home "&" <away>', owner=ann)
    rows = [
        Todo(description=TRICKY, todo_list=home, assignee=ann, completed=True),
        Todo(description="plain", todo_list=home, completed=False),
    ]
    db.session.add_all([ann, home, *rows])
    db.session.commit()
    return {"tricky": rows[0].id, "plain": rows[1].id}


def list_page(client: Any, url: str = "/admin/todo/?page_size=50&search=%26") -> str:
    """The list page's HTML with its (per-request signed) CSRF tokens blanked."""
    response = client.get(url)
    assert response.status_code == 200
    return CSRF.sub(r'\1"X"', response.get_data(as_text=True))


def slow_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every row render through Flask-Admin's own per-row code."""
    monkeypatch.setattr(fast_rows, "PAGE_ROWS", False)
    monkeypatch.setattr(fast_rows, "ROW_INDEPENDENT_ACTIONS", ())
    monkeypatch.setattr(fast_rows, "STATIC_EDITABLE_TYPES", frozenset())
    monkeypatch.setattr(fast_rows, "_toggle_pattern", lambda *args: None)


@pytest.mark.parametrize(
    "url", ["/admin/todo/?page_size=50", "/admin/todo/?search=%26&page_size=20"]
)
def test_patterns_render_what_flask_admin_renders(
    editor_client: Any, tricky: dict[str, int], monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    fast = list_page(editor_client, url)
    slow_paths(monkeypatch)
    slow = list_page(editor_client, url)
    diff = difflib.unified_diff(slow.splitlines(), fast.splitlines(), lineterm="", n=0)
    assert fast == slow, "\n".join(list(diff)[:30])
    assert "rowtoken" not in fast
    # The data is escaped in the cell and in the x-editable attribute, never raw.
    assert TRICKY not in fast
    assert f'data-value="{escape(TRICKY)}"' in fast


def test_row_icons_lead_to_details_edit_and_delete_preview(
    editor_client: Any, tricky: dict[str, int]
) -> None:
    page = list_page(editor_client, "/admin/todo/?page_size=50").replace("&amp;", "&")
    for id_ in tricky.values():
        for action in ("details", "edit", "delete"):
            assert re.search(rf'href="/admin/todo/{action}/\?id={id_}&url=/admin/todo/', page)
        assert f'action="/admin/todo/toggle/{id_}/completed"' in page
    # The trash icon is a link to the delete preview (a GET), not Flask-Admin's POST form.
    assert 'action="/admin/todo/delete/"' not in page
    preview = editor_client.get(f"/admin/todo/delete/?id={tricky['tricky']}")
    assert preview.status_code == 200
    assert "Fish &amp; chips" in preview.get_data(as_text=True)


def test_viewer_sees_no_edit_controls(viewer_client: Any, tricky: dict[str, int]) -> None:
    page = list_page(viewer_client, "/admin/todo/?page_size=50")
    assert 'data-role="x-editable"' not in page
    assert "/toggle/" not in page
    assert f"/admin/todo/details/?id={tricky['plain']}" in page


def test_toggle_from_the_pattern_still_works(editor_client: Any, tricky: dict[str, int]) -> None:
    page = list_page(editor_client, "/admin/todo/?page_size=50")
    form = re.search(
        rf'action="/admin/todo/toggle/{tricky["plain"]}/completed".*?name="version" value="(\d+)"',
        page,
        re.S,
    )
    assert form
    response = editor_client.post(
        f"/admin/todo/toggle/{tricky['plain']}/completed",
        data={"value": "1", "version": form.group(1), "csrf_token": _token(editor_client)},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["value"] is True


def _token(client: Any) -> str:
    page = client.get("/admin/todo/").get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match
    return match.group(1)
