"""Return addresses: only paths on this site are followed, as a browser would read them."""

from __future__ import annotations

import pytest

from console.models import Role
from console.redirects import safe_target
from tests.conftest import PASSWORD, csrf_token, make_account

HOME = "/admin/"

# (payload, where the browser goes): the payload itself when it is a plain same-site path.
SAME_SITE = [
    "/admin/",
    "/admin/todo/",
    "/admin/todo/?page=2",
    "/admin/todo/?page=2&sort=1&desc=1",
    "/admin/todo/?search=milk%20and%20eggs",
    "/admin/todo/?flt0_list=3#top",
    "/admin/todo/edit/?id=7&url=/admin/todo/%3Fpage%3D2",
    "/admin/person/?search=http://evil.example",
    "/admin/todo/?url=//evil.example",  # in the query it is data, not an address
    "/login",
    "/account",
    "/admin/person/?search=Zo%C3%AB",
]
ELSEWHERE = [
    None,
    "",
    "https://evil.example/",
    "http://evil.example",
    "HTTP://evil.example/",
    "HtTpS://evil.example/",
    "http:evil.example",
    "HTTP:/evil.example",
    "https:/evil.example",
    "//evil.example",
    "//evil.example/admin/",
    "///evil.example",
    "////evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "\\/evil.example",
    "/\\/evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    " //evil.example",
    "\t//evil.example",
    "\x00//evil.example",
    "\x01/evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r\n/evil.example",
    "/admin/\r\nSet-Cookie: x=1",
    "/admin/\x7f",
    "/admin/todo/?q=\r\nSet-Cookie:x=1",
    "/admin/todo/?q=a\tb",
    "/admin/todo/#\n//evil.example",
    "/%2F/evil.example",
    "/%2f%2fevil.example",
    "%2F%2Fevil.example",
    "/%5Cevil.example",
    "/%5cevil.example",
    "/%252F%252Fevil.example",
    "/%09/evil.example",
    "/%0D%0A/evil.example",
    "evil.example",
    "admin/todo/",
    "./admin/",
    "../admin/",
    "/./evil.example",
    "/.//evil.example",
    "/../evil.example",
    "/admin/%2e%2e/%2e%2e/evil",
    "/\u3000/evil.example",  # ideographic space
    "/\u200b/evil.example",  # zero-width space
    "/\u202eelpmaxe.live",  # right-to-left override
    "/\uff0fevil.example",  # fullwidth solidus: "//" once folded
    "/\ufe68evil.example",  # small reverse solidus
    "@evil.example",
    "?next=//evil.example",
    "#//evil.example",
    "/" + "a" * 3000,
]


def test_the_tables_are_big_enough():
    assert len(SAME_SITE) + len(ELSEWHERE) >= 40


@pytest.mark.parametrize("target", SAME_SITE)
def test_a_same_site_path_is_followed(target):
    assert safe_target(target, HOME) == target


@pytest.mark.parametrize("target", ELSEWHERE)
def test_anything_else_goes_to_the_default(target):
    assert safe_target(target, HOME) == HOME


# Every payload through the real login, once per database: one app, a fresh browser each.
LOCATION_CASES = [(t, t) for t in SAME_SITE if t.isascii()] + [
    (t, HOME) for t in ELSEWHERE if t is not None and len(t) < 100
]


def test_the_login_redirects_only_to_same_site_paths(app):
    assert len(LOCATION_CASES) >= 40
    app.config["CONSOLE_LOGIN_RATE_LIMIT"] = "1000/minute"
    make_account(Role.viewer)
    wrong = []
    for target, expected in LOCATION_CASES:
        client = app.test_client()
        token = csrf_token(client)
        response = client.post(
            "/login",
            data={
                "email": "viewer@example.com",
                "password": PASSWORD,
                "next": target,
                "csrf_token": token,
            },
        )
        if response.status_code != 302 or response.headers["Location"] != expected:
            wrong.append((target, response.status_code, response.headers.get("Location")))
    assert wrong == []


def test_a_logged_in_visitor_of_the_login_page_is_sent_on_safely(app):
    make_account(Role.viewer)
    client = app.test_client()
    token = csrf_token(client)
    client.post(
        "/login", data={"email": "viewer@example.com", "password": PASSWORD, "csrf_token": token}
    )
    assert client.get("/login?next=/admin/todo/").headers["Location"] == "/admin/todo/"
    assert client.get("/login?next=//evil.example").headers["Location"] == HOME
    assert client.get("/login?next=/%5Cevil.example").headers["Location"] == HOME
