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


def row_token(html: str, pk: int) -> str:
    """The token (what the page loaded) of a list row."""
    match = re.search(rf'<tr data-id="{pk}" data-token="([^"]+)"', html)
    assert match, f"no row {pk} on the list page"
    return match.group(1)


def editable_cell(html: str, field: str, pk: int) -> bool:
    """True when the list page offers row ``pk``'s ``field`` for editing in place."""
    row = re.search(rf'<tr data-id="{pk}" .*?</tr>', html, re.S)
    assert row, f"no row {pk} on the list page"
    return f'data-column="{field}"' in row.group(0)


def list_csrf(html: str) -> str:
    """The CSRF token the list page's in-place editors send."""
    match = re.search(r'data-csrf="([^"]+)"', html)
    assert match, "no in-place edit CSRF token on the list page"
    return match.group(1)


def save_cells(client: FlaskClient, endpoint: str, html: str, *changes: tuple[int, str, str],
               token: str | None = None) -> Any:
    """POST in-place edits ``(pk, column, value)`` with the tokens the page showed."""
    body = {
        "changes": [
            {"row": str(pk), "token": token if token is not None else row_token(html, pk),
             "column": column, "value": value}
            for pk, column, value in changes
        ]
    }
    return client.post(
        f"/admin/{endpoint}/cells/", json=body, headers={"X-CSRFToken": list_csrf(html)}
    )
