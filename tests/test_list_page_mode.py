"""A model's list URL shows the grid to browsers that run JavaScript (CONSOLE_LIST_PAGE).

With ``CONSOLE_LIST_PAGE=grid`` (the default; the test suite runs with ``classic``) a
request that carries the ``console_js`` cookie, which every console page sets from
JavaScript, gets the grid at ``/admin/<model>/``; ``?view=classic`` or the remembered
choice ``console_list=classic`` gets the classic list, which is also what a browser
without JavaScript always gets.
"""

from __future__ import annotations

import re

import pytest

from console.config import from_environment

GRID_MARK = 'id="console-grid"'
LIST_MARK = 'class="table table-striped table-bordered table-hover model-list console-list"'


@pytest.fixture
def grid_default(app):
    app.config["CONSOLE_LIST_PAGE"] = "grid"
    return app


def _page(client, url="/admin/todo/"):
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def test_a_browser_running_javascript_gets_the_grid_at_the_list_url(grid_default, editor_client):
    assert LIST_MARK in _page(editor_client)  # no cookie yet: the classic list
    editor_client.set_cookie("console_js", "1")
    html = _page(editor_client, "/admin/todo/?search=milk&sort=1")
    assert GRID_MARK in html and LIST_MARK not in html
    # Its List tab asks for the classic list by name, with the same arguments.
    tab = re.search(r'<a href="([^"]+)" class="nav-link" id="list-link"', html)
    expected = "/admin/todo/?view=classic&search=milk&sort=1"
    assert tab and tab.group(1).replace("&amp;", "&") == expected
    assert 'data-console-list-mode="classic"' in html
    # A browser that stopped running JavaScript is sent on to the classic list.
    assert '<noscript><meta http-equiv="refresh" content="0; url=/admin/todo/?view=classic' in html


def test_the_classic_list_on_request_and_by_remembered_choice(grid_default, editor_client):
    editor_client.set_cookie("console_js", "1")
    html = _page(editor_client, "/admin/todo/?view=classic")
    assert LIST_MARK in html and GRID_MARK not in html
    # The list's own links (sort, pager) keep asking for the classic list.
    sort_links = re.findall(r'<th class="column-header[^>]*>\s*<a href="([^"]+)"', html)
    assert sort_links and all("view=classic" in link for link in sort_links)
    assert 'id="grid-link" data-console-list-mode="grid"' in html
    editor_client.set_cookie("console_list", "classic")
    assert LIST_MARK in _page(editor_client)
    editor_client.set_cookie("console_list", "grid")
    assert GRID_MARK in _page(editor_client)


def test_the_grid_page_itself_leaves_out_the_view_argument(grid_default, editor_client):
    html = _page(editor_client, "/admin/todo/grid/?view=classic&search=milk")
    tab = re.search(r'<a href="([^"]+)" class="nav-link" id="list-link"', html)
    assert tab and tab.group(1) == "/admin/todo/?view=classic&amp;search=milk"
    assert "<noscript><meta" not in html  # only at the list URL


def test_classic_setting_keeps_the_list_everywhere(app, editor_client):
    app.config["CONSOLE_LIST_PAGE"] = "classic"
    editor_client.set_cookie("console_js", "1")
    assert LIST_MARK in _page(editor_client)


def test_viewers_get_the_read_only_grid(grid_default, viewer_client):
    viewer_client.set_cookie("console_js", "1")
    html = _page(viewer_client)
    assert GRID_MARK in html and "your role cannot change records" in html
    assert 'id="grid-create-link"' not in html and 'id="grid-import-link"' not in html


def test_the_grid_links_to_create_and_import(grid_default, editor_client):
    editor_client.set_cookie("console_js", "1")
    html = _page(editor_client, "/admin/todo/?search=milk")
    create = re.search(r'id="grid-create-link" href="([^"]+)"', html)
    assert create and create.group(1) == "/admin/todo/new/?url=/admin/todo/?search%3Dmilk"
    assert 'id="grid-import-link" href="/admin/todo/import/"' in html


def test_a_bad_setting_is_refused_at_start_up(monkeypatch, tmp_path):
    monkeypatch.setenv("CONSOLE_LIST_PAGE", "spreadsheet")
    with pytest.raises(RuntimeError, match="CONSOLE_LIST_PAGE must be one of grid, classic"):
        from_environment(str(tmp_path))
    monkeypatch.setenv("CONSOLE_LIST_PAGE", " Grid ")
    assert from_environment(str(tmp_path))["CONSOLE_LIST_PAGE"] == "grid"
