"""A parent's edit page: its inline children's grid configuration, and a form without them."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from console.demo.models import Todo, TodoList
from console.extensions import db as _db
from console.models import Role
from tests import test_contract
from tests.conftest import CSRF_RE
from tests.test_grid_api import change, rows, save

contract_app = test_contract.contract_app
editor = test_contract.editor
tree = test_contract.tree

CONFIG_RE = re.compile(r'<script type="application/json" id="inline-grids-config">(.*?)</script>',
                       re.S)
PARENT_VERSION_RE = re.compile(r'<input[^>]*\bname="version"[^>]*\bvalue="([^"]*)"')


@pytest.fixture(autouse=True)
def _grid_pages(app: Flask) -> None:
    """The console as deployed: grids where JavaScript runs (the tests' default is classic)."""
    app.config["CONSOLE_LIST_PAGE"] = "grid"


def edit_page(client: FlaskClient, ident: int, endpoint: str = "todolist") -> str:
    response = client.get(f"/admin/{endpoint}/edit/?id={ident}")
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def inline_config(page: str) -> list[dict[str, Any]] | None:
    match = CONFIG_RE.search(page)
    return json.loads(html.unescape(match.group(1))) if match else None


def test_a_lists_edit_page_carries_its_to_dos_grid_narrowed_to_the_list(
    editor_client: FlaskClient, sample: dict
) -> None:
    page = edit_page(editor_client, sample["groceries"])
    config = inline_config(page)
    assert config is not None
    [entry] = config
    assert (entry["field"], entry["fk"], entry["label"]) == ("todos", "list_id", "To-dos")
    assert entry["parentValue"] == str(sample["groceries"])
    assert entry["parentLabel"] == "Groceries"
    grid = entry["grid"]
    assert grid["rowsUrl"] == "/admin/todo/grid/rows"
    assert grid["saveUrl"] == "/admin/todo/grid/save"
    assert grid["canEdit"] is True and grid["csrf"]
    assert grid["query"] == f"parent=list_id&parent_id={sample['groceries']}"
    assert grid["layouts"]["current"]["hidden"] == ["list_id"]
    # The scripts come with it; the classic table stays in the HTML for pages without them.
    assert "grid/grid-inline.js" in page and "tabulator.min.js" in page
    assert 'id="todos"' in page and 'data-console-inline="todos"' in page
    # The rows the grid asks for are this list's to-dos.
    got = rows(editor_client, "todo", **dict(p.split("=") for p in grid["query"].split("&")))
    assert sorted(r["values"]["description"] for r in got["rows"]) == ["Buy eggs", "Buy milk"]


def test_a_person_gets_a_grid_of_the_lists_they_own(
    editor_client: FlaskClient, sample: dict
) -> None:
    [entry] = inline_config(edit_page(editor_client, sample["ann"], "person")) or [None]
    assert entry is not None
    assert (entry["field"], entry["fk"]) == ("lists", "owner_id")
    assert entry["parentLabel"] == "Ann <ann@example.com>"
    assert entry["grid"]["rowsUrl"] == "/admin/todolist/grid/rows"


def test_no_grid_where_the_role_cannot_read_the_childs_grid(
    app: Flask, editor_client: FlaskClient, sample: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    todo_view = app.extensions["console_registry"].view_of(Todo)
    monkeypatch.setattr(todo_view, "min_role", Role.admin)
    page = edit_page(editor_client, sample["groceries"])
    assert inline_config(page) is None
    assert "grid-inline.js" not in page
    assert 'id="todos"' in page  # the classic table, as before


def test_no_grid_where_the_childs_grid_is_read_only(
    app: Flask, editor_client: FlaskClient, sample: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    from console.admin import grid

    monkeypatch.setattr(grid, "can_edit", lambda view: view.description.cls is not Todo)
    assert inline_config(edit_page(editor_client, sample["groceries"])) is None


def test_classic_pages_or_the_inline_argument_keep_the_classic_table(
    app: Flask, editor_client: FlaskClient, sample: dict
) -> None:
    page = editor_client.get(f"/admin/todolist/edit/?id={sample['groceries']}&inline=classic")
    assert "inline-grids-config" not in page.get_data(as_text=True)
    app.config["CONSOLE_LIST_PAGE"] = "classic"
    assert inline_config(edit_page(editor_client, sample["groceries"])) is None


def test_the_create_page_keeps_the_classic_table(editor_client: FlaskClient, sample: dict) -> None:
    page = editor_client.get("/admin/todolist/new/").get_data(as_text=True)
    assert "inline-grids-config" not in page and "grid-inline.js" not in page
    assert 'id="todos"' in page


def parent_only_post(client: FlaskClient, ident: int, data: dict[str, str],
                     page: str | None = None) -> Any:
    """Post the list's form as grid-inline.js leaves it: the parent's fields, no inline rows."""
    page = page or edit_page(client, ident)
    csrf = CSRF_RE.search(page)
    version = PARENT_VERSION_RE.search(page)
    assert csrf and version
    return client.post(f"/admin/todolist/edit/?id={ident}",
                       data={**data, "csrf_token": csrf.group(1),
                             "version": html.unescape(version.group(1))})


def stored_todos(list_id: int) -> dict[int, tuple[str, int]]:
    _db.session.expire_all()
    return {t.id: (t.description, t.version) for t in
            _db.session.query(Todo).filter_by(list_id=list_id)}


def test_a_parent_form_without_its_inline_rows_leaves_the_children_alone(
    editor_client: FlaskClient, sample: dict
) -> None:
    before = stored_todos(sample["groceries"])
    assert len(before) == 2
    response = parent_only_post(editor_client, sample["groceries"],
                                {"name": "Groceries, weekly", "owner": str(sample["ann"])})
    assert response.status_code == 302, response.get_data(as_text=True)
    _db.session.expire_all()
    assert _db.session.get(TodoList, sample["groceries"]).name == "Groceries, weekly"
    assert stored_todos(sample["groceries"]) == before


def test_grid_edits_after_the_form_was_opened_survive_the_forms_save(
    editor_client: FlaskClient, sample: dict
) -> None:
    page = edit_page(editor_client, sample["groceries"])
    # The grid changes a to-do (its own batch) while the form stays open...
    [milk] = [r for r in rows(editor_client, "todo", parent="list_id",
                              parent_id=sample["groceries"])["rows"]
              if r["values"]["description"] == "Buy milk"]
    answer = save(editor_client, {"changes": [change(milk, "description", "Buy oat milk")]})
    assert answer.status_code == 200, answer.get_json()
    # ...then the form's Save: no conflict (the list did not change), the edit stays.
    response = parent_only_post(editor_client, sample["groceries"],
                                {"name": "Shop", "owner": str(sample["ann"])}, page=page)
    assert response.status_code == 302, response.get_data(as_text=True)
    descriptions = sorted(d for d, _v in stored_todos(sample["groceries"]).values())
    assert descriptions == ["Buy eggs", "Buy oat milk"]
    _db.session.expire_all()
    assert _db.session.get(TodoList, sample["groceries"]).name == "Shop"


def test_a_model_the_console_has_never_seen_gets_its_inline_grid(
    contract_app: Flask, editor: FlaskClient, tree: dict
) -> None:
    contract_app.config["CONSOLE_LIST_PAGE"] = "grid"
    [entry] = inline_config(edit_page(editor, tree["project"], "project")) or [None]
    assert entry is not None
    assert (entry["field"], entry["fk"], entry["parentValue"]) == (
        "tasks", "project_id", str(tree["project"]))
    grid = entry["grid"]
    got = rows(editor, grid["rowsUrl"].split("/")[2],
               **dict(p.split("=") for p in grid["query"].split("&")))
    assert sorted(r["values"]["title"] for r in got["rows"]) == ["Build", "Test"]
    # A task's own inline steps: a grid of their own on the task's page.
    [steps] = inline_config(edit_page(editor, tree["build"], "task")) or [None]
    assert steps is not None and steps["fk"] == "task_id"
