"""Helpers for the bulk import/export tests."""

from __future__ import annotations

import io
import re
from typing import Any

from flask import current_app
from flask.testing import FlaskClient
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from console import catalogue_of_app
from console.bulk.importer import ImportResult, import_file
from console.catalogue import ModelDescription
from console.extensions import db
from console.jobs import wait_for_job
from tests.conftest import csrf_token


def described(model: str) -> ModelDescription:
    """The app's description of ``model`` (a name as the command line takes it)."""
    return catalogue_of_app(current_app).by_name(model)


def run_import(model: str, text: str | bytes, **kwargs: Any) -> ImportResult:
    """Import ``text`` (str is encoded as UTF-8) through the engine with the app's session."""
    data = text.encode() if isinstance(text, str) else text
    kwargs.setdefault("dry_run", False)
    return import_file(db.session, described(model), io.BytesIO(data), **kwargs)


def errors_of(result: ImportResult) -> list[tuple[int, str | None, str]]:
    """(line, column, message) of every error kept."""
    return [(e.line, e.column, e.message) for e in result.errors]


def counts(result: ImportResult) -> tuple[int, int, int, int]:
    """(inserted, updated, unchanged, errors)."""
    return result.inserted, result.updated, result.unchanged, result.error_count


PEOPLE = "name,email\nAnn,ann@example.com\nBob,bob@example.com\n"
LISTS = "name,owner\nGroceries,ann@example.com\nWork,bob@example.com\n"


def todo_csv(rows: int, *, list_name: str = "Groceries", last: str | None = None) -> str:
    """A to-do CSV of ``rows`` generated rows, the last replaced by ``last`` when given."""
    lines = ["description,completed,due_date,priority,list,assignee"]
    lines += [f"Task {i},{'yes' if i % 2 else 'no'},2025-01-{i % 28 + 1:02d},high,{list_name},"
              for i in range(rows)]
    if last is not None:
        lines[-1] = last
    return "\n".join(lines) + "\n"


# -- through HTTP: the import pages and "With selected" ----------------------------------


def upload(client: FlaskClient, model: str, data: bytes, *, mode: str = "insert",
           name: str = "todos.csv") -> Any:
    """Post a file to the model's import page with the page's CSRF token."""
    url = f"/admin/{model}/import/"
    # Encoded here, in memory: the test client would spool a big body to a temporary file
    # that it never closes.
    boundary, body = encode_multipart({
        "csrf_token": csrf_token(client, url), "mode": mode,
        "file": FileStorage(io.BytesIO(data), filename=name)})
    return client.post(url, data=body, content_type=f"multipart/form-data; boundary={boundary}")


def job_url(response: Any) -> str:
    """The status page the upload redirected to, after its job finished."""
    assert response.status_code == 302, response.get_data(as_text=True)
    location = response.headers["Location"]
    job_id = re.search(r"/import/([0-9a-f]{32})/", location).group(1)
    assert wait_for_job(job_id, timeout=60)
    return location


def action(client: FlaskClient, name: str, ids: list[int], model: str = "todo") -> Any:
    """Choose a bulk action on the list page (the confirmation page comes back)."""
    token = csrf_token(client, f"/admin/{model}/")
    return client.post(
        f"/admin/{model}/action/",
        data={"csrf_token": token, "action": name, "rowid": [str(i) for i in ids],
              "url": f"/admin/{model}/"},
    )


def refs(page: str) -> list[str]:
    """The id:token pairs the confirmation page carries."""
    return re.findall(r'name="row" value="([0-9]+:[^"]+)"', page)


def confirm_bulk(client: FlaskClient, model: str, column: str, page: str, value: str) -> Any:
    """Confirm the edit the confirmation ``page`` shows, with ``value``."""
    token = csrf_token(client, f"/admin/{model}/")
    return client.post(
        f"/admin/{model}/bulk/{column}/",
        data={"csrf_token": token, "row": refs(page), "value": value},
    )
