"""The command palette's search (Ctrl+K): places, actions and records, by role."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient


def _items(client: FlaskClient, q: str) -> list[dict[str, str]]:
    response = client.get("/admin/palette/", query_string={"q": q})
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response.get_json()["items"]


def _labels(items: list[dict[str, str]]) -> list[str]:
    return [item["label"] for item in items]


def test_an_editor_finds_models_actions_and_records(editor_client: FlaskClient,
                                                    sample: dict) -> None:
    everything = _labels(_items(editor_client, ""))
    assert {"To-dos", "To-dos in the grid", "New to-do", "Import to-dos",
            "Export to-dos (CSV)", "Relationships", "Home (dashboard)"} <= set(everything)
    assert "Migrations" not in everything and "Accounts" not in everything
    # Every word must match, in the label or its detail.
    assert _labels(_items(editor_client, "new to-do")) == ["New to-do", "New to-do list"]
    [milk] = [i for i in _items(editor_client, "milk") if i["kind"] == "record"]
    assert milk["label"] == "Buy milk" and milk["detail"] == f"to-do {sample['milk']}"
    assert milk["url"] == f"/admin/todo/edit/?id={sample['milk']}"
    page = editor_client.get(milk["url"])
    assert page.status_code == 200 and "Buy milk" in page.get_data(as_text=True)
    # A person by their email, a list by its name.
    found = _items(editor_client, "ann@example.com")
    assert any(i["kind"] == "record" and i["detail"].startswith("person") for i in found)


def test_a_viewer_is_offered_only_what_a_viewer_may_open(viewer_client: FlaskClient,
                                                         sample: dict) -> None:
    labels = _labels(_items(viewer_client, ""))
    assert "To-dos" in labels and "Export to-dos (CSV)" in labels
    assert not [label for label in labels if label.startswith(("New ", "Import "))]
    [milk] = [i for i in _items(viewer_client, "milk") if i["kind"] == "record"]
    assert milk["url"] == f"/admin/todo/details/?id={sample['milk']}"


def test_an_admin_also_gets_the_administration(admin_client: FlaskClient, sample: dict) -> None:
    labels = _labels(_items(admin_client, "migra"))
    assert labels == ["Migrations"]
    assert "Accounts" in _labels(_items(admin_client, "accounts"))


def test_bad_search_text_and_anonymous_callers_are_refused(
    app: Any, editor_client: FlaskClient, sample: dict
) -> None:
    # A NUL anywhere in a query string is refused by the console as a whole.
    assert editor_client.get("/admin/palette/", query_string={"q": "a\x00b"}).status_code == 400
    response = editor_client.get("/admin/palette/", query_string={"q": "x" * 201})
    assert response.status_code == 400 and "cannot be searched" in response.get_json()["error"]
    # Wildcards are text, not patterns.
    assert [i for i in _items(editor_client, "%") if i["kind"] == "record"] == []
    anonymous = app.test_client().get("/admin/palette/?q=milk")
    assert anonymous.status_code in (302, 401, 403)
    assert b"Buy milk" not in anonymous.data
