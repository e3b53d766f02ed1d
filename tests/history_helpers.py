"""Helpers for the history and lost-update tests: read forms the way a browser submits them."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

from flask.testing import FlaskClient

from tests.conftest import PASSWORD, Auth, make_account


class _FormReader(HTMLParser):
    """Collects what a browser would submit from the page's ``admin-form`` (or first form)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict[str, Any]] = []
        self._form: dict[str, Any] | None = None
        self._select: str | None = None
        self._select_first: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        if tag == "form":
            self._form = {"_class": a.get("class", ""), "_fields": {}}
            self.forms.append(self._form)
            return
        if self._form is None:
            return
        fields = self._form["_fields"]
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text")
            if kind == "submit":
                return
            if kind == "checkbox":
                if "checked" in a:
                    fields[name] = a.get("value") or "on"
                return
            fields[name] = a.get("value", "")
        elif tag == "select" and name:
            self._select, self._select_first = name, None
        elif tag == "option" and self._select:
            value = a.get("value", "")
            if self._select_first is None:
                self._select_first = value
                fields.setdefault(self._select, value)
            if "selected" in a:
                fields[self._select] = value
        elif tag == "textarea" and name:
            self._textarea = name
            fields[name] = ""

    def handle_data(self, data: str) -> None:
        if self._form is not None and self._textarea:
            self._form["_fields"][self._textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "form":
            self._form = None


def form_fields(html: str) -> dict[str, str]:
    """The values the page's admin form would submit (its Save button, no extras)."""
    reader = _FormReader()
    reader.feed(html)
    for form in reader.forms:
        if "admin-form" in form["_class"]:
            return dict(form["_fields"])
    assert reader.forms, "no form on the page"
    return dict(reader.forms[-1]["_fields"])


def login_client(app: Any, email: str, role: Any) -> FlaskClient:
    """A new client logged in as a fresh account with ``role``."""
    make_account(role, email)
    client = app.test_client()
    response = Auth(client).login(email, PASSWORD)
    assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
    return client


def editable_pk(html: str, field: str, pk: int) -> str:
    """The ``data-pk`` (``<pk>:<version>``) of a list-view inline-edit cell."""
    for match in re.finditer(r"<a [^>]*>", html):
        tag = match.group(0)
        if f'name="{field}"' in tag and re.search(rf'data-pk="{pk}:\d+"', tag):
            return re.search(r'data-pk="([^"]+)"', tag).group(1)  # type: ignore[union-attr]
    raise AssertionError(f"no editable {field} cell for row {pk}")


def list_csrf(html: str) -> str:
    """The CSRF token the list view's inline-edit cells carry."""
    match = re.search(r'data-csrf="([^"]+)"', html)
    assert match, "no inline-edit CSRF token on the list page"
    return match.group(1)
