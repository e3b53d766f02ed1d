"""The list page's per-page row patterns give exactly Flask-Admin's per-row markup."""

from __future__ import annotations

import difflib
import re
from typing import Any

import pytest
from markupsafe import escape

from console.admin import fast_rows
from console.demo.models import Person, Todo, TodoList

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


ESCAPE_ME = "<b>\"x\"&'y'</b>"


@pytest.fixture
def escape_me(db: Any, tricky: dict[str, int]) -> int:
    """A to-do, its list and its assignee named with every character HTML escapes."""
    bob = Person(name=ESCAPE_ME, email="bob@example.com")
    lst = TodoList(name=ESCAPE_ME, owner=bob)
    todo = Todo(description=ESCAPE_ME, todo_list=lst, assignee=bob, completed=False)
    db.session.add_all([bob, lst, todo])
    db.session.commit()
    return todo.id


def count_calls(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[int]:
    """Count the calls of ``owner.name`` (the call goes through unchanged)."""
    calls: list[int] = []
    original = getattr(owner, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return calls


@pytest.mark.parametrize("mode", ["patterns", "per-cell fallbacks"])
@pytest.mark.parametrize("who", ["viewer_client", "editor_client", "admin_client"])
def test_page_rows_render_what_the_per_cell_code_renders(
    request: pytest.FixtureRequest,
    escape_me: int,
    monkeypatch: pytest.MonkeyPatch,
    who: str,
    mode: str,
) -> None:
    """PageRows (rows in Python) against the template's per-cell code, for every role.

    "per-cell fallbacks": PageRows on, but every pattern refused, so that each cell
    takes PageRows' own fallback to the per-row form and Flask-Admin's per-row code.
    """
    client = request.getfixturevalue(who)
    url = "/admin/todo/?page_size=50"
    if mode == "per-cell fallbacks":
        monkeypatch.setattr(fast_rows, "ROW_INDEPENDENT_ACTIONS", ())
        monkeypatch.setattr(fast_rows, "STATIC_EDITABLE_TYPES", frozenset())
        monkeypatch.setattr(fast_rows, "_toggle_pattern", lambda *args: None)
    with monkeypatch.context() as patch:
        rows = count_calls(patch, fast_rows.PageRows, "html")
        fast = list_page(client, url)
    assert len(rows) == 3  # every row of the page came from PageRows
    slow_paths(monkeypatch)
    rows = count_calls(monkeypatch, fast_rows.PageRows, "html")
    slow = list_page(client, url)
    assert rows == []
    diff = difflib.unified_diff(slow.splitlines(), fast.splitlines(), lineterm="", n=0)
    assert fast == slow, "\n".join(list(diff)[:30])
    # Description, list and assignee cells: escaped once, never raw, never twice.
    escaped = str(escape(ESCAPE_ME))
    assert ESCAPE_ME not in fast
    assert "&amp;amp;" not in fast and "&amp;lt;" not in fast
    cells = re.findall(r'<td class="col-(\w+)">\s*(.*?)\s*</td>', fast, re.S)
    by_column = {column: html for column, html in cells if escaped in html}
    assert {"todo_list", "assignee"} <= set(by_column)
    assert by_column["todo_list"] == escaped
    if who == "viewer_client":
        assert by_column["description"] == escaped
    else:
        assert by_column["description"].endswith(f">{escaped}</a>")
        assert f'data-value="{escaped}"' in by_column["description"]


def test_one_list_form_per_page(
    editor_client: Any, escape_me: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The inline-edit links come from one form's fields, not one form per row."""
    from console.admin.versioning import VersionCheckMixin

    built = count_calls(monkeypatch, VersionCheckMixin, "list_form")
    page = list_page(editor_client, "/admin/todo/?page_size=50")
    assert page.count('data-role="x-editable"') == 6  # 3 rows x description, priority
    assert len(built) == 1
    slow_paths(monkeypatch)
    built.clear()
    list_page(editor_client, "/admin/todo/?page_size=50")
    assert len(built) == 3


def test_every_csrf_token_on_the_page_is_a_valid_one(
    editor_client: Any, tricky: dict[str, int]
) -> None:
    """The comparisons above blank the tokens: here the filled-in ones are checked."""
    page = editor_client.get("/admin/todo/?page_size=50").get_data(as_text=True)
    toggles = re.findall(
        r'<form method="post" action="(/admin/todo/toggle/\d+/completed)".*?'
        r'name="csrf_token" value="([^"]+)".*?name="version" value="(\d+)"',
        page,
        re.S,
    )
    links = re.findall(r'data-csrf="([^"]*)"', page)
    assert len(toggles) == 2 and len(links) == 4
    tokens = {token for _, token, _ in toggles} | set(links)
    assert len(tokens) == 1 and "" not in tokens and "rowtoken" not in page
    action, token, version = toggles[-1]
    response = editor_client.post(
        action,
        data={"value": "1", "version": version, "csrf_token": token},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    # A tampered token is refused (so the check above had a real token to pass).
    response = editor_client.post(
        action,
        data={"value": "0", "version": str(int(version) + 1), "csrf_token": token + "x"},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400


@pytest.mark.parametrize("url", ["/admin/person/", "/admin/todolist/", "/admin/account/"])
def test_page_rows_match_on_the_other_list_views(
    admin_client: Any, escape_me: int, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    """People (inline-edited names), lists (a computed count), accounts (an enum role)."""
    with monkeypatch.context() as patch:
        rows = count_calls(patch, fast_rows.PageRows, "html")
        fast = list_page(admin_client, url)
    assert rows
    slow_paths(monkeypatch)
    slow = list_page(admin_client, url)
    diff = difflib.unified_diff(slow.splitlines(), fast.splitlines(), lineterm="", n=0)
    assert fast == slow, "\n".join(list(diff)[:30])
    assert ESCAPE_ME not in fast
