"""No input gives a server error: every GET argument of every page, fuzzed, on both databases.

The pages and their arguments come from the app itself (its URL map, each model
view's filters), so a new page or filter is fuzzed without a change here. Whatever
is wrong with an argument, the answer is a page, a message, a redirect or a 4xx,
never a 5xx.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from console.admin import adapter

# What people (and scanners) send: NUL, line breaks, numbers past every integer type,
# negative ones, unknown choices, very long text. (Broken percent-escapes are sent raw
# below: the test client would quote these.)
CORPUS = [
    "\x00",
    "a\x00b",
    "\r\nSet-Cookie: x=1",
    "99999999999999999999999999",
    "-99999999999999999999",
    "-1",
    "9223372036854775808",
    "1e309",
    "bogus",
    "HIGH",
    "%ff%fe",
    "x" * 5000,
    "'; DROP TABLE todo; --",
    "2026-13-45",
    "[]",
    "{}",
]
LIST_ARGS = ["page", "page_size", "sort", "desc", "search", "after", "before", "url"]
RECORD_ARGS = ["id", "url", "entry"]
LOOKUP_ARGS = ["name", "query", "offset", "limit"]


def model_views(app: Flask) -> list[Any]:
    """The model views of the app (the registry's)."""
    return list(app.extensions["console_registry"].views())


def fuzz(client: FlaskClient, url: str, args: list[str]) -> list[str]:
    """Every argument of ``args`` with every corpus value; the requests that gave a 5xx."""
    failures = []
    for arg in args:
        for value in CORPUS:
            response = client.get(url, query_string={arg: value})
            if response.status_code >= 500:
                failures.append(f"{url}?{arg}={value[:30]!r}: {response.status_code}")
        for raw in ("%ff%fe", "%c3%28", "%00"):
            response = client.get(f"{url}?{arg}={raw}")
            if response.status_code >= 500:
                failures.append(f"{url}?{arg}={raw} (raw): {response.status_code}")
    return failures


@pytest.fixture
def fuzzer(app: Flask, admin_client: FlaskClient, sample: dict[str, Any]) -> FlaskClient:
    """An admin (who reaches every page) over the demo's sample rows."""
    return admin_client


def test_list_pages_and_their_filters(app, fuzzer):
    failures = []
    for view in model_views(app):
        url = f"/admin/{view.endpoint}/"
        filters = [
            f"flt0_{view.get_filter_arg(index, flt)}"
            for index, flt in enumerate(adapter.filters_of(view))
        ]
        failures += fuzz(fuzzer, url, LIST_ARGS + filters)
    assert failures == []


def test_record_pages(app, fuzzer):
    failures = []
    for view in model_views(app):
        for page in ("details/", "edit/", "history/", "history/revert/", "delete/"):
            failures += fuzz(fuzzer, f"/admin/{view.endpoint}/{page}", RECORD_ARGS)
    assert failures == []


def test_lookups(app, fuzzer):
    failures = []
    for view in model_views(app):
        failures += fuzz(fuzzer, f"/admin/{view.endpoint}/ajax/lookup/", LOOKUP_ARGS)
        for name in list(getattr(view, "form_ajax_refs", {}) or {}):
            for arg in ("query", "offset", "limit"):
                for value in CORPUS:
                    response = fuzzer.get(
                        f"/admin/{view.endpoint}/ajax/lookup/",
                        query_string={"name": name, arg: value},
                    )
                    if response.status_code >= 500:
                        failures.append(f"{view.endpoint} lookup {name} {arg}={value[:30]!r}")
    assert failures == []


def test_grid_pages(app, fuzzer):
    failures = []
    for view in model_views(app):
        filters = [
            f"flt0_{view.get_filter_arg(index, flt)}"
            for index, flt in enumerate(adapter.filters_of(view))
        ]
        for page in ("grid/", "grid/rows"):
            failures += fuzz(fuzzer, f"/admin/{view.endpoint}/{page}",
                             [*LIST_ARGS, "limit", *filters])
    assert failures == []


def test_exports(app, fuzzer):
    failures = []
    for view in model_views(app):
        filters = [
            f"flt0_{view.get_filter_arg(index, flt)}"
            for index, flt in enumerate(adapter.filters_of(view))
        ]
        for kind in ("csv", "jsonl"):
            failures += fuzz(fuzzer, f"/admin/{view.endpoint}/export/{kind}/",
                             ["sort", "desc", "search", *filters])
    assert failures == []


def test_the_console_pages(app, fuzzer):
    failures = fuzz(fuzzer, "/admin/audit/", ["account", "model", "action", "from", "to",
                                              "before"])
    failures += fuzz(fuzzer, "/admin/audit/export.csv", ["account", "from", "to"])
    failures += fuzz(fuzzer, "/admin/", ["page"])
    failures += fuzz(fuzzer, "/admin/migrations/upgrade", ["target"])
    failures += fuzz(fuzzer, "/login", ["next"])
    failures += fuzz(fuzzer, "/admin/palette/", ["q"])
    for view in model_views(app):
        failures += fuzz(fuzzer, f"/admin/{view.endpoint}/import/x/", ["page"])
        failures += fuzz(fuzzer, f"/admin/{view.endpoint}/export/job/x/", ["page"])
    assert failures == []


def test_every_get_page_of_the_url_map_is_covered(app):
    """A new GET page must be fuzzed: this lists the rules no test above reaches."""
    covered = (
        "/admin/<endpoint>/", "/details/", "/edit/", "/history/", "/delete/", "/ajax/lookup/",
        "/export/", "/import/", "/new/", "/audit/", "/migrations/", "/login", "/logout",
        "/relationships/", "/static/", "/console-static/", "/account", "/cells/", "/toggle/",
        "/bulk/", "/action/", "/two-factor", "/accounts/", "/grid/", "/palette/",
    )
    views = {v.endpoint for v in model_views(app)}
    missing = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.rule in ("/", "/admin/"):
            continue
        path = rule.rule
        for endpoint in views:
            path = path.replace(f"/admin/{endpoint}/", "/admin/<endpoint>/")
        if path == "/admin/<endpoint>/" or any(part in path for part in covered[1:]):
            continue
        missing.append(rule.rule)
    assert missing == []
