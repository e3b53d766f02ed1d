"""The grid's saved column layouts and named views: per account, checked, CSRF-protected."""

from __future__ import annotations

import json
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from console import grid_views
from console.extensions import db as _db
from console.models import Account, AuditEntry, GridView, Role
from tests.conftest import Auth, count, make_account
from tests.test_grid_api import grid_config

LAYOUT = {"order": ["id", "completed", "description"], "hidden": ["due_date"],
          "widths": {"description": 300}}


def token(client: FlaskClient, endpoint: str = "todo") -> str:
    """The CSRF token the grid page hands its script for layouts."""
    return grid_config(client, endpoint)["layouts"]["csrf"]


def post(client: FlaskClient, path: str, body: Any, endpoint: str = "todo",
         csrf: str | None = None) -> Any:
    """POST JSON to one of the grid's layout endpoints with the page's token."""
    return client.post(f"/admin/{endpoint}/grid/{path}", json=body,
                       headers={"X-CSRFToken": token(client, endpoint) if csrf is None else csrf})


def listing(client: FlaskClient, endpoint: str = "todo") -> dict[str, Any]:
    """What the grid's layouts endpoint answers (asserting a 200)."""
    response = client.get(f"/admin/{endpoint}/grid/layouts")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def logged_in(app: Any, email: str, role: Role = Role.editor) -> FlaskClient:
    """A client of a new account ``email``."""
    make_account(role, email)
    client = app.test_client()
    assert Auth(client).login(email).status_code == 302
    return client


def test_a_saved_layout_is_what_the_grid_opens_with(editor_client, app):
    assert grid_config(editor_client)["layouts"]["current"] is None
    response = post(editor_client, "layout", {"layout": LAYOUT})
    assert response.status_code == 200, response.get_data(as_text=True)
    current = grid_config(editor_client)["layouts"]["current"]
    # The columns it did not name come after the one they follow in the model.
    named = [k for k in current["order"] if k in LAYOUT["order"]]
    assert named == ["id", "completed", "description"]
    assert current["order"][current["order"].index("completed") + 1] == "due_date"
    assert set(current["order"]) == {c["key"] for c in grid_config(editor_client)["columns"]}
    assert current["hidden"] == ["due_date"]
    assert current["widths"] == {"description": 300}
    # From another browser (a new session of the same account): the same layout.
    other = app.test_client()
    assert Auth(other).login("editor@example.com").status_code == 302
    assert grid_config(other)["layouts"]["current"] == current
    # Saving again replaces it; none of it is in the change history.
    assert post(editor_client, "layout", {"layout": {"hidden": ["priority"]}}).status_code == 200
    assert grid_config(editor_client)["layouts"]["current"]["hidden"] == ["priority"]
    assert count(GridView) == 1
    assert _db.session.scalars(select(AuditEntry.model)).all().count("GridView") == 0


def test_reset_goes_back_to_the_default_layout(editor_client):
    post(editor_client, "layout", {"layout": LAYOUT})
    response = post(editor_client, "layout", {"layout": None})
    assert response.status_code == 200
    assert response.get_json()["current"] is None
    assert grid_config(editor_client)["layouts"]["current"] is None


def test_named_views_are_saved_listed_replaced_and_deleted(editor_client):
    args = [["search", "milk"], ["sort", "1"], ["desc", "1"], ["flt0_5", "1"], ["after", "x"]]
    response = post(editor_client, "views", {"name": "  Milk   first ", "layout": LAYOUT,
                                             "args": args})
    assert response.status_code == 200, response.get_data(as_text=True)
    post(editor_client, "views", {"name": "All", "layout": {}, "args": []})
    views = listing(editor_client)["views"]
    assert [v["name"] for v in views] == ["All", "Milk first"]
    milk = views[1]
    # Positions in the list are not part of a view.
    assert milk["args"] == [["search", "milk"], ["sort", "1"], ["desc", "1"], ["flt0_5", "1"]]
    assert milk["layout"]["hidden"] == ["due_date"] and milk["updatedAt"]
    # A view's name is its identity: saving it again replaces it.
    post(editor_client, "views", {"name": "Milk first", "layout": {}, "args": [["search", "x"]]})
    views = listing(editor_client)["views"]
    assert len(views) == 2 and views[1]["args"] == [["search", "x"]]
    # Named views are not the current layout.
    assert listing(editor_client)["current"] is None
    response = post(editor_client, "views/delete", {"name": "Milk first"})
    assert response.status_code == 200
    assert [v["name"] for v in response.get_json()["views"]] == ["All"]
    assert post(editor_client, "views/delete", {"name": "Milk first"}).status_code == 404


def test_unknown_columns_and_bad_layouts_are_refused_with_the_reason(editor_client):
    cases = [
        ({"layout": {"order": ["id", "nope"]}}, "Unknown column in \"order\": nope"),
        ({"layout": {"hidden": ["nope", "gone"]}}, "Unknown columns in \"hidden\": nope, gone"),
        ({"layout": {"widths": {"nope": 100}}}, "Unknown column in \"widths\": nope"),
        ({"layout": {"widths": {"id": 5}}}, "The width of id must be"),
        ({"layout": {"widths": {"id": "wide"}}}, "The width of id must be"),
        ({"layout": {"order": ["id", "id"]}}, "appears twice"),
        ({"layout": {"colour": "red"}}, "A layout has no colour"),
        ({"layout": "x"}, "A layout is"),
        ({"layout": {"order": ["id"] * 5000}}, "at most 20,000 characters"),
        ({}, "Expected"),
    ]
    for body, message in cases:
        response = post(editor_client, "layout", body)
        assert response.status_code == 400, body
        assert message in response.get_json()["error"], (body, response.get_json())
    every = [c["key"] for c in grid_config(editor_client)["columns"]]
    response = post(editor_client, "layout", {"layout": {"hidden": every}})
    assert response.status_code == 400 and "stays shown" in response.get_json()["error"]
    assert count(GridView) == 0


def test_a_body_too_big_is_not_read(editor_client):
    body = {"layout": {"order": ["id"]}, "padding": "x" * 70_000}
    response = post(editor_client, "layout", body)
    assert response.status_code == 413 and "At most 64 KB" in response.get_json()["error"]
    assert count(GridView) == 0


def test_view_names_and_arguments_are_bounded(editor_client):
    for name in ("", "   ", None, 3, "x" * 101):
        response = post(editor_client, "views", {"name": name, "layout": {}})
        assert response.status_code == 400, name
    assert post(editor_client, "views", {"name": "x" * 100, "layout": {}}).status_code == 200
    for args in ("search=milk", [["search"]], [["search", 1]], [["a", "b"]] * 61,
                 [["search", "x" * 10_001]]):
        response = post(editor_client, "views", {"name": "v", "layout": {}, "args": args})
        assert response.status_code == 400, args
    assert count(GridView) == 1


def test_at_most_fifty_views_per_account_and_model(editor_client, app):
    account = _db.session.scalars(select(Account)).one()
    for i in range(grid_views.MAX_VIEWS):
        grid_views.save(_db.session, account.id, "todo", f"v{i:02d}", {})
    response = post(editor_client, "views", {"name": "one more", "layout": {}})
    assert response.status_code == 400
    assert "50 saved views" in response.get_json()["error"]
    # Replacing one is not one more; another model's grid has its own fifty.
    assert post(editor_client, "views", {"name": "v00", "layout": {}}).status_code == 200
    assert post(editor_client, "views", {"name": "one more", "layout": {},
                                         }, endpoint="person").status_code == 200
    # Nor does the current layout count.
    assert post(editor_client, "layout", {"layout": {}}).status_code == 200


def test_every_post_needs_the_csrf_token(editor_client):
    for path, body in (("layout", {"layout": LAYOUT}), ("views", {"name": "a", "layout": {}}),
                       ("views/delete", {"name": "a"})):
        response = post(editor_client, path, body, csrf="")
        assert response.status_code == 400, path
        response = post(editor_client, path, body, csrf="not-the-token")
        assert response.status_code == 400, path
    assert count(GridView) == 0


def test_viewers_keep_layouts_and_views_of_their_own(viewer_client):
    config = grid_config(viewer_client)
    assert config["canEdit"] is False and config["layouts"]["csrf"]
    assert post(viewer_client, "layout", {"layout": LAYOUT}).status_code == 200
    assert post(viewer_client, "views", {"name": "Mine", "layout": {}}).status_code == 200
    assert [v["name"] for v in listing(viewer_client)["views"]] == ["Mine"]
    assert grid_config(viewer_client)["layouts"]["current"]["hidden"] == ["due_date"]


def test_another_account_neither_sees_nor_deletes_your_views(editor_client, app):
    post(editor_client, "layout", {"layout": LAYOUT})
    post(editor_client, "views", {"name": "Mine", "layout": LAYOUT, "args": [["search", "a"]]})
    other = logged_in(app, "other@example.com")
    assert grid_config(other)["layouts"]["current"] is None
    assert listing(other)["views"] == []
    assert post(other, "views/delete", {"name": "Mine"}).status_code == 404
    # Theirs of the same name is theirs.
    assert post(other, "views", {"name": "Mine", "layout": {}}).status_code == 200
    assert post(other, "views/delete", {"name": "Mine"}).status_code == 200
    assert [v["name"] for v in listing(editor_client)["views"]] == ["Mine"]
    assert listing(editor_client)["views"][0]["args"] == [["search", "a"]]


def test_layouts_are_per_model(editor_client):
    post(editor_client, "layout", {"layout": LAYOUT})
    assert grid_config(editor_client, "person")["layouts"]["current"] is None
    response = post(editor_client, "layout", {"layout": {"hidden": ["due_date"]}},
                    endpoint="person")
    assert response.status_code == 400 and "Unknown column" in response.get_json()["error"]


def test_a_column_gone_from_the_model_is_ignored_on_restore(editor_client, db):
    account = _db.session.scalars(select(Account)).one()
    stored = {"order": ["renamed", "description", "id"], "hidden": ["gone", "priority"],
              "widths": {"gone": 100, "description": 250, "id": "x"}, "extra": 1}
    _db.session.add(GridView(account_id=account.id, model="todo", name="",
                             layout=json.dumps(stored)))
    _db.session.add(GridView(account_id=account.id, model="todo", name="Old",
                             layout="not json", args="{}"))
    _db.session.commit()
    config = grid_config(editor_client)
    current = config["layouts"]["current"]
    keys = [c["key"] for c in config["columns"]]
    assert [k for k in current["order"] if k in ("description", "id")] == ["description", "id"]
    assert sorted(current["order"]) == sorted(keys)
    assert current["hidden"] == ["priority"]
    assert current["widths"] == {"description": 250}
    [old] = listing(editor_client)["views"]
    assert old["layout"]["order"] == keys and old["args"] == []


def test_an_accounts_layouts_go_with_it(editor_client, admin_client):
    post(editor_client, "layout", {"layout": LAYOUT})
    post(editor_client, "views", {"name": "Mine", "layout": {}})
    assert count(GridView) == 2
    editor = _db.session.scalars(select(Account).filter_by(email="editor@example.com")).one()
    _db.session.delete(editor)
    _db.session.commit()
    assert count(GridView) == 0


def test_anonymous_visitors_are_sent_to_log_in(client):
    assert client.get("/admin/todo/grid/layouts").status_code == 302
