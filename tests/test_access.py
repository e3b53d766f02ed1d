"""Who may do what: the role matrix, CSRF on every POST, and anonymous redirects."""

from __future__ import annotations

import re

import pytest
from flask import current_app
from sqlalchemy import select, text

from console.cascade import plan_delete
from console.demo.models import Person, Todo, TodoList
from console.extensions import db as _db
from console.models import Account, Base, Role
from tests.conftest import Auth, csrf_token, make_account

ANON, VIEWER, EDITOR, ADMIN = "anonymous", "viewer", "editor", "admin"
ROLES = [ANON, VIEWER, EDITOR, ADMIN]

# (method, url template, least role that may use it). Statuses follow from it:
# anonymous -> 302 to /login; below the role -> 403; at or above -> 200 (or 302 after a POST).
ENDPOINTS = [
    ("GET", "/admin/", VIEWER),
    ("GET", "/admin/relationships/", VIEWER),
    ("GET", "/admin/migrations/", ADMIN),
    ("GET", "/admin/audit/", ADMIN),
    ("GET", "/admin/audit/export.csv", ADMIN),
    ("GET", "/admin/{model}/history/?id={id}", VIEWER),
    ("GET", "/admin/{model}/", VIEWER),
    ("GET", "/admin/{model}/details/?id={id}", VIEWER),
    ("GET", "/admin/{model}/export/csv/", VIEWER),
    ("GET", "/admin/{model}/new/", EDITOR),
    ("GET", "/admin/{model}/edit/?id={id}", EDITOR),
    ("GET", "/admin/{model}/delete/?id={id}", EDITOR),
    ("POST", "/admin/{model}/delete/", EDITOR),
]
MODELS = {"person": "bob", "todolist": "groceries", "todo": "milk"}
MODEL_CLASSES = {"person": Person, "todolist": TodoList, "todo": Todo, "account": Account}


def _expected(least: str, role: str, method: str) -> int:
    if role == ANON:
        return 302
    if ROLES.index(role) < ROLES.index(least):
        return 403
    return 302 if method == "POST" else 200


def _client_for(app, role):
    client = app.test_client()
    if role != ANON:
        make_account(Role(role))
        assert Auth(client).login(f"{role}@example.com").status_code == 302
    return client


def _request(client, method, url, record_id, role, model):
    if method == "GET":
        return client.get(url)
    token = csrf_token(client, "/login" if role == ANON else "/admin/")
    # The fingerprint the confirmation page would carry, computed as the page does.
    edges = current_app.extensions["console_catalogue"].edges
    plan = plan_delete(_db.session, MODEL_CLASSES[model], [record_id], edges=edges)
    _db.session.rollback()
    return client.post(
        url, data={"id": str(record_id), "csrf_token": token, "fingerprint": plan.fingerprint}
    )


CASES = [
    (role, method, template, least, model)
    for role in ROLES
    for method, template, least in ENDPOINTS
    for model in (MODELS if "{model}" in template else ["-"])
] + [
    (role, method, template, ADMIN, "account")
    for role in ROLES
    for method, template, _least in ENDPOINTS
    if "{model}" in template
]


@pytest.mark.parametrize(("role", "method", "template", "least", "model"), CASES)
def test_role_matrix(app, sample, role, method, template, least, model):
    client = _client_for(app, role)
    if model == "account":
        record_id = make_account(Role.viewer, "target@example.com").id
    else:
        record_id = sample.get(MODELS.get(model, ""), 0)
    url = template.format(model=model, id=record_id)
    response = _request(client, method, url, record_id, role, model)
    expected = _expected(least, role, method)
    assert response.status_code == expected, (role, method, url, response.status_code)
    if role == ANON:
        assert "/login" in response.location


def test_password_hash_is_never_shown_or_exported(admin_client, app):
    account = make_account(Role.viewer, "someone@example.com")
    pages = [
        admin_client.get("/admin/account/").get_data(as_text=True),
        admin_client.get(f"/admin/account/details/?id={account.id}").get_data(as_text=True),
        admin_client.get(f"/admin/account/edit/?id={account.id}").get_data(as_text=True),
        admin_client.get("/admin/account/export/csv/").get_data(as_text=True),
    ]
    for page in pages:
        assert account.password_hash not in page
        assert "scrypt:" not in page and "pbkdf2:" not in page
        assert "password_hash" not in page.lower().replace(" ", "_") or "Password" in page


def _snapshot(db):
    rows = {}
    for table in Base.metadata.sorted_tables:
        rows[table.name] = sorted(
            tuple(str(v) for v in row) for row in db.session.execute(select(table)).all()
        )
    return rows


def _concrete(rule, ids):
    url = rule.rule
    for arg in rule.arguments:
        url = re.sub(rf"<(?:[^:<>]+:)?{arg}>", str(ids.get(arg, "csv")), url)
    return url


def test_every_post_without_csrf_token_is_refused(app, db, sample):
    client = _client_for(app, ADMIN)
    before = _snapshot(db)
    posts = [r for r in app.url_map.iter_rules() if "POST" in (r.methods or set())]
    assert len(posts) >= 10
    for rule in posts:
        url = _concrete(rule, {"id": sample["groceries"]})
        response = client.post(
            url,
            data={
                "id": str(sample["groceries"]),
                "name": "Hacked",
                "email": "x@example.com",
                "description": "Hacked",
                "rowid": str(sample["milk"]),
                "action": "delete",
            },
        )
        assert response.status_code == 400, (rule.rule, response.status_code)
        assert "CSRF" in response.get_data(as_text=True)
    db.session.rollback()
    assert _snapshot(db) == before
    # The session survived: logout without a token was refused too.
    assert client.get("/admin/").status_code == 200


def test_anonymous_is_sent_to_login_with_next(client):
    response = client.get("/admin/todo/?page=2")
    assert response.status_code == 302
    assert response.location.startswith("/login?next=")
    assert response.location == "/login?next=/admin/todo/?page%3D2"


def test_error_pages_use_the_console_layout(editor_client, app, monkeypatch):
    response = editor_client.get("/no/such/page")
    assert response.status_code == 404
    assert "Not found" in response.get_data(as_text=True)
    assert "Log out" in response.get_data(as_text=True)

    def boom(*args, **kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setitem(app.view_functions, "todo.index_view", boom)
    response = editor_client.get("/admin/todo/")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "Server error" in body
    assert "secret internal detail" not in body and "Traceback" not in body


def test_database_connection_is_still_usable_after_an_error(app, db, editor_client):
    assert db.session.execute(text("select 1")).scalar() == 1
