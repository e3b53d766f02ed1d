"""Parts of pages rendered once per view and role (console/admin/fragments.py).

The navigation bar, the style and script tags and a list's action menu are remembered
per app; what they depend on (the role, the view) is in their key, and the request's
CSP nonce is put back into them on every request.
"""

from __future__ import annotations

import re

from flask import render_template_string

from console.admin.fragments import LIMIT, fragment
from tests.test_security_headers import NONCE_RE

NAV_RE = re.compile(r'<ul class="navbar-nav mr-auto flex-wrap">(.*?)</ul>', re.S)
SCRIPT_NONCES_RE = re.compile(r'<script nonce="([^"]+)"')


def _nav(html: str) -> str:
    found = NAV_RE.search(html)
    assert found, "no navigation bar"
    return found.group(1)


def test_each_role_gets_its_own_navigation_bar(app, admin_client, viewer_client):
    # Admin first: had the viewer been served the admin's remembered bar, it would list
    # the administration pages.
    admin_nav = _nav(admin_client.get("/admin/todo/").get_data(as_text=True))
    viewer_nav = _nav(viewer_client.get("/admin/todo/").get_data(as_text=True))
    assert "Accounts" in admin_nav and "Audit log" in admin_nav
    assert "Accounts" not in viewer_nav and "Audit log" not in viewer_nav
    # The second request of each role reuses the remembered bar, unchanged.
    assert _nav(admin_client.get("/admin/todo/").get_data(as_text=True)) == admin_nav
    assert _nav(viewer_client.get("/admin/todo/").get_data(as_text=True)) == viewer_nav


def test_the_active_page_is_marked_per_view(admin_client):
    todos = _nav(admin_client.get("/admin/todo/").get_data(as_text=True))
    people = _nav(admin_client.get("/admin/person/").get_data(as_text=True))
    assert re.search(r'nav-item active"><a class="nav-link" href="/admin/todo/"', todos)
    assert re.search(r'nav-item active"><a class="nav-link" href="/admin/person/"', people)
    assert todos != people


def test_remembered_scripts_carry_this_requests_nonce(admin_client):
    nonces = []
    for _ in range(3):
        response = admin_client.get("/admin/todo/")
        nonce = NONCE_RE.search(response.headers["Content-Security-Policy"]).group(1)
        scripts = SCRIPT_NONCES_RE.findall(response.get_data(as_text=True))
        assert len(scripts) >= 10  # Flask-Admin's scripts, the list's and the actions'
        assert set(scripts) == {nonce}
        nonces.append(nonce)
    assert len(set(nonces)) == 3


def test_the_actions_menu_follows_the_role(admin_client, viewer_client):
    admin_page = admin_client.get("/admin/todo/").get_data(as_text=True)
    viewer_page = viewer_client.get("/admin/todo/").get_data(as_text=True)
    assert 'data-console-action="delete"' in admin_page
    assert 'data-console-action="delete"' not in viewer_page


def test_the_cache_is_bounded_and_keyed(app):
    calls = []

    def part(value):
        def caller():
            calls.append(value)
            return f"<b>{value}</b>"

        return caller

    with app.test_request_context("/"):
        assert fragment("t", 1, caller=part("one")) == "<b>one</b>"
        assert fragment("t", 1, caller=part("other")) == "<b>one</b>"  # remembered
        assert fragment("t", 2, caller=part("two")) == "<b>two</b>"
        assert calls == ["one", "two"]
        for index in range(LIMIT + 5):
            fragment("fill", index, caller=part(str(index)))
        assert len(app.extensions["console_fragments"]) <= LIMIT
        # Through a template, as the pages use it.
        html = render_template_string(
            "{% call fragment('tpl', 'k') %}<i>{{ 6 * 7 }}</i>{% endcall %}"
        )
        assert html == "<i>42</i>"


def test_nothing_is_remembered_where_templates_reload(app):
    calls = []

    def caller():
        calls.append(1)
        return "<b>x</b>"

    app.jinja_env.auto_reload = True
    try:
        with app.test_request_context("/"):
            fragment("reloading", caller=caller)
            fragment("reloading", caller=caller)
    finally:
        app.jinja_env.auto_reload = False
    assert calls == [1, 1]
    assert ("reloading", "") not in app.extensions.get("console_fragments", {})
