"""The view's own URLs, built by ``fast_url``, are exactly what ``url_for`` builds."""

from __future__ import annotations

from typing import Any

import pytest
from flask import url_for
from werkzeug.datastructures import MultiDict

from console.admin.view_urls import fast_url, query_string

CASES: list[tuple[str, dict[str, Any]]] = [
    ("todo.index_view", {}),
    ("todo.index_view", {"page": None, "sort": 1, "desc": None, "search": "a b&c=d/é?#%+"}),
    ("todo.index_view", {"flt0_completed_equals": "1", "page_size": 20, "page": 3}),
    ("todo.index_view", {"after": "WzEsMl0", "search": "<b>\"x\"&'y'</b>", "empty": ""}),
    ("todo.index_view", {"many": ["a", "b c"], "one": ("x",)}),
    ("todo.create_view", {"url": "/admin/todo/?search=quetzal&page=2"}),
    ("todo.export", {"export_type": "csv", "search": "x", "bom": "0"}),
    ("todo.export", {"export_type": "xlsx"}),
    ("todo.toggle_view", {"id": "12", "field": "completed", "url": "/admin/todo/"}),
    ("todo.details_view", {"id": 7, "url": "/admin/todo/?page=1"}),
    ("person.index_view", {"flt1_x": "ünïcode", "sort": 0}),
    ("admin.index", {}),
    ("auth.logout", {}),
]


@pytest.mark.parametrize("endpoint,values", CASES)
def test_fast_url_is_url_for(app, endpoint, values):
    with app.test_request_context("/admin/todo/"):
        assert fast_url(endpoint, **values) == url_for(endpoint, **values)
        # Twice: the second comes from the remembered path.
        assert fast_url(endpoint, **values) == url_for(endpoint, **values)


def test_relative_endpoints_and_the_script_root(app):
    with app.test_request_context("/admin/todo/", base_url="http://example.com/sub"):
        for _ in range(2):
            assert fast_url(".index_view", page=2) == url_for(".index_view", page=2)
            assert fast_url(".index_view", page=2).startswith("/sub/admin/todo/")
    with app.test_request_context("/admin/todo/"):
        assert fast_url(".index_view", page=2) == "/admin/todo/?page=2"
        # Anything url_for alone knows how to do is left to it.
        assert fast_url(".index_view", _external=True) == url_for(".index_view", _external=True)
        assert fast_url(".index_view", _anchor="x") == url_for(".index_view", _anchor="x")


def test_the_query_string_is_werkzeugs():
    from werkzeug.urls import _urlencode

    values = MultiDict([("a", "1"), ("a", "2 3"), ("b", "é/?:@!$'()*,;"), ("c", None)])
    assert query_string(values) == _urlencode(values)
