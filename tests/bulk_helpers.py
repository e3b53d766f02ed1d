"""Helpers for the bulk import/export tests."""

from __future__ import annotations

import io
from typing import Any

from flask import current_app

from console import catalogue_of_app
from console.bulk.importer import ImportResult, import_file
from console.catalogue import ModelDescription
from console.extensions import db


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
