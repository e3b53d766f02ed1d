"""Security headers on every response, the CSP nonce, and cookies and proxies."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import render_template_string
from sqlalchemy import select

from console import create_app
from console.models import LoginThrottle, Role
from console.security import csp_nonce
from tests.conftest import CSRF_RE, PASSWORD, make_account

ROOT = Path(__file__).resolve().parent.parent
NONCE_RE = re.compile(r"script-src 'self' 'nonce-([A-Za-z0-9_-]{16,})'")


def _assert_page_headers(response):
    headers = response.headers
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cache-Control"] == "no-store"
    csp = headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "default-src 'self'" in csp and "object-src 'none'" in csp
    assert NONCE_RE.search(csp), csp
    assert "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";", 1)[0]
    assert "'unsafe-eval'" not in csp


def test_every_kind_of_page_gets_the_headers(app, editor_client, client):
    responses = [
        client.get("/login"),
        client.get("/admin/"),  # a redirect to the login
        client.post("/login", data={}),  # refused: no CSRF token
        editor_client.get("/admin/"),
        editor_client.get("/admin/todo/"),
        editor_client.get("/account"),
        editor_client.get("/no/such/page"),
        editor_client.get("/admin/migrations/"),  # 403
    ]
    assert [r.status_code for r in responses] == [200, 302, 400, 200, 200, 200, 404, 403]
    for response in responses:
        _assert_page_headers(response)


def test_static_files_are_cacheable_but_still_not_sniffed_or_framed(client):
    response = client.get("/admin/static/bootstrap/bootstrap4/css/bootstrap.min.css")
    assert response.status_code == 200
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers.get("Cache-Control") != "no-store"
    response.close()


def test_each_request_gets_its_own_nonce(client):
    first = NONCE_RE.search(client.get("/login").headers["Content-Security-Policy"]).group(1)
    second = NONCE_RE.search(client.get("/login").headers["Content-Security-Policy"]).group(1)
    assert first != second


def test_the_nonce_in_the_header_is_the_one_templates_get(app, client):
    @app.get("/_nonce_probe")
    def probe():
        return render_template_string(
            '<script nonce="{{ csp_nonce() }}">1</script><i>{{ csp_nonce() }}</i>'
        )

    response = client.get("/_nonce_probe")
    nonce = NONCE_RE.search(response.headers["Content-Security-Policy"]).group(1)
    assert response.get_data(as_text=True) == f'<script nonce="{nonce}">1</script><i>{nonce}</i>'


def test_csp_nonce_is_one_per_request(app):
    # Each request has an app context of its own (and so its own g), as in production.
    with app.app_context(), app.test_request_context("/"):
        assert csp_nonce() == csp_nonce()
        first = csp_nonce()
    with app.app_context(), app.test_request_context("/"):
        assert csp_nonce() != first


def test_the_full_policy_can_be_turned_off_but_framing_stays_forbidden(app, client):
    app.config["CONSOLE_CSP"] = False
    response = client.get("/login")
    assert response.headers["Content-Security-Policy"] == "frame-ancestors 'none'"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"


OWN_TEMPLATES = sorted(
    [*(ROOT / "templates" / "auth").glob("*.html"), *(ROOT / "templates" / "errors").glob("*.html"),
     ROOT / "templates" / "layout.html"]
)


@pytest.mark.parametrize("path", OWN_TEMPLATES, ids=lambda p: p.name)
def test_the_auth_and_error_templates_need_nothing_the_csp_forbids(path):
    text = path.read_text()
    for tag in re.findall(r"<script\b[^>]*>", text):
        assert "src=" in tag or "csp_nonce()" in tag, tag
    assert "<style" not in text or 'nonce="{{ csp_nonce() }}"' in text
    assert not re.search(r"\son[a-z]+\s*=", text), "inline event handler"
    assert "javascript:" not in text
    assert not re.search(r"""(src|href)=["']https?://""", text), "another origin"


def _proxied_app(app):
    return create_app(
        {
            **{k: app.config[k] for k in ("SQLALCHEMY_DATABASE_URI", "SECRET_KEY", "TESTING")},
            "INSTANCE_PATH": app.instance_path,
            "CONSOLE_TRUST_PROXY": 1,
        }
    )


def _login(client, **kwargs):
    token = CSRF_RE.search(client.get("/login", **kwargs).get_data(as_text=True)).group(1)
    return client.post(
        "/login",
        data={"email": "editor@example.com", "password": PASSWORD, "csrf_token": token},
        **kwargs,
    )


def test_behind_a_trusted_proxy_the_forwarded_address_and_scheme_count(app, db):
    make_account(Role.editor)
    proxied = _proxied_app(app)
    forwarded = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https",
                 "Referer": "https://localhost/login"}
    with proxied.app_context():
        response = _login(proxied.test_client(), headers=forwarded)
    assert response.status_code == 302
    assert all("Secure" in c for c in response.headers.getlist("Set-Cookie"))
    keys = set(db.session.scalars(select(LoginThrottle.key)))
    assert "address:203.0.113.7" in keys and "rate:203.0.113.7" in keys


def test_without_proxy_trust_forwarded_headers_are_ignored(app, db):
    make_account(Role.editor)
    forwarded = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
    response = _login(app.test_client(), headers=forwarded)
    assert response.status_code == 302
    assert not any("Secure" in c for c in response.headers.getlist("Set-Cookie"))
    keys = set(db.session.scalars(select(LoginThrottle.key)))
    assert "address:127.0.0.1" in keys
    assert not any("203.0.113.7" in key for key in keys)


def test_the_login_page_shows_under_the_policy_without_inline_code(client):
    body = client.get("/login").get_data(as_text=True)
    assert "<script" not in body and " style=" not in body
